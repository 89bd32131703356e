import CDNNL
import CKernels
import Foundation

/// The one place that talks to oneDNN (2.6 "op-desc" C API). Moving to oneDNN 3.x touches this
/// file and the primitive builders (`DenseLinear`, `Conv2d`) only.
public enum DNNL {
    /// The CPU engine, created once per process.
    nonisolated(unsafe) static let engine: OpaquePointer = {
        DNNL.applyCPUMask
        var engine: OpaquePointer?
        let status = dnnl_engine_create(&engine, dnnl_cpu, 0)
        precondition(status == dnnl_success && engine != nil, "oneDNN CPU engine could not be created (\(status.rawValue))")
        return engine!
    }()

    /// Caps oneDNN's ISA to the C kernels' MODELSMITH_CPU_FEATURES mask (docs/runtime.md, "CPU
    /// dispatch"), so one variable makes the whole runtime behave as on the smaller CPU. Runs once,
    /// before the first primitive. oneDNN's own ONEDNN_MAX_CPU_ISA, when set, wins (the INT8
    /// product choice reads oneDNN's effective ISA either way).
    private static let applyCPUMask: Void = {
        let environment = ProcessInfo.processInfo.environment
        guard environment["ONEDNN_MAX_CPU_ISA"] == nil, environment["DNNL_MAX_CPU_ISA"] == nil else { return }
        let isa: dnnl_cpu_isa_t
        switch String(cString: ck_cpu_mask()) {
        case "avx512": isa = dnnl_cpu_isa_avx512_core
        case "avx2": isa = dnnl_cpu_isa_avx2
        case "scalar": isa = dnnl_cpu_isa_sse41
        default: return
        }
        _ = dnnl_set_max_cpu_isa(isa)
    }()

    /// Whether oneDNN's u8×s8 products are exact for any s8 weights: its ISA has VNNI (`vpdpbusd`
    /// accumulates in 32 bits). Below that, oneDNN multiplies with `vpmaddubsw`, which saturates a
    /// pair of products in 16 bits unless |w| ≤ 64 (`Int8Product.sevenBitLimit`).
    public static var u8s8ExactForAnyWeights: Bool {
        applyCPUMask
        let isa = dnnl_get_effective_cpu_isa().rawValue
        return isa & dnnl_cpu_isa_avx512_core_vnni.rawValue == dnnl_cpu_isa_avx512_core_vnni.rawValue
    }

    /// The ISA oneDNN dispatches to (e.g. "avx2", "avx512_core_vnni").
    public static var effectiveISA: String {
        applyCPUMask
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_sse41: return "sse41"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case let other: return String(format: "0x%x", other.rawValue)
        }
    }

    static func check(_ status: dnnl_status_t, _ call: String) throws {
        guard status == dnnl_success else {
            if status == dnnl_unimplemented { throw KernelError.unsupported(call) }
            throw KernelError.dnnl(call: call, status: Int32(bitPattern: status.rawValue))
        }
    }

    /// A plain f32 memory descriptor (`tag` e.g. `dnnl_ab`, `dnnl_nchw`, or `dnnl_format_tag_any`).
    static func descriptor(_ dims: [Int], _ type: dnnl_data_type_t = dnnl_f32,
                           _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let dims64 = dims.map(Int64.init)
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims64, type, tag), "memory_desc_init_by_tag \(dims)")
        return md
    }

    /// The thread count oneDNN's OpenMP runtime uses for calls from the current thread.
    /// (OpenMP keeps it per calling thread, so a run sets it on the thread that runs.)
    public static func setThreads(_ count: Int) {
        omp_set_num_threads(Int32(max(1, count)))
    }

    public static var maxThreads: Int { Int(omp_get_max_threads()) }
}

/// A oneDNN memory object over caller-owned bytes (the handle can be re-pointed per run).
public final class DNNLMemory: @unchecked Sendable {
    let handle: OpaquePointer
    public let descriptor: dnnl_memory_desc_t

    init(_ descriptor: dnnl_memory_desc_t, data: UnsafeMutableRawPointer?) throws {
        var md = descriptor
        var memory: OpaquePointer?
        try DNNL.check(dnnl_memory_create(&memory, &md, DNNL.engine, data), "memory_create")
        guard let memory else { throw KernelError.dnnl(call: "memory_create", status: -1) }
        handle = memory
        self.descriptor = descriptor
    }

    func point(to data: UnsafeRawPointer) throws {
        try DNNL.check(dnnl_memory_set_data_handle(handle, UnsafeMutableRawPointer(mutating: data)), "memory_set_data_handle")
    }

    deinit { dnnl_memory_destroy(handle) }
}

