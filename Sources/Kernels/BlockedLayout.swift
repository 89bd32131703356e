import CDNNL

/// How a 4-D activation `[N, C, H, W]` lies in memory (docs/runtime.md, "Layouts"): plain NCHW, or
/// oneDNN's channel-blocked `nChw{block}c` (channels padded with zeros to a multiple of `block`),
/// the layout its jit convolutions (incl. depthwise) read and write.
public enum ActivationLayout: Sendable, Equatable {
    case plain
    case blocked(Int)

    /// The block oneDNN's convolutions use on this CPU: 16 floats (one AVX-512 register) or 8 (AVX2).
    public static var preferredBlock: Int { DNNL.effectiveISA.hasPrefix("avx512") ? 16 : 8 }

    var tag: dnnl_format_tag_t {
        switch self {
        case .plain: return dnnl_nchw
        case .blocked(16): return dnnl_nChw16c
        case .blocked(8): return dnnl_nChw8c
        case .blocked(let b): preconditionFailure("no oneDNN tag for a channel block of \(b)")
        }
    }

    /// Channels as stored: `channels` rounded up to the block.
    public func storedChannels(_ channels: Int) -> Int {
        guard case .blocked(let b) = self else { return channels }
        return (channels + b - 1) / b * b
    }
}

/// Moves `[N, C, H, W]` values between two layouts with oneDNN's reorder (one primitive per batch
/// size, cached): where a blocked value meets a reader that needs plain NCHW, and for taps.
public final class LayoutReorder: @unchecked Sendable {
    public let channels, height, width: Int
    public let from, to: ActivationLayout
    private let id = KernelID.make()
    private let lock = NSLockLike()
    private var plans: [Int: (DNNLPrimitive, dnnl_memory_desc_t, dnnl_memory_desc_t)] = [:]

    public init(channels: Int, height: Int, width: Int, from: ActivationLayout, to: ActivationLayout) {
        (self.channels, self.height, self.width, self.from, self.to) = (channels, height, width, from, to)
    }

    public func prepare(batch: Int) throws { _ = try plan(batch: batch) }

    private func plan(batch: Int) throws -> (DNNLPrimitive, dnnl_memory_desc_t, dnnl_memory_desc_t) {
        try lock.withLock {
            if let plan = plans[batch] { return plan }
            let dims = [batch, channels, height, width]
            let source = try DNNL.descriptor(dims, dnnl_f32, from.tag), destination = try DNNL.descriptor(dims, dnnl_f32, to.tag)
            let plan = (try DNNLPrimitive(reorderFrom: source, to: destination), source, destination)
            plans[batch] = plan
            return plan
        }
    }

    public func run(batch: Int, input: UnsafeRawPointer, output: UnsafeMutableRawPointer, context: ExecutionContext) throws {
        guard batch > 0 else { return }
        let (reorder, source, destination) = try plan(batch: batch)
        let src = try context.memory(kernel: id, batch: batch, slot: DNNL_ARG_FROM, descriptor: source, data: input)
        let dst = try context.memory(kernel: id, batch: batch, slot: DNNL_ARG_TO, descriptor: destination, data: output)
        try reorder.execute(context.stream, [(DNNL_ARG_FROM, src), (DNNL_ARG_TO, dst)])
        try context.wait()
    }
}
