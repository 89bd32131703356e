import ModelGraph
import TensorCore
import TestSupport
import XCTest
@testable import Training

/// Error budget of a central finite difference in f32 with step `finiteDifferenceStep`: the truncation
/// error is O(step²) and the rounding error about 1e-7·|L|/step, so a few parts in a thousand.
let finiteDifferenceTolerance: (rtol: Float, atol: Float) = (rtol: 2e-2, atol: 2e-3)
let finiteDifferenceStep: Float = 1e-2

/// A graph of one node reading graph inputs `x0, x1, …` and writing `y` (params named `p.<role>`).
func singleNodeGraph(_ op: OpKind, inputShapes: [[Int]], params: [String] = [], attrs: [String: JSONValue] = [:]) -> Graph {
    let inputs = inputShapes.enumerated().map { ValueInfo(name: "x\($0.offset)", shape: [-1] + $0.element.dropFirst()) }
    let node = Node(name: "n", op: op, inputs: inputs.map(\.name), output: "y",
                    params: Dictionary(uniqueKeysWithValues: params.map { ($0, "p.\($0)") }), attrs: attrs)
    return Graph(name: "t", inputs: inputs, outputs: ["y"], nodes: [node])
}

/// Values uniform in ±1 pushed at least `margin` away from zero (so ReLU-like kinks are not crossed).
func awayFromZero(_ shape: [Int], seed: UInt64, margin: Float = 0.05) -> FloatArray {
    let t = randomTensor(Shape(shape), seed: seed)
    return FloatArray(shape: shape, values: t.floats.map { $0 >= 0 ? $0 + margin : $0 - margin })
}

/// Distinct values spaced 0.1 apart in a seeded random order (so max-pool winners are not crossed).
func distinctValues(_ shape: [Int], seed: UInt64) -> FloatArray {
    let n = shape.reduce(1, *)
    var rng = SeededRNG(seed: seed)
    var order = Array(0..<n)
    for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    return FloatArray(shape: shape, values: order.map { Float($0) * 0.1 - Float(n) * 0.05 })
}

/// tinygrad's `helper_test_op`, with finite differences as the reference: the loss is Σ R ⊙ outputs for
/// a fixed random R; every parameter's and every input's analytic gradient (up to `maxChecks` entries
/// each, spread evenly) must match central differences under `finiteDifferenceTolerance`.
func assertGradientsMatchFiniteDifferences(_ graph: Graph, tensors: TensorMap, inputs: [String: FloatArray],
                                           mode: ForwardMode = .training(seed: 11), maxChecks: Int = 40,
                                           file: StaticString = #filePath, line: UInt = #line) throws {
    let model = try TrainableModel(graph: graph, tensors: tensors, initSeed: 3)
    var probe = model
    let tape = try probe.forward(inputs, mode: mode)
    var weights: [String: FloatArray] = [:]
    for (i, name) in graph.outputs.enumerated() {
        let shape = tape.outputs[name]!.shape
        weights[name] = FloatArray(shape: shape, values: randomTensor(Shape(shape), seed: 100 + UInt64(i)).floats)
    }
    let grads = try model.backward(tape, outputGradients: weights)

    func loss(_ m: TrainableModel, _ x: [String: FloatArray]) throws -> Double {
        var copy = m
        let out = try copy.forward(x, mode: mode).outputs
        return weights.reduce(0.0) { acc, kv in acc + zip(out[kv.key]!.values, kv.value.values).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
    }
    func indices(_ count: Int) -> [Int] {
        count <= maxChecks ? Array(0..<count) : (0..<maxChecks).map { $0 * count / maxChecks }
    }
    var checked = 0
    for name in model.parameterNames {
        let analytic = grads.parameters[name]?.values ?? [Float](repeating: 0, count: model.parameters[name]!.count)
        for i in indices(analytic.count) {
            var plus = model, minus = model
            plus.parameters[name]!.values[i] += finiteDifferenceStep
            minus.parameters[name]!.values[i] -= finiteDifferenceStep
            let numeric = Float((try loss(plus, inputs) - loss(minus, inputs)) / Double(2 * finiteDifferenceStep))
            if let failure = closenessFailure([analytic[i]], [numeric], rtol: finiteDifferenceTolerance.rtol, atol: finiteDifferenceTolerance.atol) {
                XCTFail("d/d\(name)[\(i)]: \(failure)", file: file, line: line)
                return
            }
            checked += 1
        }
    }
    for (name, x) in inputs.sorted(by: { $0.key < $1.key }) {
        let analytic = grads.inputs[name] ?? [Float](repeating: 0, count: x.count)
        for i in indices(x.count) {
            var plus = inputs, minus = inputs
            plus[name]!.values[i] += finiteDifferenceStep
            minus[name]!.values[i] -= finiteDifferenceStep
            let numeric = Float((try loss(model, plus) - loss(model, minus)) / Double(2 * finiteDifferenceStep))
            if let failure = closenessFailure([analytic[i]], [numeric], rtol: finiteDifferenceTolerance.rtol, atol: finiteDifferenceTolerance.atol) {
                XCTFail("d/d\(name)[\(i)]: \(failure)", file: file, line: line)
                return
            }
            checked += 1
        }
    }
    XCTAssertGreaterThan(checked, 0, "no gradient entries were checked", file: file, line: line)
}

func tensorMap(_ pairs: [(String, FloatArray)]) -> TensorMap {
    var map = TensorMap()
    for (name, value) in pairs { map[name] = value.tensor }
    return map
}
