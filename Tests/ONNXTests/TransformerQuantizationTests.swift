import XCTest
import ModelFormats
import ModelGraph
import ModelRuntime
import Quantization
import TensorCore

/// Calibration and INT8 of a graph with several inputs: the BERT-style encoder (int64 ids, token
/// types and attention mask), every MatMul with a constant weight quantized.
final class TransformerQuantizationTests: XCTestCase {
    func load() throws -> (ModelPackage, Dataset) {
        let package = try ModelPackage.load(path: ModelFamilyTests.fixture("bert.onnx"), onnx: ONNXImport.Options(dims: ["sequence": 8]))
        let data = try Dataset.load(path: ModelFamilyTests.fixture("bert-inputs.npz"), for: package.graph, yKey: nil)
        return (package, data)
    }

    func testEncoderCalibratesOnEveryInputAndStaysCloseToFP32() throws {
        let (package, data) = try load()
        XCTAssertEqual(package.graph.inputs.count, 3)
        let cache = try Calibrator.calibrate(package, data: data, method: .minmax)
        let (quantized, layers) = try Quantizer.quantize(package, statistics: try cache.histograms(), method: .minmax, scheme: QuantScheme())
        let linears = package.graph.nodes.filter { $0.op == .linear }
        XCTAssertEqual(layers.count, linears.count, "every projection (MatMul/Gemm with a weight) is quantized")
        for node in linears { XCTAssertEqual(quantized.tensors[node.params["weight"]!]?.dtype, .i8, node.name) }

        let feeds = try data.feeds(0..<data.count, inputNames: package.graph.inputs.map(\.name))
        let reference = try Session(package: package, options: SessionOptions(maxBatch: 2)).run(feeds)
        let int8 = try Session(package: quantized, options: SessionOptions(maxBatch: 2)).run(feeds)
        for name in package.graph.outputs {
            let (a, b) = (int8[name]!.floats, reference[name]!.floats)
            let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let cosine = dot / (sqrt(a.reduce(0.0) { $0 + Double($1 * $1) }) * sqrt(b.reduce(0.0) { $0 + Double($1 * $1) }))
            XCTAssertGreaterThan(cosine, 0.999, "output '\(name)'")
        }
    }

    func testMissingInputArrayIsNamed() throws {
        let (package, full) = try load()
        let partial = try Dataset(inputs: [("input_ids", full.inputs["input_ids"]!), ("attention_mask", full.inputs["attention_mask"]!)])
        XCTAssertThrowsError(try Calibrator.calibrate(package, data: partial, method: .minmax)) { error in
            XCTAssertTrue("\(error)".contains("'token_type_ids'"), "\(error)")
        }
    }
}
