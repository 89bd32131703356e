import TensorCore

/// Element types that input files hold but ModelSmith has no `DType` for, and the compute dtype
/// each becomes (docs/formats.md, "Input dtypes"): float64 → f32 (rounded to nearest; the largest
/// rounding error is reported), int16/uint16 → i32 (exact).
public enum ForeignDType: String, Sendable, CaseIterable {
    case float64, int16, uint16

    public var byteSize: Int { self == .float64 ? 8 : 2 }

    public var target: DType { self == .float64 ? .f32 : .i32 }
}

/// What a file's element is: a ModelSmith dtype, or one the reader converts.
enum StoredElement {
    case native(DType)
    case foreign(ForeignDType)

    var byteSize: Int {
        switch self {
        case .native(let dtype): return dtype.byteSize
        case .foreign(let foreign): return foreign.byteSize
        }
    }

    /// Reads `bytes` (little endian unless `bigEndian`) as a tensor of `shape`, converting a
    /// foreign element type; the conversion record is named `name`.
    func tensor(_ bytes: UnsafeRawBufferPointer, shape: Shape, bigEndian: Bool, path: String, entry: String?,
                name: String) throws -> (Tensor, DTypeConversion?) {
        switch self {
        case .native(let dtype):
            var tensor = try Tensor(dtype: dtype, shape: shape, bytes: bytes)
            if bigEndian { tensor.withUnsafeMutableBytes { Npy.swapBytes($0, width: dtype.byteSize) } }
            return (tensor, nil)
        case .foreign(let foreign):
            let (tensor, maxError) = try DTypeConverter.convert(bytes, from: foreign, shape: shape, bigEndian: bigEndian,
                                                                path: path, entry: entry, tensor: name)
            return (tensor, DTypeConversion(tensor: name, from: foreign.rawValue, to: foreign.target, maxError: maxError))
        }
    }
}

/// A tensor a reader converted to a compute dtype: what the note says and what `--strict-dtypes`
/// refuses.
public struct DTypeConversion: Sendable, Equatable {
    /// The tensor's name (or the archive entry it came from).
    public var tensor: String
    /// The dtype in the file, as NumPy/PyTorch name it (`float64`, `uint8`).
    public var from: String
    public var to: DType
    /// The largest |converted − original| over the tensor's elements; 0 when exact.
    public var maxError: Double

    public init(tensor: String, from: String, to: DType, maxError: Double) {
        self.tensor = tensor
        self.from = from
        self.to = to
        self.maxError = maxError
    }
}

/// Something a reader did that its user should hear about, in one line each (see `summary`).
public enum ReadNote: Sendable, Equatable {
    case converted(DTypeConversion)
    /// An archive entry that is not a regular file (a symbolic or hard link) and was not read.
    case skippedEntry(entry: String, reason: String)

    /// The lines a command prints for `notes` read from `source`: every skipped entry on its own
    /// line, and all conversions together on one line with the largest rounding error.
    public static func summary(_ notes: [ReadNote], source: String) -> [String] {
        var lines: [String] = []
        var conversions: [DTypeConversion] = []
        for note in notes {
            switch note {
            case .converted(let c): conversions.append(c)
            case .skippedEntry(let entry, let reason): lines.append("\(source): skipped entry '\(entry)': \(reason)")
            }
        }
        guard let worst = conversions.max(by: { $0.maxError < $1.maxError }) else { return lines }
        var kinds: [String] = []
        var counts: [String: Int] = [:]
        for c in conversions {
            let kind = "\(c.from) → \(c.to.rawValue)"
            if counts[kind] == nil { kinds.append(kind) }
            counts[kind, default: 0] += 1
        }
        let what = kinds.map { "\(counts[$0]!) \($0)" }.joined(separator: ", ")
        let error = worst.maxError == 0 ? " (exact)" : "; largest rounding error \(shortNumber(worst.maxError)) (in '\(worst.tensor)')"
        lines.append("\(source): converted \(what)\(error); --strict-dtypes refuses instead")
        return lines
    }

    /// Throws for the first conversion, naming it: what `--strict-dtypes` does.
    public static func refuseConversions(_ notes: [ReadNote], source: String) throws {
        for case .converted(let c) in notes {
            throw FormatError.strictDType(path: source, tensor: c.tensor, dtype: c.from, target: c.to)
        }
    }

    private static func shortNumber(_ value: Double) -> String {
        var text = String(format: "%.3g", value)
        if text.hasPrefix("inf") { text = "∞" }
        return text
    }
}

enum DTypeConverter {
    /// The tensor that `bytes` (elements of `from`, row-major, little endian unless `bigEndian`)
    /// become in `from.target`, and the largest rounding error. A float64 value beyond f32's range
    /// is refused: it would silently become ±∞.
    static func convert(_ bytes: UnsafeRawBufferPointer, from: ForeignDType, shape: Shape, bigEndian: Bool,
                        path: String, entry: String?, tensor name: String) throws -> (Tensor, Double) {
        let count = shape.elementCount
        precondition(bytes.count == count * from.byteSize, "caller checks the byte count")
        var out = Tensor(zeros: from.target, shape)
        var maxError = 0.0
        var overflow: (index: Int, value: Double)?
        switch from {
        case .float64:
            out.withUnsafeMutableBufferPointer(of: Float.self) { dst in
                for i in 0..<count {
                    var bits = bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
                    bits = bigEndian ? UInt64(bigEndian: bits) : UInt64(littleEndian: bits)
                    let value = Double(bitPattern: bits)
                    let rounded = Float(value)
                    dst[i] = rounded
                    guard value.isFinite else { continue }
                    if !rounded.isFinite, overflow == nil { overflow = (i, value) }
                    maxError = max(maxError, abs(Double(rounded) - value))
                }
            }
        case .int16, .uint16:
            out.withUnsafeMutableBufferPointer(of: Int32.self) { dst in
                for i in 0..<count {
                    var bits = bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                    bits = bigEndian ? UInt16(bigEndian: bits) : UInt16(littleEndian: bits)
                    dst[i] = from == .int16 ? Int32(Int16(bitPattern: bits)) : Int32(bits)
                }
            }
        }
        if let overflow {
            throw FormatError.malformed(path: path, entry: entry, reason:
                "tensor '\(name)': float64 value \(overflow.value) at index \(overflow.index) is outside the range of f32")
        }
        return (out, maxError)
    }
}
