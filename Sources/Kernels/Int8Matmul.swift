import CDNNL
import CKernels
import Dispatch
import Foundation
import TensorCore

/// u8 × s8 → s32 matrix products for INT8 linear/conv layers: `c[i][j] = Σ_p a[i][p] · w[j][p]`
/// with `w` in a linear weight's `[n, k]` layout.
///
/// `product` says which exact product runs (`Int8Product`, chosen per layer from the CPU and the
/// weights' range, docs/runtime.md "CPU dispatch"): a oneDNN matmul (u8 source, s8 weights
/// reordered once into oneDNN's packed layout, s32 destination), the C target's widening s16
/// product (weights packed once), or the plain C loop; `reference` is always the plain C loop.
/// Integer accumulation is exact, so all give the same integers (tests compare with `==`).
/// Primitives are created per row count on first use (or `prepare`) and cached; runs take their
/// stream, memory objects and scratchpad from the caller's `ExecutionContext`, so concurrent runs
/// (each with its own context) neither allocate nor wait for one another.
public final class Int8Matmul: @unchecked Sendable {
    public let n: Int
    public let k: Int
    /// The weights in their original `[n, k]` layout (for the reference path).
    public let weights: [Int8]
    /// The largest |w| (decides whether oneDNN is exact without VNNI).
    public let maxAbsWeight: Int
    public let product: Int8Product
    /// What runs below `oneDNNMinRowsWithoutVNNI` rows when `product` is oneDNN without VNNI
    /// (7-bit weights) and was not forced: the s16 product, faster there (docs/benchmarks.md).
    private let fewRowsProduct: Int8Product?
    private let id = KernelID.make()
    /// The weights as oneDNN sees them (a `[k, n]` matrix in `ba` order), packed per layout.
    private let packed: PackedWeights
    /// The weights packed for the s16 product (nil for the other products).
    private let packedS16: AlignedBuffer?
    private let lock = NSLockLike()
    private var plans: [Int: ForwardPlan] = [:]

    /// `weights`: `n·k` values, row j holding output channel j. `product`: one of
    /// `Int8Product.available(maxAbsWeight:)` for these weights; nil = the first (fastest) of them.
    public convenience init(weights: [Int8], n: Int, k: Int, product: Int8Product? = nil) throws {
        try self.init(weights: weights, n: n, k: k, product: product, requireExact: true)
    }

    /// `requireExact: false` lets a test run oneDNN where it saturates (to show that it does).
    init(weights: [Int8], n: Int, k: Int, product: Int8Product?, requireExact: Bool) throws {
        precondition(weights.count == n * k, "weights must be n·k")
        self.n = n
        self.k = k
        self.weights = weights
        maxAbsWeight = weights.reduce(0) { max($0, abs(Int($1))) }
        let available = Int8Product.available(maxAbsWeight: maxAbsWeight)
        let chosen = product ?? available[0]
        guard available.contains(chosen) || !requireExact else {
            throw Int8KernelError.productUnavailable("\(chosen) is not exact for weights up to ±\(maxAbsWeight) on this CPU (available: \(available.map(\.description).joined(separator: ", ")))")
        }
        self.product = chosen
        fewRowsProduct = product == nil && chosen == .oneDNN && !DNNL.u8s8ExactForAnyWeights
            ? available.first { $0.gemmISA != nil } : nil
        packed = PackedWeights(plain: try DNNL.descriptor([k, n], dnnl_s8, dnnl_ba))
        if let isa = (fewRowsProduct ?? chosen).gemmISA {
            let buffer = AlignedBuffer(byteCount: ck_gemm_s16_packed_count(isa, n, k) * 2)
            weights.withUnsafeBufferPointer { ck_gemm_s16_pack(isa, $0.baseAddress, n, k, buffer.pointer.assumingMemoryBound(to: Int16.self)) }
            packedS16 = buffer
        } else {
            packedS16 = nil
        }
    }

