import Kernels
import ModelGraph
import TensorCore

/// The INT8 rows of the kernel registry: a linear/conv2d whose weight is `i8` with `QuantParams`
/// and whose `attrs["input_quant"]` is present (docs/quantization.md, "Quantized graph").
extension KernelRegistry {
    /// Run the portable C product instead of oneDNN (same integers; for tests and machines where
    /// 8-bit weights would saturate the non-VNNI u8×s8 instruction).
    nonisolated(unsafe) static var int8UsesReference = !cpuHasVNNI

    static func int8(_ planned: PlannedNode, shape: [Int], tensors: TensorMap) throws -> KernelBinding? {
        let node = planned.node
        guard node.op.hasWeightMatrix, let weightName = node.params["weight"], let weight = tensors[weightName],
              weight.dtype == .i8, weight.quant != nil, let attrs = node.attrs["input_quant"] else { return nil }
        guard let scale = attrs["scale"]?.doubleValue, scale > 0, let zero = attrs["zero_point"]?.intValue,
              let dtype = attrs["dtype"]?.stringValue.flatMap(DType.init(rawValue:)), dtype == .u8 || dtype == .i8 else {
            throw GraphError.badAttribute(node: node.name, attr: "input_quant", reason: "needs scale > 0, zero_point and dtype u8|i8")
        }
        let input = ActivationQuantization(scale: Float(scale), zeroPoint: Int32(zero), dtype: dtype)
        let bias = try optionalF32(node, "bias", tensors: tensors)
        let relu = planned.postOp == .relu
        switch node.op {
        case .linear:
            guard weight.shape.rank == 2, let inFeatures = shape.last, weight.shape[1] == inFeatures else {
                throw RuntimeError.shapeMismatch(node: node.name, reason: "linear weight \(weight.shape) does not fit input features \(shape.last ?? 0)")
            }
            let layer = try int8Call(node) { try Int8Linear(weight: weight, bias: bias, input: input) }
            return .kernel(Int8LinearKernel(layer: layer, rowsPerSample: shape.dropLast().reduce(1, *), relu: relu,
                                            reference: int8UsesReference),
                           outputShape: shape.dropLast() + [weight.shape[0]])
        case .conv2d:
            guard shape.count == 3, weight.shape.rank == 4 else { return nil }
            let g = try convGeometry(node, input: shape, weight: weight.shape)
            guard g.groups == 1, weight.shape[1] == g.inChannels, planned.foldedBatchNorm == nil else { return nil }  // FP32 fallback
            let layer = try int8Call(node) { try Int8Linear(weight: weight, bias: bias, input: input) }
            return .kernel(Int8Conv2dKernel(layer: layer, geometry: g, relu: relu, reference: int8UsesReference),
                           outputShape: [g.outChannels, g.outHeight, g.outWidth])
        default:
            return nil
        }
    }

    private static func int8Call<T>(_ node: Node, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as Int8KernelError {
            throw RuntimeError.unsupported(node: node.name, reason: error.description)
        }
    }
}
