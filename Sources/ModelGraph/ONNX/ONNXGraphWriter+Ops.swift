import ONNXProto
import TensorCore

/// Each op of the vocabulary as ONNX (the export table in docs/onnx.md). One `switch` without
/// `default:`, so a new op must say how it is exported, or that it is not.
extension ONNXGraphWriter {
    func export(_ node: Node) throws {
        let inputs = node.inputs.map(value)
        func emit(_ attributes: [Onnx_AttributeProto] = [], inputs extra: [String] = []) throws {
            guard let opType = ONNXOpNames.exported[node.op] else {
                throw GraphError.noONNXEquivalent(node: node.name, op: node.op.rawValue, opset: ONNXExport.opset)
            }
            add(opType, inputs + extra, name: node.name, output: node.output, attributes)
        }
        switch node.op {
        case .instancenorm, .groupnorm, .tile, .resize, .topk:
            throw GraphError.notExportedYet(node: node.name, op: node.op.rawValue)
        case .constant:
            guard let name = node.params["value"], let value = package.tensors[name] else {
                throw GraphError.missingParam(node: node.name, role: "value")
            }
            initializer(value.dtype == .f32 ? value : value.toF32(), name: node.output, exact: true)
        case .linear: try linear(node)
        case .conv2d: try conv(node)
        case .batchnorm2d:
            let a = try BatchNormAttributes(node)
            let roles = ["weight", "bias", "running_mean", "running_var"]
            try emit([.float("epsilon", a.eps)], inputs: try roles.map { try param(node.params[$0]!, node: node) })
        case .layernorm:
            let a = try LayerNormAttributes(node)
            let normalized = a.normalizedShape ?? node.params["weight"].flatMap { package.tensors[$0]?.shape.dims } ?? []
            let scale = try node.params["weight"].map { try param($0, node: node) }
                ?? initializer(Tensor([Float](repeating: 1, count: normalized.reduce(1, *)), shape: Shape(normalized)), name: node.name + ".scale")
            let bias = try node.params["bias"].map { try param($0, node: node) }
            try emit([.int("axis", -normalized.count), .float("epsilon", a.eps)], inputs: [scale] + (bias.map { [$0] } ?? []))
        case .relu, .sigmoid, .tanh, .erf, .sqrt, .reciprocal, .exp, .log, .neg, .abs, .softplus, .identity,
             .hardswish, .dropout, .add, .sub, .mul, .div, .pow, .min, .max, .matmul, .globalAvgpool, .globalMaxpool:
            try emit()
        case .equal, .less, .greater:
            cast(add(ONNXOpNames.exported[node.op]!, inputs, name: node.name), to: .f32, name: node.name, output: node.output)
        case .not:
            let truth = add("Not", [cast(inputs[0], to: .bool, name: node.name)], name: node.name)
            cast(truth, to: .f32, name: node.name, output: node.output)
        case .where:
            add("Where", [cast(inputs[0], to: .bool, name: node.name)] + inputs.dropFirst(), name: node.name, output: node.output)
        case .silu:
            let sigmoid = add("Sigmoid", inputs, name: node.name)
            add("Mul", [inputs[0], sigmoid], name: node.name, output: node.output)
        case .mish:
            // Mish is opset 18: x · tanh(softplus(x)).
            let softplus = add("Softplus", inputs, name: node.name)
            add("Mul", [inputs[0], add("Tanh", [softplus], name: node.name)], name: node.name, output: node.output)
        case .gelu:
            // ONNX's Gelu is opset 20; the exact form is x · (1 + erf(x / √2)) / 2.
            guard try GeluAttributes(node).approximate == .none else {
                throw GraphError.noONNXEquivalent(node: node.name, op: "gelu (approximate 'tanh')", opset: ONNXExport.opset)
            }
            let erf = add("Erf", [add("Div", [inputs[0], scalar(Float(2).squareRoot(), node.name + ".sqrt2")], name: node.name)], name: node.name)
            let onePlus = add("Add", [erf, scalar(1, node.name + ".one")], name: node.name)
            let half = add("Mul", [inputs[0], scalar(0.5, node.name + ".half")], name: node.name)
            add("Mul", [half, onePlus], name: node.name, output: node.output)
        case .cast:
            // Held as f32: a float target keeps the value; an integer or bool one rounds toward
            // zero / tests non-zero, and the result is f32 again.
            let to = try CastAttributes(node).to
            if to.isFloatingPoint {
                add("Identity", inputs, name: node.name, output: node.output)
            } else {
                cast(cast(inputs[0], to: to, name: node.name), to: .f32, name: node.name, output: node.output)
            }
        case .clip:
            let a = try ClipAttributes(node)
            let low = a.min.isFinite ? scalar(Float(a.min), node.name + ".min") : ""
            let high = a.max.isFinite ? scalar(Float(a.max), node.name + ".max") : ""
            try emit(inputs: high.isEmpty ? (low.isEmpty ? [] : [low]) : [low, high])
        case .hardsigmoid:
            let a = try HardSigmoidAttributes(node)
            try emit([.float("alpha", a.alpha), .float("beta", a.beta)])
        case .leakyRelu: try emit([.float("alpha", try LeakyReluAttributes(node).alpha)])
        case .softmax, .logSoftmax: try emit([.int("axis", try SoftmaxAttributes(node).axis)])
        case .maxpool2d, .avgpool2d:
            let a = try Pool2dAttributes(node)
            var attributes: [Onnx_AttributeProto] = [
                .ints("kernel_shape", [a.kernel.h, a.kernel.w]), .ints("strides", [a.stride.h, a.stride.w]),
                .ints("pads", [a.padding.h, a.padding.w, a.paddingEnd.h, a.paddingEnd.w]), .int("ceil_mode", a.ceilMode ? 1 : 0),
            ]
            if node.op == .avgpool2d { attributes.append(.int("count_include_pad", a.countIncludePad ? 1 : 0)) }
            try emit(attributes)
        case .reduceMean, .reduceSum, .reduceMax, .reduceMin:
            let a = try ReduceAttributes(node)
            let axes = try a.resolvedAxes(rank: rank(inputs[0]), node: node)
            // Opset 17: ReduceSum takes its axes as an input, the others as an attribute.
            if node.op == .reduceSum {
                try emit([.int("keepdims", a.keepDims ? 1 : 0)], inputs: [int64s(axes, node.name + ".axes")])
            } else {
                try emit([.ints("axes", axes), .int("keepdims", a.keepDims ? 1 : 0)])
            }
        case .flatten:
            let a = try FlattenAttributes(node)
            let r = try rank(inputs[0])
            if a.startDim == 1 && (a.endDim == -1 || a.endDim == r - 1) {
                try emit([.int("axis", 1)])
            } else {
                // Not ONNX's Flatten (which always makes 2-D): a reshape keeping the batch.
                let dims = try shape(node.output).dims
                add("Reshape", inputs + [int64s([0] + dims.dropFirst(), node.name + ".shape")], name: node.name, output: node.output)
            }
        case .reshape:
            try emit(inputs: [int64s(try ReshapeAttributes(node).shape, node.name + ".shape")])
        case .squeeze:
            let dims = try shape(inputs[0]).dims
            // The default squeezes every size-1 axis but the batch (ONNX's would squeeze a batch of 1 too).
            let axes = try AxesAttributes(node, required: false).axes ?? dims.indices.dropFirst().filter { dims[$0] == 1 }
            try emit(inputs: [int64s(axes, node.name + ".axes")])
        case .unsqueeze:
            try emit(inputs: [int64s(try AxesAttributes(node, required: true).axes ?? [], node.name + ".axes")])
        case .transpose:
            let perm = try TransposeAttributes(node).perm
            try emit(perm.map { [.ints("perm", $0)] } ?? [])
        case .pad:
            let a = try PadAttributes(node)
            try emit([.string("mode", "constant")], inputs: [int64s(a.pads, node.name + ".pads"), scalar(Float(a.value), node.name + ".value")])
        case .concat: try emit([.int("axis", try ConcatAttributes(node).axis)])
        case .gather:
            let indices = cast(inputs[1], to: .i64, name: node.name)
            add("Gather", [inputs[0], indices], name: node.name, output: node.output, [.int("axis", try GatherAttributes(node).axis)])
        case .slice:
            let a = try SliceAttributes(node)
            var extra = [int64s(a.starts, node.name + ".starts"), int64s(a.ends, node.name + ".ends")]
            if a.axes != nil || a.steps != nil { extra.append(int64s(a.axes ?? Array(0..<a.starts.count), node.name + ".axes")) }
            if let steps = a.steps { extra.append(int64s(steps, node.name + ".steps")) }
            try emit(inputs: extra)
        case .expand:
            try emit(inputs: [int64s(try ExpandAttributes(node).shape, node.name + ".shape")])
        }
    }