    /// Below this many rows oneDNN's u8×s8 product without VNNI (`gemm:jit`) is slower than the s16
    /// one (4096×4096 on AVX2: 16 ms vs 2.3 ms at 1 row, equal at 16, 37 vs 49 ms at 32).
    public static let oneDNNMinRowsWithoutVNNI = 16

    /// The product a run of `m` rows takes: `product`, or the s16 product for few rows (see `fewRowsProduct`).
    public func product(m: Int) -> Int8Product {
        if let fewRowsProduct, m < Self.oneDNNMinRowsWithoutVNNI { return fewRowsProduct }
        return product
    }

    /// Creates (and caches) the oneDNN primitive for `m` rows if oneDNN runs them; `run` calls it implicitly.
    public func prepare(m: Int) throws { if product(m: m) == .oneDNN { _ = try plan(m: m) } }

    /// What runs for `m` rows: oneDNN's implementation (e.g. "brg:avx512_core_vnni", "gemm:jit")
    /// or the library's own product ("modelsmith:s16_avx2", …).
    public func implementation(m: Int) throws -> String {
        let product = product(m: m)
        return product == .oneDNN ? try plan(m: m).primitive.implementation : product.description
    }

    /// `c` (m·n s32) = `a` (m·k u8) × weightsᵀ on `product`, with `context`'s stream, memory objects and scratch.
    public func run(a: UnsafePointer<UInt8>, m: Int, c: UnsafeMutablePointer<Int32>, context: ExecutionContext) throws {
        guard m > 0 else { return }
        let product = product(m: m)
        switch product {
        case .oneDNN:
            try plan(m: m).run(kernel: id, batch: m, input: a, output: c, bias: nil, context: context)
        case .s16:
            let widened = context.productScratch(byteCount: ck_gemm_s16_scratch_count(m, k) * 2).assumingMemoryBound(to: Int16.self)
            runS16(product.gemmISA!, a: a, m: m, c: c, widened: widened)
        case .reference:
            reference(a: a, m: m, c: c)
        }
    }

    /// The s16 product on the calling thread's OpenMP thread count (`SessionOptions.threads`, as
    /// oneDNN uses), column groups split evenly; the integers do not depend on the split.
    private func runS16(_ isa: ck_int8_gemm_isa, a: UnsafePointer<UInt8>, m: Int, c: UnsafeMutablePointer<Int32>,
                        widened: UnsafeMutablePointer<Int16>) {
        let weights = UnsafePointer(packedS16!.pointer.assumingMemoryBound(to: Int16.self))
        ck_gemm_s16_widen(a, m, k, widened)
        let groups = ck_gemm_s16_column_groups(isa, n)
        // Below ~1M multiply-adds a second thread costs more than it saves.
        let threads = m * n * k < 1 << 20 ? 1 : min(DNNL.maxThreads, groups)
        guard threads > 1 else { return ck_gemm_s16_columns(isa, weights, widened, c, m, n, k, 0, groups) }
        let (n, k) = (n, k)
        let buffers = S16Buffers(weights: weights, widened: UnsafePointer(widened), c: c)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            ck_gemm_s16_columns(isa, buffers.weights, buffers.widened, buffers.c, m, n, k, groups * t / threads, groups * (t + 1) / threads)
        }
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

/// The buffers the s16 product's workers share: the inputs read-only, `c` written in disjoint
/// column ranges (one per worker), so sharing them is safe.
private struct S16Buffers: @unchecked Sendable {
    let weights: UnsafePointer<Int16>
    let widened: UnsafePointer<Int16>
    let c: UnsafeMutablePointer<Int32>
}

/// Whether this CPU runs u8×s8 dot products without 16-bit saturation (VNNI, after the
/// MODELSMITH_CPU_FEATURES mask). Only the kernel choice depends on it, never the results.
public var cpuHasVNNI: Bool { ck_has_vnni() != 0 }
