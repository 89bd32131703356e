import Foundation
import ONNXProto
import TensorCore

/// The translation of each ONNX op into the op vocabulary (docs/ops.md; the table in docs/onnx.md).
extension ONNXGraphBuilder {
    func translate(_ proto: Onnx_NodeProto, name: String) throws {
        let op = proto.opType
        guard proto.domain.isEmpty || proto.domain == "ai.onnx" else {
            throw GraphError.unsupportedONNXOp(node: name, op: "\(proto.domain).\(op)", opset: opset)
        }
        var attributes = try ONNXAttributes(proto, node: name)
        let inputs = proto.input
        let outputs = proto.output
        guard let output = outputs.first, !output.isEmpty else { throw GraphError.malformedONNX("node '\(name)' has no output") }

        if op == "Constant" {
            try constantValue(&attributes, node: name, output: output)
            return try attributes.checkAllRead(op: op)
        }
        if op == "Shape", let first = inputs.first, runtime.contains(first) {
            folded[output] = try shapeVector(of: first, &attributes)
            return try attributes.checkAllRead(op: op)
        }
        // Everything known: evaluate now (shape subgraphs, constant arithmetic).
        let present = inputs.filter { !$0.isEmpty }
        if outputs.count == 1, ConstantFolding.foldable.contains(op), !present.isEmpty, present.allSatisfy(isKnown) {
            var folding = ConstantFolding.Inputs(values: try inputs.map { $0.isEmpty ? nil : try foldedValue($0) }, attributes: attributes)
            if !folding.values.enumerated().contains(where: { !inputs[$0.offset].isEmpty && $0.element == nil }),
               let value = try ConstantFolding.evaluate(op, &folding) {
                try folding.attributes.checkAllRead(op: op)
                folded[output] = value
                return
            }
        }
        try checkSingleOutput(proto, name: name, op: op)
        var node = NodeTranslation(builder: self, proto: proto, name: name, attributes: attributes)
        try node.translate()
        try node.attributes.checkAllRead(op: op)
    }

    /// Extra outputs are allowed only when nothing reads them (Dropout's mask, LayerNorm's statistics).
    private func checkSingleOutput(_ proto: Onnx_NodeProto, name: String, op: String) throws {
        guard proto.output.count > 1 else { return }
        for extra in proto.output.dropFirst() where !extra.isEmpty {
            // The extra output stays undefined: a later reader fails as an unsupported use.
            if op == "Dropout" || op == "LayerNormalization" || op == "MaxPool" || op == "Split" { continue }
            throw GraphError.unsupportedONNX("node '\(name)': \(op) with \(proto.output.count) outputs (nodes with several outputs are not supported yet)")
        }
    }

    /// A `Constant`'s value: folded when small, else kept as a tensor like an initializer.
    private func constantValue(_ attributes: inout ONNXAttributes, node: String, output: String) throws {
        if let proto = try attributes.tensor("value") {
            let tensor = try ONNXTensor.tensor(proto, what: "node '\(node)' value", limits: limits, external: external)
            if let value = Folded(tensor) { folded[output] = value } else { converted[output] = tensor }
            return
        }
        if let f = try attributes.float("value_float") {
            folded[output] = Folded(dtype: .f32, shape: [], values: [Double(f)])
        } else if let fs = try attributes.floats("value_floats") {
            folded[output] = Folded(dtype: .f32, shape: [fs.count], values: fs.map { Double($0) })
        } else if let i = try attributes.int("value_int") {
            folded[output] = Folded(ints: [Int64(i)], shape: [])
        } else if let ints = try attributes.ints("value_ints") {
            folded[output] = Folded(ints: ints.map { Int64($0) })
        } else {
            throw GraphError.unsupportedONNX("node '\(node)': Constant without a tensor, float(s) or int(s) value")
        }
    }

