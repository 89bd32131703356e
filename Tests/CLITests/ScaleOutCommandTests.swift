import Foundation
import XCTest
import ModelFormats

/// `calibrate` + `quantize --calib-cache` and `teacher-outputs` + `distill --teacher-outputs` end to
/// end (docs/scale-out.md): three shards give byte for byte the artifact of one pass.
final class ScaleOutCommandTests: XCTestCase {
    var student: [String] { [fixture("runtime/student.weights.npz"), "--graph", fixture("runtime/student.model.json")] }
    var data: String { fixture("runtime/student.forward.npz") }

    private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func testShardCachesMergeToTheSinglePassArtifact() throws {
        let dir = try makeTemporaryDirectory()
        let part = { (k: Int) in dir.appendingPathComponent("part-\(k).calib.json").path }
        for k in 0..<3 {
            let r = runModelSmith(["calibrate"] + student + ["--calib", data, "--shard", "\(k)/3", "--method", "entropy", "-o", part(k)])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("shard \(k)/3"), r.stdout)
        }
        let summary = runModelSmith(["calibrate"] + student + ["--calib", data, "--shard", "1/3", "--method", "entropy", "--json", "-o", part(1), "--force"])
        XCTAssertEqual(summary.status, 0, summary.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(summary.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(json?["samples"] as? Int, 120)
        XCTAssertEqual(json?["shard"] as? String, "1/3")
        let single = dir.appendingPathComponent("single.msa").path, merged = dir.appendingPathComponent("merged.msa").path
        XCTAssertEqual(runModelSmith(["quantize"] + student + ["--calib", data, "--method", "entropy", "-o", single]).status, 0)
        let fromGlob = runModelSmith(["quantize"] + student + ["--calib-cache", dir.path + "/part-*.calib.json", "--method", "entropy", "-o", merged])
        XCTAssertEqual(fromGlob.status, 0, fromGlob.stderr)
        XCTAssertEqual(try bytes(merged), try bytes(single))
        // The same caches listed one by one (as an unquoted shell glob gives them), in another order.
        let listed = dir.appendingPathComponent("listed.msa").path
        XCTAssertEqual(runModelSmith(["quantize"] + student + ["--calib-cache", part(2), part(0), part(1), "--method", "entropy", "-o", listed]).status, 0)
        XCTAssertEqual(try bytes(listed), try bytes(single))

        let out = dir.appendingPathComponent("refused.msa").path
        let twoToWrite = runModelSmith(["quantize"] + student + ["--calib", data, "--calib-cache", part(0), part(1), "-o", out])
        XCTAssertEqual(twoToWrite.status, 2)
        XCTAssertTrue(twoToWrite.stderr.contains("with --calib, --calib-cache names the one cache to write"), twoToWrite.stderr)
        try FileManager.default.removeItem(atPath: part(1))
        let cases: [([String], String)] = [
            (student + ["--calib-cache", dir.path + "/part-*.calib.json"], "shard(s) 1 of 0..<3 missing among the calibration caches"),
            (student + ["--calib-cache", dir.path + "/nothing-*.json"], "nothing-*.json: no such file or directory"),
            ([fixture("runtime/student_perturbed.npz"), "--graph", fixture("runtime/student.model.json"), "--calib-cache", part(0)],
             "calibration cache belongs to another model"),
        ]
        for (args, message) in cases {
            let result = runModelSmith(["quantize"] + args + ["-o", out])
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("modelsmith: error: ") && result.stderr.contains(message), result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
        let again = runModelSmith(["calibrate"] + student + ["--calib", data, "--shard", "0/3", "-o", part(0)])
        XCTAssertEqual(again.status, 2, "no overwrite without --force")
        let badShard = runModelSmith(["calibrate"] + student + ["--calib", data, "--shard", "3/3", "-o", part(1)])
        XCTAssertEqual(badShard.status, 2)
        XCTAssertTrue(badShard.stderr.contains("The value '3/3' is invalid for '--shard <K/N>'"), badShard.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: part(1)))
    }

    func testDistillFromShardedTeacherOutputsEqualsDistillWithTheTeacher() throws {
        let dir = try makeTemporaryDirectory()
        let part = { (k: Int) in dir.appendingPathComponent("part-\(k).npz").path }
        for k in 0..<3 {
            let r = runModelSmith(["teacher-outputs"] + student + ["--data", data, "--shard", "\(k)/3", "--hidden", "a1", "-o", part(k)])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let written = try NpzReader().read(URL(fileURLWithPath: part(0)), limits: .default).tensors
        XCTAssertEqual(written["logits"]?.shape.dims, [120, 10])
        XCTAssertEqual(written["row_digest"]?.shape.dims, [120, 64])
        XCTAssertEqual(written["hidden.a1"]?.shape.dims, [120, 64])

        let training = ["--student", fixture("train/student_init.json"), "--data", data, "--epochs", "2", "--lr", "3e-3", "--seed", "3"]
        let online = dir.appendingPathComponent("online.msa").path, offline = dir.appendingPathComponent("offline.msa").path
        let withTeacher = runModelSmith(["distill", "--teacher", student[0], "--teacher-graph", student[2]] + training + ["-o", online])
        XCTAssertEqual(withTeacher.status, 0, withTeacher.stderr)
        let fromOutputs = runModelSmith(["distill", "--teacher-outputs", dir.path + "/part-*.npz"] + training + ["-o", offline])
        XCTAssertEqual(fromOutputs.status, 0, fromOutputs.stderr)
        let a = try ArtifactReader().read(URL(fileURLWithPath: online), limits: .default).tensors
        let b = try ArtifactReader().read(URL(fileURLWithPath: offline), limits: .default).tensors
        XCTAssertEqual(a.names.sorted(), b.names.sorted())
        for name in a.names { XCTAssertEqual(a[name]?.floats, b[name]?.floats, name) }

        try FileManager.default.removeItem(atPath: part(1))
        let missing = runModelSmith(["distill", "--teacher-outputs", dir.path + "/part-*.npz"] + training + ["-o", offline + "2.msa"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.hasPrefix("modelsmith: error: sample 120 (row digest "), missing.stderr)
        XCTAssertTrue(missing.stderr.contains("has no teacher output in \(dir.path)/part-*.npz; run teacher-outputs on this data"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: offline + "2.msa"))

        let notOutputs = runModelSmith(["distill", "--teacher-outputs", data] + training + ["-o", offline + "3.msa"])
        XCTAssertEqual(notOutputs.status, 2)
        XCTAssertEqual(notOutputs.stderr, "modelsmith: error: teacher outputs \(data): needs 'row_digest', 'teacher_digest' and 'logits' (written by `modelsmith teacher-outputs`)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: offline + "3.msa"))
    }
}
