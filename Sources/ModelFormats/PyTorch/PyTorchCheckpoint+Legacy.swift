import Foundation
import TensorCore

/// The two formats `torch.save` wrote before the zip (docs/pytorch-checkpoints.md, "Supported
/// files"), read with the same restricted unpickler:
///
/// - the raw pickle stream of PyTorch < 1.6 (`_use_new_zipfile_serialization=False`): pickles of
///   the magic number, the protocol version 1001 and a `sys_info` dict, then the object (storages
///   as persistent ids `('storage', type, key, location, numel, None)`), then the list of storage
///   keys, then each storage as an 8-byte little-endian element count and its raw bytes;
/// - the tar of PyTorch < 0.4: entries `sys_info`, `storages` (a count, then per storage a pickled
///   `(key, location, storage type)`, its element count and bytes, then a list of storage views),
///   `tensors` (a count, then per tensor a pickled `(key, storage key, tensor type)` and its
///   dimensions, sizes, strides and offset as little-endian integers) and `pickle` (the object,
///   tensors as persistent ids naming those keys).
extension PyTorchCheckpoint {
    enum LegacyFormat { case rawPickle, tar }

    /// `0x1950a86a20f9469cfc6c` as pickle's little-endian LONG1 bytes.
    static let legacyMagicNumber: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    static let legacyProtocolVersion = 1001

    /// Which legacy format the file starts like, if any (a tar header, or a pickle PROTO opcode).
    static func legacyFormat(_ url: URL) -> LegacyFormat? {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 512)) ?? Data())
        if head.count >= 262 && Array(head[257..<262]) == Array("ustar".utf8) { return .tar }
        return head.first == PickleOpcode.proto.rawValue ? .rawPickle : nil
    }

    /// The raw pickle stream of PyTorch < 1.6.
    static func legacyStream(_ bytes: [UInt8], path: String, limits: ReadLimits) throws -> PyTorchCheckpoint {
        func malformed(_ reason: String) -> FormatError { .malformed(path: path, entry: nil, reason: reason) }
        let unpickler = Unpickler(defersRefusals: true)
        let magic = try unpickler.unpickle(bytes, from: 0, path: path, entry: nil)
        guard magic.value == .bigInt(legacyMagicNumber) else {
            throw malformed("a pickle without torch.save's magic number: not a PyTorch checkpoint")
        }
        let version = try unpickler.unpickle(bytes, from: magic.end, path: path, entry: nil)
        guard version.value == .int(legacyProtocolVersion) else {
            throw malformed("legacy checkpoint protocol \(version.value.shortDescription), expected \(legacyProtocolVersion)")
        }
        let sysInfo = try unpickler.unpickle(bytes, from: version.end, path: path, entry: nil)
        let object = try unpickler.unpickle(bytes, from: sysInfo.end, path: path, entry: nil)
        let keys = try unpickler.unpickle(bytes, from: object.end, path: path, entry: nil)
        guard case .list(let keyList) = keys.value else { throw malformed("the storage key list is \(keys.value.shortDescription)") }

        let referenced = Dictionary(object.storages.map { ($0.key, $0) }) { first, _ in first }
        var cursor = ByteCursor(bytes: bytes, position: keys.end, path: path, entry: nil)
        var storages: [String: [UInt8]] = [:]
        for item in keyList {
            guard case .string(let key) = item, let storage = referenced[key] else {
                throw malformed("storage \(item.shortDescription) is listed but no tensor uses it")
            }
            storages[key] = try cursor.storageBytes(elementSize: storage.scalarType.byteSize, what: "storage \(key)")
        }
        guard cursor.position == bytes.count else { throw malformed("\(bytes.count - cursor.position) bytes follow the last storage") }
        return PyTorchCheckpoint(root: object.value, archiveName: "", byteOrder: legacyByteOrder(sysInfo.value), path: path,
                                 storages: storages, pickleEntry: nil, storageEntryPrefix: "storage ")
    }

    /// The tar of PyTorch < 0.4.
    static func legacyTar(_ entries: [ArchiveEntry], path: String, limits: ReadLimits) throws -> PyTorchCheckpoint {
        func data(_ name: String) throws -> [UInt8] {
            guard let entry = entries.first(where: { $0.path == name }) else {
                throw FormatError.malformed(path: path, entry: nil, reason: "a tar without a '\(name)' entry: not a PyTorch checkpoint")
            }
            return entry.data
        }
        // The tables hold only numbers, strings and storage types: any other global is refused at once.
        let tables = Unpickler()

        let storageBytes = try data("storages")
        var cursor = ByteCursor(bytes: storageBytes, position: 0, path: path, entry: "storages")
        var storages: [String: [UInt8]] = [:]
        var refs: [String: TorchStorageRef] = [:]
        for _ in 0..<(try cursor.count(tables, limit: limits.maxTensors)) {
            let header = try cursor.pickle(tables)
            guard case .tuple(let items) = header, items.count == 3, let key = items[0].legacyKey, case .string(let location) = items[1],
                  case .global(let typeName) = items[2], let type = TorchScalarType(storageTypeName: typeName) else {
                throw cursor.malformed("storage record \(header.shortDescription) is not (key, location, storage type)")
            }
            let bytes = try cursor.storageBytes(elementSize: type.byteSize, what: "storage \(key)")
            storages[key] = bytes
            refs[key] = TorchStorageRef(key: key, scalarType: type, location: location, elementCount: bytes.count / type.byteSize)
        }
        guard case .list(let views) = try cursor.pickle(tables), views.isEmpty else {
            throw cursor.malformed("storage views are not supported")
        }

        let tensorBytes = try data("tensors")
        cursor = ByteCursor(bytes: tensorBytes, position: 0, path: path, entry: "tensors")
        var tensors: [String: TorchTensorRecord] = [:]
        for _ in 0..<(try cursor.count(tables, limit: limits.maxTensors)) {
            let header = try cursor.pickle(tables)
            guard case .tuple(let items) = header, items.count == 3, let key = items[0].legacyKey, let storageKey = items[1].legacyKey,
                  let storage = refs[storageKey] else {
                throw cursor.malformed("tensor record \(header.shortDescription) is not (key, storage key, tensor type) of a known storage")
            }
            let rank = try cursor.integer(4)
            _ = try cursor.integer(4)  // the format once stored the rank in 8 bytes
            guard (0...limits.maxRank).contains(rank) else { throw cursor.malformed("tensor \(key) has rank \(rank)") }
            let shape = try (0..<rank).map { _ in try cursor.integer(8) }
            let stride = try (0..<rank).map { _ in try cursor.integer(8) }
            let offset = try cursor.integer(8)
            let record = TorchTensorRecord(storage: storage, storageOffset: offset, shape: shape, stride: stride, requiresGrad: false)
            guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), stride.allSatisfy({ $0 >= 0 }),
                  let needed = record.requiredStorageElements, needed <= storage.elementCount else {
                throw cursor.malformed("tensor \(key) (offset \(offset), size \(shape), stride \(stride)) does not fit storage \(storageKey)")
            }
            tensors[key] = record
        }

        let object = try Unpickler(defersRefusals: true).unpickle(try data("pickle"), from: 0, path: path, entry: "pickle", tensorIDs: tensors)
        let sysInfo = try Unpickler().unpickle(try data("sys_info"), path: path, entry: "sys_info")
        return PyTorchCheckpoint(root: object.value, archiveName: "", byteOrder: legacyByteOrder(sysInfo), path: path,
                                 storages: storages, pickleEntry: "pickle", storageEntryPrefix: "storage ")
    }

    private static func legacyByteOrder(_ sysInfo: PickleValue) -> TorchByteOrder {
        sysInfo["little_endian"] == .bool(false) ? .big : .little
    }
}

