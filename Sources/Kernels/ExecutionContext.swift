import CDNNL

/// Per-run state for the library kernels: a oneDNN stream and the memory objects bound to the
/// run's buffers, created on first use and then only re-pointed, so a steady-state run allocates
/// nothing. Use one context per concurrent run (a `Session` keeps one per arena); a context
/// itself is not thread-safe.
public final class ExecutionContext: @unchecked Sendable {
    let stream: OpaquePointer
    private var memories: [MemoryKey: DNNLMemory] = [:]

    struct MemoryKey: Hashable {
        let kernel: Int
        let batch: Int
        let slot: Int32
    }

    public init() throws {
        stream = try Self.makeStream()
    }

    static func makeStream() throws -> OpaquePointer {
        var stream: OpaquePointer?
        try DNNL.check(dnnl_stream_create(&stream, DNNL.engine, dnnl_stream_default_flags.rawValue), "stream_create")
        return stream!
    }

    /// The memory object for (`kernel`, `batch`, `slot`), pointed at `data`.
    func memory(kernel: Int, batch: Int, slot: Int32, descriptor: dnnl_memory_desc_t,
                data: UnsafeRawPointer) throws -> DNNLMemory {
        let key = MemoryKey(kernel: kernel, batch: batch, slot: slot)
        if let memory = memories[key] {
            try memory.point(to: data)
            return memory
        }
        let memory = try DNNLMemory(descriptor, data: UnsafeMutableRawPointer(mutating: data))
        memories[key] = memory
        return memory
    }

    private var scratchBuffer: AlignedBuffer?

    /// The scratchpad memory for (`kernel`, `batch`), backed by this context's one scratch buffer
    /// (grown to the largest request; steps of a run execute one at a time). Nil if none is needed.
    func scratchpad(kernel: Int, batch: Int, descriptor: dnnl_memory_desc_t) throws -> DNNLMemory? {
        var md = descriptor
        let size = dnnl_memory_desc_get_size(&md)
        guard size > 0 else { return nil }
        if scratchBuffer == nil || scratchBuffer!.byteCount < size { scratchBuffer = AlignedBuffer(byteCount: size) }
        return try memory(kernel: kernel, batch: batch, slot: DNNL_ARG_SCRATCHPAD, descriptor: descriptor, data: scratchBuffer!.pointer)
    }

    private var workBuffers: [AlignedBuffer?] = []

    /// Working memory for kernels (an INT8 layer's quantized input, accumulators, patches): buffer
    /// `slot`, grown to the largest request and then reused, so a steady-state run allocates
    /// nothing. Steps of a run execute one at a time and share the slots; a kernel uses a distinct
    /// slot for each buffer it needs at the same time. Contents are unspecified on return.
    public func workspace(_ slot: Int, byteCount: Int) -> UnsafeMutableRawPointer {
        while workBuffers.count <= slot { workBuffers.append(nil) }
        if let buffer = workBuffers[slot], buffer.byteCount >= byteCount { return buffer.pointer }
        let buffer = AlignedBuffer(byteCount: byteCount)
        workBuffers[slot] = buffer
        return buffer.pointer
    }

    private var productScratch: AlignedBuffer?

    /// Scratch for the library's own INT8 products (the widened activations of
    /// `ck_gemm_u8s8s32_s16`), apart from the kernels' `workspace` slots.
    func productScratch(byteCount: Int) -> UnsafeMutableRawPointer {
        if productScratch == nil || productScratch!.byteCount < byteCount { productScratch = AlignedBuffer(byteCount: byteCount) }
        return productScratch!.pointer
    }

    func wait() throws { try DNNL.check(dnnl_stream_wait(stream), "stream_wait") }

    deinit { dnnl_stream_destroy(stream) }
}

/// Unique ids for library kernels (keys of the per-context memory cache).
enum KernelID {
    nonisolated(unsafe) private static var next = 0
    private static let lock = NSLockLike()
    static func make() -> Int { lock.withLock { next += 1; return next } }
}
