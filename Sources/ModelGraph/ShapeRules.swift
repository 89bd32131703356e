import TensorCore

/// The shape rule of every op (PyTorch semantics): the output shape from the input shapes, the
/// param shapes and the attributes, checking that they fit. One `switch` over `OpKind`, no default.
enum ShapeRules {
    /// `params`: the shape of each param the node has, by role.
    static func outputShape(of node: Node, inputs: [Shape], params: [String: Shape]) throws -> Shape {
        let rule = Rule(node: node, params: params)
        try rule.checkArity(inputs.count)
        switch node.op {
        case .linear: return try rule.linear(inputs[0])
        case .conv2d: return try rule.conv2d(inputs[0], Conv2dAttributes(node))
        case .batchnorm2d:
            _ = try BatchNormAttributes(node)
            return try rule.batchnorm2d(inputs[0])
        case .layernorm: return try rule.layernorm(inputs[0], LayerNormAttributes(node))
        case .gelu:
            _ = try GeluAttributes(node)
            return inputs[0]
        case .relu, .sigmoid, .tanh, .silu, .dropout, .identity:
            return inputs[0]
        case .add, .mul:
            guard inputs[0] == inputs[1] else {
                throw rule.mismatch("\(node.op.rawValue) needs inputs of equal shape, got \(inputs[0]) and \(inputs[1])")
            }
            return inputs[0]
        case .softmax, .logSoftmax:
            _ = try rule.axis(SoftmaxAttributes(node).axis, rank: inputs[0].rank, what: "axis")
            return inputs[0]
        case .maxpool2d, .avgpool2d: return try rule.pool2d(inputs[0], Pool2dAttributes(node))
        case .globalAvgpool:
            let x = try rule.spatialInput(inputs[0])
            return Shape([x[0], x[1], 1, 1])
        case .flatten: return try rule.flatten(inputs[0], FlattenAttributes(node))
        case .reshape: return try rule.reshape(inputs[0], ReshapeAttributes(node))
        case .concat: return try rule.concat(inputs, ConcatAttributes(node))
        }
    }
}

/// The checks shared by the shape rules, bound to one node.
private struct Rule {
    let node: Node
    let params: [String: Shape]

    func mismatch(_ reason: String) -> GraphError { .shapeMismatch(node: node.name, reason: reason) }

    func checkArity(_ count: Int) throws {
        if let arity = node.op.inputArity {
            guard count == arity else { throw GraphError.wrongInputCount(node: node.name, op: node.op, expected: arity, actual: count) }
        } else if count < 1 {
            throw GraphError.wrongInputCount(node: node.name, op: node.op, expected: 1, actual: count)
        }
    }

    /// A required param's shape.
    func required(_ role: String) throws -> Shape {
        guard let shape = params[role] else { throw GraphError.missingParam(node: node.name, role: role) }
        return shape
    }

    func wrongShape(_ role: String, expected: String, actual: Shape) -> GraphError {
        .wrongParamShape(node: node.name, role: role, tensor: node.params[role] ?? role, expected: expected, actual: actual.dims)
    }

    /// Checks an optional param has exactly `expected` (when the node has it).
    func expectShape(_ role: String, _ expected: [Int], optional: Bool) throws {
        guard let shape = optional ? params[role] : try required(role) else { return }
        guard shape.dims == expected else { throw wrongShape(role, expected: Shape(expected).description, actual: shape) }
    }