    /// `Shape(x)` of a runtime value: its dims, with the batch unknown until run time.
    private func shapeVector(of value: String, _ attributes: inout ONNXAttributes) throws -> Folded {
        let dims = try shape(of: value).dims
        var values: [Double?] = dims.map { Double($0) }
        if dynamicBatch, !values.isEmpty { values[0] = nil }
        let rank = dims.count
        func clamp(_ i: Int) -> Int { Swift.max(0, Swift.min(rank, i < 0 ? i + rank : i)) }
        let start = clamp(try attributes.int("start", default: 0))
        let end = clamp(try attributes.int("end", default: rank))
        let slice = start < end ? Array(values[start..<end]) : []
        return Folded(dtype: .i64, shape: [slice.count], values: slice)
    }
}

/// One ONNX node being translated: its inputs read as runtime values or known tensors.
struct NodeTranslation {
    let builder: ONNXGraphBuilder
    let proto: Onnx_NodeProto
    let name: String
    var attributes: ONNXAttributes

    var op: String { proto.opType }
    var output: String { proto.output[0] }
    var opset: Int { builder.opset }

    func refuse(_ reason: String) -> GraphError { .unsupportedONNX("node '\(name)': \(op) \(reason)") }

    /// Input `i`, or nil when absent or empty (an omitted optional input).
    func inputName(_ i: Int) -> String? { i < proto.input.count && !proto.input[i].isEmpty ? proto.input[i] : nil }

    /// Input `i` as a node input (a known value becomes a `constant` node).
    func value(_ i: Int) throws -> String {
        guard let input = inputName(i) else { throw GraphError.malformedONNX("node '\(name)': \(op) lacks input \(i)") }
        return try builder.input(input, node: name)
    }

    /// Input `i` as a tensor known at import, required.
    func known(_ i: Int, _ what: String) throws -> Tensor {
        guard let input = inputName(i), let tensor = try builder.knownTensor(input) else {
            throw refuse("needs a constant \(what) (input \(i))")
        }
        return tensor
    }

    /// Input `i` as integers known at import, or nil when absent.
    func knownInts(_ i: Int, _ what: String) throws -> [Int]? {
        guard let input = inputName(i) else { return nil }
        guard let value = try builder.foldedValue(input), let ints = value.integers, !value.dtype.isFloatingPoint else {
            throw refuse("needs constant \(what) (input \(i))")
        }
        return ints
    }

    func knownScalar(_ i: Int, _ what: String) throws -> Double? {
        guard let input = inputName(i) else { return nil }
        guard let value = try builder.foldedValue(input), value.count == 1, let v = value.values[0] else {
            throw refuse("needs a constant scalar \(what) (input \(i))")
        }
        return v
    }

    /// Input `i` as a param tensor of the package (initializer names kept).
    func param(_ i: Int, _ what: String) throws -> String {
        try builder.addTensor(known(i, what), name: inputName(i)!)
    }

    func emit(_ msOp: String, inputs: [String], params: [String: String] = [:], attrs: [String: JSONValue] = [:]) throws {
        try builder.emit(msOp, name: name, onnxOp: op, inputs: inputs, output: output, params: params, attrs: attrs)
    }

    static func ints(_ values: [Int]) -> JSONValue { .array(values.map { .number(Double($0)) }) }

    /// The op of the vocabulary each ONNX op translates into (MatMul: when B is a 2-D constant; the
    /// folded ops: when they cannot be folded). `translate()` handles exactly these keys.
    static let vocabulary: [String: String] = [
        "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Erf": "erf", "Sqrt": "sqrt", "Reciprocal": "reciprocal",
        "Exp": "exp", "Log": "log", "Neg": "neg", "Abs": "abs", "Not": "not", "Softplus": "softplus", "Mish": "mish",
        "HardSwish": "hardswish", "HardSigmoid": "hardsigmoid", "LeakyRelu": "leaky_relu", "Gelu": "gelu", "Clip": "clip",
        "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Min": "min", "Max": "max",
        "Equal": "equal", "Less": "less", "Greater": "greater", "Where": "where", "Identity": "identity", "Dropout": "dropout",
        "Conv": "conv2d", "BatchNormalization": "batchnorm2d", "LayerNormalization": "layernorm", "Gemm": "linear",
        "MatMul": "linear", "MaxPool": "maxpool2d", "AveragePool": "avgpool2d", "GlobalAveragePool": "global_avgpool",
        "GlobalMaxPool": "global_maxpool", "ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max",
        "ReduceMin": "reduce_min", "Softmax": "softmax", "LogSoftmax": "log_softmax", "Flatten": "flatten",
        "Reshape": "reshape", "Squeeze": "squeeze", "Unsqueeze": "unsqueeze", "Transpose": "transpose", "Concat": "concat",
        "Pad": "pad", "Cast": "cast", "Gather": "gather", "Slice": "slice", "Expand": "expand", "Split": "slice",
    ]

