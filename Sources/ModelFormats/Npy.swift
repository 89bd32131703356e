import TensorCore

/// The NumPy `.npy` format, versions 1.0–3.0
/// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
///
/// Layout: the magic `\x93NUMPY`, major and minor version bytes, the header length (u16 LE in 1.0,
/// u32 LE in 2.0/3.0), a header that is a Python dict literal with exactly `descr`, `fortran_order`
/// and `shape` (latin-1 in 1.0/2.0, UTF-8 in 3.0) padded so the data starts at a multiple of 64,
/// then the raw elements.
///
/// Decoding yields a C-order little-endian `Tensor`: big-endian data is byte-swapped and Fortran
/// order is transposed. A bf16 tensor is written as the 2-byte void `'<V2'`, which is what
/// `np.save` writes for `ml_dtypes.bfloat16`, and `'<V2'` reads back as bf16.
public enum Npy {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Decodes one `.npy` file; a dtype ModelSmith lacks (`<f8`, `<i2`, `<u2`) is converted (see `decodeReporting`).
    /// - Parameters:
    ///   - path: the file, for messages; `entry`: the archive entry it came from, if any.
    /// - Throws: `FormatError` naming the file/entry and the broken rule.
    public static func decode(_ bytes: [UInt8], path: String, entry: String? = nil, limits: ReadLimits = .default) throws -> Tensor {
        try bytes.withUnsafeBytes { try decodeReporting(raw: $0, path: path, entry: entry, name: entry ?? path, limits: limits).tensor }
    }