    /// `axis` resolved against `rank` (negative counts from the end).
    func axis(_ axis: Int, rank: Int, what: String) throws -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0, resolved < rank else {
            throw GraphError.badAttribute(node: node.name, attr: what, reason: "is \(axis), out of range for an input of rank \(rank)")
        }
        return resolved
    }

    /// An `[N, C, H, W]` input.
    func spatialInput(_ x: Shape) throws -> [Int] {
        guard x.rank == 4 else { throw mismatch("\(node.op.rawValue) needs an input of shape [N, C, H, W], got \(x)") }
        return x.dims
    }

    func linear(_ x: Shape) throws -> Shape {
        guard x.rank >= 2 else { throw mismatch("linear needs an input of shape [N, …, in_features], got \(x)") }
        let inFeatures = x.dims[x.rank - 1]
        let w = try required("weight")
        guard w.rank == 2, w[1] == inFeatures, w[0] > 0 else {
            let suffix = w.rank == 2 && w[0] == 0 ? " with out_features ≥ 1" : ""
            throw wrongShape("weight", expected: "[out_features, \(inFeatures)]\(suffix)", actual: w)
        }
        try expectShape("bias", [w[0]], optional: true)
        return Shape(Array(x.dims.dropLast()) + [w[0]])
    }

    func conv2d(_ input: Shape, _ a: Conv2dAttributes) throws -> Shape {
        let x = try spatialInput(input)
        let channels = x[1]
        guard channels % a.groups == 0 else {
            throw mismatch("input has \(channels) channels, not divisible by groups \(a.groups)")
        }
        let w = try required("weight")
        guard w.rank == 4, w[1] == channels / a.groups, w[0] % a.groups == 0, w[0] > 0 else {
            let out = w.rank == 4 ? "\(w[0])" : "out_channels"
            let kernel = w.rank == 4 ? "\(w[2]), \(w[3])" : "kh, kw"
            let suffix = w.rank == 4 && w[0] % a.groups != 0 ? " with out_channels divisible by groups \(a.groups)" : ""
            throw wrongShape("weight", expected: "[\(out), \(channels / a.groups), \(kernel)]\(suffix)", actual: w)
        }
        try expectShape("bias", [w[0]], optional: true)
        let h = try outputSize(x[2], kernel: w[2], stride: a.stride.h, padding: a.padding.h, dilation: a.dilation.h, axis: "height")
        let wd = try outputSize(x[3], kernel: w[3], stride: a.stride.w, padding: a.padding.w, dilation: a.dilation.w, axis: "width")
        return Shape([x[0], w[0], h, wd])
    }

    func pool2d(_ input: Shape, _ a: Pool2dAttributes) throws -> Shape {
        let x = try spatialInput(input)
        let h = try outputSize(x[2], kernel: a.kernel.h, stride: a.stride.h, padding: a.padding.h, dilation: 1, axis: "height")
        let w = try outputSize(x[3], kernel: a.kernel.w, stride: a.stride.w, padding: a.padding.w, dilation: 1, axis: "width")
        return Shape([x[0], x[1], h, w])
    }

    /// PyTorch's `floor((size + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1`, at least 1.
    func outputSize(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int, axis: String) throws -> Int {
        guard kernel >= 1, let dilated = checkedMultiply(dilation, kernel - 1), let span = checkedSum([dilated, 1]),
              let padding2 = checkedMultiply(2, padding), let padded = checkedSum([size, padding2]) else {
            throw mismatch("the kernel (\(kernel), dilation \(dilation)) or padding (\(padding)) along the \(axis) is out of range")
        }
        guard padded >= span else {
            throw mismatch("the kernel spans \(span) along the \(axis) but the padded input has only \(padded)")
        }
        return (padded - span) / stride + 1
    }

    func batchnorm2d(_ input: Shape) throws -> Shape {
        let x = try spatialInput(input)
        for role in ["weight", "bias", "running_mean", "running_var"] {
            try expectShape(role, [x[1]], optional: false)
        }
        return input
    }

    func layernorm(_ x: Shape, _ a: LayerNormAttributes) throws -> Shape {
        let weight = params["weight"]
        guard let normalized = a.normalizedShape ?? weight?.dims else {
            throw GraphError.badAttribute(node: node.name, attr: "normalized_shape", reason: "is required when the node has no weight")
        }
        guard x.rank > normalized.count, Array(x.dims.suffix(normalized.count)) == normalized else {
            throw mismatch("input \(x) does not end with the normalized shape \(Shape(normalized))")
        }
        try expectShape("weight", normalized, optional: true)
        try expectShape("bias", normalized, optional: true)
        return x
    }

    func flatten(_ x: Shape, _ a: FlattenAttributes) throws -> Shape {
        let start = try axis(a.startDim, rank: x.rank, what: "start_dim")
        let end = try axis(a.endDim, rank: x.rank, what: "end_dim")
        guard start >= 1 else {
            throw GraphError.badAttribute(node: node.name, attr: "start_dim", reason: "resolves to 0: the batch dimension cannot be merged")
        }
        guard start <= end else {
            throw GraphError.badAttribute(node: node.name, attr: "end_dim", reason: "(\(end)) is before start_dim (\(start))")
        }
        guard let merged = checkedProduct(Array(x.dims[start...end])) else { throw mismatch("\(x) has too many elements") }
        return Shape(Array(x.dims[..<start]) + [merged] + Array(x.dims[(end + 1)...]))
    }

    func reshape(_ x: Shape, _ a: ReshapeAttributes) throws -> Shape {
        guard let perSample = checkedProduct(Array(x.dims.dropFirst())) else { throw mismatch("\(x) has too many elements") }
        var out = a.shape
        out[0] = x[0]
        for i in out.indices.dropFirst() where out[i] == 0 {
            guard i < x.rank else {
                throw GraphError.badAttribute(node: node.name, attr: "shape", reason: "copies dimension \(i) (0) of an input of rank \(x.rank)")
            }
            out[i] = x[i]
        }
        let known = out.dropFirst().filter { $0 != -1 }
        guard let knownCount = checkedProduct(Array(known)) else { throw mismatch("reshape to \(a.shape) has too many elements") }
        if let inferred = out.indices.dropFirst().first(where: { out[$0] == -1 }) {
            guard knownCount > 0, perSample % knownCount == 0 else {
                throw mismatch("cannot reshape \(x) to \(a.shape): \(perSample) elements per sample are not a multiple of \(knownCount)")
            }
            out[inferred] = perSample / knownCount
        } else if knownCount != perSample {
            throw mismatch("cannot reshape \(x) to \(a.shape): \(perSample) elements per sample, the new shape holds \(knownCount)")
        }
        return Shape(out)
    }

    func concat(_ inputs: [Shape], _ a: ConcatAttributes) throws -> Shape {
        let first = inputs[0]
        let axis = try axis(a.axis, rank: first.rank, what: "axis")
        guard axis >= 1 else {
            throw GraphError.badAttribute(node: node.name, attr: "axis", reason: "is the batch dimension, which cannot be concatenated")
        }
        var total = 0
        for shape in inputs {
            var other = shape.dims, reference = first.dims
            guard other.count == reference.count else {
                throw mismatch("concat needs inputs of equal rank, got \(first) and \(shape)")
            }
            other[axis] = 0
            reference[axis] = 0
            guard other == reference else {
                throw mismatch("concat along axis \(axis) needs the other dimensions equal, got \(first) and \(shape)")
            }
            guard let sum = checkedSum([total, shape[axis]]) else { throw mismatch("concat along axis \(axis) has too many elements") }
            total = sum
        }
        var out = first.dims
        out[axis] = total
        return Shape(out)
    }
}