private extension PickleValue {
    /// A key of the legacy tables: an integer or a string, as a string.
    var legacyKey: String? {
        switch self {
        case .int(let i): return String(i)
        case .string(let s): return s
        default: return nil
        }
    }
}

/// Reads the legacy formats' mix of pickles and little-endian integers, every length checked.
private struct ByteCursor {
    let bytes: [UInt8]
    var position: Int
    let path: String
    let entry: String?

    func malformed(_ reason: String) -> FormatError {
        FormatError.malformed(path: path, entry: entry, reason: "\(reason) (at byte \(position))")
    }

    mutating func pickle(_ unpickler: Unpickler) throws -> PickleValue {
        let next = try unpickler.unpickle(bytes, from: position, path: path, entry: entry)
        position = next.end
        return next.value
    }

    /// A pickled count, at most `limit`.
    mutating func count(_ unpickler: Unpickler, limit: Int) throws -> Int {
        guard case .int(let n) = try pickle(unpickler), (0...limit).contains(n) else { throw malformed("the record count is not an integer up to \(limit)") }
        return n
    }

    /// A little-endian signed integer of `width` bytes.
    mutating func integer(_ width: Int) throws -> Int {
        guard bytes.count - position >= width else { throw malformed("truncated: needs \(width) bytes, \(bytes.count - position) left") }
        var value: UInt64 = 0
        for i in 0..<width { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += width
        let shift = UInt64(64 - 8 * width)
        return Int(Int64(bitPattern: value << shift) >> Int64(shift))
    }

    /// An 8-byte element count, then that many elements of `elementSize` bytes.
    mutating func storageBytes(elementSize: Int, what: String) throws -> [UInt8] {
        guard bytes.count - position >= 8 else { throw malformed("\(what) is truncated") }
        let count = try integer(8)
        guard count >= 0, let byteCount = checkedMultiply(count, elementSize), byteCount <= bytes.count - position else {
            throw malformed("\(what) declares \(count) elements, more than the \(bytes.count - position) bytes left")
        }
        defer { position += byteCount }
        return Array(bytes[position..<position + byteCount])
    }
}
