import XCTest
import ModelGraph
import TensorCore
import TestSupport
@testable import Quantization

final class QuantizerTests: XCTestCase {
    /// The rewrite follows the quantized graph convention: i8 weight with per-channel symmetric
    /// params, f32 bias, `input_quant` from the scheme's formulas on the method's range.
    func testRewriteFollowsConvention() throws {
        let package = TestModels.tinyMLP()
        let stats = TestModels.tinyStatistics()
        let (q, layers) = try Quantizer.quantize(package, statistics: stats, method: .minmax, scheme: QuantScheme())
        let w = try XCTUnwrap(q.tensors["fc1.weight"])
        XCTAssertEqual(w.dtype, .i8)
        XCTAssertEqual(w.quant?.axis, 0)
        XCTAssertEqual(w.quant?.scales.count, 6)
        XCTAssertEqual(q.tensors["fc1.bias"]?.dtype, .f32)
        let fc1 = try XCTUnwrap(q.graph.node(named: "fc1"))
        let iq = try XCTUnwrap(fc1.attrs["input_quant"])
        let expected = QuantScheme().activationParameters(min: stats["x"]!.min, max: stats["x"]!.max)
        XCTAssertEqual(Float(iq["scale"]!.doubleValue!), expected.scale)
        XCTAssertEqual(iq["zero_point"]?.intValue, Int(expected.zeroPoint))
        XCTAssertEqual(iq["dtype"]?.stringValue, "u8")
        XCTAssertEqual(layers.map(\.status), [.int8, .int8])
        XCTAssertEqual(layers[0].clippedFraction, 0, accuracy: 1e-12)  // minmax clips nothing
        XCTAssertGreaterThan(layers[0].weightSQNR, 30)  // 8-bit: ~6 dB per bit
        XCTAssertGreaterThan(layers[1].activationSQNR, 30)
        try q.graph.validate(tensors: q.tensors)
    }

    func testExcludeKeepsLayerFP32AndUnknownExcludeIsRefused() throws {
        let package = TestModels.tinyMLP()
        let (q, layers) = try Quantizer.quantize(package, statistics: TestModels.tinyStatistics(), method: .mse,
                                                 scheme: QuantScheme(), exclude: ["fc2"])
        XCTAssertEqual(q.tensors["fc2.weight"]?.dtype, .f32)
        XCTAssertNil(q.graph.node(named: "fc2")?.attrs["input_quant"])
        XCTAssertEqual(layers[1].status, .excluded)
        XCTAssertThrowsError(try Quantizer.quantize(package, statistics: TestModels.tinyStatistics(), method: .mse,
                                                    scheme: QuantScheme(), exclude: ["act1"])) {
            XCTAssertEqual("\($0)", "--exclude 'act1': no linear or conv2d node has that name")
        }
        XCTAssertThrowsError(try Quantizer.quantize(package, statistics: TestModels.tinyStatistics(), method: .mse,
                                                    scheme: QuantScheme(), exclude: ["fc1", "fc2"])) {
            XCTAssertEqual("\($0)", "no linear or conv2d node is left to quantize")
        }
    }

    func testAlreadyQuantizedModelIsRefused() throws {
        let (q, _) = try Quantizer.quantize(TestModels.tinyMLP(), statistics: TestModels.tinyStatistics(),
                                            method: .minmax, scheme: QuantScheme())
        XCTAssertThrowsError(try Quantizer.quantize(q, statistics: TestModels.tinyStatistics(), method: .minmax,
                                                    scheme: QuantScheme())) {
            XCTAssertEqual("\($0)", "model is already quantized (tensor 'fc1.weight' is int8)")
        }
    }

    /// A NaN weight has no INT8 scale: the library refuses it naming the node (it used to trap in the
    /// Int8 conversion).
    func testNonFiniteWeightIsRefusedNamingTheNode() throws {
        var package = TestModels.tinyMLP()
        let name = package.graph.node(named: "fc2")!.params["weight"]!
        package.tensors[name]!.withUnsafeMutableBufferPointer(of: Float.self) { $0[3] = .nan }
        XCTAssertThrowsError(try Quantizer.quantize(package, statistics: TestModels.tinyStatistics(), method: .minmax, scheme: QuantScheme())) {
            XCTAssertEqual("\($0)", "node 'fc2': weight '\(name)' holds NaN or Inf; it has no INT8 scale")
        }
    }

    func testMissingStatisticsNameTheNode() {
        XCTAssertThrowsError(try Quantizer.quantize(TestModels.tinyMLP(), statistics: [:], method: .minmax,
                                                    scheme: QuantScheme())) {
            XCTAssertEqual("\($0)", "node 'fc1': no calibration range for its input 'x'")
        }
    }

    func testProvenanceRecordsSchemeMethodAndRanges() throws {
        let (_, layers) = try Quantizer.quantize(TestModels.tinyMLP(), statistics: TestModels.tinyStatistics(),
                                                 method: .entropy, scheme: QuantScheme(activationType: .i8))
        let step = Quantizer.provenanceStep(method: .entropy, scheme: QuantScheme(activationType: .i8), samples: 100,
                                            dataDigest: "abc", layers: layers, accuracy: (0.97, 0.96))
        XCTAssertEqual(step.options["variant"]?.stringValue, "trt-mlperf")
        XCTAssertEqual(step.options["activations"]?.stringValue, "per_tensor_symmetric_i8")
        // Written in the Float's shortest decimal form, which reads back as the very same Float.
        XCTAssertEqual(step.results["layers"]?["fc2"]?["scale"]?.doubleValue.map(Float.init), layers[1].scale)
        XCTAssertEqual(step.results["accuracy_after"]?.doubleValue, 0.96)
    }
}
