import Kernels
import ModelGraph
import ModelRuntime
import TensorCore
import TestSupport
import XCTest
@testable import Quantization

/// A depthwise conv → ReLU → 1×1 conv block, quantized: each layer runs what the placement says
/// (INT8 on oneDNN's int8 convolution with VNNI; the depthwise conv FP32, with its reason, without),
/// and the INT8 outputs stay close to FP32.
final class GroupedInt8Tests: XCTestCase {
    private func block() -> ModelPackage {
        let graph = Graph(name: "dw", inputs: [ValueInfo(name: "x", shape: [-1, 4, 6, 6])], outputs: ["y"], nodes: [
            Node(name: "dw", op: .conv2d, inputs: ["x"], output: "h", params: ["weight": "dw.weight", "bias": "dw.bias"],
                 attrs: ["groups": 4, "padding": 1]),
            Node(name: "act", op: .relu, inputs: ["h"], output: "a"),
            Node(name: "pw", op: .conv2d, inputs: ["a"], output: "y", params: ["weight": "pw.weight", "bias": "pw.bias"]),
        ])
        var tensors = TensorMap()
        tensors["dw.weight"] = randomTensor([4, 1, 3, 3], seed: 11)
        tensors["dw.bias"] = randomTensor([4], seed: 12)
        tensors["pw.weight"] = randomTensor([5, 4, 1, 1], seed: 13)
        tensors["pw.bias"] = randomTensor([5], seed: 14)
        return ModelPackage(graph: graph, tensors: tensors)
    }

    func testPlacementSaysWhatRunsAndOutputsStayClose() throws {
        let package = block()
        let x = randomTensor([16, 4, 6, 6], seed: 15, lower: -1, upper: 1)
        let stats = try Calibrator.collect(session: Session(package: package), values: Quantizer.calibratedValues(package.graph),
                                           data: Dataset(x: x), samples: 16)
        var (quantized, layers) = try Quantizer.quantize(package, statistics: stats, method: .minmax, scheme: QuantScheme())
        try LayerReport.recordPlacement(&layers, quantized: quantized)
        let session = try Session(package: quantized)
        let kernels = Dictionary(try session.int8Kernels(batch: 1).map { ($0.node, $0.kernel) }, uniquingKeysWith: { a, _ in a })
        let runsAs = Dictionary(layers.map { ($0.node, $0.runsAs ?? "") }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(Set(runsAs.keys), ["dw", "pw"])
        for (node, said) in runsAs {
            if let kernel = kernels[node] { XCTAssertEqual(said, "int8 (\(kernel))") } else { XCTAssertTrue(said.hasPrefix("fp32 ("), said) }
        }
        XCTAssertEqual(kernels["dw"] != nil, Int8Conv2d.isExact, "the depthwise conv runs INT8 exactly where oneDNN's int8 convolution is exact")
        XCTAssertNotNil(kernels["pw"])
        let expected = try Session(package: package).run(["x": x])["y"]!.floats
        let got = try session.run(["x": x])["y"]!.floats
        let scale = expected.map(abs).max()!
        let worst = zip(expected, got).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 0.05 * scale, "INT8 output within 5% of the FP32 range")
    }
}
