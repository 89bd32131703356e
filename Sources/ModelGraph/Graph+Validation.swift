import TensorCore

extension Graph {
    /// The shape of every value (graph inputs and node outputs) for a concrete batch size, by
    /// PyTorch's rules; param shapes come from `tensors`. Errors name the node and the reason.
    public func inferShapes(batch: Int, tensors: TensorMap) throws -> [String: Shape] {
        try inferShapes(batch: batch, paramShape: { tensors[$0]?.shape })
    }

    /// As `inferShapes(batch:tensors:)`, with param shapes looked up by tensor name.
    public func inferShapes(batch: Int, paramShape: (String) -> Shape?) throws -> [String: Shape] {
        precondition(batch >= 1, "batch size must be positive")
        // A parsed or validated graph is already in topological order: one pass, no sort.
        if let shapes = try shapesInListedOrder(batch: batch, paramShape: paramShape) { return shapes }
        var sorted = self
        try sorted.sortTopologically()
        guard let shapes = try sorted.shapesInListedOrder(batch: batch, paramShape: paramShape) else {
            preconditionFailure("a topologically sorted graph defines every value once, before its use")
        }
        return shapes
    }

    /// The shapes, computed node by node in listing order; nil when a node reads a value not yet
    /// defined or redefines one (the listing is not a topological order of a valid graph).
    private func shapesInListedOrder(batch: Int, paramShape: (String) -> Shape?) throws -> [String: Shape]? {
        var shapes: [String: Shape] = [:]
        shapes.reserveCapacity(inputs.count + nodes.count)
        for input in inputs {
            try input.check()
            guard shapes.updateValue(Shape(input.shape.map { $0 == -1 ? batch : $0 }), forKey: input.name) == nil else { return nil }
        }
        for node in nodes {
            var inputShapes: [Shape] = []
            inputShapes.reserveCapacity(node.inputs.count)
            for input in node.inputs {
                guard let shape = shapes[input] else { return nil }
                inputShapes.append(shape)
            }
            guard shapes[node.output] == nil else { return nil }
            var paramShapes: [String: Shape] = [:]
            for (role, tensorName) in node.params.sorted(by: { $0.key < $1.key }) {
                guard let shape = paramShape(tensorName) else {
                    throw GraphError.missingTensor(node: node.name, role: role, tensor: tensorName)
                }
                paramShapes[role] = shape
            }
            let shape = try ShapeRules.outputShape(of: node, inputs: inputShapes, params: paramShapes)
            // Every value must be addressable as f32 (the activation arena's element type).
            guard let elements = shape.checkedElementCount, checkedMultiply(elements, DType.f32.byteSize) != nil else {
                throw GraphError.shapeMismatch(node: node.name, reason: "output shape \(shape) has too many elements")
            }
            shapes[node.output] = shape
        }
        return shapes
    }

    /// Checks the graph against the tensors of its package: it is acyclic with no dangling
    /// input; every node's attributes parse; every required param is present, no param role is
    /// unknown, every referenced tensor exists with a dtype the op can use (float, or `i8` with
    /// quantization params for linear/conv weights) and the shape the op expects; every input
    /// shape fits its op. Tensors no node references are allowed. Errors name the node.
    public func validate(tensors: TensorMap) throws {
        var sorted = self
        try sorted.sortTopologically()
        for node in sorted.nodes {
            try node.checkParams(tensors: tensors)
            _ = try OpAttributes(node)
            try node.checkParamValues(tensors: tensors)
        }
        _ = try sorted.inferShapes(batch: 1, tensors: tensors)
    }
}

extension ValueInfo {
    /// The dtypes a session accepts for a graph input.
    public static let feedableDTypes: Set<DType> = [.f32, .i64, .i32, .bool, .u8, .i8]

    /// A feedable dtype; `-1` may appear only first (the batch dimension); every other size is positive.
    func check() throws {
        guard Self.feedableDTypes.contains(dtype) else { throw GraphError.unfeedableInput(input: name, dtype: dtype) }
        guard !shape.isEmpty else { throw GraphError.badInputShape(input: name, shape: shape, reason: "an input needs at least one dimension") }
        for (i, size) in shape.enumerated() where size < 1 {
            guard size == -1, i == 0 else {
                throw GraphError.badInputShape(input: name, shape: shape, reason: "sizes must be positive; -1 (the batch) is allowed only first")
            }
        }
        guard checkedProduct(shape.map { Swift.max($0, 1) }) != nil else {
            throw GraphError.badInputShape(input: name, shape: shape, reason: "too many elements")
        }
    }
}

extension Node {
    /// Roles known, required ones present, tensors present with a usable dtype.
    func checkParams(tensors: TensorMap) throws {
        let (required, optional) = op.parameterNames
        for role in params.keys.sorted() where !required.contains(role) && !optional.contains(role) {
            throw GraphError.unknownParamRole(node: name, role: role)
        }
        for role in required where params[role] == nil {
            throw GraphError.missingParam(node: name, role: role)
        }
        for role in required + optional {
            guard let tensorName = params[role] else { continue }
            guard let tensor = tensors[tensorName] else {
                throw GraphError.missingTensor(node: name, role: role, tensor: tensorName)
            }
            let quantizedWeight = op.hasWeightMatrix && role == "weight" && tensor.dtype == .i8 && tensor.quant != nil
            guard tensor.dtype.isFloatingPoint || quantizedWeight else {
                throw GraphError.wrongParamDType(node: name, role: role, tensor: tensorName, dtype: tensor.dtype)
            }
        }
    }
}

extension Node {
    /// Parameter values the op cannot run with: a negative batchnorm running variance, whose
    /// square root the folded scale needs (NaN and Inf are the non-finite check's, docs/robustness.md).
    func checkParamValues(tensors: TensorMap) throws {
        try checkInputQuantization()
        guard op == .batchnorm2d, let name = params["running_var"], let variance = tensors[name]?.floats else { return }
        if let i = variance.firstIndex(where: { $0 < 0 }) {
            throw GraphError.badParamValue(node: self.name, role: "running_var", tensor: name,
                                           reason: "holds \(variance[i]) at index \(i); a variance must be ≥ 0")
        }
    }
}

extension Node {
    /// `attrs["input_quant"]` (written by the quantizer, docs/quantization.md): a `scale` that is a
    /// positive normal f32, an integer `zero_point` within `dtype` (`u8` or `i8`).
    func checkInputQuantization() throws {
        guard let attrs = self.attrs["input_quant"] else { return }
        func bad(_ reason: String) -> GraphError { .badAttribute(node: name, attr: "input_quant", reason: reason) }
        guard let scale = attrs["scale"]?.doubleValue, let zero = attrs["zero_point"]?.intValue,
              let dtype = attrs["dtype"]?.stringValue.flatMap(DType.init(rawValue:)), dtype == .u8 || dtype == .i8 else {
            throw bad("needs a numeric scale, an integer zero_point and dtype u8|i8")
        }
        guard let zeroPoint = Int32(exactly: zero) else { throw bad("zero point \(zero) is outside the range of \(dtype.rawValue)") }
        if let reason = QuantParams(scales: [Float(scale)], zeroPoints: [zeroPoint], axis: nil).invalidity(dtype: dtype, dims: []) {
            throw bad(reason)
        }
    }
}
