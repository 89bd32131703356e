import TensorCore

/// One graph input: a name, a shape where -1 is the (dynamic) batch dimension or a symbolic
/// dimension, and a dtype. `dims` names symbolic dimensions (`batch`, `sequence`; nil for a fixed
/// size); a named dimension after the first is sized by the data at run time (docs/runtime.md,
/// "Symbolic dimensions"; `Graph.specialized`).
public struct ValueInfo: Codable, Hashable, Sendable {
    public var name: String
    public var shape: [Int]
    public var dtype: DType
    /// One entry per dimension when any is named, else empty.
    public var dims: [String?]

    public init(name: String, shape: [Int], dtype: DType = .f32, dims: [String?] = []) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.dims = dims
    }

    /// The symbolic dimension after the batch at position `d`, if any.
    public func symbol(at d: Int) -> String? {
        d > 0 && d < dims.count && shape[d] == -1 ? dims[d] : nil
    }

    /// Whether a dimension after the batch is symbolic.
    public var hasSymbolicDims: Bool { shape.indices.contains { symbol(at: $0) != nil } }

    enum CodingKeys: String, CodingKey { case name, shape, dtype, dims }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        shape = try c.decode([Int].self, forKey: .shape)
        dtype = try c.decodeIfPresent(DType.self, forKey: .dtype) ?? .f32
        dims = try c.decodeIfPresent([String?].self, forKey: .dims) ?? []
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(shape, forKey: .shape)
        try c.encode(dtype, forKey: .dtype)
        if !dims.isEmpty { try c.encode(dims, forKey: .dims) }
    }
}

/// One node of the graph: `outputs = op(inputs; params, attrs)`. Most ops have one output; ops
/// with several (`topk`: values, indices) list them in the op's order (`OpSpec.outputs`).
public struct Node: Codable, Hashable, Sendable {
    public var name: String
    public var op: OpKind
    public var inputs: [String]
    /// The values the node produces; never empty. model.json writes `"output"` for one value and
    /// `"outputs"` for several.
    public var outputs: [String]
    /// Role (`weight`, `bias`, …) → tensor name in the package.
    public var params: [String: String]
    public var attrs: [String: JSONValue]

    /// The first (for most ops the only) output.
    public var output: String {
        get { outputs[0] }
        set { outputs[0] = newValue }
    }

    public init(name: String, op: OpKind, inputs: [String], output: String,
                params: [String: String] = [:], attrs: [String: JSONValue] = [:]) {
        self.init(name: name, op: op, inputs: inputs, outputs: [output], params: params, attrs: attrs)
    }

    public init(name: String, op: OpKind, inputs: [String], outputs: [String],
                params: [String: String] = [:], attrs: [String: JSONValue] = [:]) {
        precondition(!outputs.isEmpty, "a node has at least one output")
        self.name = name
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.params = params
        self.attrs = attrs
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        let opName = try c.decode(String.self, forKey: .op)
        guard let op = OpKind(rawValue: opName) else { throw GraphError.unknownOp(node: name, op: opName) }
        self.op = op
        inputs = try c.decode([String].self, forKey: .inputs)
        if let several = try c.decodeIfPresent([String].self, forKey: .outputs) {
            guard !several.isEmpty, !c.contains(.output) else { throw GraphError.badOutputs(node: name) }
            outputs = several
        } else {
            outputs = [try c.decode(String.self, forKey: .output)]
        }
        params = try c.decodeIfPresent([String: String].self, forKey: .params) ?? [:]
        attrs = try c.decodeIfPresent([String: JSONValue].self, forKey: .attrs) ?? [:]
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(op, forKey: .op)
        try c.encode(inputs, forKey: .inputs)
        if outputs.count == 1 { try c.encode(outputs[0], forKey: .output) } else { try c.encode(outputs, forKey: .outputs) }
        if !params.isEmpty { try c.encode(params, forKey: .params) }
        if !attrs.isEmpty { try c.encode(attrs, forKey: .attrs) }
    }

    enum CodingKeys: String, CodingKey { case name, op, inputs, output, outputs, params, attrs }
}
