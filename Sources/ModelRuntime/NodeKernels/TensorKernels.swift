import Kernels
import TensorCore

/// A parameterised element-wise function (`clip`, `hardswish`, …) over `elementsPerSample × batch` values.
final class UnaryKernel: NodeKernel {
    let function: UnaryFunction
    let elementsPerSample: Int
    init(_ function: UnaryFunction, elementsPerSample: Int) {
        self.function = function
        self.elementsPerSample = elementsPerSample
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        TensorOps.unary(function, buffers.input(0), buffers.output, count: batch * elementsPerSample)
    }
}

/// `add|sub|mul|div` with NumPy/ONNX broadcasting (either operand may be a batchless constant).
final class BroadcastBinaryKernel: NodeKernel {
    let operation: BinaryOperation
    let layout: BroadcastLayout
    init(_ operation: BinaryOperation, layout: BroadcastLayout) {
        self.operation = operation
        self.layout = layout
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        TensorOps.binary(operation, layout: layout.withBatch(batch), buffers.input(0), buffers.input(1), buffers.output)
    }
}

/// A reduction over one contiguous run of per-sample axes: `[outer, length, inner]` per sample.
final class ReduceKernel: NodeKernel {
    let operation: ReduceOperation
    let outerPerSample, length, inner: Int
    init(_ operation: ReduceOperation, outerPerSample: Int, length: Int, inner: Int) {
        self.operation = operation
        (self.outerPerSample, self.length, self.inner) = (outerPerSample, length, inner)
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        TensorOps.reduce(operation, buffers.input(0), buffers.output, outer: batch * outerPerSample, length: length, inner: inner)
    }
}

/// A copy of the input into the output through strides (dimension 0 the batch): `transpose`, and
/// the interior of `pad` after the output is filled with the pad value.
final class StridedCopyKernel: NodeKernel {
    let dims: [Int64]
    let sourceStrides, destinationStrides: [Int64]
    /// Elements before the first copied one in the output (the leading pads).
    let destinationOffset: Int
    /// `pad`: the output is first filled with `fill.value` (`fill.count` elements per sample).
    let fill: (value: Float, countPerSample: Int)?

    init(dims: [Int64], sourceStrides: [Int64], destinationStrides: [Int64], destinationOffset: Int = 0,
         fill: (value: Float, countPerSample: Int)? = nil) {
        (self.dims, self.sourceStrides, self.destinationStrides) = (dims, sourceStrides, destinationStrides)
        self.destinationOffset = destinationOffset
        self.fill = fill
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        if let fill { TensorOps.fill(buffers.output, count: batch * fill.countPerSample, value: fill.value) }
        var dims = self.dims
        dims[0] = Int64(batch)
        TensorOps.copyStrided(dims: dims, srcStrides: sourceStrides, dstStrides: destinationStrides,
                              buffers.input(0), buffers.output + destinationOffset)
    }
}

/// A `constant` node: writes its tensor (no batch dimension) into its buffer.
final class ConstantKernel: NodeKernel {
    let values: [Float]
    init(_ tensor: Tensor) { values = tensor.toF32().floats }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        values.withUnsafeBufferPointer { buffers.output.update(from: $0.baseAddress!, count: $0.count) }
    }
}
