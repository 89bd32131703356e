import CKernels
import TensorCore

/// An s8 weight [rows, cols] in the chunked CSR the INT8 sparse kernels read (`ck_csr_s8`): per
/// row, the non-zeros grouped by 128-column chunk, each stored as its column within the chunk
/// (1 byte) and its value (1 byte). Built once at plan time from a pruned, quantized weight.
public final class SparseInt8Matrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let chunks: Int
    /// Row r's entries are `rowStart[r] ..< rowStart[r + 1]` of `index` / `values`.
    public let rowStart: [Int64]
    /// `chunkCount[r · chunks + k]`: row r's non-zeros in columns `128·k ..< 128·k + 128`.
    public let chunkCount: [UInt8]
    /// Column within its chunk, and value, of each non-zero; followed by `padding` zero bytes the
    /// SIMD variants may read.
    private let index: [UInt8]
    private let storedValues: [Int8]
    static let chunk = Int(CK_SPARSE_S8_CHUNK)
    static let padding = 64

    /// From a dense row-major s8 matrix (zeros dropped).
    public init(dense: UnsafeBufferPointer<Int8>, rows: Int, cols: Int) {
        precondition(dense.count == rows * cols, "dense matrix does not match [\(rows), \(cols)]")
        let chunk = Self.chunk
        let chunks = (cols + chunk - 1) / chunk
        var rowStart = [Int64](repeating: 0, count: rows + 1)
        var chunkCount = [UInt8](repeating: 0, count: rows * chunks)
        var index: [UInt8] = [], values: [Int8] = []
        for r in 0..<rows {
            for c in 0..<cols where dense[r * cols + c] != 0 {
                index.append(UInt8(c % chunk))
                values.append(dense[r * cols + c])
                chunkCount[r * chunks + c / chunk] += 1
            }
            rowStart[r + 1] = Int64(values.count)
        }
        index += [UInt8](repeating: 0, count: Self.padding)
        values += [Int8](repeating: 0, count: Self.padding)
        self.rows = rows
        self.cols = cols
        self.chunks = chunks
        self.rowStart = rowStart
        self.chunkCount = chunkCount
        self.index = index
        storedValues = values
    }

    /// From an i8 weight: a linear weight [out, in] or a conv weight [O, I, kh, kw] as [O, I·kh·kw].
    public convenience init(weight: Tensor) {
        precondition(weight.dtype == .i8 && weight.shape.rank >= 1, "SparseInt8Matrix needs an i8 weight")
        let rows = weight.shape[0]
        let cols = rows == 0 ? 0 : weight.elementCount / rows
        self.init(dense: weight.withUnsafeBufferPointer(of: Int8.self) { UnsafeBufferPointer(rebasing: $0[...]) }, rows: rows, cols: cols)
    }

    public var nonZeroCount: Int { Int(rowStart[rows]) }

    /// Fraction of entries that are zero.
    public var sparsity: Double { rows * cols == 0 ? 0 : 1 - Double(nonZeroCount) / Double(rows * cols) }

    /// The non-zero values in row-major order.
    public var values: [Int8] { Array(storedValues.prefix(nonZeroCount)) }

    /// The column of each non-zero, in row-major order (for inspection and tests).
    public var columns: [Int] {
        var out: [Int] = []
        for r in 0..<rows {
            var p = Int(rowStart[r])
            for k in 0..<chunks {
                for _ in 0..<Int(chunkCount[r * chunks + k]) { out.append(k * Self.chunk + Int(index[p])); p += 1 }
            }
        }
        return out
    }

    /// Calls `body` with the C view of this matrix (valid only inside `body`).
    func withCSR<R>(_ body: (UnsafePointer<ck_csr_s8>) throws -> R) rethrows -> R {
        try rowStart.withUnsafeBufferPointer { starts in
            try chunkCount.withUnsafeBufferPointer { counts in
                try index.withUnsafeBufferPointer { idx in
                    try storedValues.withUnsafeBufferPointer { vals in
                        var csr = ck_csr_s8(rows: Int64(rows), cols: Int64(cols), chunks: Int64(chunks), row_start: starts.baseAddress,
                                            chunk_count: counts.baseAddress, index: idx.baseAddress, values: vals.baseAddress)
                        return try body(&csr)
                    }
                }
            }
        }
    }
}

/// The sparse INT8 product `acc = x · Wᵀ` (u8 × s8 → s32): the same integers as `Int8Matmul`
/// (exact integer sums), for a pruned weight. Variants: `SparseISA` (`.scalar` is the reference).
public enum SparseInt8 {
    /// The best variant this CPU runs.
    public static var bestISA: SparseISA { SparseISA(rawValue: Int(ck_spmm_u8s8_best_isa().rawValue)) ?? .scalar }

    public static func isSupported(_ isa: SparseISA) -> Bool { ck_spmm_u8s8_isa_supported(isa.cISA) != 0 }

    /// Bytes of scratch one call needs.
    public static func scratchBytes(inFeatures: Int) -> Int { Int(ck_spmm_u8s8_scratch_bytes(Int64(inFeatures))) }

    /// `acc` [m, rows] = `x` [m, cols] · Wᵀ; `scratch` holds `scratchBytes(inFeatures: cols)` bytes.
    public static func product(weight: SparseInt8Matrix, x: UnsafePointer<UInt8>, m: Int, accumulators: UnsafeMutablePointer<Int32>,
                               scratch: UnsafeMutableRawPointer, isa: SparseISA? = nil) {
        let isa = isa ?? bestISA
        precondition(isSupported(isa), "the CPU cannot run the \(isa) INT8 sparse kernel")
        weight.withCSR { ck_spmm_u8s8s32_variant(isa.cISA, $0, x, Int64(m), accumulators, scratch.assumingMemoryBound(to: UInt8.self)) }
    }

    /// Convenience for tests: allocates the accumulators and the scratch.
    public static func product(weight: SparseInt8Matrix, x: [UInt8], m: Int, isa: SparseISA? = nil) -> [Int32] {
        precondition(x.count == m * weight.cols, "x must be [\(m), \(weight.cols)]")
        var acc = [Int32](repeating: 0, count: m * weight.rows)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(scratchBytes(inFeatures: weight.cols), 1), alignment: 64)
        defer { scratch.deallocate() }
        x.withUnsafeBufferPointer { xs in
            acc.withUnsafeMutableBufferPointer { a in
                product(weight: weight, x: xs.baseAddress!, m: m, accumulators: a.baseAddress!, scratch: scratch, isa: isa)
            }
        }
        return acc
    }
}
