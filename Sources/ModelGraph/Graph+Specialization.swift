import TensorCore

/// Symbolic dimensions beyond the batch (docs/runtime.md, "Symbolic dimensions"): a graph input's
/// dim named in `ValueInfo.dims` (`sequence`), sized by the data at run time. A graph with such
/// dims is specialized for concrete sizes before it is planned: the inputs take the sizes, and a
/// `constant` whose length along an axis is a symbolic dim (its `dims` attribute, e.g. the first
/// `sequence` rows of a position table) is cut to that size. Everything else in the graph is
/// written to hold for any size (reshape targets copy such dims with `0` or infer them with `-1`).
extension Graph {
    /// The attribute of a `constant` naming, per axis of its tensor, a symbolic dim (the value is
    /// the first `size` entries along that axis; the tensor holds the longest the model allows)
    /// or null (the tensor's size).
    public static let constantDimsAttribute = "dims"

    /// The symbolic dimensions beyond the batch, in order of first appearance among the inputs.
    public var symbolicDims: [String] {
        var names: [String] = []
        for input in inputs {
            for d in input.shape.indices {
                if let name = input.symbol(at: d), !names.contains(name) { names.append(name) }
            }
        }
        return names
    }

    /// The graph for concrete sizes of its symbolic dims (every one must be given, at least 1),
    /// with the tensors it then reads (cut constants added under derived names). A graph without
    /// symbolic dims is returned as it is.
    public func specialized(dims: [String: Int], tensors: TensorMap) throws -> (Graph, TensorMap) {
        guard !symbolicDims.isEmpty || nodes.contains(where: { $0.attrs[Self.constantDimsAttribute] != nil }) else { return (self, tensors) }
        func size(_ name: String) throws -> Int {
            guard let size = dims[name] else { throw GraphError.badDimSize(name: name, reason: "no size given") }
            guard size >= 1 else { throw GraphError.badDimSize(name: name, reason: "size \(size) is not positive") }
            return size
        }
        var graph = self
        var tensors = tensors
        for i in graph.inputs.indices {
            var input = graph.inputs[i]
            for d in input.shape.indices {
                if let name = input.symbol(at: d) { input.shape[d] = try size(name) }
            }
            graph.inputs[i] = input
        }
        for i in graph.nodes.indices {
            guard let axes = graph.nodes[i].attrs[Self.constantDimsAttribute] else { continue }
            var node = graph.nodes[i]
            guard node.op == .constant, let names = axes.arrayValue, let tensorName = node.params["value"],
                  let tensor = tensors[tensorName], names.count == tensor.shape.rank else {
                throw GraphError.badAttribute(node: node.name, attr: Self.constantDimsAttribute,
                                              reason: "belongs to a constant and names a symbolic dim or null per axis of its tensor")
            }
            var prefix = tensor.shape.dims
            var suffix: [String] = []
            for (axis, entry) in names.enumerated() {
                guard case .string(let name) = entry else { continue }
                let n = try size(name)
                guard n <= prefix[axis] else {
                    throw GraphError.badDimSize(name: name, reason: "size \(n) is more than node '\(node.name)' holds (\(prefix[axis]) along axis \(axis))")
                }
                prefix[axis] = n
                suffix.append("\(name)=\(n)")
            }
            let cutName = "\(tensorName)@\(suffix.joined(separator: ","))"
            if tensors[cutName] == nil { tensors[cutName] = tensor.leadingBlock(prefix) }
            node.params["value"] = cutName
            node.attrs[Self.constantDimsAttribute] = nil
            graph.nodes[i] = node
        }
        return (graph, tensors)
    }
}

extension Tensor {
    /// The first `dims[axis]` entries along every axis (each at most the tensor's size).
    func leadingBlock(_ dims: [Int]) -> Tensor {
        precondition(dims.count == shape.rank && zip(dims, shape.dims).allSatisfy { $0 <= $1 })
        let item = dtype.byteSize
        let inner = dims.last.map { $0 * item } ?? item
        var inStrides = [Int](repeating: item, count: dims.count)
        for d in dims.indices.reversed().dropFirst() { inStrides[d] = inStrides[d + 1] * shape.dims[d + 1] }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(dims.reduce(item, *))
        withUnsafeBytes { source in
            forEachIndex(Array(dims.dropLast())) { index in
                let offset = zip(index, inStrides).reduce(0) { $0 + $1.0 * $1.1 }
                bytes.append(contentsOf: source[offset..<(offset + inner)])
            }
        }
        return try! Tensor(dtype: dtype, shape: Shape(dims), bytes: bytes)
    }
}

/// Calls `body` with every index of `shape`, in row-major order (once for a scalar shape).
func forEachIndex(_ shape: [Int], _ body: ([Int]) -> Void) {
    guard !shape.contains(0) else { return }
    var index = [Int](repeating: 0, count: shape.count)
    while true {
        body(index)
        var d = shape.count - 1
        while d >= 0 {
            index[d] += 1
            if index[d] < shape[d] { break }
            index[d] = 0
            d -= 1
        }
        if d < 0 { return }
    }
}
