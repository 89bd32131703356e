import CKernels
import TensorCore

/// A float matrix [rows, cols] in compressed sparse row form: the non-zeros of each row with their
/// columns (ascending). Built once at plan time from a pruned dense weight; exact zeros (±0) are dropped.
public final class SparseMatrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    /// Row r's entries are `rowStart[r] ..< rowStart[r + 1]` of `columns` and `values`.
    public let rowStart: [Int64]
    public let columns: [Int32]
    public let values: [Float]

    /// From a dense row-major matrix.
    public init(dense: UnsafeBufferPointer<Float>, rows: Int, cols: Int) {
        precondition(dense.count == rows * cols && cols <= Int(Int32.max), "dense matrix does not match [\(rows), \(cols)]")
        var rowStart = [Int64](repeating: 0, count: rows + 1)
        var columns = [Int32](), values = [Float]()
        for r in 0..<rows {
            for c in 0..<cols where dense[r * cols + c] != 0 {
                columns.append(Int32(c))
                values.append(dense[r * cols + c])
            }
            rowStart[r + 1] = Int64(values.count)
        }
        self.rows = rows
        self.cols = cols
        self.rowStart = rowStart
        self.columns = columns
        self.values = values
    }

    /// From an f32 weight: a linear weight [out, in], or a conv weight [O, I/groups, kh, kw] as its
    /// matrix form [O, I/groups·kh·kw].
    public convenience init(weight: Tensor) {
        precondition(weight.dtype == .f32 && weight.quant == nil && weight.shape.rank >= 1, "SparseMatrix needs an f32 weight")
        let rows = weight.shape[0]
        let cols = rows == 0 ? 0 : weight.elementCount / rows
        self.init(dense: weight.withUnsafeBufferPointer(of: Float.self) { UnsafeBufferPointer(rebasing: $0[...]) }, rows: rows, cols: cols)
    }

    public var nonZeroCount: Int { values.count }

    /// Fraction of entries that are zero.
    public var sparsity: Double { rows * cols == 0 ? 0 : 1 - Double(values.count) / Double(rows * cols) }

    /// Calls `body` with the C view of this matrix (valid only inside `body`).
    func withCSR<R>(_ body: (UnsafePointer<ck_csr_f32>) throws -> R) rethrows -> R {
        try rowStart.withUnsafeBufferPointer { starts in
            try columns.withUnsafeBufferPointer { cols in
                try values.withUnsafeBufferPointer { vals in
                    var csr = ck_csr_f32(rows: Int64(rows), cols: Int64(self.cols), row_start: starts.baseAddress,
                                         col_index: cols.baseAddress, values: vals.baseAddress)
                    return try body(&csr)
                }
            }
        }
    }
}
