import Foundation
import ModelFormats
import TensorCore
import XCTest

/// `convert` end to end: round trips are bit-exact, outputs are never overwritten without
/// `--force`, and bad input leaves no file behind.
final class ConvertCommandTests: XCTestCase {
    /// Asserts two files hold the same tensors, names in the same order, bit for bit.
    private func assertSameTensors(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let left = try WeightReaders.read(a).tensors, right = try WeightReaders.read(b).tensors
        XCTAssertEqual(left.names, right.names, file: file, line: line)
        for (name, tensor) in left {
            let other = try XCTUnwrap(right[name], file: file, line: line)
            XCTAssertTrue(tensor.bitwiseEqual(other), "\(name) differs", file: file, line: line)
        }
    }

    private func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

    func testNpzToArtifactIsBitExact() throws {
        let dir = try makeTemporaryDirectory()
        let msa = dir.appendingPathComponent("student.msa")
        let run = runModelSmith(["convert", fixture("student.npz"), "--graph", fixture("student.json"), "-o", msa.path, "--level", "9"])
        XCTAssertEqual(run.status, 0, run.stderr)
        try assertSameTensors(fixture("student.npz"), msa.path)
        let graph = try XCTUnwrap(WeightReaders.read(msa.path).graphJSON)
        let nodes = try XCTUnwrap((JSONSerialization.jsonObject(with: graph) as? [String: Any])?["nodes"] as? [Any])
        XCTAssertEqual(nodes.count, 3)
    }

