import Foundation
import ModelFormats
import XCTest

/// NaN/Inf in weights (Fixtures/nan_weights.tar: fc1.weight holds NaN at flat indices 6 and 19,
/// +Inf at 12): `inspect` warns, `convert` refuses unless --allow-nonfinite, which warns and records
/// the tensors in the artifact's provenance; commands that load a package to run or transform it
/// (through `ModelInputOptions.loadPackage`, for every model they read) refuse it.
final class MalformedNumericsTests: XCTestCase {
    private let summary = "holds 2 NaN and 1 Inf values (the first at flat index 6)"

    func testInspectWarnsAndStillShowsTheModel() {
        let run = runModelSmith(["inspect", fixture("nan_weights.tar")])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stderr, "modelsmith: warning: tensor 'fc1.weight' \(summary)\n")
        XCTAssertTrue(run.stdout.contains("fc1"))
    }

    func testConvertRefusesNonFiniteWeights() throws {
        let out = try makeTemporaryDirectory()
        for format in ["msa", "npz", "safetensors"] {
            let run = runModelSmith(["convert", fixture("nan_weights.tar"), "-o", out.appendingPathComponent("m.\(format)").path])
            XCTAssertEqual(run.status, 2)
            XCTAssertEqual(run.stderr, "modelsmith: error: \(fixture("nan_weights.tar")): tensor 'fc1.weight' \(summary); refused (pass --allow-nonfinite to write it anyway)\n")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), [])
    }

    /// Regression: quantize trapped in QuantScheme.quantizeWeight (Int8(NaN)) with a stack trace.
    func testQuantizeRefusesNonFiniteWeights() throws {
        let out = try makeTemporaryDirectory()
        let run = runModelSmith(["quantize", fixture("nan_weights.tar"), "--calib", fixture("calib4.npz"),
                                 "-o", out.appendingPathComponent("q.msa").path])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.stderr, "modelsmith: error: \(fixture("nan_weights.tar")): tensor 'fc1.weight' \(summary); refused\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), [])
    }

    /// A command's other models (here `verify --reference`, likewise --teacher and --baseline) go
    /// through the same check as its main one.
    func testSecondModelsAreCheckedToo() throws {
        let dir = try makeTemporaryDirectory()
        var contents = try WeightReaders.read(fixture("nan_weights.tar"))
        contents.tensors["fc1.weight"]!.withUnsafeMutableBufferPointer(of: Float.self) { w in
            for i in w.indices where !w[i].isFinite { w[i] = 0 }
        }
        let clean = dir.appendingPathComponent("clean.tar").path
        try PackageExporter.export(contents, to: clean, keepInt8: false, force: false)
        let run = runModelSmith(["verify", clean, "--reference", fixture("nan_weights.tar"), "--data", fixture("calib4.npz")])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.stderr, "modelsmith: error: \(fixture("nan_weights.tar")): tensor 'fc1.weight' \(summary); refused\n")
    }

    func testAllowNonfiniteWritesWithNoticeAndProvenance() throws {
        let out = try makeTemporaryDirectory().appendingPathComponent("m.msa").path
        let run = runModelSmith(["convert", fixture("nan_weights.tar"), "-o", out, "--allow-nonfinite", "--quiet"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stderr, "modelsmith: warning: tensor 'fc1.weight' \(summary); written as is (--allow-nonfinite)\n")
        let inspect = runModelSmith(["inspect", out, "--json"])
        XCTAssertEqual(inspect.status, 0)
        XCTAssertEqual(inspect.stderr, "modelsmith: warning: tensor 'fc1.weight' \(summary)\n", "the NaNs survive the round trip and are reported again")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        let steps = try XCTUnwrap((json["provenance"] as? [String: Any])?["steps"] as? [[String: Any]])
        let results = try XCTUnwrap(steps.last?["results"] as? [String: Any])
        XCTAssertEqual(results["nonfinite_tensors"] as? [String], ["fc1.weight"])
    }
}
