import Foundation
import XCTest
import ModelFormats
import ModelGraph
import ModelRuntime
import ONNXProto
import SwiftProtobuf
import TensorCore

/// The importer on hand-built models: translation details, external data, and every malformed
/// case of docs/onnx.md ("Bad input") refused with one line naming the cause.
final class ONNXImportTests: XCTestCase {
    // MARK: building models

    static func valueInfo(_ name: String, _ dims: [Any]) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var type = Onnx_TypeProto.Tensor()
        type.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        type.shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let size = d as? Int { dim.dimValue = Int64(size) } else { dim.dimParam = d as! String }
            return dim
        }
        info.type.tensorType = type
        return info
    }

    static func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String = "", attributes: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
        var node = Onnx_NodeProto()
        node.opType = op
        node.input = inputs
        node.output = outputs
        node.name = name
        node.attribute = attributes
        return node
    }

    static func floats(_ name: String, _ dims: [Int64], _ values: [Float]) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = dims
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.rawData = values.withUnsafeBytes { Data($0) }
        return tensor
    }

    /// `y = relu(x · Wᵀ + b)` for x `[batch, 3]` (a Gemm with transB = 1).
    static func gemmModel(opset: Int64 = 17) -> Onnx_ModelProto {
        var model = Onnx_ModelProto()
        model.irVersion = 8
        model.producerName = "tests"
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.version = opset
        model.opsetImport = [opsetID]
        var transB = Onnx_AttributeProto()
        transB.name = "transB"
        transB.type = .int
        transB.i = 1
        model.graph.name = "gemm"
        model.graph.input = [valueInfo("x", ["batch", 3])]
        model.graph.output = [valueInfo("y", ["batch", 2])]
        model.graph.initializer = [floats("fc.weight", [2, 3], [1, 2, 3, -1, 0.5, 2]), floats("fc.bias", [2], [0.5, -1])]
        model.graph.node = [node("Gemm", ["x", "fc.weight", "fc.bias"], ["h"], name: "/fc/Gemm", attributes: [transB]),
                            node("Relu", ["h"], ["y"], name: "/relu/Relu")]
        return model
    }

    func load(_ model: Onnx_ModelProto) throws -> ModelPackage {
        let bytes: Data = try model.serializedBytes()
        return try ONNXImport.load(data: bytes)
    }

    /// The error's one-line message for loading `model`.
    func message(_ model: Onnx_ModelProto, file: StaticString = #filePath, line: UInt = #line) -> String {
        message { try self.load(model) }
    }

    func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            XCTFail("expected an error")
            return ""
        } catch {
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), "one line: \(text)")
            return text
        }
    }

    // MARK: translation

    func testGemmReluImportsAndRuns() throws {
        let package = try load(Self.gemmModel())
        XCTAssertEqual(package.graph.inputs, [ValueInfo(name: "x", shape: [-1, 3])])
        XCTAssertEqual(package.graph.nodes.map(\.op), [.linear, .relu])
        XCTAssertEqual(package.graph.nodes[0].params, ["weight": "fc.weight", "bias": "fc.bias"], "initializer names kept")
        let session = try Session(package: package, options: SessionOptions(maxBatch: 2))
        let y = try session.run(["x": Tensor([1, 1, 1, 2, 0, -4], shape: [2, 3])])["y"]!
        // Row 1: [6 + 0.5, 1.5 − 1] = [6.5, 0.5]; row 2: [2 − 12 + 0.5, −2 − 8 − 1] → relu → [0, 0].
        XCTAssertEqual(y.floats, [6.5, 0.5, 0, 0])
    }

    func testShapeSubgraphFoldsIntoReshape() throws {
        // Shape(x) → Gather(0) → Unsqueeze → Concat([-1]) → Reshape: x.view(x.size(0), -1).
        var model = Self.gemmModel()
        var zero = Onnx_TensorProto(), minusOne = Onnx_TensorProto(), axes = Onnx_TensorProto()
        zero.name = "zero"; zero.dataType = 7; zero.int64Data = [0]
        minusOne.name = "minus_one"; minusOne.dataType = 7; minusOne.dims = [1]; minusOne.int64Data = [-1]
        axes.name = "axes"; axes.dataType = 7; axes.dims = [1]; axes.int64Data = [0]
        var concatAxis = Onnx_AttributeProto()
        concatAxis.name = "axis"; concatAxis.type = .int; concatAxis.i = 0
        model.graph.initializer += [zero, minusOne, axes]
        model.graph.input = [Self.valueInfo("x", ["batch", 1, 3])]
        model.graph.node = [
            Self.node("Shape", ["x"], ["s"]), Self.node("Gather", ["s", "zero"], ["n"]),
            Self.node("Unsqueeze", ["n", "axes"], ["n1"]), Self.node("Concat", ["n1", "minus_one"], ["target"], attributes: [concatAxis]),
            Self.node("Reshape", ["x", "target"], ["flat"], name: "/Reshape"),
        ] + model.graph.node.map { node in
            var node = node
            node.input = node.input.map { $0 == "x" ? "flat" : $0 }
            return node
        }
        let package = try load(model)
        XCTAssertEqual(package.graph.nodes.map(\.op), [.reshape, .linear, .relu], "the shape subgraph is gone")
        XCTAssertEqual(package.graph.nodes[0].attrs["shape"], .array([.number(0), .number(-1)]))
        XCTAssertFalse(package.tensors.contains("minus_one"), "folded constants are not package tensors")
    }

    func testSymbolicDimBeyondTheBatchNeedsASize() throws {
        var model = Self.gemmModel()
        model.graph.input = [Self.valueInfo("x", ["batch", "features"])]
        XCTAssertTrue(message(model).contains("give its size with --dim features=N"), message(model))
        let bytes: Data = try model.serializedBytes()
        let package = try ONNXImport.load(data: bytes, options: ONNXImport.Options(dims: ["features": 3]))
        XCTAssertEqual(package.graph.inputs[0].shape, [-1, 3])
    }

    func testUnsupportedOpNamesNodeOpAndOpset() throws {
        var model = Self.gemmModel()
        model.graph.node.append(Self.node("NonMaxSuppression", ["y"], ["z"], name: "/layer1/Foo"))
        XCTAssertEqual(message(model), "node '/layer1/Foo': op 'NonMaxSuppression' (opset 17) is not supported")
    }

    func testUnknownAttributeIsRefused() throws {
        var model = Self.gemmModel()
        var extra = Onnx_AttributeProto()
        extra.name = "mystery"; extra.type = .int; extra.i = 1
        model.graph.node[1].attribute = [extra]
        XCTAssertEqual(message(model), "unsupported ONNX: node '/relu/Relu': attribute 'mystery' of Relu is not supported")
    }

    func testAutoPadOnAnInputThatIsNotRank4IsRefused() throws {
        // Found by fuzz-onnx: SAME_UPPER padding read the spatial dims of a rank-3 input.
        var model = Self.gemmModel()
        var autoPad = Onnx_AttributeProto(), kernel = Onnx_AttributeProto()
        autoPad.name = "auto_pad"; autoPad.type = .string; autoPad.s = Data("SAME_UPPER".utf8)
        kernel.name = "kernel_shape"; kernel.type = .ints; kernel.ints = [2, 2]
        model.graph.input = [Self.valueInfo("x", ["batch", 3, 32])]
        model.graph.node = [Self.node("AveragePool", ["x"], ["y"], name: "pool", attributes: [autoPad, kernel])]
        XCTAssertEqual(message(model), "unsupported ONNX: node 'pool': AveragePool with auto_pad on a rank-3 input (expected [N, C, H, W])")
        kernel.ints = [0, 2]
        model.graph.node[0].attribute = [autoPad, kernel]
        XCTAssertTrue(message(model).contains("kernel [0, 2]: expected two values in 1…65536"), message(model))
    }

    // MARK: malformed protobuf

    func testTruncatedVarint() {
        // Field 1 (ir_version, varint) whose last byte still has the continuation bit.
        let text = message { try ONNXImport.load(data: Data([0x08, 0xFF, 0xFF])) }
        XCTAssertTrue(text.hasPrefix("malformed ONNX: the protobuf is"), text)
    }

    func testLengthPastTheEnd() {
        // Field 7 (graph, length-delimited) claiming 16 bytes with one present.
        XCTAssertTrue(message { try ONNXImport.load(data: Data([0x3A, 0x10, 0x01])) }.contains("truncated"))
    }

    func testNestedSubgraphsPastTheDepthBound() throws {
        var graph = Onnx_GraphProto()
        for _ in 0..<(ONNXImport.maxMessageDepth / 3 + 2) {
            var attribute = Onnx_AttributeProto()
            attribute.name = "body"; attribute.type = .graph; attribute.g = graph
            var outer = Onnx_GraphProto()
            outer.node = [Self.node("If", ["c"], ["o"], attributes: [attribute])]
            graph = outer
        }
        var model = Self.gemmModel()
        model.graph = graph
        XCTAssertTrue(message(model).contains("nested deeper than \(ONNXImport.maxMessageDepth)"), message(model))
    }

    func testInitializerBytesDisagreeWithDims() {
        var model = Self.gemmModel()
        model.graph.initializer[1].rawData = Data([1, 2, 3])
        XCTAssertEqual(message(model), "malformed ONNX: initializer 'fc.bias' has 3 bytes of raw_data; dims [2] of f32 need 8")
        model.graph.initializer[1].rawData = Data()
        model.graph.initializer[1].floatData = [1, 2, 3]
        XCTAssertEqual(message(model), "malformed ONNX: initializer 'fc.bias' has 3 values in float_data; dims [2] need 2")
    }

    func testDimsThatOverflow() {
        var model = Self.gemmModel()
        model.graph.initializer[1].dims = [Int64.max, 4]
        XCTAssertTrue(message(model).contains("overflow"), message(model))
        model.graph.initializer[1].dims = [-2]
        XCTAssertTrue(message(model).contains("negative dimension"), message(model))
    }

    func testDuplicateNames() {
        var model = Self.gemmModel()
        model.graph.initializer.append(Self.floats("fc.bias", [2], [0, 0]))
        XCTAssertEqual(message(model), "malformed ONNX: value 'fc.bias' is defined twice (an initializer)")
        model = Self.gemmModel()
        model.graph.node[1].output = ["h"]
        XCTAssertEqual(message(model), "malformed ONNX: value 'h' is defined twice (an output of node '/relu/Relu')")
        model = Self.gemmModel()
        model.graph.node[1].name = "/fc/Gemm"
        XCTAssertEqual(message(model), "node '/fc/Gemm' is defined twice")
    }

    func testCycle() {
        var model = Self.gemmModel()
        model.graph.node = [Self.node("Relu", ["b"], ["a"], name: "A"), Self.node("Relu", ["a"], ["b"], name: "B"),
                            Self.node("Relu", ["b"], ["y"], name: "C")]
        XCTAssertEqual(message(model), "node 'A' is part of a cycle")
    }

    func testUndefinedValue() {
        var model = Self.gemmModel()
        model.graph.node[1].input = ["nowhere"]
        XCTAssertEqual(message(model), "node '/relu/Relu': input 'nowhere' is neither a graph input nor any node's output")
    }

    // MARK: external data

    /// A model in a fresh folder whose bias lives in `location` at `offset`.
    func externalModel(location: String, offset: Int = 0, length: Int? = 8) throws -> (folder: URL, model: URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-external-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        var model = Self.gemmModel()
        var bias = model.graph.initializer[1]
        bias.rawData = Data()
        bias.dataLocation = .external
        var entries = [("location", location), ("offset", String(offset))]
        if let length { entries.append(("length", String(length))) }
        bias.externalData = entries.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key; entry.value = value
            return entry
        }
        model.graph.initializer[1] = bias
        let url = folder.appendingPathComponent("model.onnx")
        let bytes: Data = try model.serializedBytes()
        try bytes.write(to: url)
        return (folder, url)
    }

    func testExternalDataResolvesNextToTheModel() throws {
        let (folder, url) = try externalModel(location: "weights/data.bin", offset: 4)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("weights"), withIntermediateDirectories: true)
        try (Data([9, 9, 9, 9]) + [Float(0.5), -1].withUnsafeBytes { Data($0) }).write(to: folder.appendingPathComponent("weights/data.bin"))
        let package = try ModelPackage.load(path: url.path)
        XCTAssertEqual(package.tensors["fc.bias"]?.floats, [0.5, -1])
    }

    func testExternalDataThatEscapesIsRefused() throws {
        for location in ["/etc/passwd", "../outside.bin", "a/../../outside.bin"] {
            let (_, url) = try externalModel(location: location)
            let text = message { try ModelPackage.load(path: url.path) }
            XCTAssertTrue(text.contains("escapes the model's folder; refused"), text)
            XCTAssertTrue(text.hasPrefix(url.path), text)
        }
        let (folder, url) = try externalModel(location: "link.bin")
        let outside = folder.deletingLastPathComponent().appendingPathComponent("outside-\(UUID().uuidString).bin")
        try Data(count: 8).write(to: outside)
        addTeardownBlock { try? FileManager.default.removeItem(at: outside) }
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("link.bin"), withDestinationURL: outside)
        let text = message { try ModelPackage.load(path: url.path) }
        XCTAssertTrue(text.contains("resolves outside the model's folder; refused"), text)
    }

    func testExternalDataPastTheEndIsRefused() throws {
        let (folder, url) = try externalModel(location: "data.bin", offset: 4)
        try Data(count: 10).write(to: folder.appendingPathComponent("data.bin"))
        let text = message { try ModelPackage.load(path: url.path) }
        XCTAssertTrue(text.contains("bytes 4..<12 are past its end (10 bytes)"), text)
        let (_, wrongLength) = try externalModel(location: "data.bin", length: 12)
        XCTAssertTrue(message { try ModelPackage.load(path: wrongLength.path) }.contains("length 12 disagrees with its dims (8 bytes)"))
    }

    func testTensorFilesOfTheTestData() throws {
        let path = "\(ConformanceTests.root)/test_relu/test_data_set_0/input_0.pb"
        let (name, tensor) = try ONNXImport.readTensor(path: path)
        XCTAssertEqual(name, "x")
        XCTAssertEqual(tensor.shape, [3, 4, 5])
        XCTAssertEqual(tensor.dtype, .f32)
    }
}
