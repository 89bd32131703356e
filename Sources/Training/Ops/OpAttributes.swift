import ModelGraph
import TensorCore

// Typed attributes for the ops the training engine runs. DESIGN §3 fixes the names and defaults
// (PyTorch's); spatial attributes are a 2-element list or one integer meaning both.

private func intPair(_ node: Node, _ name: String, default value: (Int, Int)) throws -> (Int, Int) {
    guard let raw = node.attrs[name] else { return value }
    if let v = raw.intValue { return (v, v) }
    if let list = raw.arrayValue, list.count == 2, let a = list[0].intValue, let b = list[1].intValue { return (a, b) }
    throw TrainingError.badAttribute(node: node.name, attr: name, reason: "must be an integer or a list of 2 integers")
}

private func integer(_ node: Node, _ name: String, default value: Int) throws -> Int {
    guard let raw = node.attrs[name] else { return value }
    guard let v = raw.intValue else { throw TrainingError.badAttribute(node: node.name, attr: name, reason: "must be an integer") }
    return v
}

private func number(_ node: Node, _ name: String, default value: Double) throws -> Double {
    guard let raw = node.attrs[name] else { return value }
    guard let v = raw.doubleValue else { throw TrainingError.badAttribute(node: node.name, attr: name, reason: "must be a number") }
    return v
}

/// conv2d: `stride`, `padding`, `dilation`, `groups`.
struct ConvSpec {
    var stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int
    init(_ node: Node) throws {
        stride = try intPair(node, "stride", default: (1, 1))
        padding = try intPair(node, "padding", default: (0, 0))
        dilation = try intPair(node, "dilation", default: (1, 1))
        groups = try integer(node, "groups", default: 1)
        guard stride.0 > 0, stride.1 > 0 else { throw TrainingError.badAttribute(node: node.name, attr: "stride", reason: "must be positive") }
        guard dilation.0 > 0, dilation.1 > 0 else { throw TrainingError.badAttribute(node: node.name, attr: "dilation", reason: "must be positive") }
        guard padding.0 >= 0, padding.1 >= 0 else { throw TrainingError.badAttribute(node: node.name, attr: "padding", reason: "must be non-negative") }
        guard groups > 0 else { throw TrainingError.badAttribute(node: node.name, attr: "groups", reason: "must be positive") }
    }
}

/// maxpool2d / avgpool2d: `kernel`, `stride` (defaults to the kernel, as PyTorch), `padding`.
struct PoolSpec {
    var kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)
    init(_ node: Node) throws {
        guard node.attrs["kernel"] != nil else { throw TrainingError.badAttribute(node: node.name, attr: "kernel", reason: "is required") }
        kernel = try intPair(node, "kernel", default: (1, 1))
        stride = try intPair(node, "stride", default: kernel)
        padding = try intPair(node, "padding", default: (0, 0))
        guard kernel.0 > 0, kernel.1 > 0, stride.0 > 0, stride.1 > 0 else {
            throw TrainingError.badAttribute(node: node.name, attr: "kernel", reason: "kernel and stride must be positive")
        }
        guard padding.0 >= 0, padding.1 >= 0, 2 * padding.0 <= kernel.0, 2 * padding.1 <= kernel.1 else {
            throw TrainingError.badAttribute(node: node.name, attr: "padding", reason: "must be between 0 and half the kernel")
        }
    }
}

/// Normalises a possibly negative axis against a rank.
func resolveAxis(_ node: Node, _ name: String, default value: Int, rank: Int) throws -> Int {
    let axis = try integer(node, name, default: value)
    let resolved = axis < 0 ? axis + rank : axis
    guard resolved >= 0, resolved < rank else {
        throw TrainingError.badAttribute(node: node.name, attr: name, reason: "is \(axis), outside a rank-\(rank) input")
    }
    return resolved
}

func epsilon(_ node: Node) throws -> Float { Float(try number(node, "eps", default: 1e-5)) }
func momentum(_ node: Node) throws -> Float { Float(try number(node, "momentum", default: 0.1)) }
func dropoutProbability(_ node: Node) throws -> Float {
    let p = try number(node, "p", default: 0.5)
    guard p >= 0, p < 1 else { throw TrainingError.badAttribute(node: node.name, attr: "p", reason: "must be in [0, 1)") }
    return Float(p)
}
func flattenStart(_ node: Node, rank: Int) throws -> Int { try resolveAxis(node, "start_dim", default: 1, rank: rank) }

/// gelu's `approximate`: "none" (erf) or "tanh".
func geluUsesTanh(_ node: Node) throws -> Bool {
    switch node.attrs["approximate"]?.stringValue ?? "none" {
    case "none": return false
    case "tanh": return true
    default: throw TrainingError.badAttribute(node: node.name, attr: "approximate", reason: "must be \"none\" or \"tanh\"")
    }
}

/// reshape's `shape`, with one -1 inferred; a 0 keeps that input dimension (ONNX) — we only allow -1.
func reshapeTarget(_ node: Node, input: [Int]) throws -> [Int] {
    guard let list = node.attrs["shape"]?.arrayValue else {
        throw TrainingError.badAttribute(node: node.name, attr: "shape", reason: "is required (a list of integers)")
    }
    var dims = try list.map { v -> Int in
        guard let d = v.intValue, d >= -1 else { throw TrainingError.badAttribute(node: node.name, attr: "shape", reason: "must hold integers ≥ -1") }
        return d
    }
    let total = input.reduce(1, *)
    let unknown = dims.indices.filter { dims[$0] == -1 }
    let known = dims.filter { $0 != -1 }.reduce(1, *)
    if unknown.count == 1, known > 0, total % known == 0 { dims[unknown[0]] = total / known }
    guard unknown.count <= 1, dims.reduce(1, *) == total else {
        throw TrainingError.shapeMismatch(node: node.name, reason: "cannot reshape \(input) to \(list.compactMap(\.intValue))")
    }
    return dims
}
