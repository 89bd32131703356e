import TensorCore

/// The safetensors format (https://github.com/huggingface/safetensors, README "Format").
///
/// Layout: 8 bytes `N` (u64 LE), `N` bytes of UTF-8 JSON beginning with `{` (space-padded), then
/// the data section. The JSON maps each tensor name to `{"dtype", "shape", "data_offsets": [begin,
/// end]}` (offsets relative to the data section) plus an optional `"__metadata__"` string→string
/// map. The tensors must tile the data section exactly: no overlaps, no holes, no trailing bytes.
public enum Safetensors {
    static let metadataKey = "__metadata__"

    /// dtype tags in the order of `DType`.
    static func tag(for dtype: DType) -> String {
        switch dtype {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .i8: return "I8"
        case .u8: return "U8"
        case .i32: return "I32"
        case .i64: return "I64"
        case .bool: return "BOOL"
        }
    }

    /// Every tag we read: ModelSmith's dtypes, and the ones converted on reading (docs/formats.md, "Input dtypes").
    static let elementByTag: [String: StoredElement] = Dictionary(uniqueKeysWithValues: DType.allCases.map { (tag(for: $0), .native($0)) })
        .merging(["F64": .foreign(.float64), "I16": .foreign(.int16), "U16": .foreign(.uint16)]) { a, _ in a }

    /// Decodes a whole safetensors file into tensors in data-section order.
    /// - Throws: `FormatError` naming the file/entry, the tensor and the broken rule.
    public static func decode(_ bytes: [UInt8], path: String, entry: String? = nil, limits: ReadLimits = .default) throws -> TensorMap {
        try decodeWithMetadata(bytes, path: path, entry: entry, limits: limits).tensors
    }

    /// Decodes the tensors and the `__metadata__` map.
    public static func decodeWithMetadata(_ bytes: [UInt8], path: String, entry: String? = nil,
                                          limits: ReadLimits = .default) throws -> (tensors: TensorMap, metadata: [String: String]) {
        let decoded = try bytes.withUnsafeBytes { try decodeReporting(raw: $0, path: path, entry: entry, limits: limits) }
        return (decoded.tensors, decoded.metadata)
    }

