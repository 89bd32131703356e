import CDNNL

/// A weight reordered into each layout oneDNN's primitives ask for — once per distinct layout,
/// since most batch sizes share one. Callers serialise access (they hold their plan-cache lock).
final class PackedWeights: @unchecked Sendable {
    /// The weight's own layout, as it lies in memory.
    let plain: dnnl_memory_desc_t
    private var copies: [(AlignedBuffer, DNNLMemory)] = []

    init(plain: dnnl_memory_desc_t) { self.plain = plain }

    /// The weight in the layout `primitive` prefers, reordering `source` (plain layout) on first use.
    func memory(for primitive: DNNLPrimitive, source: UnsafeRawPointer) throws -> DNNLMemory {
        let layout = primitive.memoryDescriptor(dnnl_query_weights_md) ?? plain
        for (_, memory) in copies {
            var a = memory.descriptor, b = layout
            if dnnl_memory_desc_equal(&a, &b) != 0 { return memory }
        }
        let copy = try reorderedCopy(from: plain, data: source, to: layout)
        copies.append(copy)
        return copy.1
    }
}

/// One forward primitive (matmul or convolution) for one batch size, with its packed weights:
/// what the dense kernels cache per batch and run with a context's stream and memory objects.
struct ForwardPlan {
    let primitive: DNNLPrimitive
    let weights: DNNLMemory
    let source: dnnl_memory_desc_t
    let destination: dnnl_memory_desc_t
    let scratchpad: dnnl_memory_desc_t

    init(primitive: DNNLPrimitive, source: dnnl_memory_desc_t, destination: dnnl_memory_desc_t,
         weights: PackedWeights, weightData: UnsafeRawPointer) throws {
        self.primitive = primitive
        self.weights = try weights.memory(for: primitive, source: weightData)
        self.source = source
        self.destination = destination
        scratchpad = primitive.memoryDescriptor(dnnl_query_scratchpad_md) ?? dnnl_memory_desc_t()
    }

    /// Runs on `batch` items; `kernel` keys the context's cached memory objects.
    func run(kernel: Int, batch: Int, input: UnsafeRawPointer, output: UnsafeMutableRawPointer, bias: DNNLMemory?,
             context: ExecutionContext) throws {
        let src = try context.memory(kernel: kernel, batch: batch, slot: DNNL_ARG_SRC, descriptor: source, data: input)
        let dst = try context.memory(kernel: kernel, batch: batch, slot: DNNL_ARG_DST, descriptor: destination, data: output)
        let scratch = try context.scratchpad(kernel: kernel, batch: batch, descriptor: scratchpad)
        try primitive.execute(context, src: src, weights: weights, bias: bias, dst: dst, scratchpad: scratch)
    }
}
