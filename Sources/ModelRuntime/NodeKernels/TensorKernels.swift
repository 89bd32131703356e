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

/// A binary op or `where` with NumPy/ONNX broadcasting (any operand may be a batchless constant).
final class BroadcastKernel: NodeKernel {
    enum Operation { case binary(BinaryOperation), select }
    let operation: Operation
    let layout: BroadcastLayout
    init(_ operation: Operation, layout: BroadcastLayout) {
        self.operation = operation
        self.layout = layout
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        switch operation {
        case .binary(let op): TensorOps.binary(op, layout: layout.withBatch(batch), buffers.input(0), buffers.input(1), buffers.output)
        case .select: TensorOps.select(layout: layout.withBatch(batch), buffers.input(0), buffers.input(1), buffers.input(2), buffers.output)
        }
    }
}

/// `matmul` between two values: one `Gemm.sgemm` per output matrix, the leading (batch and
/// broadcast) dims walked by strides counted in matrices.
final class MatmulKernel: NodeKernel {
    let m, k, n: Int
    /// Leading dims of the output (dim 0 the batch, set per run) and each operand's stride along them.
    let layout: BroadcastLayout
    init(m: Int, k: Int, n: Int, layout: BroadcastLayout) {
        (self.m, self.k, self.n) = (m, k, n)
        self.layout = layout
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        let l = layout.withBatch(batch)
        let count = l.dims.reduce(1, *)
        var index = [Int64](repeating: 0, count: l.dims.count)
        let a = buffers.input(0), b = buffers.input(1), y = buffers.output
        for matrix in 0..<Int(count) {
            var ao: Int64 = 0, bo: Int64 = 0
            for d in index.indices { ao += index[d] * l.strides[0][d]; bo += index[d] * l.strides[1][d] }
            Gemm.sgemm(transA: false, transB: false, m: m, n: n, k: k, a: a + Int(ao) * m * k, lda: k,
                       b: b + Int(bo) * k * n, ldb: n, c: y + matrix * m * n, ldc: n)
            var d = index.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < l.dims[d] { break }
                index[d] = 0
                d -= 1
            }
        }
    }
}

/// `gather` along the middle axis of `[outer, axisLength, inner]`: the embedding lookup (a constant
/// table, batched indices) or an index select on a batched value (constant indices).
final class GatherKernel: NodeKernel {
    let node: String
    /// Per sample when `dataIsBatched`, else the whole (constant) table's.
    let outerPerSample, axisLength, inner: Int
    /// Indices per sample when the indices are batched, else all of them.
    let indexCount: Int
    let dataIsBatched: Bool
    init(node: String, outerPerSample: Int, axisLength: Int, inner: Int, indexCount: Int, dataIsBatched: Bool) {
        self.node = node
        (self.outerPerSample, self.axisLength, self.inner, self.indexCount) = (outerPerSample, axisLength, inner, indexCount)
        self.dataIsBatched = dataIsBatched
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        let outer = dataIsBatched ? batch * outerPerSample : outerPerSample
        let count = dataIsBatched ? indexCount : batch * indexCount
        if let bad = TensorOps.gather(buffers.input(0), indices: buffers.input(1), buffers.output, outer: outer,
                                      axisLength: axisLength, inner: inner, count: count) {
            throw RuntimeError.badValue(node: node, reason: "gather index \(buffers.input(1)[bad]) at position \(bad) is not an integer in [-\(axisLength), \(axisLength))")
        }
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

/// A copy of the input into the output through strides (dimension 0 the batch): `transpose`,
/// `slice` (negative steps are negative strides), `expand` (stride 0 where it broadcasts), and the
/// interior of `pad` after the output is filled with the pad value.
final class StridedCopyKernel: NodeKernel {
    let dims: [Int64]
    let sourceStrides, destinationStrides: [Int64]
    /// Elements before the first copied one in the output (the leading pads) and in the input (a slice's start).
    let destinationOffset: Int
    let sourceOffset: Int
    /// `pad`: the output is first filled with `fill.value` (`fill.count` elements per sample).
    let fill: (value: Float, countPerSample: Int)?

    init(dims: [Int64], sourceStrides: [Int64], destinationStrides: [Int64], sourceOffset: Int = 0, destinationOffset: Int = 0,
         fill: (value: Float, countPerSample: Int)? = nil) {
        (self.dims, self.sourceStrides, self.destinationStrides) = (dims, sourceStrides, destinationStrides)
        self.destinationOffset = destinationOffset
        self.sourceOffset = sourceOffset
        self.fill = fill
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        if let fill { TensorOps.fill(buffers.output, count: batch * fill.countPerSample, value: fill.value) }
        var dims = self.dims
        dims[0] = Int64(batch)
        TensorOps.copyStrided(dims: dims, srcStrides: sourceStrides, dstStrides: destinationStrides,
                              buffers.input(0) + sourceOffset, buffers.output + destinationOffset)
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
