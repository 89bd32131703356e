import Foundation
import XCTest

/// `inspect` end to end on a fixture package, against numbers NumPy computed
/// (`Fixtures/expected_inspect.json`, see `Fixtures/make_fixtures.py`).
final class InspectCommandTests: XCTestCase {
    private struct Expected: Decodable {
        struct Totals: Decodable { var parameters: Int; var bytes_in_memory: Int; var bytes_on_disk: Int; var compression_ratio: Double; var weight_sparsity: Double }
        struct NodeNumbers: Decodable { var parameters: Int; var bytes: Int; var sparsity: Double }
        var totals: Totals
        var nodes: [String: NodeNumbers]
        var unused_tensors: [String]
    }

    private func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: fixture("expected_inspect.json"))))
    }

    private func object(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func testJSONTotalsAndNodes() throws {
        let run = runModelSmith(["inspect", fixture("student.npz"), "--graph", fixture("student.json"), "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try object(run.stdout)
        let want = try expected()

        let totals = try XCTUnwrap(json["totals"] as? [String: Any])
        XCTAssertEqual(totals["parameters"] as? Int, want.totals.parameters)
        XCTAssertEqual(totals["bytes_in_memory"] as? Int, want.totals.bytes_in_memory)
        XCTAssertEqual(totals["bytes_on_disk"] as? Int, want.totals.bytes_on_disk)
        XCTAssertEqual(try XCTUnwrap(totals["compression_ratio"] as? Double), want.totals.compression_ratio, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(totals["weight_sparsity"] as? Double), want.totals.weight_sparsity, accuracy: 1e-12)

        let nodes = try XCTUnwrap(json["nodes"] as? [[String: Any]])
        XCTAssertEqual(nodes.map { $0["name"] as? String }, ["fc1", "relu1", "fc2"])
        for node in nodes {
            let name = try XCTUnwrap(node["name"] as? String)
            guard let numbers = want.nodes[name] else { continue }
            XCTAssertEqual(node["parameters"] as? Int, numbers.parameters, name)
            XCTAssertEqual(node["bytes"] as? Int, numbers.bytes, name)
            XCTAssertEqual(try XCTUnwrap(node["sparsity"] as? Double), numbers.sparsity, accuracy: 1e-12, name)
            XCTAssertEqual(node["dtype"] as? String, "f32")
        }
        XCTAssertEqual(nodes[0]["input_shapes"] as? [[AnyHashable]], [["N", 64]])
        XCTAssertEqual(nodes[2]["output_shape"] as? [AnyHashable], ["N", 10])
        XCTAssertEqual(json["unused_tensors"] as? [String], want.unused_tensors)
    }

    func testTableHasAlignedColumns() throws {
        let run = runModelSmith(["inspect", fixture("student.npz"), "--graph", fixture("student.json")])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.first { $0.hasPrefix("node ") })
        let fc1 = try XCTUnwrap(lines.first { $0.hasPrefix("fc1 ") })
        let relu = try XCTUnwrap(lines.first { $0.hasPrefix("relu1 ") })
        // Text columns start where their title starts; numbers end where their title ends.
        func start(_ s: String, _ part: String) -> Int? { s.range(of: part).map { s.distance(from: s.startIndex, to: $0.lowerBound) } }
        func end(_ s: String, _ part: String) -> Int? { s.range(of: part).map { s.distance(from: s.startIndex, to: $0.upperBound) } }
        XCTAssertEqual(start(fc1, "linear"), start(header, "op"))
        XCTAssertEqual(start(relu, "relu "), start(header, "op"))
        XCTAssertEqual(start(fc1, "[N, 64]"), start(header, "input"))
        XCTAssertEqual(end(fc1, "4,160"), end(header, "params"))
        XCTAssertEqual(end(fc1, "50.0%"), end(header, "sparsity"))
        XCTAssertTrue(run.stdout.contains("num_batches_tracked"), "unused tensors are listed")
        XCTAssertTrue(run.stdout.contains("totals: 4,811 parameters"), run.stdout)
    }

    func testBareWeightsAreListedTensorByTensor() throws {
        let run = runModelSmith(["inspect", fixture("student.npz"), "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try object(run.stdout)
        XCTAssertEqual((json["tensors"] as? [Any])?.count, 5)
        XCTAssertEqual((json["totals"] as? [String: Any])?["parameters"] as? Int, try expected().totals.parameters)
    }

    func testGraphThatDoesNotFitIsOneLineExitTwo() {
        let run = runModelSmith(["inspect", fixture("student.npz"), "--graph", fixture("broken.json")])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.stderr, "modelsmith: error: \(fixture("broken.json")): node 'fc2': param 'weight' refers to tensor 'fc2.kernel', which is absent\n")
        XCTAssertEqual(run.stdout, "")
    }

    func testUnreadableInputIsOneLineExitTwo() {
        let run = runModelSmith(["inspect", fixture("garbage.npz")])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.hasPrefix("modelsmith: error: \(fixture("garbage.npz")): "), run.stderr)
        XCTAssertEqual(run.stderr.filter { $0 == "\n" }.count, 1, run.stderr)
    }

    func testHelpHasAnExample() {
        for command in ["inspect", "convert"] {
            let run = runModelSmith([command, "--help"])
            XCTAssertEqual(run.status, 0, command)
            XCTAssertTrue(run.stdout.contains("Examples:") && run.stdout.contains("modelsmith \(command) "), run.stdout)
        }
    }

    func testArtifactShowsEncodingsAndProvenance() throws {
        let dir = try makeTemporaryDirectory()
        let msa = dir.appendingPathComponent("student.msa").path
        XCTAssertEqual(runModelSmith(["convert", fixture("student.npz"), "--graph", fixture("student.json"), "-o", msa]).status, 0)
        let run = runModelSmith(["inspect", msa, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try object(run.stdout)
        let stored = try XCTUnwrap((json["artifact"] as? [String: Any])?["tensors"] as? [[String: Any]])
        XCTAssertEqual(stored.compactMap { $0["name"] as? String }.sorted(),
                       ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight", "num_batches_tracked"])
        let storedBytes = stored.compactMap { $0["stored_bytes"] as? Int }
        XCTAssertTrue(storedBytes.allSatisfy { $0 > 0 })
        let totals = try XCTUnwrap(json["totals"] as? [String: Any])
        let onDisk = try XCTUnwrap(totals["bytes_on_disk"] as? Int)
        XCTAssertEqual(onDisk, try XCTUnwrap(FileManager.default.attributesOfItem(atPath: msa)[.size] as? Int))
        XCTAssertLessThan(storedBytes.reduce(0, +), onDisk)
        XCTAssertEqual(totals["bytes_in_memory"] as? Int, try expected().totals.bytes_in_memory)
        let steps = try XCTUnwrap((json["provenance"] as? [String: Any])?["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.last?["step"] as? String, "convert")
    }
}
