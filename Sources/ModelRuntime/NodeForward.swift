import Kernels
import ModelGraph
import TensorCore

/// One node's forward pass on concrete tensors, through the same `KernelRegistry` binding a
/// `Session` plans (docs/architecture.md, "One op layer"): the training engine runs every op
/// without learned parameters through here, so an op's forward exists once.
public enum NodeForward {
    /// `inputs[i]` has the batch as dimension 0 unless `constantInputs[i]` (a `constant`'s value);
    /// `params` holds the node's param tensors by tensor name. Returns the output (batchless for a
    /// `constant`).
    public static func run(_ node: Node, inputs: [Tensor], constantInputs: [Bool], params: TensorMap) throws -> Tensor {
        let batched = inputs.indices.filter { !constantInputs[$0] }
        let batch = batched.first.map { inputs[$0].shape[0] } ?? 1
        for i in batched where inputs[i].shape[0] != batch {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "inputs have batch sizes \(inputs[i].shape[0]) and \(batch)")
        }
        let shapes = inputs.indices.map { constantInputs[$0] ? inputs[$0].shape.dims : Array(inputs[$0].shape.dims.dropFirst()) }
        if node.movesBatch, let input = inputs.first {
            switch try KernelRegistry.bindWhole(PlannedNode(node: node), inputShape: input.shape.dims) {
            case .view(let shape): return input.reshaped(Shape(shape))
            case .kernel(let kernel, let shape): return try execute(kernel, inputs: [input.toF32()], outputShape: shape, batch: shape[0])
            case .constant: break
            }
        }
        switch try KernelRegistry.bind(PlannedNode(node: node), inputShapes: shapes, constantInputs: constantInputs, tensors: params) {
        case .view(let shape):
            return inputs[0].reshaped(Shape([batch] + shape))
        case .constant(let kernel, let shape):
            return try execute(kernel, inputs: [], outputShape: shape, batch: 1)
        case .kernel(let kernel, let shape):
            try kernel.prepare(batch: batch)
            return try execute(kernel, inputs: inputs.map { $0.toF32() }, outputShape: [batch] + shape, batch: batch)
        }
    }

    /// Lays the inputs and the output out in one 64-byte-aligned buffer and runs the kernel once.
    private static func execute(_ kernel: NodeKernel, inputs: [Tensor], outputShape: [Int], batch: Int) throws -> Tensor {
        let aligned = { (bytes: Int) in (bytes + 63) / 64 * 64 }
        var offsets: [Int] = []
        var total = 0
        for input in inputs {
            offsets.append(total)
            total += aligned(input.elementCount * 4)
        }
        let outputOffset = total
        var output = Tensor(zeros: .f32, Shape(outputShape))
        total += aligned(output.elementCount * 4)
        let arena = try Arena(byteCount: total)
        for (input, offset) in zip(inputs, offsets) {
            input.withUnsafeBytes { (arena.base + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        try kernel.run(batch: batch, buffers: KernelBuffers(base: arena.base, inputOffsets: offsets, outputOffset: outputOffset),
                       context: arena.context)
        output.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: arena.base + outputOffset, byteCount: $0.count) }
        return output
    }
}
