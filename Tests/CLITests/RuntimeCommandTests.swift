import XCTest

/// `run`, `verify` and `bench` end to end on the golden student model.
final class RuntimeCommandTests: XCTestCase {
    var student: [String] { [fixture("runtime/student.weights.npz"), "--graph", fixture("runtime/student.model.json")] }
    var data: String { fixture("runtime/student.forward.npz") }

    func testRunWritesOutputsAndReportsAccuracy() throws {
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("logits.npz").path
        let result = runModelSmith(["run"] + student + ["--input", data, "-o", out, "--batch", "7", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("\"accuracy\" : 0.9611"), result.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
        // Never overwrites without --force.
        let again = runModelSmith(["run"] + student + ["--input", data, "-o", out])
        XCTAssertEqual(again.status, 2)
        XCTAssertTrue(again.stderr.contains("exists"), again.stderr)
    }

    func testRunRejectsBadInputsInOneLine() {
        let cases: [([String], String)] = [
            (["--input", data, "--input-key", "nope"], "no array 'nope' (has: x, y, logits)"),
            (["--input", fixture("runtime/wrong_width.npz")], "inputs have shape [360, 60]: dim 1 is 60, the model's input 'x' expects 64"),
            (["--input", fixture("runtime/nan_inputs.npz")], "sample 5 holds nan (flat index 323)"),
            (["--input", data, "--input-key", "y"], "inputs have dtype i64, expected f32 (or f16/bf16, or u8/i8 images)"),
        ]
        for (args, message) in cases {
            let result = runModelSmith(["run"] + student + args)
            XCTAssertEqual(result.status, 2, args.joined(separator: " "))
            XCTAssertTrue(result.stderr.hasPrefix("modelsmith: error: ") && result.stderr.contains(message), result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        }
    }

    func testVerifyPassesOnItselfAndFailsOnPerturbedWeights() {
        let same = runModelSmith(["verify"] + student + ["--reference", fixture("runtime/student.weights.npz"),
                                                         "--reference-graph", fixture("runtime/student.model.json"), "--data", data, "--atol", "0"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("verify: passed"), same.stdout)
        let perturbed = runModelSmith(["verify", fixture("runtime/student_perturbed.npz"), "--graph", fixture("runtime/student.model.json"),
                                       "--reference", fixture("runtime/student.weights.npz"), "--reference-graph", fixture("runtime/student.model.json"),
                                       "--data", data, "--json"])
        XCTAssertEqual(perturbed.status, 1, perturbed.stderr)
        XCTAssertTrue(perturbed.stderr.hasPrefix("modelsmith: check failed: verify: cosine"), perturbed.stderr)
        XCTAssertTrue(perturbed.stdout.contains("\"passed\" : false"), perturbed.stdout)
    }

    func testBenchJSONHasTheDocumentedShape() throws {
        let result = runModelSmith(["bench"] + student + ["--baseline", fixture("runtime/student.weights.npz"), "--baseline-graph",
                                                          fixture("runtime/student.model.json"), "--data", data, "--batch", "1,4",
                                                          "--iterations", "5", "--warmup", "1", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let model = try XCTUnwrap(object["model"] as? [String: Any])
        XCTAssertEqual(model["accuracy"] as? Double ?? 0, 0.9611, accuracy: 0.0001)
        XCTAssertGreaterThan(model["size_bytes"] as? Int ?? 0, 0)
        XCTAssertNotNil(object["baseline"] as? [String: Any])
        XCTAssertEqual(object["agreement"] as? Double, 1)
        let results = try XCTUnwrap(object["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 4)
        for row in results {
            let latency = try XCTUnwrap(row["latency_ms"] as? [String: Double])
            XCTAssertLessThanOrEqual(latency["p50"]!, latency["p99"]!)
            XCTAssertEqual(row["calls"] as? Int, 5)
        }
    }

    func testBenchWithoutDataUsesRandomInputs() {
        let result = runModelSmith(["bench"] + student + ["--batch", "2", "--iterations", "3", "--warmup", "0"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("samples/s"), result.stdout)
    }
}
