import Foundation
import ModelGraph
import TensorCore

/// Default initialisation of absent parameters, as PyTorch initialises its layers:
/// `nn.Linear`/`nn.Conv2d` weights by `kaiming_uniform_(a=√5)` — which is U(±1/√fan_in) — and biases
/// by U(±1/√fan_in); batchnorm/layernorm weight 1, bias 0, running mean 0, running variance 1.
enum ParameterInit {
    /// Weight before bias, then the rest alphabetically, so initialisation order is stable.
    static func roleOrder(_ a: String, _ b: String) -> Bool {
        let rank = ["weight": 0, "bias": 1]
        return (rank[a] ?? 2, a) < (rank[b] ?? 2, b)
    }

    static func initialValue(node: Node, role: String, input: FloatArray, weight: FloatArray?,
                             rng: inout SeededRNG) throws -> FloatArray {
        let missing = TrainingError.missingParameter(node: node.name, role: role, tensor: node.params[role] ?? role)
        // The shape comes from attributes the graph declares: held to the memory budget before allocating.
        func admitted(_ shape: [Int]) throws -> [Int] {
            try MemoryBudget.admit(checkedProduct(shape).flatMap { checkedMultiply($0, MemoryLayout<Float>.size) },
                                   for: "node '\(node.name)' (initial \(role) of shape \(shape))")
            return shape
        }
        switch node.op {
        case .linear:
            guard let inFeatures = input.shape.last else { throw missing }
            if role == "weight" {
                guard let out = node.attrs["out_features"]?.intValue, out > 0 else { throw missing }
                return uniform(try admitted([out, inFeatures]), fanIn: inFeatures, rng: &rng)
            }
            guard let w = weight else { throw missing }
            return uniform([w.shape[0]], fanIn: w.shape[1], rng: &rng)
        case .conv2d:
            if role == "weight" {
                guard input.shape.count == 4, let out = node.attrs["out_channels"]?.intValue, out > 0 else { throw missing }
                let groups = node.attrs["groups"]?.intValue ?? 1
                let kernel = node.attrs["kernel"] ?? node.attrs["kernel_size"]
                let (kh, kw): (Int, Int)
                if let k = kernel?.intValue { (kh, kw) = (k, k) }
                else if let k = kernel?.arrayValue, k.count == 2, let a = k[0].intValue, let b = k[1].intValue { (kh, kw) = (a, b) }
                else { throw missing }
                guard groups > 0, input.shape[1] % groups == 0, kh > 0, kw > 0 else { throw missing }
                guard let fanIn = checkedProduct([input.shape[1] / groups, kh, kw]) else { throw missing }
                return uniform(try admitted([out, input.shape[1] / groups, kh, kw]), fanIn: fanIn, rng: &rng)
            }
            guard let w = weight else { throw missing }
            return uniform([w.shape[0]], fanIn: w.shape[1...].reduce(1, *), rng: &rng)
        case .batchnorm2d:
            guard input.shape.count == 4 else { throw missing }
            let c = input.shape[1]
            let fill: Float = (role == "weight" || role == "running_var") ? 1 : 0
            return FloatArray(shape: [c], values: [Float](repeating: fill, count: c))
        case .layernorm:
            guard let d = input.shape.last else { throw missing }
            return FloatArray(shape: [d], values: [Float](repeating: role == "weight" ? 1 : 0, count: d))
        default:  // ops without learned parameters have nothing to initialise
            throw missing
        }
    }

    /// U(−1/√fan_in, 1/√fan_in): kaiming_uniform with a = √5 gives gain·√(3/fan_in) = 1/√fan_in.
    static func uniform(_ shape: [Int], fanIn: Int, rng: inout SeededRNG) -> FloatArray {
        let bound = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
        let count = shape.reduce(1, *)
        return FloatArray(shape: shape, values: (0..<count).map { _ in rng.uniform(-bound, bound) })
    }
}
