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
/// Primitives are created per batch size on first use and reused; runs are serialised by a lock.
public final class Int8Matmul: @unchecked Sendable {
    public let n: Int
    public let k: Int
    /// The weights in their original `[n, k]` layout (for the reference path).
    public let weights: [Int8]
    private let engine: OpaquePointer
    private let stream: OpaquePointer
    private var packedWeights: UnsafeMutableRawPointer?
    private var packedDesc = dnnl_memory_desc_t()
    private var primitives: [Int: OpaquePointer] = [:]
    private var weightMemories: [OpaquePointer] = []
    private let lock = NSLock()

    /// `weights`: `n·k` values, row j holding output channel j.
    public init(weights: [Int8], n: Int, k: Int) throws {
        precondition(weights.count == n * k, "weights must be n·k")
        self.n = n
        self.k = k
        self.weights = weights
        var e: OpaquePointer?
        guard dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success, let e else { throw Int8KernelError.dnnl("engine") }
        engine = e
        var s: OpaquePointer?
        guard dnnl_stream_create(&s, e, dnnl_stream_default_flags.rawValue) == dnnl_success, let s else { throw Int8KernelError.dnnl("stream") }
        stream = s
    }

    deinit {
        for p in primitives.values { dnnl_primitive_destroy(p) }
        for m in weightMemories { dnnl_memory_destroy(m) }
        packedWeights?.deallocate()
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }

    /// `c` (m·n s32) = `a` (m·k u8) × weightsᵀ, on oneDNN.
    public func run(a: UnsafePointer<UInt8>, m: Int, c: UnsafeMutablePointer<Int32>) throws {
        guard m > 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        let primitive = try self.primitive(m: m)
        var srcDesc = try Self.desc([m, k], dnnl_u8, dnnl_ab)
        var dstDesc = try Self.desc([m, n], dnnl_s32, dnnl_ab)
        var src: OpaquePointer?, dst: OpaquePointer?
        guard dnnl_memory_create(&src, &srcDesc, engine, UnsafeMutableRawPointer(mutating: a)) == dnnl_success,
              dnnl_memory_create(&dst, &dstDesc, engine, UnsafeMutableRawPointer(c)) == dnnl_success else {
            throw Int8KernelError.dnnl("memory")
        }
        defer { dnnl_memory_destroy(src); dnnl_memory_destroy(dst) }
        var args = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: src), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: weightMemories[0]),
                    dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: dst)]
        guard dnnl_primitive_execute(primitive, stream, Int32(args.count), &args) == dnnl_success,
              dnnl_stream_wait(stream) == dnnl_success else { throw Int8KernelError.dnnl("matmul execute") }
    }

    /// The plain C loop (`ck_gemm_u8s8s32_ref`).
    public func reference(a: UnsafePointer<UInt8>, m: Int, c: UnsafeMutablePointer<Int32>) {
        weights.withUnsafeBufferPointer { w in ck_gemm_u8s8s32_ref(a, w.baseAddress, c, m, n, k) }
    }

    /// Σ_p w[j][p] per output channel (for the input zero-point correction `−z_x · Σ w`).
    public var channelSums: [Int32] {
        (0..<n).map { j in weights[(j * k)..<((j + 1) * k)].reduce(Int32(0)) { $0 + Int32($1) } }
    }

    /// The matmul primitive for batch `m`; the first one chooses the packed weight layout, later
    /// ones are created for that same layout.
    private func primitive(m: Int) throws -> OpaquePointer {
        if let p = primitives[m] { return p }
        var srcDesc = try Self.desc([m, k], dnnl_u8, dnnl_ab)
        var dstDesc = try Self.desc([m, n], dnnl_s32, dnnl_ab)
        var weightDesc = packedWeights == nil ? try Self.desc([k, n], dnnl_s8, dnnl_format_tag_any) : packedDesc
        var opDesc = dnnl_matmul_desc_t()
        guard dnnl_matmul_desc_init(&opDesc, &srcDesc, &weightDesc, nil, &dstDesc) == dnnl_success else {
            throw Int8KernelError.dnnl("matmul desc")
        }
        var pd: OpaquePointer?
        guard withUnsafePointer(to: &opDesc, { dnnl_primitive_desc_create(&pd, UnsafeRawPointer($0), nil, engine, nil) }) == dnnl_success,
              let pd else { throw Int8KernelError.dnnl("matmul primitive desc (m=\(m), n=\(n), k=\(k))") }
        defer { dnnl_primitive_desc_destroy(pd) }
        if packedWeights == nil { try pack(into: dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0).pointee) }
        var p: OpaquePointer?
        guard dnnl_primitive_create(&p, pd) == dnnl_success, let p else { throw Int8KernelError.dnnl("matmul primitive") }
        primitives[m] = p
        return p
    }

    /// Reorders the `[n, k]` weights (a `[k, n]` matrix in `ba` order) into oneDNN's chosen layout.
    private func pack(into desc: dnnl_memory_desc_t) throws {
        packedDesc = desc
        let size = dnnl_memory_desc_get_size(&packedDesc)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 64)
        packedWeights = buffer
        var plainDesc = try Self.desc([k, n], dnnl_s8, dnnl_ba)
        var plain: OpaquePointer?, packed: OpaquePointer?
        try weights.withUnsafeBufferPointer { w in
            guard dnnl_memory_create(&plain, &plainDesc, engine, UnsafeMutableRawPointer(mutating: w.baseAddress)) == dnnl_success,
                  dnnl_memory_create(&packed, &packedDesc, engine, buffer) == dnnl_success else { throw Int8KernelError.dnnl("memory") }
            defer { dnnl_memory_destroy(plain) }
            var rpd: OpaquePointer?, reorder: OpaquePointer?
            guard dnnl_reorder_primitive_desc_create(&rpd, &plainDesc, engine, &packedDesc, engine, nil) == dnnl_success,
                  dnnl_primitive_create(&reorder, rpd) == dnnl_success else { throw Int8KernelError.dnnl("reorder") }
            defer { dnnl_primitive_desc_destroy(rpd); dnnl_primitive_destroy(reorder) }
            var args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: plain), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: packed)]
            guard dnnl_primitive_execute(reorder, stream, 2, &args) == dnnl_success, dnnl_stream_wait(stream) == dnnl_success else {
                throw Int8KernelError.dnnl("reorder execute")
            }
        }
        weightMemories = [packed!]
    }

    private static func desc(_ dims: [Int64], _ type: dnnl_data_type_t, _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
        var d = dnnl_memory_desc_t()
        guard dnnl_memory_desc_init_by_tag(&d, Int32(dims.count), dims, type, tag) == dnnl_success else {
            throw Int8KernelError.dnnl("memory desc \(dims)")
        }
        return d
    }

    private static func desc(_ dims: [Int], _ type: dnnl_data_type_t, _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
        try desc(dims.map(Int64.init), type, tag)
    }
}

/// Whether this CPU runs u8×s8 dot products without 16-bit saturation (VNNI). Without it,
/// quantize with 7-bit weights (`QuantScheme.weightBits = 7`) so results do not depend on the machine.
public var cpuHasVNNI: Bool { ck_has_vnni() != 0 }