    func shape(_ value: String) throws -> Shape {
        guard let shape = shapes[value] else { throw GraphError.shapeMismatch(node: value, reason: "has no inferred shape") }
        return shape
    }

    func rank(_ value: String) throws -> Int { try shape(value).rank }

    /// `linear`: Gemm (transB = 1) on a 2-D input, else MatMul with Wᵀ plus an Add of the bias.
    /// INT8: the input through Q/DQ, the weight's per-channel scales on its output axis (0 for
    /// Gemm's B, 1 for MatMul's Wᵀ).
    private func linear(_ node: Node) throws {
        let weightName = node.params["weight"]!
        guard let weight = package.tensors[weightName], weight.shape.rank == 2 else {
            throw GraphError.missingTensor(node: node.name, role: "weight", tensor: weightName)
        }
        let input = inputQuant(node)
        let x = input.map { quantizedActivation(value(node.inputs[0]), $0) } ?? value(node.inputs[0])
        let bias = try node.params["bias"].map { name -> String in
            if let input, let q = weight.quant { return try quantizedBias(name, weight: q, channels: weight.shape[0], inputScale: input.scale, node: node) }
            return try param(name, node: node)
        }
        if try rank(node.inputs[0]) == 2 {
            add("Gemm", [x, try param(weightName, node: node)] + (bias.map { [$0] } ?? []), name: node.name, output: node.output, [.int("transB", 1)])
            return
        }
        let transposed = ONNXTensor.transposed(weight)
        let wT = transposed.quant.map { dequantized(transposed, quant: $0, name: weightName + ".T", axis: $0.axis) }
            ?? initializer(transposed, name: weightName + ".T")
        if let bias {
            add("Add", [add("MatMul", [x, wT], name: node.name), bias], name: node.name, output: node.output)
        } else {
            add("MatMul", [x, wT], name: node.name, output: node.output)
        }
    }

    private func conv(_ node: Node) throws {
        let a = try Conv2dAttributes(node)
        let weightName = node.params["weight"]!
        guard let weight = package.tensors[weightName], weight.shape.rank == 4 else {
            throw GraphError.missingTensor(node: node.name, role: "weight", tensor: weightName)
        }
        let input = inputQuant(node)
        let x = input.map { quantizedActivation(value(node.inputs[0]), $0) } ?? value(node.inputs[0])
        var inputs = [x, try param(weightName, node: node)]
        if let biasName = node.params["bias"] {
            if let input, let q = weight.quant {
                inputs.append(try quantizedBias(biasName, weight: q, channels: weight.shape[0], inputScale: input.scale, node: node))
            } else {
                inputs.append(try param(biasName, node: node))
            }
        }
        add("Conv", inputs, name: node.name, output: node.output, [
            .ints("kernel_shape", Array(weight.shape.dims[2...])), .ints("strides", [a.stride.h, a.stride.w]),
            .ints("pads", [a.padding.h, a.padding.w, a.paddingEnd.h, a.paddingEnd.w]),
            .ints("dilations", [a.dilation.h, a.dilation.w]), .int("group", a.groups),
        ])
    }
}
