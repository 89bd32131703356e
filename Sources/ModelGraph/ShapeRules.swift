import TensorCore

/// The shape rule of every op (PyTorch semantics): the output shape from the input shapes, the
/// param shapes and the attributes, checking that they fit. One `switch` over `OpKind`, no default.
enum ShapeRules {
    /// `params`: the shape of each param the node has, by role.
    static func outputShape(of node: Node, inputs: [Shape], params: [String: Shape]) throws -> Shape {
        let rule = Rule(node: node, params: params)
        try rule.checkArity(inputs.count)
        switch node.op {
        case .constant: return try rule.required("value")
        case .linear: return try rule.linear(inputs[0])
        case .conv2d: return try rule.conv2d(inputs[0], Conv2dAttributes(node))
        case .batchnorm2d:
            _ = try BatchNormAttributes(node)
            return try rule.batchnorm2d(inputs[0])
        case .layernorm: return try rule.layernorm(inputs[0], LayerNormAttributes(node))
        case .relu, .gelu, .sigmoid, .tanh, .silu, .clip, .hardsigmoid, .hardswish, .leakyRelu, .erf, .sqrt, .reciprocal,
             .exp, .log, .neg, .abs, .softplus, .mish, .not, .cast, .dropout, .identity:
            _ = try OpAttributes(node)
            return inputs[0]
        case .add, .sub, .mul, .div, .pow, .min, .max, .equal, .less, .greater: return try rule.broadcast(inputs[0], inputs[1])
        case .where: return try rule.broadcast(rule.broadcast(inputs[0], inputs[1]), inputs[2])
        case .matmul: return try rule.matmul(inputs[0], inputs[1])
        case .gather: return try rule.gather(inputs[0], inputs[1], GatherAttributes(node))
        case .slice:
            let counts = try SliceAttributes(node).resolved(inputs[0].dims, node: node).map(\.count)
            guard !counts.contains(0) else { throw rule.mismatch("slice of \(inputs[0]) is empty") }
            return Shape(counts)
        case .expand:
            let a = try ExpandAttributes(node)
            let out = try rule.broadcast(inputs[0], Shape(a.shape))
            guard out.rank == inputs[0].rank, out[0] == inputs[0][0] else {
                throw GraphError.badAttribute(node: node.name, attr: "shape", reason: "\(a.shape) would change the batch axis of \(inputs[0])")
            }
            return out
        case .softmax, .logSoftmax:
            _ = try rule.axis(SoftmaxAttributes(node).axis, rank: inputs[0].rank, what: "axis")
            return inputs[0]
        case .maxpool2d, .avgpool2d: return try rule.pool2d(inputs[0], Pool2dAttributes(node))
        case .globalAvgpool, .globalMaxpool:
            let x = try rule.spatialInput(inputs[0])
            return Shape([x[0], x[1], 1, 1])
        case .reduceMean, .reduceSum, .reduceMax, .reduceMin: return try rule.reduce(inputs[0], ReduceAttributes(node))
        case .flatten: return try rule.flatten(inputs[0], FlattenAttributes(node))
        case .reshape: return try rule.reshape(inputs[0], ReshapeAttributes(node))
        case .squeeze: return try rule.squeeze(inputs[0], AxesAttributes(node, required: false))
        case .unsqueeze: return try rule.unsqueeze(inputs[0], AxesAttributes(node, required: true))
        case .transpose:
            let perm = try TransposeAttributes(node).resolved(rank: inputs[0].rank, node: node)
            return Shape(perm.map { inputs[0][$0] })
        case .pad: return try rule.pad(inputs[0], PadAttributes(node))
        case .concat: return try rule.concat(inputs, ConcatAttributes(node))
        }
    }
}

/// The checks shared by the shape rules, bound to one node.
struct Rule {
    let node: Node
    let params: [String: Shape]

    func mismatch(_ reason: String) -> GraphError { .shapeMismatch(node: node.name, reason: reason) }