    /// Decodes one `.npy` file over any bytes, such as a memory-mapped file (the header, the dtype
    /// and the size the shape needs are checked before any element byte is read), converting
    /// float64 to f32 and int16/uint16 to i32; the conversion (named `name`) is returned for the caller's note.
    static func decodeReporting(raw bytes: UnsafeRawBufferPointer, path: String, entry: String?, name: String,
                                limits: ReadLimits) throws -> (tensor: Tensor, conversion: DTypeConversion?) {
        func malformed(_ reason: String) -> FormatError { .malformed(path: path, entry: entry, reason: reason) }

        guard bytes.count >= 10 else { throw malformed("truncated .npy: \(bytes.count) bytes, too short for the header") }
        guard bytes.starts(with: magic) else { throw malformed("not an .npy file (bad magic)") }
        let major = bytes[6], minor = bytes[7]
        guard (1...3).contains(major), minor == 0 else { throw malformed("unsupported .npy format version \(major).\(minor)") }
        let prefixLength = major == 1 ? 10 : 12
        guard bytes.count >= prefixLength else { throw malformed("truncated .npy: \(bytes.count) bytes, too short for the header") }
        let headerLength = major == 1
            ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard headerLength <= limits.maxHeaderBytes else {
            throw FormatError.limitExceeded(path: path, entry: entry, limit: "the header cap of \(limits.maxHeaderBytes) bytes")
        }
        let dataOffset = prefixLength + headerLength
        guard dataOffset <= bytes.count else {
            throw malformed("truncated .npy: header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let headerBytes = Array(bytes[prefixLength..<dataOffset])[...]
        // 1.0/2.0 headers are latin-1: any byte ≥ 0x80 is outside what numpy writes, and the keys
        // and values we accept are ASCII, so parsing them as UTF-8 refuses nothing numpy produces.
        let header: HeaderLiteral
        do { header = try HeaderLiteral.parse(headerBytes, dialect: .python, maxDepth: limits.maxJSONDepth) }
        catch { throw malformed("header is not a valid dict literal: \(error.reason)") }
        let fields = try HeaderFields(header, malformed: malformed)

        guard let (element, bigEndian) = elementType(forDescr: fields.descr) else {
            throw FormatError.unsupportedDType(path: path, entry: entry, dtype: fields.descr)
        }
        guard fields.shape.count <= limits.maxRank else {
            throw FormatError.limitExceeded(path: path, entry: entry, limit: "the rank limit of \(limits.maxRank)")
        }
        if let negative = fields.shape.first(where: { $0 < 0 }) {
            throw malformed("negative dimension \(negative) in shape \(pythonTuple(fields.shape))")
        }
        guard let count = checkedProduct(fields.shape), let byteCount = checkedMultiply(count, element.byteSize) else {
            throw malformed("shape \(pythonTuple(fields.shape)) overflows the addressable size")
        }
        let dataCount = bytes.count - dataOffset
        guard byteCount == dataCount else {
            throw malformed("shape \(pythonTuple(fields.shape)) of '\(fields.descr)' needs \(byteCount) bytes of data, found \(dataCount)")
        }

        // Fortran data of shape (d0 … dk) is C data of shape (dk … d0): decode that, then reorder.
        let fortran = fields.fortranOrder && fields.shape.count > 1
        let shape = Shape(fields.shape)
        let stored = fortran ? Shape(fields.shape.reversed()) : shape
        var (tensor, conversion) = try element.tensor(UnsafeRawBufferPointer(rebasing: bytes[dataOffset...]), shape: stored,
                                                      bigEndian: bigEndian, path: path, entry: entry, name: name)
        if fortran { tensor = cOrder(fromFortran: tensor, shape: shape) }
        return (tensor, conversion)
    }

    /// Encodes a tensor as `.npy` (version 1.0, or 2.0 when the header needs more than 64 KiB), C order,
    /// little endian. Quantization parameters are not part of the format and are dropped.
    public static func encode(_ t: Tensor) -> [UInt8] {
        let dict = "{'descr': '\(descr(for: t.dtype))', 'fortran_order': False, 'shape': \(pythonTuple(t.shape.dims)), }"
        var header = Array(dict.utf8)
        let needsV2 = 10 + header.count + 1 > 65535
        let prefixLength = needsV2 ? 12 : 10
        let unpadded = prefixLength + header.count + 1
        header += [UInt8](repeating: 0x20, count: (64 - unpadded % 64) % 64) + [0x0A]
        var out = magic + (needsV2 ? [2, 0] : [1, 0])
        let length = header.count
        out += needsV2 ? [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24 & 0xFF)]
                       : [UInt8(length & 0xFF), UInt8(length >> 8)]
        out += header
        out.reserveCapacity(out.count + t.byteCount)
        t.withUnsafeBytes { out.append(contentsOf: $0) }
        return out
    }

    /// The numpy type string for a dtype (little endian).
    static func descr(for dtype: DType) -> String {
        switch dtype {
        case .f32: return "<f4"
        case .f16: return "<f2"
        case .bf16: return "<V2"
        case .i8: return "|i1"
        case .u8: return "|u1"
        case .i32: return "<i4"
        case .i64: return "<i8"
        case .bool: return "|b1"
        }
    }

    /// The element type and byte order of a numpy type string, or nil when we do not read it.
    static func elementType(forDescr descr: String) -> (StoredElement, bigEndian: Bool)? {
        var code = Substring(descr)
        var bigEndian = false
        if let order = code.first, "<>|=".contains(order) {
            bigEndian = order == ">"
            code = code.dropFirst()
        }
        let byCode: [Substring: StoredElement] = ["f4": .native(.f32), "f2": .native(.f16), "V2": .native(.bf16), "i1": .native(.i8),
                                             "u1": .native(.u8), "i4": .native(.i32), "i8": .native(.i64), "b1": .native(.bool),
                                             "f8": .foreign(.float64), "i2": .foreign(.int16), "u2": .foreign(.uint16)]
        guard let element = byCode[code] else { return nil }
        return (element, bigEndian && element.byteSize > 1)
    }

    /// `(2, 3)`, `(3,)` or `()` as Python prints a tuple.
    static func pythonTuple(_ dims: [Int]) -> String {
        dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.map(String.init).joined(separator: ", ") + ")"
    }

    /// Reverses the byte order of every `width`-byte element in place.
    static func swapBytes(_ buffer: UnsafeMutableRawBufferPointer, width: Int) {
        guard width > 1 else { return }
        var i = 0
        while i + width <= buffer.count {
            var lo = i, hi = i + width - 1
            while lo < hi { buffer.swapAt(lo, hi); lo += 1; hi -= 1 }
            i += width
        }
    }

    /// The same values in C order: `t` is Fortran data read as C data of the reversed shape, so
    /// the result (of `shape`) is that array with its axes reversed.
    static func cOrder(fromFortran t: Tensor, shape: Shape) -> Tensor {
        let dims = shape.dims
        let rank = dims.count, width = t.dtype.byteSize
        // Element strides of the Fortran buffer, indexed by C axis.
        var strides = [Int](repeating: 1, count: rank)
        for axis in 1..<rank { strides[axis] = strides[axis - 1] * dims[axis - 1] }
        var out = Tensor(zeros: t.dtype, shape)
        guard t.elementCount > 0 else { return out }
        t.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                copyStrided(from: src.baseAddress!, to: dst.baseAddress!, count: t.elementCount, shape: dims, stride: strides,
                            offset: 0, itemSize: width)
            }
        }
        return out
    }
}

/// The three keys of an `.npy` header, checked.
private struct HeaderFields {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    init(_ header: HeaderLiteral, malformed: (String) -> FormatError) throws {
        guard let pairs = header.objectPairs else { throw malformed("header is not a dict") }
        let keys = pairs.map(\.key)
        guard keys.sorted() == ["descr", "fortran_order", "shape"] else {
            let found = keys.map { "'\($0)'" }.joined(separator: ", ")
            throw malformed("header keys are \(found); expected exactly 'descr', 'fortran_order', 'shape'")
        }
        guard let descr = header["descr"]?.stringValue else {
            throw malformed("header 'descr' is not a type string (structured dtypes are not supported)")
        }
        guard let fortranOrder = header["fortran_order"]?.boolValue else { throw malformed("header 'fortran_order' is not True or False") }
        guard let items = header["shape"]?.arrayValue else { throw malformed("header 'shape' is not a tuple") }
        let shape = items.compactMap(\.intValue)
        guard shape.count == items.count else { throw malformed("header 'shape' holds a value that is not an integer") }
        self.descr = descr
        self.fortranOrder = fortranOrder
        self.shape = shape
    }
}
