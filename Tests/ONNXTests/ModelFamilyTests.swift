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

    /// Imports `family`.onnx, runs it on its inputs at batch 2 and at batch 1 (sample by sample),
    /// and compares every output with ONNX Runtime's.
    func check(_ family: String, dims: [String: Int] = [:], file: StaticString = #filePath, line: UInt = #line) throws {
        let package = try ModelPackage.load(path: Self.fixture("\(family).onnx"), onnx: ONNXImport.Options(dims: dims))
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
}