    func testArtifactNeedsAGraph() throws {
        let dir = try makeTemporaryDirectory()
        let msa = dir.appendingPathComponent("w.msa")
        let run = runModelSmith(["convert", fixture("student.npz"), "-o", msa.path])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.stderr, "modelsmith: error: \(fixture("student.npz")): no model.json inside; pass the graph with --graph model.json\n")
        XCTAssertFalse(exists(msa))
    }

    func testRefusesToOverwriteWithoutForce() throws {
        let dir = try makeTemporaryDirectory()
        let target = dir.appendingPathComponent("out.msa")
        try Data("keep me".utf8).write(to: target)
        let args = ["convert", fixture("student.npz"), "--graph", fixture("student.json"), "-o", target.path]
        let refused = runModelSmith(args)
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(refused.stderr, "modelsmith: error: \(target.path): already exists; pass --force to overwrite\n")
        XCTAssertEqual(try Data(contentsOf: target), Data("keep me".utf8))

        let forced = runModelSmith(args + ["--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        try assertSameTensors(fixture("student.npz"), target.path)
    }

    /// `convert … -o X.onnx`: written from model.json + weights (and from an .onnx source, whose
    /// export imports back), never over an existing file without `--force`; an op with no ONNX
    /// equivalent is one line naming node and op, exit 2, no file.
    func testONNXExport() throws {
        let dir = try makeTemporaryDirectory()
        let onnx = dir.appendingPathComponent("student.onnx")
        let args = ["convert", fixture("student.npz"), "--graph", fixture("student.json"), "-o", onnx.path]
        let run = runModelSmith(args)
        XCTAssertEqual(run.status, 0, run.stderr)
        let again = dir.appendingPathComponent("again.onnx")
        let fromONNX = runModelSmith(["convert", onnx.path, "-o", again.path])
        XCTAssertEqual(fromONNX.status, 0, fromONNX.stderr)
        XCTAssertEqual(runModelSmith(["inspect", again.path]).status, 0)

        let written = try Data(contentsOf: onnx)
        let refused = runModelSmith(args)
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(refused.stderr, "modelsmith: error: \(onnx.path): already exists; pass --force to overwrite\n")
        XCTAssertEqual(try Data(contentsOf: onnx), written)
        XCTAssertEqual(runModelSmith(args + ["--force"]).status, 0)

        let graph = try String(contentsOfFile: fixture("student.json"), encoding: .utf8)
            .replacingOccurrences(of: "\"op\": \"relu\"", with: "\"op\": \"gelu\", \"attrs\": {\"approximate\": \"tanh\"}")
        XCTAssertTrue(graph.contains("gelu"))
        let gelu = dir.appendingPathComponent("gelu.json")
        try graph.write(to: gelu, atomically: true, encoding: .utf8)
        let target = dir.appendingPathComponent("gelu.onnx")
        let bad = runModelSmith(["convert", fixture("student.npz"), "--graph", gelu.path, "-o", target.path])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.hasSuffix("op 'gelu (approximate 'tanh')' has no ONNX equivalent at opset 17\n"), bad.stderr)
        XCTAssertEqual(bad.stderr.filter { $0 == "\n" }.count, 1)
        XCTAssertFalse(exists(target))
    }

    func testBadInputIsOneLineAndLeavesNoFile() throws {
        let dir = try makeTemporaryDirectory()
        let cases: [[String]] = [
            [fixture("garbage.npz")],
            [fixture("student.npz"), "--graph", fixture("broken.json")],
            [dir.appendingPathComponent("missing.npz").path],
        ]
        for input in cases {
            let target = dir.appendingPathComponent("out.msa")
            let run = runModelSmith(["convert"] + input + ["-o", target.path])
            XCTAssertEqual(run.status, 2, "\(input)")
            XCTAssertTrue(run.stderr.hasPrefix("modelsmith: error: "), run.stderr)
            XCTAssertEqual(run.stderr.filter { $0 == "\n" }.count, 1, run.stderr)
            XCTAssertFalse(exists(target), "\(input)")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            XCTAssertEqual(leftovers, [], "no temporary file is left")
        }
    }

    func testStripPrefix() throws {
        let dir = try makeTemporaryDirectory()
        let msa = dir.appendingPathComponent("stripped.msa")
        let run = runModelSmith(["convert", fixture("prefixed.npz"), "--strip-prefix", "module.", "--graph", fixture("student.json"),
                                 "-o", msa.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        try assertSameTensors(fixture("student.npz"), msa.path)
    }

    func testUnknownOutputExtensionIsBadUsage() throws {
        let dir = try makeTemporaryDirectory()
        let run = runModelSmith(["convert", fixture("student.npz"), "-o", dir.appendingPathComponent("w.pkl").path])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("its extension must be one of .onnx, .tar.zst, .tar.gz, .safetensors, .msa, .npz, .tar, .zip"), run.stderr)
    }

    func testNpzToArtifactToNpzIsBitExact() throws {
        let dir = try makeTemporaryDirectory()
        let msa = dir.appendingPathComponent("student.msa").path, npz = dir.appendingPathComponent("back.npz").path
        XCTAssertEqual(runModelSmith(["convert", fixture("student.npz"), "--graph", fixture("student.json"), "-o", msa]).status, 0)
        let run = runModelSmith(["convert", msa, "-o", npz])
        XCTAssertEqual(run.status, 0, run.stderr)
        try assertSameTensors(fixture("student.npz"), npz)
    }

    func testExportsByExtension() throws {
        let dir = try makeTemporaryDirectory()
        let msa = dir.appendingPathComponent("student.msa").path
        XCTAssertEqual(runModelSmith(["convert", fixture("student.npz"), "--graph", fixture("student.json"), "-o", msa]).status, 0)
        for name in ["back.safetensors", "back.tar", "back.tar.zst", "back.zip"] {
            let path = dir.appendingPathComponent(name).path
            let run = runModelSmith(["convert", msa, "-o", path])
            XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)")
            try assertSameTensors(fixture("student.npz"), path)
        }
        // Package archives carry the graph: inspect needs no --graph.
        let inspected = runModelSmith(["inspect", dir.appendingPathComponent("back.tar.zst").path, "--json"])
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        XCTAssertTrue(inspected.stdout.contains("\"op\" : \"linear\""), inspected.stdout)
    }

    func testWeightsAloneExportWithoutAGraph() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("w.safetensors").path
        let run = runModelSmith(["convert", fixture("student.npz"), "-o", path, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        try assertSameTensors(fixture("student.npz"), path)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["format"] as? String, "safetensors")
        XCTAssertEqual(json["tensors"] as? Int, 5)
    }
}