    func checkArity(_ count: Int) throws {
        if let arity = node.op.inputArity {
            guard count == arity else { throw GraphError.wrongInputCount(node: node.name, op: node.op, expected: arity, actual: count) }
        } else if count < node.op.spec.inputs.lowerBound {
            throw GraphError.wrongInputCount(node: node.name, op: node.op, expected: node.op.spec.inputs.lowerBound, actual: count)
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
        let h = try outputSize(x[2], kernel: w[2], stride: a.stride.h, padding: (a.padding.h, a.paddingEnd.h), dilation: a.dilation.h, axis: "height")
        let wd = try outputSize(x[3], kernel: w[3], stride: a.stride.w, padding: (a.padding.w, a.paddingEnd.w), dilation: a.dilation.w, axis: "width")
        return Shape([x[0], w[0], h, wd])
    }

    func pool2d(_ input: Shape, _ a: Pool2dAttributes) throws -> Shape {
        let x = try spatialInput(input)
        let h = try outputSize(x[2], kernel: a.kernel.h, stride: a.stride.h, padding: (a.padding.h, a.paddingEnd.h), dilation: 1,
                               axis: "height", ceilMode: a.ceilMode)
        let w = try outputSize(x[3], kernel: a.kernel.w, stride: a.stride.w, padding: (a.padding.w, a.paddingEnd.w), dilation: 1,
                               axis: "width", ceilMode: a.ceilMode)
        return Shape([x[0], x[1], h, w])
    }

    /// PyTorch's and ONNX's `floor((size + begin + end − dilation·(kernel − 1) − 1) / stride) + 1`, at
    /// least 1 (`ceilMode`: rounded up, minus a last window that would start in the end padding).
    func outputSize(_ size: Int, kernel: Int, stride: Int, padding: (begin: Int, end: Int), dilation: Int, axis: String,
                    ceilMode: Bool = false) throws -> Int {
        guard kernel >= 1, let dilated = checkedMultiply(dilation, kernel - 1), let span = checkedSum([dilated, 1]),
              let padded = checkedSum([size, padding.begin, padding.end]) else {
            let pads = padding.begin == padding.end ? "\(padding.begin)" : "\(padding.begin), \(padding.end)"
            throw mismatch("the kernel (\(kernel), dilation \(dilation)) or padding (\(pads)) along the \(axis) is out of range")
        }
        guard padded >= span else {
            throw mismatch("the kernel spans \(span) along the \(axis) but the padded input has only \(padded)")
        }
        return slidingWindowCount(size: size, padding: padding, span: span, stride: stride, ceilMode: ceilMode)
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
        guard a.keepsBatch else { return try reshapeWhole(x, a) }
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

    /// ONNX `Reshape` of the whole tensor (`allowzero=0`): 0 copies the input's size, one -1 is inferred.
    func reshapeWhole(_ x: Shape, _ a: ReshapeAttributes) throws -> Shape {
        guard let total = checkedProduct(x.dims) else { throw mismatch("\(x) has too many elements") }
        var out = a.shape
        for i in out.indices where out[i] == 0 {
            guard i < x.rank else {
                throw GraphError.badAttribute(node: node.name, attr: "shape", reason: "copies dimension \(i) (0) of an input of rank \(x.rank)")
            }
            out[i] = x[i]
        }
        guard let known = checkedProduct(out.filter { $0 != -1 }) else { throw mismatch("reshape to \(a.shape) has too many elements") }
        if let inferred = out.firstIndex(of: -1) {
            guard known > 0, total % known == 0 else { throw mismatch("cannot reshape \(x) to \(a.shape): \(total) elements are not a multiple of \(known)") }
            out[inferred] = total / known
        } else if known != total {
            throw mismatch("cannot reshape \(x) to \(a.shape): \(total) elements, the new shape holds \(known)")
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


extension Rule {
    /// NumPy/ONNX multidirectional broadcasting of two shapes.
    func broadcast(_ a: Shape, _ b: Shape) throws -> Shape {
        let rank = max(a.rank, b.rank)
        var out: [Int] = []
        for i in 0..<rank {
            let da = i < rank - a.rank ? 1 : a[i - (rank - a.rank)]
            let db = i < rank - b.rank ? 1 : b[i - (rank - b.rank)]
            guard da == db || da == 1 || db == 1 else {
                throw mismatch("\(node.op.rawValue) cannot broadcast \(a) with \(b)")
            }
            out.append(da == 1 ? db : da)
        }
        return Shape(out)
    }

    /// ONNX `MatMul` of two operands of rank ≥ 2: `[…, M, K] × […, K, N]`, leading dims broadcast.
    func matmul(_ a: Shape, _ b: Shape) throws -> Shape {
        guard a.rank >= 2, b.rank >= 2 else { throw mismatch("matmul needs operands of rank ≥ 2, got \(a) and \(b)") }
        guard a[a.rank - 1] == b[b.rank - 2] else {
            throw mismatch("matmul of \(a) and \(b): inner sizes \(a[a.rank - 1]) and \(b[b.rank - 2]) differ")
        }
        let lead = try broadcast(Shape(Array(a.dims.dropLast(2))), Shape(Array(b.dims.dropLast(2))))
        let out = lead.dims + [a[a.rank - 2], b[b.rank - 1]]
        guard checkedProduct(out) != nil else { throw mismatch("matmul of \(a) and \(b) has too many elements") }
        return Shape(out)
    }

    func gather(_ data: Shape, _ indices: Shape, _ a: GatherAttributes) throws -> Shape {
        let axis = try self.axis(a.axis, rank: data.rank, what: "axis")
        let out = Array(data.dims[..<axis]) + indices.dims + Array(data.dims[(axis + 1)...])
        guard checkedProduct(out) != nil else { throw mismatch("gather of \(data) by \(indices) has too many elements") }
        return Shape(out)
    }

    func reduce(_ x: Shape, _ a: ReduceAttributes) throws -> Shape {
        let axes = try a.resolvedAxes(rank: x.rank, node: node)
        var out: [Int] = []
        for (i, d) in x.dims.enumerated() {
            if !axes.contains(i) { out.append(d) } else if a.keepDims { out.append(1) }
        }
        return Shape(out)
    }

    func squeeze(_ x: Shape, _ a: AxesAttributes) throws -> Shape {
        guard let given = a.axes else { return Shape([x[0]] + x.dims.dropFirst().filter { $0 != 1 }) }
        let axes = try AttributeReader(node).resolveAxes(given, rank: x.rank, attr: "axes")
        for axis in axes where x[axis] != 1 {
            throw GraphError.badAttribute(node: node.name, attr: "axes", reason: "names axis \(axis) of size \(x[axis]), not 1, in \(x)")
        }
        return Shape(x.dims.enumerated().filter { !axes.contains($0.offset) }.map(\.element))
    }

    func unsqueeze(_ x: Shape, _ a: AxesAttributes) throws -> Shape {
        let rank = x.rank + (a.axes?.count ?? 0)
        let axes = try AttributeReader(node).resolveAxes(a.axes ?? [], rank: rank, attr: "axes")
        var rest = x.dims[...]
        return Shape((0..<rank).map { axes.contains($0) ? 1 : rest.popFirst()! })
    }

    func pad(_ x: Shape, _ a: PadAttributes) throws -> Shape {
        guard a.pads.count == 2 * x.rank else {
            throw GraphError.badAttribute(node: node.name, attr: "pads", reason: "has \(a.pads.count) entries for an input of rank \(x.rank) (needs \(2 * x.rank))")
        }
        var out: [Int] = []
        for (i, d) in x.dims.enumerated() {
            let (sum, overflow) = d.addingReportingOverflow(a.pads[i] + a.pads[i + x.rank])
            guard !overflow, a.pads[i] <= Int.max / 4, a.pads[i + x.rank] <= Int.max / 4 else { throw mismatch("pads \(a.pads) are too large") }
            out.append(sum)
        }
        guard checkedProduct(out) != nil else { throw mismatch("padding \(x) by \(a.pads) has too many elements") }
        return Shape(out)
    }
}

extension Node {
    /// Whether the node can move elements across the batch dimension (a `transpose` whose `perm[0]`
    /// is not 0, a `reshape` of the whole tensor): the runtime then plans per concrete batch size.
    public var movesBatch: Bool {
        switch op {
        case .transpose: return (try? TransposeAttributes(self).perm?.first).flatMap { $0 }.map { $0 != 0 } ?? true
        case .reshape: return (try? ReshapeAttributes(self).keepsBatch) == false
        default: return false
        }
    }

    /// The output shape of this node for these input shapes and param shapes (by role), by its
    /// op's shape rule; the runtime and training use it rather than restating the rule.
    public func outputShape(inputs: [Shape], params: [String: Shape]) throws -> Shape {
        try ShapeRules.outputShape(of: self, inputs: inputs, params: params)
    }
}
