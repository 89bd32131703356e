import Foundation
import ModelFormats
import ModelGraph
import TensorCore
import XCTest

final class ModelPackageTests: XCTestCase {
    private let graphJSON = Data("""
    {"modelsmith": 1, "inputs": [{"name": "x", "shape": [-1, 4]}], "outputs": ["y"],
     "nodes": [{"name": "fc", "op": "linear", "inputs": ["x"], "output": "y", "params": {"weight": "fc.weight"}}]}
    """.utf8)

    private func temporaryFile(_ data: Data) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("graph-\(UUID().uuidString).json")
        try data.write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func testGraphInsideThePackage() throws {
        let contents = PackageContents(graphJSON: graphJSON, tensors: tensors([("fc.weight", [3, 4])]), source: "m.tar")
        let package = try ModelPackage(contents: contents)
        XCTAssertEqual(try package.inferShapes(batch: 2)["y"], [2, 3])
    }

    func testMissingGraph() {
        let contents = PackageContents(tensors: tensors([("fc.weight", [3, 4])]), source: "w.npz")
        assertThrowsMessage("w.npz: no model.json inside; pass the graph with --graph model.json") {
            _ = try ModelPackage(contents: contents)
        }
    }

    func testGraphFileOverridesAndErrorsNameIt() throws {
        let path = try temporaryFile(graphJSON)
        let inside = Data(#"{"inputs": [], "outputs": [], "nodes": []}"#.utf8)
        let contents = PackageContents(graphJSON: inside, tensors: tensors([("fc.weight", [3, 5])]), source: "w.npz")
        assertThrowsMessage("\(path): node 'fc': param 'weight' (fc.weight) has shape [3, 5], expected [out_features, 4]") {
            _ = try ModelPackage(contents: contents, graphPath: path)
        }
        assertThrowsMessage("/nonexistent/g.json: no such file or directory") {
            _ = try ModelPackage(contents: contents, graphPath: "/nonexistent/g.json")
        }
    }

    /// A `--graph` file is read up to the header cap and no further: a larger file, or one that
    /// never ends (`/dev/zero`), is refused after cap + 1 bytes.
    func testGraphFilePastTheHeaderCapIsRefused() throws {
        let path = try temporaryFile(graphJSON)
        let contents = PackageContents(tensors: tensors([("fc.weight", [3, 4])]), source: "w.npz")
        var limits = ReadLimits.default
        limits.maxHeaderBytes = graphJSON.count
        XCTAssertNoThrow(try ModelPackage(contents: contents, graphPath: path, limits: limits))
        limits.maxHeaderBytes = graphJSON.count - 1
        assertThrowsMessage("\(path): exceeds the graph cap of \(graphJSON.count - 1) bytes (--limit header-bytes)") {
            _ = try ModelPackage(contents: contents, graphPath: path, limits: limits)
        }
        limits.maxHeaderBytes = 1 << 20
        assertThrowsMessage("/dev/zero: exceeds the graph cap of 1048576 bytes (--limit header-bytes)") {
            _ = try ModelPackage(contents: contents, graphPath: "/dev/zero", limits: limits)
        }
    }

    func testMasksMustMatchTheirTensors() {
        var contents = PackageContents(graphJSON: graphJSON, tensors: tensors([("fc.weight", [3, 4])]), source: "m.msa")
        contents.masks["fc.weight"] = Tensor(zeros: .bool, [4, 3])
        assertThrowsMessage("m.msa: mask of tensor 'fc.weight': has shape [4, 3], the tensor has [3, 4]") {
            _ = try ModelPackage(contents: contents)
        }
    }

    func testWeightsOnlyContentsNeedNoGraph() throws {
        let contents = PackageContents(tensors: tensors([("fc.weight", [3, 4])]), source: "w.npz")
        XCTAssertNil(try ModelPackage.validatedContents(contents, graphPath: nil).graphJSON)
    }

    func testStripPrefix() throws {
        let contents = PackageContents(tensors: tensors([("module.fc.weight", [3, 4]), ("other", [1])]), source: "w.npz")
        let stripped = try contents.strippingPrefix("module.")
        XCTAssertEqual(stripped.tensors.names, ["fc.weight", "other"])
        let clash = PackageContents(tensors: tensors([("module.a", [1]), ("a", [1])]), source: "w.npz")
        assertThrowsMessage("w.npz: tensor 'a' appears twice") { _ = try clash.strippingPrefix("module.") }
    }
}