/// Bytes owned by the kernel layer, aligned for SIMD loads (packed weights live here).
final class AlignedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int
    init(byteCount: Int) {
        self.byteCount = byteCount
        pointer = .allocate(byteCount: max(byteCount, 64), alignment: 64)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 64))
    }
    deinit { pointer.deallocate() }
}

/// A created primitive and its descriptor.
final class DNNLPrimitive: @unchecked Sendable {
    let descriptor: OpaquePointer
    let primitive: OpaquePointer

    /// `opDescriptor` is a pointer to a `dnnl_*_desc_t`; `attributes` may be nil.
    init(opDescriptor: UnsafeRawPointer, attributes: OpaquePointer?, what: String) throws {
        var pd: OpaquePointer?
        try DNNL.check(dnnl_primitive_desc_create(&pd, opDescriptor, attributes, DNNL.engine, nil), "primitive_desc_create (\(what))")
        guard let pd else { throw KernelError.unsupported(what) }
        var p: OpaquePointer?
        do {
            try DNNL.check(dnnl_primitive_create(&p, pd), "primitive_create (\(what))")
        } catch {
            dnnl_primitive_desc_destroy(pd)
            throw error
        }
        descriptor = pd
        primitive = p!
    }

    /// A reorder from one layout to another.
    init(reorderFrom source: dnnl_memory_desc_t, to destination: dnnl_memory_desc_t) throws {
        var src = source, dst = destination
        var pd: OpaquePointer?
        try DNNL.check(dnnl_reorder_primitive_desc_create(&pd, &src, DNNL.engine, &dst, DNNL.engine, nil), "reorder_primitive_desc_create")
        guard let pd else { throw KernelError.unsupported("reorder") }
        var p: OpaquePointer?
        try DNNL.check(dnnl_primitive_create(&p, pd), "primitive_create (reorder)")
        descriptor = pd
        primitive = p!
    }

    /// The memory descriptor the primitive chose for `query` (e.g. `dnnl_query_weights_md`).
    func memoryDescriptor(_ query: dnnl_query_t, index: Int32 = 0) -> dnnl_memory_desc_t? {
        dnnl_primitive_desc_query_md(descriptor, query, index)?.pointee
    }

    /// Implementation name (e.g. "brg:avx512_core"), for benchmarks and verbose output.
    var implementation: String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else { return "?" }
        return String(cString: name)
    }

    func execute(_ stream: OpaquePointer, _ args: [(Int32, DNNLMemory)]) throws {
        let execArgs = args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.handle) }
        try DNNL.check(dnnl_primitive_execute(primitive, stream, Int32(execArgs.count), execArgs), "primitive_execute")
    }

    /// Executes a forward op (matmul, convolution) and waits; no heap allocation.
    func execute(_ context: ExecutionContext, src: DNNLMemory, weights: DNNLMemory, bias: DNNLMemory?, dst: DNNLMemory,
                 scratchpad: DNNLMemory?) throws {
        let none = dnnl_exec_arg_t(arg: 0, memory: nil)
        var args = (dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: src.handle), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: weights.handle),
                    dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: dst.handle), none, none)
        var count: Int32 = 3
        if let bias { args.3 = dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: bias.handle); count += 1 }
        if let scratchpad {
            let slot = dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: scratchpad.handle)
            if count == 3 { args.3 = slot } else { args.4 = slot }
            count += 1
        }
        let status = withUnsafePointer(to: &args) {
            $0.withMemoryRebound(to: dnnl_exec_arg_t.self, capacity: 5) { dnnl_primitive_execute(primitive, context.stream, count, $0) }
        }
        try DNNL.check(status, "primitive_execute")
        try context.wait()
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }
}

/// Reorders `source` (plain layout, bytes at `data`) into a new buffer laid out as `target`.
func reorderedCopy(from source: dnnl_memory_desc_t, data: UnsafeRawPointer, to target: dnnl_memory_desc_t) throws -> (AlignedBuffer, DNNLMemory) {
    var targetCopy = target
    let buffer = AlignedBuffer(byteCount: dnnl_memory_desc_get_size(&targetCopy))
    let sourceMemory = try DNNLMemory(source, data: UnsafeMutableRawPointer(mutating: data))
    let targetMemory = try DNNLMemory(target, data: buffer.pointer)
    let reorder = try DNNLPrimitive(reorderFrom: source, to: target)
    let stream = try ExecutionContext.makeStream()
    defer { dnnl_stream_destroy(stream) }
    try reorder.execute(stream, [(DNNL_ARG_FROM, sourceMemory), (DNNL_ARG_TO, targetMemory)])
    try DNNL.check(dnnl_stream_wait(stream), "stream_wait")
    return (buffer, targetMemory)
}
