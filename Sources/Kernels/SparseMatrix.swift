import CKernels
import TensorCore

/// A float matrix [rows, cols] in compressed sparse row form: the non-zeros of each row with their
/// columns (ascending). Built once at plan time from a pruned dense weight; exact zeros (±0) are dropped.
public final class SparseMatrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    /// Row r's entries are `rowStart[r] ..< rowStart[r + 1]` of the column indices and `values`.
    public let rowStart: [Int64]
    public let values: [Float]
    /// Column indices: 32-bit by default (fastest: the batch-1 kernel is bound by its gathers, and
    /// widening 16-bit indices costs ~10%), or 16-bit on request when `cols` ≤ 65536 (25% less memory).
    private let narrowColumns: [UInt16]
    private let wideColumns: [Int32]

    /// The column indices (for inspection and tests).
    public var columns: [Int32] { isNarrow ? narrowColumns.map { Int32($0) } : wideColumns }

    /// Whether the column indices are stored in 16 bits.
    public let isNarrow: Bool

    /// From a dense row-major matrix; `narrowIndices` stores 16-bit column indices when `cols` ≤ 65536.
    public init(dense: UnsafeBufferPointer<Float>, rows: Int, cols: Int, narrowIndices: Bool = false) {
        precondition(dense.count == rows * cols && cols <= Int(Int32.max), "dense matrix does not match [\(rows), \(cols)]")
        let narrow = cols <= 65536 && narrowIndices
        var rowStart = [Int64](repeating: 0, count: rows + 1)
        var narrowColumns = [UInt16](), wideColumns = [Int32](), values = [Float]()
        for r in 0..<rows {
            for c in 0..<cols where dense[r * cols + c] != 0 {
                if narrow { narrowColumns.append(UInt16(truncatingIfNeeded: c)) } else { wideColumns.append(Int32(c)) }
                values.append(dense[r * cols + c])
            }
            rowStart[r + 1] = Int64(values.count)
        }
        self.rows = rows
        self.cols = cols
        self.rowStart = rowStart
        self.narrowColumns = narrowColumns
        self.wideColumns = wideColumns
        self.isNarrow = narrow
        self.values = values
    }

    /// From an f32 weight: a linear weight [out, in], or a conv weight [O, I/groups, kh, kw] as its
    /// matrix form [O, I/groups·kh·kw].
    public convenience init(weight: Tensor, narrowIndices: Bool = false) {
        precondition(weight.dtype == .f32 && weight.quant == nil && weight.shape.rank >= 1, "SparseMatrix needs an f32 weight")
        let rows = weight.shape[0]
        let cols = rows == 0 ? 0 : weight.elementCount / rows
        self.init(dense: weight.withUnsafeBufferPointer(of: Float.self) { UnsafeBufferPointer(rebasing: $0[...]) },
                  rows: rows, cols: cols, narrowIndices: narrowIndices)
    }

    public var nonZeroCount: Int { values.count }

    /// Fraction of entries that are zero.
    public var sparsity: Double { rows * cols == 0 ? 0 : 1 - Double(values.count) / Double(rows * cols) }

    /// Calls `body` with the C view of this matrix (valid only inside `body`).
    func withCSR<R>(_ body: (UnsafePointer<ck_csr_f32>) throws -> R) rethrows -> R {
        try rowStart.withUnsafeBufferPointer { starts in
            try narrowColumns.withUnsafeBufferPointer { narrow in
                try wideColumns.withUnsafeBufferPointer { wide in
                    try values.withUnsafeBufferPointer { vals in
                        let wideIndices = !isNarrow
                        var csr = ck_csr_f32(rows: Int64(rows), cols: Int64(self.cols), row_start: starts.baseAddress,
                                             col_index: wideIndices ? UnsafeRawPointer(wide.baseAddress) : UnsafeRawPointer(narrow.baseAddress),
                                             index_bits: wideIndices ? 32 : 16, values: vals.baseAddress)
                        return try body(&csr)
                    }
                }
            }
        }
    }
}
