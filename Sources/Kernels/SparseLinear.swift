import CKernels
import TensorCore

/// The instruction sets the sparse kernels come in; `.scalar` is the reference every variant is tested against.
public enum SparseISA: Int, CaseIterable, Sendable, CustomStringConvertible {
    case scalar, avx2, avx512

    /// The best variant this CPU runs.
    public static var best: SparseISA { SparseISA(rawValue: Int(ck_sparse_best_isa().rawValue)) ?? .scalar }

    public var isSupported: Bool { ck_sparse_isa_supported(cISA) != 0 }

    var cISA: ck_sparse_isa { ck_sparse_isa(rawValue: UInt32(rawValue)) }

    public var description: String { ["scalar", "avx2", "avx512"][rawValue] }
}

/// A linear layer with a sparse weight: `y = x · Wᵀ + bias`, x [batch, in], W [out, in] (CSR), y [batch, out].
///
/// Variants differ from the scalar reference (and from the dense kernel) only in summation order:
/// results agree within float rounding, `SparseLinear.tolerance`.
public enum SparseLinear {
    /// Agreement with the dense kernel / the reference, relative to Σ|w·x| of the output:
    /// |sparse − exact| ≤ tolerance · Σ_c |W[r,c] · x[c]|. Float sums of n terms in any order stay
    /// within n·2⁻²⁴ of that bound; 1e-5 covers n up to ~160 k non-zeros per row.
    public static let tolerance: Float = 1e-5

    /// Floats of scratch one call needs for `inFeatures` (the session allocates it once, 64-byte aligned).
    public static func scratchCount(inFeatures: Int) -> Int { Int(ck_spmm_f32_scratch_floats(Int64(inFeatures))) }

    /// Runs the layer with the given variant (default: the best this CPU has).
    public static func forward(weight: SparseMatrix, x: UnsafePointer<Float>, batch: Int, bias: UnsafePointer<Float>?,
                               y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, isa: SparseISA = .best) {
        precondition(isa.isSupported, "the CPU cannot run the \(isa) sparse kernel")
        weight.withCSR { ck_spmm_f32_variant(isa.cISA, $0, x, Int64(batch), bias, y, scratch) }
    }

    /// Convenience for tests and tools: allocates the output and the scratch.
    public static func forward(weight: SparseMatrix, x: Tensor, bias: Tensor?, isa: SparseISA = .best) -> Tensor {
        precondition(x.dtype == .f32 && x.shape.rank == 2 && x.shape[1] == weight.cols, "x must be [batch, \(weight.cols)] f32")
        let batch = x.shape[0]
        var y = Tensor(zeros: .f32, [batch, weight.rows])
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(scratchCount(inFeatures: weight.cols), 1))
        defer { scratch.deallocate() }
        x.withUnsafeBufferPointer(of: Float.self) { xs in
            y.withUnsafeMutableBufferPointer(of: Float.self) { ys in
                if let bias {
                    bias.withUnsafeBufferPointer(of: Float.self) { b in
                        forward(weight: weight, x: xs.baseAddress!, batch: batch, bias: b.baseAddress, y: ys.baseAddress!, scratch: scratch, isa: isa)
                    }
                } else {
                    forward(weight: weight, x: xs.baseAddress!, batch: batch, bias: nil, y: ys.baseAddress!, scratch: scratch, isa: isa)
                }
            }
        }
        return y
    }
}
