import Foundation
import TensorCore

/// Which tensors to take from a checkpoint and how to name them.
public struct PyTorchLoadOptions: Sendable, Equatable {
    /// The key holding the `state_dict` (`state_dict`, `model`, …); a `/`-separated path reaches
    /// nested dicts. Nil: auto-detect (see `PyTorchCheckpoint.stateDict`).
    public var key: String?
    /// Removed from the start of every tensor name that has it (`module.` from `nn.DataParallel`).
    public var stripPrefix: String?

    public init(key: String? = nil, stripPrefix: String? = nil) {
        self.key = key
        self.stripPrefix = stripPrefix
    }
}

/// The order of bytes within each element of a checkpoint's storages (`<name>/byteorder`).
public enum TorchByteOrder: String, Sendable {
    case little, big
}

/// A `torch.save` checkpoint, read without executing anything. The zip format (PyTorch ≥ 1.6):
/// `<name>/data.pkl` (the object, through `Unpickler`), `<name>/data/<key>` (raw storages),
/// `<name>/byteorder` (`little` when absent), `<name>/version`. The legacy formats (raw pickle
/// stream, pre-0.4 tar) are read by `PyTorchCheckpoint+Legacy.swift`.
public struct PyTorchCheckpoint: Sendable {
    /// The unpickled top-level object.
    public let root: PickleValue
    /// The archive's top directory (`archive` for PyTorch ≥ 2.0, the file's stem before).
    public let archiveName: String
    public let byteOrder: TorchByteOrder
    /// Where it was read from (for messages).
    public let path: String
    /// Raw storage bytes by storage key.
    let storages: [String: [UInt8]]
    /// The entry holding the pickle (`archive/data.pkl`, `pickle`), or nil for a raw stream; for messages.
    let pickleEntry: String?
    /// How messages name storage `key`'s bytes (`archive/data/0`, `storage 140`).
    let storageEntryPrefix: String

    init(root: PickleValue, archiveName: String, byteOrder: TorchByteOrder, path: String, storages: [String: [UInt8]],
         pickleEntry: String?, storageEntryPrefix: String) {
        self.root = root
        self.archiveName = archiveName
        self.byteOrder = byteOrder
        self.path = path
        self.storages = storages
        self.pickleEntry = pickleEntry
        self.storageEntryPrefix = storageEntryPrefix
    }

    /// Keys under which training scripts commonly nest the `state_dict`, tried in this order.
    public static let stateDictKeys = ["state_dict", "model", "model_state_dict"]