    /// Whether an ONNX op of the default domain can be imported at all: folded at import, or
    /// translated into an op the vocabulary has.
    static func isSupported(_ op: String) -> Bool {
        if op == "Constant" || op == "Shape" || ConstantFolding.foldable.contains(op) { return true }
        return vocabulary[op].flatMap(OpKind.init(rawValue:)) != nil
    }

    mutating func translate() throws {
        switch op {
        case "Relu", "Sigmoid", "Tanh", "Erf", "Sqrt", "Reciprocal", "Exp", "Log", "Neg", "Abs", "Not", "Softplus", "Mish":
            try emit(Self.vocabulary[op]!, inputs: [value(0)])
        case "HardSwish": try emit("hardswish", inputs: [value(0)])
        case "HardSigmoid":
            let alpha = try attributes.float("alpha", default: 0.2), beta = try attributes.float("beta", default: 0.5)
            try emit("hardsigmoid", inputs: [value(0)], attrs: ["alpha": .float(alpha), "beta": .float(beta)])
        case "LeakyRelu":
            try emit("leaky_relu", inputs: [value(0)], attrs: ["alpha": .float(attributes.float("alpha", default: 0.01))])
        case "Gelu":
            let approximate = try attributes.string("approximate") ?? "none"
            try emit("gelu", inputs: [value(0)], attrs: ["approximate": .string(approximate)])
        case "Clip": try clip()
        case "Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Equal", "Less", "Greater", "Where":
            guard op == "Where" || proto.input.count == 2 else { throw refuse("with \(proto.input.count) inputs") }
            let arity = op == "Where" ? 3 : 2
            let operands = try (0..<arity).map { try value($0) }
            try emit(Self.vocabulary[op]!, inputs: operands)
        case "Identity": try emit("identity", inputs: [value(0)])
        case "Dropout":
            attributes.ignore("seed")
            let ratio = try attributes.float("ratio") ?? knownScalar(1, "ratio").map { Float($0) } ?? 0.5
            if let training = try knownScalar(2, "training_mode"), training != 0 { throw refuse("in training mode") }
            try emit("dropout", inputs: [value(0)], attrs: ["p": .float(ratio)])
        case "Conv": try conv()
        case "BatchNormalization": try batchNorm()
        case "LayerNormalization": try layerNorm()
        case "Gemm": try gemm()
        case "MatMul": try matMul()
        case "MaxPool", "AveragePool": try pool()
        case "GlobalAveragePool": try emit("global_avgpool", inputs: [value(0)])
        case "GlobalMaxPool": try emit("global_maxpool", inputs: [value(0)])
        case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin": try reduce()
        case "Softmax", "LogSoftmax": try softmax()
        case "Flatten":
            let axis = try attributes.int("axis", default: 1)
            let rank = try builder.shape(of: value(0)).rank
            guard axis == 1 || axis == 1 - rank else { throw refuse("with axis \(axis) would merge the batch (only axis 1 is supported)") }
            try emit("flatten", inputs: [value(0)])
        case "Reshape": try reshape()
        case "Squeeze", "Unsqueeze":
            var attrs: [String: JSONValue] = [:]
            if let axes = try attributes.ints("axes") ?? knownInts(1, "axes") { attrs["axes"] = Self.ints(axes) }
            try emit(op.lowercased(), inputs: [value(0)], attrs: attrs)
        case "Transpose":
            var attrs: [String: JSONValue] = [:]
            if let perm = try attributes.ints("perm") { attrs["perm"] = Self.ints(perm) }
            try emit("transpose", inputs: [value(0)], attrs: attrs)
        case "Concat":
            let axis = try attributes.int("axis") ?? 0
            try emit("concat", inputs: proto.input.indices.map { try value($0) }, attrs: ["axis": .number(Double(axis))])
        case "Pad": try pad()
        case "Cast":
            guard let to = try attributes.int("to"), let dtype = ONNXTensor.dtype(Int32(truncatingIfNeeded: to)) else {
                throw refuse("to an element type ModelSmith does not hold")
            }
            attributes.ignore("saturate")
            try emit("cast", inputs: [value(0)], attrs: ["to": .string(dtype.rawValue)])
        case "Gather":
            try emit("gather", inputs: [value(0), value(1)], attrs: ["axis": .number(Double(try attributes.int("axis", default: 0)))])
        case "Slice": try slice()
        case "Expand":
            guard let target = inputName(1), let vector = try builder.foldedValue(target) else { throw refuse("needs a shape known at import (input 1)") }
            // The batch entry broadcasts as 1 (the batched operand keeps its batch).
            let shape = vector.values.map { $0.map(Folded.int) ?? 1 }
            try emit("expand", inputs: [value(0)], attrs: ["shape": Self.ints(shape)])
        case "Split": try split()
        default:
            throw GraphError.unsupportedONNXOp(node: name, op: op, opset: opset)
        }
    }

