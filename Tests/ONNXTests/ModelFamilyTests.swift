import XCTest
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore

/// The model families of docs/onnx.md, each a small `torch.onnx.export` of a torchvision (or plain
/// PyTorch) model with random weights, against ONNX Runtime's outputs for the same file
/// (generated once by scripts/gen-onnx-fixtures.py).
final class ModelFamilyTests: XCTestCase {
    /// Largest allowed `max |ours − ORT| / max |ORT|` per output.
    static let relativeTolerance = 1e-4

    static func fixture(_ name: String) -> String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)").path
    }

    /// Imports `family`.onnx (with `reexported`, then exports it and imports that export: docs/onnx.md,
    /// "Export"), runs it on its inputs at batch 2 and compares every output with ONNX Runtime's.
    func check(_ family: String, dims: [String: Int] = [:], reexported: Bool = false,
               file: StaticString = #filePath, line: UInt = #line) throws {
        var package = try ModelPackage.load(path: Self.fixture("\(family).onnx"), onnx: ONNXImport.Options(dims: dims))
        if reexported {
            let path = NSTemporaryDirectory() + "\(family)-\(UUID().uuidString).onnx"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try ONNXExport.write(package, to: path, force: false)
            package = try ModelPackage.load(path: path, onnx: ONNXImport.Options(dims: dims))
        }
        let inputs = try WeightReaders.read(Self.fixture("\(family)-inputs.npz")).tensors
        let expected = try WeightReaders.read(Self.fixture("\(family)-expected.npz")).tensors
        XCTAssertEqual(Set(package.graph.inputs.map(\.name)), Set(inputs.names), file: file, line: line)
        XCTAssertEqual(package.graph.outputs, expected.names, file: file, line: line)
        let session = try Session(package: package, options: SessionOptions(maxBatch: 2))
        var feeds: [String: Tensor] = [:]
        for (name, tensor) in inputs { feeds[name] = tensor }
        let outputs = try session.run(feeds)
        for (name, reference) in expected {
            let actual = try XCTUnwrap(outputs[name], "\(family): no output '\(name)'", file: file, line: line)
            XCTAssertEqual(actual.shape, reference.shape, "\(family) output '\(name)'", file: file, line: line)
            let error = Self.relativeError(actual.floats, reference.floats)
            XCTAssertLessThanOrEqual(error, Self.relativeTolerance, "\(family) output '\(name)'", file: file, line: line)
        }
    }

    static func relativeError(_ actual: [Float], _ expected: [Float]) -> Double {
        guard actual.count == expected.count else { return .infinity }
        let scale = expected.map { Double(abs($0)) }.max() ?? 0
        let worst = zip(actual, expected).map { Double(abs($0 - $1)) }.max() ?? 0
        return scale > 0 ? worst / scale : worst
    }

    func testResNet18Style() throws { try check("resnet18") }
    func testMobileNetV2Style() throws { try check("mobilenet_v2") }
    func testMobileNetV3Style() throws { try check("mobilenet_v3") }
    func testEfficientNetStyle() throws { try check("efficientnet") }
    func testBERTStyleEncoder() throws { try check("bert", dims: ["sequence": 8]) }
    func testGPT2StyleBlock() throws { try check("gpt2", dims: ["sequence": 8]) }
    func testViTStyleEncoder() throws { try check("vit") }

    /// Every family exported to ONNX and imported again still matches ONNX Runtime's outputs.
    func testEveryFamilySurvivesExportAndImport() throws {
        for family in ["resnet18", "mobilenet_v2", "mobilenet_v3", "efficientnet", "vit"] { try check(family, reexported: true) }
        for family in ["bert", "gpt2"] { try check(family, dims: ["sequence": 8], reexported: true) }
    }
    /// Conv1d, GroupNorm's export pattern (InstanceNormalization), Resize, Tile, TopK's two outputs.
    func testConv1dDecoder() throws { try check("conv1d_decoder") }
}
