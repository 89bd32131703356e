import Foundation
import XCTest

/// `modelsmith optimize` end to end on the 64-64-10 digits student (PyTorch weights).
final class OptimizeCommandTests: XCTestCase {
    /// A folder with the student as an artifact, its data, and a recipe whose steps are `steps`.
    private func setUp(steps: String, budget: Double? = nil) throws -> (dir: URL, recipe: String) {
        let dir = try makeTemporaryDirectory()
        let converted = runModelSmith(["convert", fixture("runtime/student.weights.npz"), "--graph", fixture("runtime/student.model.json"),
                                       "-o", dir.appendingPathComponent("student.msa").path])
        XCTAssertEqual(converted.status, 0, converted.stderr)
        try FileManager.default.copyItem(atPath: fixture("runtime/student.forward.npz"), toPath: dir.appendingPathComponent("digits.npz").path)
        let recipe = """
        model: student.msa
        output: out
        data: {train: digits.npz, eval: digits.npz}
        \(budget.map { "budget: {max_accuracy_drop: \($0)}" } ?? "")
        steps:
        \(steps)
        """
        let path = dir.appendingPathComponent("recipe.yaml").path
        try recipe.write(toFile: path, atomically: true, encoding: .utf8)
        return (dir, path)
    }

    private func exists(_ dir: URL, _ name: String) -> Bool {
        FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path)
    }

    func testDryRunPrintsEveryResolvedCommandAndWritesNothing() throws {
        let (dir, recipe) = try setUp(steps: "  - prune: {amount: 0.5}\n  - quantize: {method: minmax}\n  - verify: {}\n")
        let run = runModelSmith(["optimize", "--recipe", recipe, "--dry-run"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        XCTAssertTrue(lines[0].hasPrefix("modelsmith prune \(dir.path)/student.msa --amount 0.5 -o \(dir.path)/out/01-prune.msa"), String(lines[0]))
        XCTAssertTrue(lines[1].contains("quantize \(dir.path)/out/01-prune.msa --calib \(dir.path)/digits.npz --method minmax"), String(lines[1]))
        XCTAssertFalse(exists(dir, "out"))
    }

    /// A bad option in step 2 is found before step 1 runs: exit 2, the step named, nothing written.
    func testABadOptionStopsTheRecipeBeforeAnythingRuns() throws {
        let (dir, recipe) = try setUp(steps: "  - prune: {amount: 0.5}\n  - quantize: {methd: minmax}\n")
        let run = runModelSmith(["optimize", "--recipe", recipe])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.stderr, "modelsmith: error: \(recipe): step 2 (quantize): Unknown option '--methd'. Did you mean '--method'?\n")
        XCTAssertFalse(exists(dir, "out/01-prune.msa"))
    }

    /// Pruning 95% without a later distill breaks a 1-point budget: exit 1, the step named, and the
    /// artifact it wrote is left for inspection.
    func testABrokenBudgetStopsWithExit1AndKeepsEarlierArtifacts() throws {
        let (dir, recipe) = try setUp(steps: "  - prune: {amount: 0.95, scope: global}\n  - quantize: {}\n", budget: 1.0)
        let run = runModelSmith(["optimize", "--recipe", recipe, "-q"])
        XCTAssertEqual(run.status, 1, run.stderr)
        let last = String(run.stderr.split(separator: "\n").last ?? "")
        XCTAssertTrue(last.hasPrefix("modelsmith: check failed: step 1 (prune): accuracy 0."), last)
        XCTAssertTrue(last.contains("points below the input model's 0.9611 (budget 1.00); artifacts so far are in \(dir.path)/out"), last)
        XCTAssertTrue(exists(dir, "out/01-prune.msa"))
        XCTAssertFalse(exists(dir, "out/02-quantize.msa"))
    }

    /// prune 50% → INT8 → verify passes within a 2.5-point budget; the JSON summary reports each model step.
    func testAFullRecipeReportsEveryStepAndRefusesToReuseTheFolder() throws {
        let (dir, recipe) = try setUp(steps: "  - prune: {amount: 0.5}\n  - quantize: {method: percentile}\n  - verify: {min-agreement: 0.9, min-cosine: 0.9, max-accuracy-drop: 2.5}\n", budget: 2.5)
        let run = runModelSmith(["optimize", "--recipe", recipe, "--json", "-q"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["accuracy"] as? Double ?? 0, 0.9611, accuracy: 0.00005)  // PyTorch's accuracy for these weights
        let steps = try XCTUnwrap(json["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.map { $0["command"] as? String }, ["prune", "quantize", "verify"])
        for step in steps.prefix(2) {
            XCTAssertLessThanOrEqual(step["accuracy_drop_points"] as? Double ?? 99, 2.5)
            XCTAssertLessThan(step["size_bytes"] as? Int ?? .max, json["size_bytes"] as? Int ?? 0)
        }
        XCTAssertTrue(exists(dir, "out/02-quantize.msa"))

        let again = runModelSmith(["optimize", "--recipe", recipe, "-q"])
        XCTAssertEqual(again.status, 2)
        XCTAssertEqual(again.stderr, "modelsmith: error: \(dir.path)/out: output folder is not empty; pass --force to reuse it\n")
    }
}