    private mutating func clip() throws {
        var low = try attributes.float("min").map { Double($0) }
        var high = try attributes.float("max").map { Double($0) }
        if opset >= 11 {
            low = try knownScalar(1, "min")
            high = try knownScalar(2, "max")
        }
        var attrs: [String: JSONValue] = [:]
        if let low { attrs["min"] = .float(Float(low)) }
        if let high { attrs["max"] = .float(Float(high)) }
        try emit("clip", inputs: [value(0)], attrs: attrs)
    }

    /// Two sizes in 1…65536 (kernel, strides, dilations of a 2-D window).
    func checkWindow(_ values: [Int], _ what: String) throws {
        guard values.count == 2, values.allSatisfy({ (1...65536).contains($0) }) else {
            throw refuse("\(what) \(values): expected two values in 1…65536")
        }
    }

    /// ONNX `pads` for the spatial dims of a rank-4 input, with `auto_pad` resolved.
    private mutating func spatialPads(input: String, kernel: [Int], strides: [Int], dilations: [Int]) throws -> [Int] {
        try checkWindow(kernel, "kernel"); try checkWindow(strides, "strides"); try checkWindow(dilations, "dilations")
        let autoPad = try attributes.string("auto_pad") ?? "NOTSET"
        let explicit = try attributes.ints("pads")
        switch autoPad {
        case "NOTSET":
            let pads = explicit ?? [0, 0, 0, 0]
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw refuse("pads \(pads): expected four non-negative values") }
            return pads
        case "VALID": return [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            let dims = try builder.shape(of: input).dims
            guard dims.count == 4 else { throw refuse("with auto_pad on a rank-\(dims.count) input (expected [N, C, H, W])") }
            var begin: [Int] = [], end: [Int] = []
            for d in 0..<2 {
                let size = dims[2 + d]
                let out = (size + strides[d] - 1) / strides[d]
                let total = Swift.max(0, (out - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - size)
                let small = total / 2, large = total - small
                begin.append(autoPad == "SAME_UPPER" ? small : large)
                end.append(autoPad == "SAME_UPPER" ? large : small)
            }
            return begin + end
        default: throw refuse("auto_pad '\(autoPad)'")
        }
    }

    private mutating func conv() throws {
        let x = try value(0)
        let weight = try known(1, "weight")
        guard weight.shape.rank == 4 else { throw refuse("with a rank-\(weight.shape.rank) weight (only 2-D convolution is supported)") }
        let kernel = Array(weight.shape.dims[2...])
        if let declared = try attributes.ints("kernel_shape"), declared != kernel {
            throw GraphError.malformedONNX("node '\(name)': kernel_shape \(declared) disagrees with the weight \(weight.shape)")
        }
        let strides = try attributes.ints("strides") ?? [1, 1]
        let dilations = try attributes.ints("dilations") ?? [1, 1]
        let pads = try spatialPads(input: x, kernel: kernel, strides: strides, dilations: dilations)
        var params = ["weight": try param(1, "weight")]
        if inputName(2) != nil { params["bias"] = try param(2, "bias") }
        try emit("conv2d", inputs: [x], params: params, attrs: [
            "stride": Self.ints(strides), "dilation": Self.ints(dilations), "pads": Self.ints(pads),
            "groups": .number(Double(try attributes.int("group", default: 1))),
        ])
    }

    private mutating func batchNorm() throws {
        attributes.ignore("momentum", "spatial")
        if try attributes.int("training_mode", default: 0) != 0 { throw refuse("in training mode") }
        let eps = try attributes.float("epsilon", default: 1e-5)
        try emit("batchnorm2d", inputs: [value(0)], params: [
            "weight": param(1, "scale"), "bias": param(2, "B"), "running_mean": param(3, "mean"), "running_var": param(4, "var"),
        ], attrs: ["eps": .float(eps)])
    }

    private mutating func layerNorm() throws {
        let x = try value(0)
        let rank = try builder.shape(of: x).rank
        let dims = try builder.shape(of: x).dims
        let axis = try attributes.int("axis", default: -1)
        let start = axis < 0 ? axis + rank : axis
        guard start >= 1, start < rank else { throw refuse("over axis \(axis) would normalise over the batch") }
        attributes.ignore("stash_type")
        var params: [String: String] = [:]
        if inputName(1) != nil { params["weight"] = try param(1, "scale") }
        if inputName(2) != nil { params["bias"] = try param(2, "B") }
        try emit("layernorm", inputs: [x], params: params, attrs: [
            "eps": .float(attributes.float("epsilon", default: 1e-5)), "normalized_shape": Self.ints(Array(dims[start...])),
        ])
    }

    /// `Gemm(A, B, C)` with constant B → `linear` (alpha, beta folded into the tensors).
    private mutating func gemm() throws {
        let alpha = try attributes.float("alpha", default: 1), beta = try attributes.float("beta", default: 1)
        guard try attributes.int("transA", default: 0) == 0 else { throw refuse("with transA = 1") }
        let transB = try attributes.int("transB", default: 0) != 0
        var weight = try known(1, "B")
        guard weight.shape.rank == 2 else { throw refuse("with a rank-\(weight.shape.rank) B") }
        if !transB { weight = Self.transposed(weight) }
        if alpha != 1 { weight = Self.scaled(weight, by: alpha) }
        let baseName = inputName(1)!
        var params = ["weight": builder.addTensor(weight, name: transB && alpha == 1 ? baseName : baseName + ".weight")]
        if inputName(2) != nil {
            let c = try known(2, "C")
            var bias = c.toF32()
            let out = weight.shape[0]
            if bias.elementCount == 1 { bias = Tensor([Float](repeating: bias.floats[0], count: out), shape: [out]) }
            guard bias.elementCount == out else { throw refuse("with a bias C of shape \(bias.shape) (expected \(out) values)") }
            bias = bias.reshaped(Shape([out]))
            if beta != 1 { bias = Self.scaled(bias, by: beta) }
            let unchanged = c.dtype == .f32 && c.shape == bias.shape && beta == 1
            params["bias"] = builder.addTensor(bias, name: unchanged ? inputName(2)! : inputName(2)! + ".bias")
        }
        try emit("linear", inputs: [value(0)], params: params)
    }

    /// `MatMul(x, W)` with constant 2-D W → `linear` (weight Wᵀ); between two values → `matmul`.
    private mutating func matMul() throws {
        if let rhs = inputName(1), builder.isKnown(rhs), !builder.isKnown(inputName(0) ?? "") {
            let w = try known(1, "B")
            if w.shape.rank == 2 {
                let weight = builder.addTensor(Self.transposed(w), name: rhs + ".T")
                return try emit("linear", inputs: [value(0)], params: ["weight": weight])
            }
        }
        try emit("matmul", inputs: [value(0), value(1)])
    }

    private mutating func pool() throws {
        let x = try value(0)
        guard let kernel = try attributes.ints("kernel_shape"), kernel.count == 2 else { throw refuse("needs a two-value kernel_shape") }
        let strides = try attributes.ints("strides") ?? [1, 1]
        if let dilations = try attributes.ints("dilations"), dilations.contains(where: { $0 != 1 }) { throw refuse("with dilations \(dilations)") }
        if try attributes.int("storage_order", default: 0) != 0 { throw refuse("with storage_order = 1") }
        let pads = try spatialPads(input: x, kernel: kernel, strides: strides, dilations: [1, 1])
        var attrs: [String: JSONValue] = [
            "kernel": Self.ints(kernel), "stride": Self.ints(strides), "pads": Self.ints(pads),
            "ceil_mode": .bool(try attributes.int("ceil_mode", default: 0) != 0),
        ]
        if op == "AveragePool" { attrs["count_include_pad"] = .bool(try attributes.int("count_include_pad", default: 0) != 0) }
        try emit(op == "MaxPool" ? "maxpool2d" : "avgpool2d", inputs: [x], attrs: attrs)
    }

    private mutating func reduce() throws {
        let msOp = ["ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max", "ReduceMin": "reduce_min"][op]!
        if try attributes.int("noop_with_empty_axes", default: 0) != 0 { throw refuse("with noop_with_empty_axes = 1") }
        // ONNX's default (no axes) reduces every axis, the batch included.
        guard let axes = try attributes.ints("axes") ?? knownInts(1, "axes"), !axes.isEmpty else {
            throw refuse("over every axis (no axes given) would reduce the batch")
        }
        try emit(msOp, inputs: [value(0)], attrs: [
            "keepdims": .bool(try attributes.int("keepdims", default: 1) != 0), "axes": Self.ints(axes),
        ])
    }

    /// Opset 13 softmax is over one axis; before, over the flattened dims from `axis` (the same
    /// when `axis` is the last).
    private mutating func softmax() throws {
        let x = try value(0)
        let rank = try builder.shape(of: x).rank
        var axis = try attributes.int("axis", default: opset >= 13 ? -1 : 1)
        if axis < 0 { axis += rank }
        if opset < 13, axis != rank - 1 { throw refuse("(opset \(opset)) over axes \(axis)… of a rank-\(rank) input: only the last axis is supported") }
        try emit(op == "Softmax" ? "softmax" : "log_softmax", inputs: [x], attrs: ["axis": .number(Double(axis))])
    }

    /// The shape must be known at import; the batch (a literal batch size or the run-time one)
    /// is written as 0 (docs/ops.md, `reshape`).
    private mutating func reshape() throws {
        let x = try value(0)
        if try attributes.int("allowzero", default: 0) != 0 { throw refuse("with allowzero = 1") }
        guard let target = inputName(1), let vector = try builder.foldedValue(target), vector.shape.count == 1 else {
            throw refuse("needs a shape known at import (input 1)")
        }
        let dims = try builder.shape(of: x).dims
        var shape = vector.values.map { $0.map { Folded.int($0) } }
        let perSample = dims.dropFirst().reduce(1, *)
        let rest = shape.dropFirst().allSatisfy({ ($0 ?? -1) > 0 }) ? checkedProduct(shape.dropFirst().map { $0! }) : nil
        if shape.first == .some(nil) || shape.first == dims.first && !builder.dynamicBatch || shape.first == -1 && rest == perSample {
            shape[0] = 0
        }
        // Any other batch-sized entry is the one left to infer.
        if shape.dropFirst().contains(where: { $0 == nil }) {
            guard shape.dropFirst().filter({ $0 == nil || $0 == -1 }).count == 1 else { throw refuse("with a shape that depends on the batch size") }
            shape = shape.map { $0 ?? -1 }
        }
        try emit("reshape", inputs: [x], attrs: ["shape": Self.ints(shape.map { $0! })])
    }

    private mutating func slice() throws {
        let starts: [Int], ends: [Int]
        var axes: [Int]?, steps: [Int]?
        if opset < 10 {
            guard let s = try attributes.ints("starts"), let e = try attributes.ints("ends") else { throw refuse("needs starts and ends") }
            (starts, ends, axes) = (s, e, try attributes.ints("axes"))
        } else {
            guard let s = try knownInts(1, "starts"), let e = try knownInts(2, "ends") else { throw refuse("needs starts and ends") }
            (starts, ends, axes, steps) = (s, e, try knownInts(3, "axes"), try knownInts(4, "steps"))
        }
        // INT64 bounds (slice to the end) are clamped by the op; keep them in JSON's exact range.
        func clamp(_ v: [Int]) -> [Int] { v.map { Swift.max(-(1 << 52), Swift.min(1 << 52, $0)) } }
        var attrs: [String: JSONValue] = ["starts": Self.ints(clamp(starts)), "ends": Self.ints(clamp(ends))]
        if let axes { attrs["axes"] = Self.ints(axes) }
        if let steps { attrs["steps"] = Self.ints(steps) }
        try emit("slice", inputs: [value(0)], attrs: attrs)
    }

    /// One `slice` per output (nodes have one output): sizes from `split` (attribute before
    /// opset 13, input after), else `num_outputs` / the output count in equal parts.
    private mutating func split() throws {
        let x = try value(0)
        let dims = try builder.shape(of: x).dims
        var axis = try attributes.int("axis", default: 0)
        if axis < 0 { axis += dims.count }
        guard axis >= 1, axis < dims.count else { throw refuse("along axis \(axis) (the batch axis cannot be split)") }
        let count = proto.output.count
        _ = try attributes.int("num_outputs")
        var sizes = try attributes.ints("split") ?? knownInts(1, "split")
        if sizes == nil {
            let part = (dims[axis] + count - 1) / count
            sizes = (0..<count).map { Swift.min(part, Swift.max(0, dims[axis] - $0 * part)) }
        }
        guard let sizes, sizes.count == count, sizes.allSatisfy({ (0...dims[axis]).contains($0) }), sizes.reduce(0, +) == dims[axis] else {
            throw GraphError.malformedONNX("node '\(name)': split sizes do not add up to dim \(axis) (\(dims[axis]))")
        }
        var start = 0
        for (i, size) in sizes.enumerated() {
            let sliceName = count == 1 ? name : "\(name):\(i)"
            if !proto.output[i].isEmpty {
                try builder.emit("slice", name: sliceName, onnxOp: op, inputs: [x], output: proto.output[i], attrs: [
                    "starts": Self.ints([start]), "ends": Self.ints([start + size]), "axes": Self.ints([axis]),
                ])
            }
            start += size
        }
    }

    private mutating func pad() throws {
        let mode = try attributes.string("mode") ?? "constant"
        guard mode == "constant" else { throw refuse("mode '\(mode)'") }
        guard let pads = try attributes.ints("pads") ?? knownInts(1, "pads") else { throw refuse("needs pads") }
        let fill = try attributes.float("value").map { Double($0) } ?? knownScalar(2, "constant_value") ?? 0
        if inputName(3) != nil { throw refuse("with axes") }
        try emit("pad", inputs: [value(0)], attrs: ["pads": Self.ints(pads), "mode": .string(mode), "value": .float(Float(fill))])
    }

    static func transposed(_ matrix: Tensor) -> Tensor {
        let m = matrix.toF32(), rows = m.shape[0], cols = m.shape[1]
        let values = m.floats
        var out = [Float](repeating: 0, count: values.count)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = values[r * cols + c] } }
        return Tensor(out, shape: [cols, rows])
    }

    static func scaled(_ tensor: Tensor, by factor: Float) -> Tensor {
        Tensor(tensor.toF32().floats.map { $0 * factor }, shape: tensor.shape)
    }
}
