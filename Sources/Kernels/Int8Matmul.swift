import CDNNL
import CKernels
import Foundation
import TensorCore

/// u8 × s8 → s32 matrix products for INT8 linear/conv layers: `c[i][j] = Σ_p a[i][p] · w[j][p]`
/// with `w` in a linear weight's `[n, k]` layout.
///
/// The fast path is a oneDNN matmul (u8 source, s8 weights reordered once into oneDNN's packed
/// layout, s32 destination; `brg:avx512_core_vnni` on this machine); `reference` is the plain C loop.
/// Integer accumulation is exact, so both give the same integers (tests compare with `==`).
/// Primitives are created per row count on first use (or `prepare`) and cached; runs take their
/// stream, memory objects and scratchpad from the caller's `ExecutionContext`, so concurrent runs
/// (each with its own context) neither allocate nor wait for one another.
public final class Int8Matmul: @unchecked Sendable {
    public let n: Int
    public let k: Int
    /// The weights in their original `[n, k]` layout (for the reference path).
    public let weights: [Int8]
    private let id = KernelID.make()
    /// The weights as oneDNN sees them (a `[k, n]` matrix in `ba` order), packed per layout.
    private let packed: PackedWeights
    private let lock = NSLockLike()
    private var plans: [Int: ForwardPlan] = [:]

    /// `weights`: `n·k` values, row j holding output channel j.
    public init(weights: [Int8], n: Int, k: Int) throws {
        precondition(weights.count == n * k, "weights must be n·k")
        self.n = n
        self.k = k
        self.weights = weights
        packed = PackedWeights(plain: try DNNL.descriptor([k, n], dnnl_s8, dnnl_ba))
    }

    /// Creates (and caches) the primitive for `m` rows; `run` calls it implicitly.
    public func prepare(m: Int) throws { _ = try plan(m: m) }

    /// The oneDNN implementation chosen for `m` rows (e.g. "brg:avx512_core_vnni").
    public func implementation(m: Int) throws -> String { try plan(m: m).primitive.implementation }

    /// `c` (m·n s32) = `a` (m·k u8) × weightsᵀ, on oneDNN, with `context`'s stream and memory objects.
    public func run(a: UnsafePointer<UInt8>, m: Int, c: UnsafeMutablePointer<Int32>, context: ExecutionContext) throws {
        guard m > 0 else { return }
        try plan(m: m).run(kernel: id, batch: m, input: a, output: c, bias: nil, context: context)
    }

    /// The plain C loop (`ck_gemm_u8s8s32_ref`).
    public func reference(a: UnsafePointer<UInt8>, m: Int, c: UnsafeMutablePointer<Int32>) {
        weights.withUnsafeBufferPointer { w in ck_gemm_u8s8s32_ref(a, w.baseAddress, c, m, n, k) }
    }

    /// Σ_p w[j][p] per output channel (for the input zero-point correction `−z_x · Σ w`).
    public var channelSums: [Int32] {
        (0..<n).map { j in weights[(j * k)..<((j + 1) * k)].reduce(Int32(0)) { $0 + Int32($1) } }
    }

    /// The primitive for `m` rows (the lock guards only the cache, not execution).
    private func plan(m: Int) throws -> ForwardPlan {
        try lock.withLock {
            if let plan = plans[m] { return plan }
            var source = try DNNL.descriptor([m, k], dnnl_u8, dnnl_ab)
            var weightsAny = try DNNL.descriptor([k, n], dnnl_s8, dnnl_format_tag_any)
            var destination = try DNNL.descriptor([m, n], dnnl_s32, dnnl_ab)
            var desc = dnnl_matmul_desc_t()
            try DNNL.check(dnnl_matmul_desc_init(&desc, &source, &weightsAny, nil, &destination), "matmul_desc_init (u8×s8)")
            let attributes = try PrimitiveAttributes(.none)
            let primitive = try withUnsafePointer(to: &desc) {
                try DNNLPrimitive(opDescriptor: UnsafeRawPointer($0), attributes: attributes.handle,
                                  what: "u8×s8→s32 matmul \(m)x\(k)x\(n)")
            }
            let plan = try weights.withUnsafeBytes {
                try ForwardPlan(primitive: primitive, source: source, destination: destination, weights: packed, weightData: $0.baseAddress!)
            }
            plans[m] = plan
            return plan
        }
    }

}

/// Whether this CPU runs u8×s8 dot products without 16-bit saturation (VNNI). Without it,
/// quantize with 7-bit weights (`QuantScheme.weightBits = 7`) so results do not depend on the machine.
public var cpuHasVNNI: Bool { ck_has_vnni() != 0 }
