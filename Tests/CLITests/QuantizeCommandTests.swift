import XCTest
import ModelFormats
import TensorCore

/// `quantize` end to end on the golden student (64-64-10): artifact, report, cache reuse, exit codes.
final class QuantizeCommandTests: XCTestCase {
    var student: [String] { [fixture("runtime/student.weights.npz"), "--graph", fixture("runtime/student.model.json")] }
    var data: String { fixture("runtime/student.forward.npz") }

    private struct Layer: Decodable {
        let node: String, input: String, status: String, scale: Float
        let range_min: Float, range_max: Float, zero_point: Int, clipped_fraction: Double
    }

    private func layers(_ path: String) throws -> [Layer] {
        try JSONDecoder().decode([Layer].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// min/max on 128 samples: fc1's reported range and u8 parameters are the data's own extrema
    /// (read here from the npz), and the cache written alongside gives the same report without the data.
    func testReportMatchesTheDataAndTheCacheReproducesIt() throws {
        let dir = try makeTemporaryDirectory()
        let (q, cache, report) = (dir.appendingPathComponent("q.msa").path, dir.appendingPathComponent("calib.json").path,
                                  dir.appendingPathComponent("layers.json").path)
        let first = runModelSmith(["quantize"] + student + ["--calib", data, "--samples", "128", "--method", "minmax",
                                                            "--calib-cache", cache, "--report", report, "-o", q])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: q))
        let reported = try layers(report)
        XCTAssertEqual(reported.map(\.node), ["fc1", "fc2"])
        XCTAssertEqual(reported.map(\.status), ["int8", "int8"])

        let x = try XCTUnwrap(NpzReader().read(URL(fileURLWithPath: data), limits: .default).tensors["x"]).floats
        let used = x[0..<(128 * 64)]
        let (lo, hi) = (used.min()!, used.max()!)
        XCTAssertEqual(reported[0].range_min, lo)
        XCTAssertEqual(reported[0].range_max, hi)
        let scale = (max(hi, 0) - min(lo, 0)) / 255
        XCTAssertEqual(reported[0].scale, scale)
        XCTAssertEqual(reported[0].zero_point, Int(min(max((-min(lo, 0) / scale).rounded(.toNearestOrEven), 0), 255)))
        XCTAssertEqual(reported[0].clipped_fraction, 0)

        // From the cache alone (no --calib): the same min/max report; another method gives other ranges.
        let again = dir.appendingPathComponent("again.json").path
        let cached = runModelSmith(["quantize"] + student + ["--calib-cache", cache, "--method", "minmax", "--report", again,
                                                             "-o", dir.appendingPathComponent("q2.msa").path])
        XCTAssertEqual(cached.status, 0, cached.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: again)), try Data(contentsOf: URL(fileURLWithPath: report)))
        let mse = dir.appendingPathComponent("mse.json").path
        let other = runModelSmith(["quantize"] + student + ["--calib-cache", cache, "--method", "mse", "--report", mse,
                                                            "-o", dir.appendingPathComponent("q3.msa").path])
        XCTAssertEqual(other.status, 0, other.stderr)
        XCTAssertLessThan(try layers(mse)[1].range_max, reported[1].range_max, "mse clips the largest activations")

        // The quantized artifact runs, and quantizing it again is refused.
        let run = runModelSmith(["run", q, "--input", data, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let twice = runModelSmith(["quantize", q, "--calib", data, "-o", dir.appendingPathComponent("q4.msa").path])
        XCTAssertEqual(twice.status, 2)
        XCTAssertEqual(twice.stderr, "modelsmith: error: model is already quantized (tensor 'fc1.weight' is int8)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("q4.msa").path))
    }

    /// Bad input: one line on stderr, exit 2, no output file.
    /// `--exclude fc1,fc2` (the recipe's list form) means `--exclude fc1 fc2`: here both exclude
    /// every layer of the student, and a comma list with one bad name names that name alone.
    func testExcludeTakesCommaAndSpaceSeparatedNames() throws {
        let out = try makeTemporaryDirectory().appendingPathComponent("q.msa").path
        for names in [["fc1,fc2"], ["fc1", "fc2"]] {
            let run = runModelSmith(["quantize"] + student + ["--calib", data, "--exclude"] + names + ["-o", out])
            XCTAssertEqual(run.status, 2)
            XCTAssertEqual(run.stderr, "modelsmith: error: no linear or conv2d node is left to quantize\n", "\(names)")
        }
        let bad = runModelSmith(["quantize"] + student + ["--calib", data, "--exclude", "fc1,relu1", "-o", out])
        XCTAssertEqual(bad.stderr, "modelsmith: error: --exclude 'relu1': no linear or conv2d node has that name\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testBadInputExitsTwoAndLeavesNoFile() throws {
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("q.msa").path
        let cache = dir.appendingPathComponent("calib.json").path
        XCTAssertEqual(runModelSmith(["quantize"] + student + ["--calib", data, "--samples", "16", "--calib-cache", cache,
                                                               "-o", dir.appendingPathComponent("ok.msa").path]).status, 0)
        let cases: [([String], String)] = [
            (student + ["--calib", data, "--exclude", "relu1"], "--exclude 'relu1': no linear or conv2d node has that name"),
            (student + ["--calib", data, "--samples", "1000"], "--samples 1000 asked, calibration data has only 360"),
            (student + ["--calib", data, "--method", "median"], "unknown calibration method 'median'"),
            ([fixture("runtime/student_perturbed.npz"), "--graph", fixture("runtime/student.model.json"), "--calib-cache", cache],
             "calibration cache belongs to another model"),
        ]
        for (args, message) in cases {
            let result = runModelSmith(["quantize"] + args + ["-o", out])
            XCTAssertEqual(result.status, 2, args.joined(separator: " ") + "\n" + result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("modelsmith: error: ") && result.stderr.contains(message), result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), args.joined(separator: " "))
        }
        // Usage errors (ArgumentParser's ValidationError): exit 2, the message and the usage.
        for (args, message) in [(student, "give calibration data with --calib or a cache with --calib-cache"),
                                (student + ["--calib", data, "--eval", data, "--max-accuracy-drop=-1"], "--max-accuracy-drop must be ≥ 0 points")] {
            let result = runModelSmith(["quantize"] + args + ["-o", out])
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertTrue(result.stderr.contains(message), result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
    }

    /// An accuracy budget that cannot be met exits 1 and writes nothing: clipping every activation at
    /// its median (percentile 50) costs accuracy in each layer alone, and the budget is 0 points.
    func testImpossibleAccuracyBudgetExitsOne() throws {
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("q.msa").path
        let result = runModelSmith(["quantize"] + student + ["--calib", data, "--samples", "64", "--method", "percentile",
                                                             "--percentile", "50", "--eval", data, "--max-accuracy-drop", "0", "-o", out])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("modelsmith: check failed: accuracy"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
