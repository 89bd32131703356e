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
        var sorted = self
        try sorted.sortTopologically()
        var shapes: [String: Shape] = [:]
        for input in inputs {
            try input.checkShape()
            shapes[input.name] = Shape(input.shape.map { $0 == -1 ? batch : $0 })
        }
        for node in sorted.nodes {
            // `sortTopologically` guarantees every input already has a shape.
            let inputShapes = node.inputs.compactMap { shapes[$0] }
            var paramShapes: [String: Shape] = [:]
            for (role, tensorName) in node.params.sorted(by: { $0.key < $1.key }) {
                guard let shape = paramShape(tensorName) else {
                    throw GraphError.missingTensor(node: node.name, role: role, tensor: tensorName)
                }
                paramShapes[role] = shape
            }
            shapes[node.output] = try ShapeRules.outputShape(of: node, inputs: inputShapes, params: paramShapes)
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
        }
        _ = try sorted.inferShapes(batch: 1, tensors: tensors)
    }
}

extension ValueInfo {
    /// `-1` may appear only first (the batch dimension); every other size is positive.
    func checkShape() throws {
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