    /// Interprets the entries of a checkpoint archive (paths relative to the archive root). Globals
    /// outside the allow-list are refused where the state_dict is read (`stateDict`).
    public init(entries: [ArchiveEntry], path: String, unpickler: Unpickler = Unpickler(defersRefusals: true)) throws {
        let pickles = entries.filter { $0.path.hasSuffix("/data.pkl") && $0.path.split(separator: "/").count == 2 }
        guard let pickle = pickles.first else {
            throw FormatError.malformed(path: path, entry: nil, reason: "not a PyTorch checkpoint: no '<name>/data.pkl' entry")
        }
        guard pickles.count == 1 else {
            throw FormatError.malformed(path: path, entry: nil,
                                        reason: "several checkpoints in one archive (\(pickles.map(\.path).joined(separator: ", ")))")
        }
        let name = String(pickle.path.dropLast("/data.pkl".count))
        if entries.contains(where: { $0.path == "\(name)/constants.pkl" || $0.path.hasPrefix("\(name)/code/") }) {
            throw FormatError.malformed(path: path, entry: nil, reason:
                "a TorchScript archive (torch.jit.save): a compiled program, not a state_dict, and it is not read; in Python, save its weights with torch.save(torch.jit.load(PATH).state_dict(), 'weights.pt')")
        }
        var storages: [String: [UInt8]] = [:]
        var byteOrder = TorchByteOrder.little
        let storagePrefix = "\(name)/data/"
        for entry in entries {
            if entry.path.hasPrefix(storagePrefix) {
                storages[String(entry.path.dropFirst(storagePrefix.count))] = entry.data
            } else if entry.path == "\(name)/byteorder" {
                let text = String(decoding: entry.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                guard let order = TorchByteOrder(rawValue: text) else {
                    throw FormatError.malformed(path: path, entry: entry.path, reason: "byte order '\(text)' is neither 'little' nor 'big'")
                }
                byteOrder = order
            }
        }
        self.init(root: try unpickler.unpickle(pickle.data, path: path, entry: pickle.path), archiveName: name,
                  byteOrder: byteOrder, path: path, storages: storages, pickleEntry: pickle.path, storageEntryPrefix: "\(name)/data/")
    }

    /// Reads a checkpoint file in any of the three formats `torch.save` has written: the zip
    /// (through libarchive), the raw pickle stream of PyTorch < 1.6, the tar of PyTorch < 0.4.
    public static func load(_ url: URL, limits: ReadLimits = .default) throws -> PyTorchCheckpoint {
        let path = displayPath(url)
        var entries: [ArchiveEntry] = []
        switch legacyFormat(url) {
        case .rawPickle?: return try legacyStream(readWholeFile(url, limits: limits), path: path, limits: limits)
        case .tar?:
            try ArchiveEntries.forEach(url: url, limits: limits) { entries.append($0) }
            return try legacyTar(entries, path: path, limits: limits)
        case nil:
            try ArchiveEntries.forEach(url: url, limits: limits) { entries.append($0) }
            return try PyTorchCheckpoint(entries: entries, path: path)
        }
    }

    // MARK: state_dict

    /// The tensors of the checkpoint's `state_dict`, in pickle order, named by their keys (nested
    /// dicts joined with `.`; non-tensor values such as `epoch` are skipped).
    ///
    /// Which dict is the `state_dict`: `options.key` when given; otherwise the top-level dict itself
    /// if it holds tensors directly; otherwise the one of `stateDictKeys` present that holds tensors
    /// (several → an error listing them); otherwise every tensor under the top-level dict.
    public func stateDict(_ options: PyTorchLoadOptions = PyTorchLoadOptions(), limits: ReadLimits = .default) throws -> TensorMap {
        try stateDictReporting(options, limits: limits).tensors
    }

    /// As `stateDict`, with a record of every tensor converted from float64/int16. Refuses the
    /// first global outside the allow-list under the selected dict (or on the way to it); one
    /// anywhere else in the checkpoint is skipped, since nothing is ever constructed.
    func stateDictReporting(_ options: PyTorchLoadOptions, limits: ReadLimits) throws -> (tensors: TensorMap, conversions: [DTypeConversion]) {
        let selected = try selectStateDict(options)
        try refuseObjects(in: selected)
        var named: [(String, TorchTensorRecord)] = []
        collectTensors(selected, prefix: "", into: &named)
        guard !named.isEmpty else {
            throw FormatError.malformed(path: path, entry: nil, reason: "the checkpoint holds no tensors\(options.key.map { " under '\($0)'" } ?? "")")
        }
        guard named.count <= limits.maxTensors else {
            throw FormatError.limitExceeded(path: path, entry: nil, limit: "the limit of \(limits.maxTensors) tensors")
        }
        var tensors = TensorMap()
        var conversions: [DTypeConversion] = []
        var decodedBytes = 0
        for (fullName, record) in named {
            var name = fullName
            if let prefix = options.stripPrefix, !prefix.isEmpty, name.hasPrefix(prefix) { name.removeFirst(prefix.count) }
            guard !tensors.contains(name) else { throw FormatError.duplicateTensor(path: path, name: name) }
            // Checked before allocating: a zero stride can make a tiny storage describe a huge tensor.
            let total = checkedProduct(record.shape + [record.storage.scalarType.byteSize]).map { decodedBytes.addingReportingOverflow($0) }
            guard let total, !total.overflow, total.partialValue <= limits.maxDecodedBytes else {
                throw FormatError.limitExceeded(path: path, entry: fullName, limit: "the decoded-size cap of \(limits.maxDecodedBytes) bytes")
            }
            decodedBytes = total.partialValue
            let (tensor, conversion) = try self.tensorReporting(record, name: fullName, limits: limits)
            tensors[name] = tensor
            if var conversion {
                conversion.tensor = name
                conversions.append(conversion)
            }
        }
        return (tensors, conversions)
    }

    /// Throws when `value` itself is refused (not looking inside it).
    func refuseIfRefused(_ value: PickleValue) throws {
        if case .refused(let refusal) = value { throw FormatError.malformed(path: path, entry: pickleEntry, reason: refusal.reason) }
    }

    /// Throws the refusal of the first `.refused` value inside `value` (pickle order).
    func refuseObjects(in value: PickleValue) throws {
        switch value {
        case .refused: try refuseIfRefused(value)
        case .list(let items), .tuple(let items), .set(let items): for item in items { try refuseObjects(in: item) }
        case .dict(let entries), .object(_, let entries):
            for entry in entries {
                try refuseObjects(in: entry.key)
                try refuseObjects(in: entry.value)
            }
        case .none, .bool, .int, .bigInt, .float, .string, .bytes, .tensor, .storage, .global: return
        }
    }

    func selectStateDict(_ options: PyTorchLoadOptions) throws -> PickleValue {
        try refuseIfRefused(root)
        guard let entries = root.dictEntries else {
            throw FormatError.malformed(path: path, entry: nil, reason: "the checkpoint holds \(root.shortDescription), not a dict of tensors")
        }
        if let key = options.key {
            return try lookUp(key)
        }
        if entries.contains(where: { if case .tensor = $0.value { return true } else { return false } }) {
            return root
        }
        let candidates = Self.stateDictKeys.filter { root[$0].map(Self.holdsTensors) ?? false }
        if let only = candidates.first, candidates.count == 1 { return root[only] ?? root }
        if candidates.count > 1 {
            throw FormatError.malformed(path: path, entry: nil, reason:
                "several state_dicts (\(candidates.joined(separator: ", "))); choose one with --key")
        }
        return root
    }

    /// The value at a key, or at a `/`-separated path of keys.
    func lookUp(_ key: String) throws -> PickleValue {
        if let value = root[key] { return value }
        var current = root
        for component in key.split(separator: "/", omittingEmptySubsequences: false) {
            try refuseIfRefused(current)
            guard let next = current[String(component)] else {
                let keys = (current.dictEntries ?? []).map(\.key.shortDescription).joined(separator: ", ")
                throw FormatError.malformed(path: path, entry: nil, reason: "no key '\(key)' in the checkpoint (keys: \(keys))")
            }
            current = next
        }
        return current
    }

    static func holdsTensors(_ value: PickleValue) -> Bool {
        switch value {
        case .tensor: return true
        case .dict(let entries): return entries.contains { holdsTensors($0.value) }
        default: return false
        }
    }

    func collectTensors(_ value: PickleValue, prefix: String, into named: inout [(String, TorchTensorRecord)]) {
        guard case .dict(let entries) = value else { return }
        for entry in entries {
            let key: String
            if case .string(let s) = entry.key { key = s } else { key = entry.key.shortDescription }
            let name = prefix.isEmpty ? key : "\(prefix).\(key)"
            switch entry.value {
            case .tensor(let record): named.append((name, record))
            case .dict: collectTensors(entry.value, prefix: name, into: &named)
            default: continue
            }
        }
    }

    // MARK: Tensors

    /// The dense, contiguous, little-endian tensor a record describes: the strided view is gathered
    /// element by element, and big-endian storages are byte-swapped. Its size is checked against
    /// `limits.maxDecodedBytes` before allocating.
    public func tensor(_ record: TorchTensorRecord, name: String, limits: ReadLimits = .default) throws -> Tensor {
        try tensorReporting(record, name: name, limits: limits).tensor
    }

    /// As `tensor`; a float64 or int16 storage is converted (float64 → f32, int16 → i32) and the
    /// conversion returned.
    func tensorReporting(_ record: TorchTensorRecord, name: String, limits: ReadLimits) throws -> (tensor: Tensor, conversion: DTypeConversion?) {
        let type = record.storage.scalarType
        let element: StoredElement
        if let dtype = type.dtype { element = .native(dtype) } else if let foreign = type.foreign { element = .foreign(foreign) } else {
            throw FormatError.unsupportedDType(path: path, entry: name, dtype: "torch.\(type.torchDTypeName)")
        }
        let storageEntry = "\(storageEntryPrefix)\(record.storage.key)"
        guard let bytes = storages[record.storage.key] else {
            throw FormatError.malformed(path: path, entry: storageEntry, reason: "missing (storage of tensor '\(name)')")
        }
        let item = type.byteSize
        let available = bytes.count / item
        guard let needed = record.requiredStorageElements, needed <= available else {
            throw FormatError.malformed(path: path, entry: storageEntry, reason:
                "tensor '\(name)' (offset \(record.storageOffset), size \(record.shape), stride \(record.stride)) reaches past the storage's \(available) elements")
        }
        guard let count = checkedProduct(record.shape), let byteCount = checkedMultiply(count, item) else {
            throw FormatError.malformed(path: path, entry: name, reason: "size \(record.shape) overflows")
        }
        guard byteCount <= limits.maxDecodedBytes else {
            throw FormatError.limitExceeded(path: path, entry: name, limit: "the decoded-size cap of \(limits.maxDecodedBytes) bytes")
        }
        switch element {
        case .native(let dtype):
            var tensor = Tensor(zeros: dtype, Shape(record.shape))
            tensor.withUnsafeMutableBytes { out in
                bytes.withUnsafeBytes { source in Self.gather(from: source, into: out, record: record, itemSize: item) }
                if byteOrder == .big { Npy.swapBytes(out, width: item) }
            }
            return (tensor, nil)
        case .foreign:
            // Gathered in the storage's own element type, then converted.
            var dense = [UInt8](repeating: 0, count: byteCount)
            dense.withUnsafeMutableBytes { out in
                bytes.withUnsafeBytes { source in Self.gather(from: source, into: out, record: record, itemSize: item) }
            }
            return try dense.withUnsafeBytes {
                try element.tensor($0, shape: Shape(record.shape), bigEndian: byteOrder == .big, path: path, entry: name, name: name)
            }
        }
    }

    /// Copies `out[i] = storage[offset + Σ index·stride]` in row-major order of `record.shape`.
    static func gather(from source: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                       record: TorchTensorRecord, itemSize: Int) {
        guard out.count > 0, let src = source.baseAddress, let dst = out.baseAddress else { return }
        let shape = record.shape, stride = record.stride
        if isContiguous(shape: shape, stride: stride) {
            dst.copyMemory(from: src + record.storageOffset * itemSize, byteCount: out.count)
            return
        }
        copyStrided(from: src, to: dst, count: out.count / itemSize, shape: shape, stride: stride,
                    offset: record.storageOffset, itemSize: itemSize)
    }

    /// True when the strides are row-major for the shape (dimensions of size 1 may have any stride).
    static func isContiguous(shape: [Int], stride: [Int]) -> Bool {
        var expected = 1
        for d in stride.indices.reversed() where shape[d] != 1 {
            if stride[d] != expected { return false }
            expected *= shape[d]
        }
        return true
    }
}
