import ModelGraph
import TensorCore

// The training engine reads attributes through ModelGraph's typed parsers (one place defines names,
// defaults and checks); these adapters only reshape them for the loops. Training-only attributes
// (batchnorm `momentum`, dropout `p`) are read here.

private func number(_ node: Node, _ name: String, default value: Double) throws -> Double {
    guard let raw = node.attrs[name] else { return value }
    guard let v = raw.doubleValue else { throw TrainingError.badAttribute(node: node.name, attr: name, reason: "must be a number") }
    return v
}

/// conv2d: `stride`, `padding`, `dilation`, `groups` (from `Conv2dAttributes`).
struct ConvSpec {
    var stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int
    init(_ node: Node) throws {
        let a = try Conv2dAttributes(node)
        guard a.isSymmetric else {
            throw TrainingError.badAttribute(node: node.name, attr: "pads", reason: "differs before and after the input, which training does not support")
        }
        stride = (a.stride.h, a.stride.w)
        padding = (a.padding.h, a.padding.w)
        dilation = (a.dilation.h, a.dilation.w)
        groups = a.groups
    }
}

/// maxpool2d / avgpool2d: `kernel`, `stride`, `padding`, `count_include_pad` (from `Pool2dAttributes`).
struct PoolSpec {
    var kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), countIncludePad: Bool
    init(_ node: Node) throws {
        let a = try Pool2dAttributes(node)
        guard a.isPlain else {
            throw TrainingError.badAttribute(node: node.name, attr: a.ceilMode ? "ceil_mode" : "pads",
                                             reason: "is not supported in training (symmetric padding, sizes rounded down)")
        }
        kernel = (a.kernel.h, a.kernel.w)
        stride = (a.stride.h, a.stride.w)
        padding = (a.padding.h, a.padding.w)
        countIncludePad = a.countIncludePad
    }
}

/// Normalises a possibly negative axis against a rank.
func resolveAxis(_ node: Node, _ axis: Int, rank: Int) throws -> Int {
    let resolved = axis < 0 ? axis + rank : axis
    guard resolved >= 0, resolved < rank else {
        throw TrainingError.badAttribute(node: node.name, attr: "axis", reason: "is \(axis), outside a rank-\(rank) input")
    }
    return resolved
}

func momentum(_ node: Node) throws -> Float { Float(try number(node, "momentum", default: 0.1)) }
func dropoutProbability(_ node: Node) throws -> Float {
    let p = try number(node, "p", default: 0.5)
    guard p >= 0, p < 1 else { throw TrainingError.badAttribute(node: node.name, attr: "p", reason: "must be in [0, 1)") }
    return Float(p)
}
