import Foundation
import XCTest

/// `train` and `distill` end to end on the golden student (teacher) and the 360 digits test samples.
final class DistillCommandTests: XCTestCase {
    var teacher: [String] { ["--teacher", fixture("runtime/student.weights.npz"), "--teacher-graph", fixture("runtime/student.model.json")] }

    func testDistillWritesAnArtifactWithProvenanceAndJSONLines() throws {
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("s.msa").path
        let r = runModelSmith(["distill"] + teacher + ["--student", fixture("train/student_init.json"),
            "--data", fixture("runtime/student.forward.npz"), "--eval", fixture("runtime/student.forward.npz"),
            "--epochs", "3", "--lr", "3e-3", "--json", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, r.stdout)  // 3 epochs + summary
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        XCTAssertEqual(first?["epoch"] as? Int, 1)
        XCTAssertNotNil(first?["eval_accuracy"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".ckpt"), "checkpoint removed after success")
        let inspect = runModelSmith(["inspect", out, "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("distill"), "provenance names the step")
        XCTAssertTrue(inspect.stdout.contains("teacher_digest"))
    }

    func testOutputExistsAndBadInputLeaveNoFile() throws {
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("s.msa").path
        let r = runModelSmith(["distill"] + teacher + ["--student", fixture("train/student_init.json"),
            "--data", fixture("runtime/wrong_width.npz"), "--epochs", "1", "-o", out])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("modelsmith: error: "), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let noLabels = runModelSmith(["train", fixture("train/student_init.json"), "--data", fixture("runtime/nan_inputs.npz"),
                                      "--y-key", "missing", "--epochs", "1", "-o", out])
        XCTAssertEqual(noLabels.status, 2)
        XCTAssertTrue(noLabels.stderr.contains("has no 'missing' array; train needs labels"), noLabels.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