    /// As `decodeWithMetadata` over any bytes, such as a memory-mapped file (the header and the
    /// data layout are checked before any tensor byte is read), with one record per tensor
    /// converted from F64/I16/U16.
    static func decodeReporting(raw bytes: UnsafeRawBufferPointer, path: String, entry: String? = nil, limits: ReadLimits)
        throws -> (tensors: TensorMap, metadata: [String: String], conversions: [DTypeConversion]) {
        func malformed(_ reason: String) -> FormatError { .malformed(path: path, entry: entry, reason: reason) }

        guard bytes.count >= 8 else { throw malformed("truncated safetensors: \(bytes.count) bytes, too short for the header length") }
        let declared = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard declared <= UInt64(limits.maxHeaderBytes) else {
            throw FormatError.limitExceeded(path: path, entry: entry, limit: "the header cap of \(limits.maxHeaderBytes) bytes (header length \(declared))")
        }
        let headerLength = Int(declared)
        guard 8 + headerLength <= bytes.count else {
            throw malformed("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let headerBytes = Array(bytes[8..<(8 + headerLength)])[...]
        guard headerBytes.first == UInt8(ascii: "{") else { throw malformed("header does not begin with '{'") }
        let header: HeaderLiteral
        do { header = try HeaderLiteral.parse(headerBytes, dialect: .json, maxDepth: limits.maxJSONDepth) }
        catch { throw malformed("header is not valid JSON: \(error.reason)") }
        guard let pairs = header.objectPairs else { throw malformed("header is not a JSON object") }

        var metadata: [String: String] = [:]
        var entries: [TensorEntry] = []
        var seen = Set<String>()
        for (name, value) in pairs {
            guard seen.insert(name).inserted else { throw FormatError.duplicateTensor(path: path, name: name) }
            if name == metadataKey {
                metadata = try parseMetadata(value, malformed: malformed)
            } else {
                entries.append(try TensorEntry(name: name, value: value, path: path, entry: entry, limits: limits))
            }
        }
        guard entries.count <= limits.maxTensors else {
            throw FormatError.limitExceeded(path: path, entry: entry, limit: "the limit of \(limits.maxTensors) tensors")
        }

        let dataStart = 8 + headerLength
        let dataCount = bytes.count - dataStart
        // Data-section order; header order breaks ties between zero-size tensors.
        entries = entries.enumerated().sorted { ($0.element.begin, $0.element.end, $0.offset) < ($1.element.begin, $1.element.end, $1.offset) }.map(\.element)
        var covered = 0
        var previous: String?
        for e in entries {
            guard e.end <= dataCount else {
                throw malformed("tensor '\(e.name)' data_offsets [\(e.begin), \(e.end)] exceed the \(dataCount)-byte data section")
            }
            if e.begin < covered, let previous { throw malformed("tensors '\(previous)' and '\(e.name)' overlap") }
            if e.begin > covered { throw malformed("bytes \(covered)..<\(e.begin) of the data section belong to no tensor") }
            covered = e.end
            previous = e.name
        }
        if covered != dataCount { throw malformed("bytes \(covered)..<\(dataCount) of the data section belong to no tensor") }

        var tensors = TensorMap()
        var conversions: [DTypeConversion] = []
        for e in entries {
            let span = UnsafeRawBufferPointer(rebasing: bytes[(dataStart + e.begin)..<(dataStart + e.end)])
            let (tensor, conversion) = try e.element.tensor(span, shape: Shape(e.shape), bigEndian: false, path: path,
                                                            entry: entry, name: e.name)
            tensors[e.name] = tensor
            if let conversion { conversions.append(conversion) }
        }
        return (tensors, metadata, conversions)
    }

    /// Encodes tensors (in map order, packed back to back) with an optional metadata map.
    /// Quantization parameters are not part of the format and are dropped.
    /// - Throws: `FormatError.writeFailed` when a tensor is named `__metadata__`.
    public static func encode(_ tensors: TensorMap, metadata: [String: String] = [:]) throws -> [UInt8] {
        var fields: [String] = []
        if !metadata.isEmpty {
            let items = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            fields.append("\(jsonString(metadataKey)):{\(items.joined(separator: ","))}")
        }
        var offset = 0
        for (name, tensor) in tensors {
            guard name != metadataKey else { throw FormatError.writeFailed(path: "safetensors", reason: "a tensor may not be named '\(metadataKey)'") }
            let shape = tensor.shape.dims.map(String.init).joined(separator: ",")
            fields.append("\(jsonString(name)):{\"dtype\":\"\(tag(for: tensor.dtype))\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + tensor.byteCount)]}")
            offset += tensor.byteCount
        }
        var header = Array("{\(fields.joined(separator: ","))}".utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        let length = UInt64(header.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        out += header
        for (_, tensor) in tensors { tensor.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    private static func parseMetadata(_ value: HeaderLiteral, malformed: (String) -> FormatError) throws -> [String: String] {
        guard let pairs = value.objectPairs else { throw malformed("'\(metadataKey)' is not an object") }
        var metadata: [String: String] = [:]
        for (key, item) in pairs {
            guard let text = item.stringValue else { throw malformed("'\(metadataKey)' value for '\(key)' is not a string") }
            metadata[key] = text
        }
        return metadata
    }

    /// A JSON string literal with the escapes JSON requires.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// One tensor's header record, validated on its own (the tiling is checked by the caller).
private struct TensorEntry {
    var name: String
    var element: StoredElement
    var shape: [Int]
    var begin: Int
    var end: Int

    init(name: String, value: HeaderLiteral, path: String, entry: String?, limits: ReadLimits) throws {
        func malformed(_ reason: String) -> FormatError { .malformed(path: path, entry: entry, reason: "tensor '\(name)': \(reason)") }
        guard value.objectPairs != nil else { throw malformed("header record is not an object") }
        guard let tag = value["dtype"]?.stringValue else { throw malformed("missing 'dtype'") }
        guard let element = Safetensors.elementByTag[tag] else { throw FormatError.unsupportedDType(path: path, entry: entry, dtype: tag) }
        guard let items = value["shape"]?.arrayValue else { throw malformed("missing 'shape'") }
        let shape = items.compactMap(\.intValue)
        guard shape.count == items.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw malformed("'shape' must be a list of non-negative integers")
        }
        guard shape.count <= limits.maxRank else {
            throw FormatError.limitExceeded(path: path, entry: entry, limit: "the rank limit of \(limits.maxRank)")
        }
        guard let offsets = value["data_offsets"]?.arrayValue?.compactMap(\.intValue), offsets.count == 2 else {
            throw malformed("'data_offsets' must be two integers")
        }
        guard offsets[0] >= 0, offsets[0] <= offsets[1] else { throw malformed("data_offsets [\(offsets[0]), \(offsets[1])] are not an ascending range") }
        guard let count = checkedProduct(shape), let byteCount = checkedMultiply(count, element.byteSize) else {
            throw malformed("shape \(shape) overflows the addressable size")
        }
        guard byteCount == offsets[1] - offsets[0] else {
            throw malformed("shape \(shape) of \(tag) needs \(byteCount) bytes but data_offsets span \(offsets[1] - offsets[0])")
        }
        self.name = name
        self.element = element
        self.shape = shape
        self.begin = offsets[0]
        self.end = offsets[1]
    }
}
