import Kernels

/// Copies a channel-blocked value into plain NCHW for a reader that needs it (docs/runtime.md, "Layouts").
final class ReorderKernel: NodeKernel {
    let reorder: LayoutReorder
    init(_ reorder: LayoutReorder) { self.reorder = reorder }

    func prepare(batch: Int) throws { try reorder.prepare(batch: batch) }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        try reorder.run(batch: batch, input: buffers.input(0), output: buffers.output, context: context)
    }
}
