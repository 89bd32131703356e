import Foundation
import XCTest
import ModelFormats
import ModelGraph
import ModelRuntime
import ONNXProto
import SwiftProtobuf
import TensorCore

/// The ONNX exporter (docs/onnx.md, "Export") against ONNX Runtime 1.32's outputs on the same
/// exports, captured once by scripts/capture-onnx-export.py, and through our own importer.
final class ONNXExportTests: XCTestCase {
    static func fixture(_ name: String) -> String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/export/\(name)").path
    }

    static let reference = try! WeightReaders.read(fixture("reference.npz")).tensors
    static let digests: [String: String] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: fixture("reference.json")))
        let models = (try! JSONSerialization.jsonObject(with: data) as! [String: Any])["models"] as! [String: [String: Any]]
        return models.mapValues { $0["sha256"] as! String }
    }()

    static func package(_ name: String) throws -> ModelPackage { try ModelPackage.load(path: fixture("\(name).msa")) }
    static func input(_ name: String) -> Tensor { reference[name.hasPrefix("cnn") ? "x_img" : "x"]! }

    static func run(_ package: ModelPackage, _ x: Tensor) throws -> Tensor {
        let session = try Session(package: package, options: SessionOptions(maxBatch: x.shape[0]))
        return try XCTUnwrap(session.run([package.graph.inputs[0].name: x])[package.graph.outputs[0]])
    }

    /// The export is the file ORT ran (same bytes), and our runtime's outputs agree with ORT's.
    func checkAgainstORT(_ name: String, minCosine: Double?, minTop1: Double?) throws {
        let package = try Self.package(name)
        let bytes = try ONNXExport.serialized(package)
        XCTAssertEqual(SHA256.hex([UInt8](bytes)), Self.digests[name],
                       "\(name): the export changed; rerun scripts/capture-onnx-export.py")
        let ours = try Self.run(package, Self.input(name))
        let ort = try XCTUnwrap(Self.reference[name])
        XCTAssertEqual(ours.shape, ort.shape)
        let agreement = Agreement(ours, ort)
        if let minCosine { XCTAssertGreaterThanOrEqual(agreement.worstCosine, minCosine, name) }
        if let minTop1 { XCTAssertGreaterThanOrEqual(agreement.top1, minTop1, name) }
    }

    func testFP32MLPAgreesWithONNXRuntime() throws { try checkAgainstORT("student", minCosine: 0.9999, minTop1: nil) }
    func testFP32CNNAgreesWithONNXRuntime() throws { try checkAgainstORT("cnn", minCosine: 0.9999, minTop1: nil) }
    func testINT8MLPAgreesWithONNXRuntime() throws { try checkAgainstORT("student-int8", minCosine: nil, minTop1: 0.99) }
    func testINT8CNNAgreesWithONNXRuntime() throws { try checkAgainstORT("cnn-int8", minCosine: nil, minTop1: 0.99) }
    func testPrunedMLPAgreesWithONNXRuntime() throws { try checkAgainstORT("student-p50", minCosine: 0.9999, minTop1: nil) }

    /// Export → our importer → the same outputs; INT8 layers come back INT8 (QDQ import) with the
    /// same weights, scales and `input_quant`.
    func testRoundTripThroughTheImporter() throws {
        for name in ["student", "student-p50", "cnn", "student-int8", "cnn-int8"] {
            let package = try Self.package(name)
            let path = NSTemporaryDirectory() + "roundtrip-\(UUID().uuidString).onnx"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try ONNXExport.write(package, to: path, force: false)
            let imported = try ONNXImport.load(path: path)
            for node in package.graph.nodes where node.op.hasWeightMatrix {
                let back = try XCTUnwrap(imported.graph.node(named: node.name), "\(name): \(node.name)")
                XCTAssertEqual(back.attrs["input_quant"], node.attrs["input_quant"], "\(name): \(node.name)")
                let weight = try XCTUnwrap(package.tensors[node.params["weight"]!])
                let weightBack = try XCTUnwrap(imported.tensors[back.params["weight"]!])
                XCTAssertEqual(weightBack.quant, weight.quant, "\(name): \(node.name)")
                XCTAssertTrue(weightBack.bitwiseEqual(weight), "\(name): \(node.name)")
            }
            let x = Self.input(name)
            let before = try Self.run(package, x).floats, after = try Self.run(imported, x).floats
            let worst = zip(before, after).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(worst, 1e-5, name)
        }
    }

    /// Pruned weights are their dense zeros; INT8 weights are int8 initializers with one scale per
    /// output channel on axis 0 (Gemm's B with transB = 1, Conv's W), activations through Q/DQ,
    /// biases int32 at `s_x·s_w`; the provenance is in `metadata_props`.
    func testWhatTheFileHolds() throws {
        let pruned = try Self.package("student-p50")
        let prunedModel = try Onnx_ModelProto(serializedBytes: ONNXExport.serialized(pruned))
        for (name, mask) in pruned.masks {
            let initializer = try XCTUnwrap(prunedModel.graph.initializer.first { $0.name == name }, name)
            let values = try initializer.rawData.withUnsafeBytes { try Tensor(dtype: .f32, shape: pruned.tensors[name]!.shape, bytes: $0) }.floats
            let kept = mask.floats
            XCTAssertEqual(values.count, kept.count)
            XCTAssertTrue(zip(values, kept).allSatisfy { $1 != 0 || $0 == 0 }, "\(name): a pruned weight is not zero")
            XCTAssertGreaterThan(kept.filter { $0 == 0 }.count, kept.count / 3, name)
        }

        let quantized = try Self.package("cnn-int8")
        let model = try Onnx_ModelProto(serializedBytes: ONNXExport.serialized(quantized))
        XCTAssertEqual(model.opsetImport.first?.version, Int64(ONNXExport.opset))
        let graph = model.graph
        let byName = Dictionary(graph.initializer.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for op in ["Conv", "Gemm"] {
            for node in graph.node where node.opType == op {
                // Every input of an INT8 layer is dequantized: activation, weight and bias.
                let producers = node.input.map { input in graph.node.first { $0.output.contains(input) } }
                XCTAssertTrue(producers.allSatisfy { $0?.opType == "DequantizeLinear" }, "\(node.name) reads a value that is not dequantized")
                let weightDQ = producers[1]!
                XCTAssertEqual(weightDQ.attribute.first { $0.name == "axis" }?.i, 0)
                let w = try XCTUnwrap(byName[weightDQ.input[0]])
                XCTAssertEqual(w.dataType, Int32(Onnx_TensorProto.DataType.int8.rawValue))
                XCTAssertEqual(byName[weightDQ.input[1]]?.dims, [w.dims[0]], "one scale per output channel")
                let biasDQ = producers[2]!
                XCTAssertEqual(byName[biasDQ.input[0]]?.dataType, Int32(Onnx_TensorProto.DataType.int32.rawValue))
                let activation = try XCTUnwrap(graph.node.first { $0.output.contains(producers[0]!.input[0]) })
                XCTAssertEqual(activation.opType, "QuantizeLinear")
            }
        }
        let metadata = Dictionary(model.metadataProps.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let provenance = try XCTUnwrap(metadata["modelsmith.provenance"])
        XCTAssertTrue(provenance.contains("\"step\":\"quantize\""), provenance)
        XCTAssertTrue(provenance.contains("\"format\":\"onnx\""), provenance)
    }

    /// An op with no ONNX equivalent: one error naming the node and the op; nothing written.
    func testAnOpWithoutAnEquivalentIsRefusedAndNothingIsWritten() throws {
        var package = try Self.package("student")
        let index = try XCTUnwrap(package.graph.nodes.firstIndex { $0.op == .relu })
        package.graph.nodes[index].op = .gelu
        package.graph.nodes[index].attrs = ["approximate": .string("tanh")]
        let name = package.graph.nodes[index].name
        let path = NSTemporaryDirectory() + "refused-\(UUID().uuidString).onnx"
        XCTAssertThrowsError(try ONNXExport.write(package, to: path, force: false)) { error in
            XCTAssertEqual("\(error)", "\(package.source): node '\(name)': op 'gelu (approximate 'tanh')' has no ONNX equivalent at opset \(ONNXExport.opset)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}

extension ONNXExportTests {
    /// A QDQ file the importer cannot take: one error naming the node and the reason.
    func testMalformedQDQIsRefusedNamingTheNode() throws {
        let exported = try Onnx_ModelProto(serializedBytes: ONNXExport.serialized(Self.package("student-int8")))
        func refusal(_ edit: (inout Onnx_GraphProto) -> Void) -> String {
            var model = exported
            edit(&model.graph)
            do {
                _ = try ONNXImport.load(data: try model.serializedData())
                return "imported"
            } catch { return "\(error)" }
        }
        // A weight scale of 0 cannot dequantize.
        let zeroScale = refusal { graph in
            let i = graph.initializer.firstIndex { $0.name == "fc1.weight_scale" }!
            graph.initializer[i].rawData = Data(count: graph.initializer[i].rawData.count)
        }
        XCTAssertTrue(zeroScale.hasPrefix("malformed ONNX: node 'fc1.weight_DequantizeLinear': DequantizeLinear parameters do not fit 'fc1.weight_quantized': scale 0.0"), zeroScale)
        // Integer codes read by something other than their DequantizeLinear.
        let codesRead = refusal { graph in
            let i = graph.node.firstIndex { $0.opType == "Gemm" }!
            graph.node[i].input[0] = "x_quantized"
        }
        XCTAssertTrue(codesRead.contains("input 'x_quantized' holds a QuantizeLinear's integer codes"), codesRead)
    }
}

/// Per-sample cosine and top-1 agreement of two `[N, classes]` outputs.
struct Agreement {
    var worstCosine = 1.0
    var top1 = 0.0

    init(_ a: Tensor, _ b: Tensor) {
        let classes = a.shape[1], rows = a.shape[0]
        let x = a.floats, y = b.floats
        var agree = 0
        for r in 0..<rows {
            let u = x[(r * classes)..<((r + 1) * classes)].map(Double.init), v = y[(r * classes)..<((r + 1) * classes)].map(Double.init)
            let dot = zip(u, v).map(*).reduce(0, +)
            let norms = (u.map { $0 * $0 }.reduce(0, +) * v.map { $0 * $0 }.reduce(0, +)).squareRoot()
            worstCosine = min(worstCosine, norms > 0 ? dot / norms : 1)
            if u.indices.max(by: { u[$0] < u[$1] }) == v.indices.max(by: { v[$0] < v[$1] }) { agree += 1 }
        }
        top1 = Double(agree) / Double(rows)
    }
}
