import Kernels
import ModelGraph
import TensorCore

/// The INT8 rows of the kernel registry: a linear, or a conv2d with groups 1, whose weight is `i8`
/// with `QuantParams` and whose `attrs["input_quant"]` is present (docs/quantization.md,
/// "Quantized graph"). Other quantized nodes (grouped convs) run FP32 on dequantized weights.
extension KernelRegistry {
    /// The u8×s8 product every INT8 layer runs on, for tests that prove each product gives the
    /// same bytes (nil, the default: each layer's fastest exact product on this CPU, see
    /// `Int8Product.available`). A product that is not exact for a layer's weights is refused.
    nonisolated(unsafe) static var int8Product: Int8Product?

    /// When the sparse INT8 and sparse conv kernels run: where the measured break-even says they
    /// win (the default), or, for tests that prove the sparse path equal to the dense one, on
    /// every pruned layer at every batch size (`.always`) or never.
    enum SparsePolicy { case breakEven, always, never }
    nonisolated(unsafe) static var sparsePolicy = SparsePolicy.breakEven

    /// How `node`'s input is quantized if the node runs on the INT8 kernels; nil if it runs FP32.
    static func int8Input(of node: Node, tensors: TensorMap) throws -> ActivationQuantization? {
        guard node.op.hasWeightMatrix, let weightName = node.params["weight"], let weight = tensors[weightName],
              weight.dtype == .i8, weight.quant != nil, let attrs = node.attrs["input_quant"] else { return nil }
        if node.op == .conv2d, try Conv2dAttributes(node).groups != 1 { return nil }
        guard let scale = attrs["scale"]?.doubleValue, scale > 0, let zero = attrs["zero_point"]?.intValue,
              let dtype = attrs["dtype"]?.stringValue.flatMap(DType.init(rawValue:)), dtype == .u8 || dtype == .i8 else {
            throw GraphError.badAttribute(node: node.name, attr: "input_quant", reason: "needs scale > 0, zero_point and dtype u8|i8")
        }
        return ActivationQuantization(scale: Float(scale), zeroPoint: Int32(zero), dtype: dtype)
    }

    /// Consecutive INT8 layers stay INT8 (DESIGN §5): an INT8 node whose output is not a graph
    /// output and is read only by INT8 nodes with one and the same `input_quant` writes that
    /// output as u8 for them (requantized from its accumulators, ReLU fused) and they skip
    /// quantizing their input. Everything else keeps f32 values between nodes.
    static func chainInt8(_ planned: inout [PlannedNode], graphOutputs: Set<String>, tensors: TensorMap) throws {
        let inputQuantization = try planned.map { try int8Input(of: $0.node, tensors: tensors) }
        var readers: [String: [Int]] = [:]
        for (i, item) in planned.enumerated() {
            for input in Set(item.node.inputs) { readers[input, default: []].append(i) }
        }
        for i in planned.indices where inputQuantization[i] != nil {
            let value = planned[i].node.output
            guard !graphOutputs.contains(value), let list = readers[value], let shared = inputQuantization[list[0]],
                  list.allSatisfy({ inputQuantization[$0] == shared && planned[$0].node.inputs == [value] }) else { continue }
            planned[i].u8Output = shared
            for j in list { planned[j].u8Input = true }
        }
    }

    static func int8(_ planned: PlannedNode, shape: [Int], tensors: TensorMap) throws -> KernelBinding? {
        let node = planned.node
        guard let input = try int8Input(of: node, tensors: tensors), let weight = node.params["weight"].flatMap({ tensors[$0] }) else {
            return nil
        }
        let bias = try optionalF32(node, "bias", tensors: tensors)
        let relu = planned.postOp == .relu
        let output: Int8Output = planned.u8Output.map { .u8($0, relu: relu) } ?? .f32(relu: relu)
        switch node.op {
        case .linear:
            guard weight.shape.rank == 2, let inFeatures = shape.last, weight.shape[1] == inFeatures else {
                throw RuntimeError.shapeMismatch(node: node.name, reason: "linear weight \(weight.shape) does not fit input features \(shape.last ?? 0)")
            }
            let layer = try int8Call(node) { try Int8Linear(weight: weight, bias: bias, input: input, product: int8Product) }
            let rowsPerSample = shape.dropLast().reduce(1, *)
            return .kernel(Int8LinearKernel(layer: layer, rowsPerSample: rowsPerSample, inputIsU8: planned.u8Input,
                                            output: output,
                                            sparse: sparseInt8(layer, rowCounts: [1, 16, 64].map { $0 * rowsPerSample }),
                                            alwaysSparse: sparsePolicy == .always),
                           outputShape: shape.dropLast() + [weight.shape[0]])
        case .conv2d:
            guard shape.count == 3, weight.shape.rank == 4 else {
                throw RuntimeError.shapeMismatch(node: node.name, reason: "conv2d needs an [N, C, H, W] input and an [O, I, kh, kw] weight, got per-sample \(shape) and \(weight.shape)")
            }
            let g = try convGeometry(node, input: shape, weight: weight.shape)
            try int8Call(node) { try g.validate() }
            guard weight.shape[1] == g.inChannels else {
                throw RuntimeError.shapeMismatch(node: node.name, reason: "conv2d weight \(weight.shape) does not fit \(g.inChannels) input channels")
            }
            let layer = try int8Call(node) { try Int8Linear(weight: weight, bias: bias, input: input, product: int8Product) }
            let positions = g.outHeight * g.outWidth
            return .kernel(Int8Conv2dKernel(layer: layer, geometry: g, inputIsU8: planned.u8Input, output: output,
                                            sparse: sparseInt8(layer, rowCounts: [1, 16, 64].map { $0 * positions }),
                                            alwaysSparse: sparsePolicy == .always),
                           outputShape: [g.outChannels, g.outHeight, g.outWidth])
        default:
            return nil
        }
    }

    /// The layer's weight as a sparse matrix if it is sparse enough to beat the dense product at
    /// one of the `rowCounts` (the product's rows at batch 1, 16, 64), else nil.
    static func sparseInt8(_ layer: Int8Linear, rowCounts: [Int]) -> SparseInt8Matrix? {
        let zeros = layer.matmul.weights.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        let sparsity = Double(zeros) / Double(max(layer.matmul.weights.count, 1))
        switch sparsePolicy {
        case .never: return nil
        case .always: return zeros > 0 ? layer.sparseWeight() : nil
        case .breakEven: break
        }
        guard rowCounts.contains(where: { SparseBreakEven.prefersSparseInt8(sparsity: sparsity, rows: layer.n, cols: layer.k, m: $0) }) else {
            return nil
        }
        return layer.sparseWeight()
    }

    private static func int8Call<T>(_ node: Node, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as Int8KernelError {
            throw RuntimeError.unsupported(node: node.name, reason: error.description)
        } catch let error as KernelError {
            throw RuntimeError.unsupported(node: node.name, reason: error.description)
        }
    }
}
