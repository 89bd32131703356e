import XCTest
import ModelGraph
import ModelRuntime
import TensorCore
import TestSupport
@testable import Quantization

/// Accuracy-aware mode (docs/quantization.md, "Accuracy-aware mode"): one sensitivity pass, a
/// bisection over how many of the most harmful layers return to FP32, tied weights as one
/// decision, and a wall-clock budget.
final class AccuracyAwareTests: XCTestCase {
    private func fixture(_ name: String) -> String { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)").path }

    /// fc1 and fc2 share one weight tensor (tied), fc3 has its own; labels are the FP32 model's own answers.
    private func tiedMLP() throws -> (ModelPackage, Dataset, [String: Histogram]) {
        let graph = Graph(name: "tied", inputs: [ValueInfo(name: "x", shape: [-1, 4])], outputs: ["logits"], nodes: [
            Node(name: "fc1", op: .linear, inputs: ["x"], output: "h1", params: ["weight": "shared.weight"]),
            Node(name: "act1", op: .relu, inputs: ["h1"], output: "a1"),
            Node(name: "fc2", op: .linear, inputs: ["a1"], output: "h2", params: ["weight": "shared.weight"]),
            Node(name: "act2", op: .relu, inputs: ["h2"], output: "a2"),
            Node(name: "fc3", op: .linear, inputs: ["a2"], output: "logits", params: ["weight": "fc3.weight"]),
        ])
        var tensors = TensorMap()
        tensors["shared.weight"] = randomTensor([4, 4], seed: 11)
        tensors["fc3.weight"] = randomTensor([3, 4], seed: 12)
        let package = ModelPackage(graph: graph, tensors: tensors)
        let x = randomTensor([64, 4], seed: 13, lower: -2, upper: 2)
        let logits = try Session(package: package, options: SessionOptions(maxBatch: 64)).run(["x": x])["logits"]!.floats
        let labels = (0..<64).map { row in (0..<3).max { logits[row * 3 + $0] < logits[row * 3 + $1] }! }
        let session = try Session(package: package, options: SessionOptions(maxBatch: 64))
        let data = try Dataset(x: x, labels: labels)
        let stats = try Calibrator.collect(session: session, values: Quantizer.calibratedValues(graph), data: data, samples: 64)
        return (package, data, stats)
    }

    func testTiedWeightsAreOneDecision() throws {
        let (package, data, stats) = try tiedMLP()
        XCTAssertEqual(AccuracyAware.tiedGroups(package.graph, exclude: []), [["fc1", "fc2"], ["fc3"]])
        // A budget of 100 points holds for any configuration: all INT8 after one sensitivity pass.
        let easy = try AccuracyAware.quantize(package, statistics: stats, method: .minmax, scheme: QuantScheme(), exclude: [],
                                              eval: data, maxDrop: 100)
        XCTAssertTrue(easy.withinBudget)
        XCTAssertEqual(easy.layers.map(\.status), [.int8, .int8, .int8])
        XCTAssertEqual(easy.evaluations, 1 + 2 + 1, "baseline, one per weight tensor, the all-INT8 check")
        // A budget of 0 points with percentile-50 ranges: tied layers fall back together or not at all.
        let median = try AccuracyAware.quantize(package, statistics: stats, method: .percentile(50), scheme: QuantScheme(), exclude: [],
                                                eval: data, maxDrop: 0)
        let status = Dictionary(uniqueKeysWithValues: median.layers.map { ($0.node, $0.status) })
        XCTAssertEqual(status["fc1"], status["fc2"])
    }

    /// On the golden digits teacher with ranges clipped at the median, the result keeps the fewest
    /// layers of its ranking in FP32: one fewer breaks the budget.
    func testSearchKeepsTheFewestLayersInFP32() throws {
        let package = try ModelPackage.load(path: fixture("teacher.weights.npz"), graphPath: fixture("teacher.model.json"))
        let train = try Dataset.load(path: fixture("digits.npz"), xKey: "x_train", yKey: "y_train")
        let test = try Dataset.load(path: fixture("digits.npz"), xKey: "x_test", yKey: "y_test")
        let session = try Session(package: package)
        let stats = try Calibrator.collect(session: session, values: Quantizer.calibratedValues(package.graph), data: train, samples: 256)
        let before = try Evaluation.accuracy(session: session, dataset: test)
        let budget = 1.0
        let outcome = try AccuracyAware.quantize(package, statistics: stats, method: .percentile(50), scheme: QuantScheme(), exclude: [],
                                                 eval: test, maxDrop: budget)
        XCTAssertTrue(outcome.withinBudget)
        XCTAssertLessThanOrEqual((before - outcome.accuracyAfter) * 100, budget + 1e-9)
        let ranking = outcome.layers.sorted { ($0.accuracyCost ?? 0, $1.node) > ($1.accuracyCost ?? 0, $0.node) }.map(\.node)
        let fp32 = outcome.layers.filter { $0.status != .int8 }.map(\.node)
        XCTAssertFalse(fp32.isEmpty, "median clipping must cost more than the budget somewhere for this test to mean something")
        XCTAssertEqual(Set(fp32), Set(ranking.prefix(fp32.count)), "the most harmful layers return first")
        let (oneFewer, _) = try Quantizer.quantize(package, statistics: stats, method: .percentile(50), scheme: QuantScheme(),
                                                   exclude: Set(ranking.prefix(fp32.count - 1)))
        let accuracy = try Evaluation.accuracy(session: Session(package: oneFewer), dataset: test)
        XCTAssertGreaterThan((before - accuracy) * 100, budget, "one layer fewer in FP32 breaks the budget")
    }

    func testTimeBudgetKeepsTheBestFoundAndSaysSo() throws {
        let (package, data, stats) = try tiedMLP()
        let outcome = try AccuracyAware.quantize(package, statistics: stats, method: .minmax, scheme: QuantScheme(), exclude: [],
                                                 eval: data, maxDrop: 100, maxSeconds: 0)
        XCTAssertTrue(outcome.timedOut)
        XCTAssertLessThanOrEqual(outcome.evaluations, 2, "the baseline, then only the configuration returned")
        XCTAssertTrue(outcome.layers.contains { $0.status == .int8 }, "at least one layer stays INT8")
    }
}
