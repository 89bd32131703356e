import XCTest
@testable import ModelSmithCLI

final class RecipeTests: XCTestCase {
    let yaml = """
    model: teacher.msa
    output: out/digits
    data: {train: train.npz, eval: test.npz}
    budget: {max_accuracy_drop: 1.0}
    steps:
      - prune: {amount: 0.8, scope: global}
      - distill: {epochs: 5, temperature: 4}
      - quantize: {method: entropy, per_tensor: true, exclude: [fc1, fc3]}
      - verify: {min-agreement: 0.95}
      - bench: {batch: "1,64", report: ab.html}
    """

    func testStepsChainOutputsAndFillDataFromTheRecipe() throws {
        let recipe = try Recipe(yaml: yaml, file: "r.yaml", baseDirectory: "/base")
        XCTAssertEqual(recipe.maxAccuracyDrop, 1.0)
        let plan = try RecipePlan(recipe: recipe, file: "r.yaml")
        let lines = plan.commands.map { $0.arguments.joined(separator: " ") }
        XCTAssertEqual(lines, [
            "prune /base/teacher.msa --amount 0.8 --scope global -o /base/out/digits/01-prune.msa --force",
            "distill --student /base/out/digits/01-prune.msa --teacher /base/teacher.msa --data /base/train.npz --eval /base/test.npz --epochs 5 --temperature 4 -o /base/out/digits/02-distill.msa --force",
            "quantize /base/out/digits/02-distill.msa --calib /base/train.npz --exclude fc1,fc3 --method entropy --per-tensor -o /base/out/digits/03-quantize.msa --force",
            "verify /base/out/digits/03-quantize.msa --reference /base/teacher.msa --data /base/test.npz --min-agreement 0.95",
            "bench /base/out/digits/03-quantize.msa --baseline /base/teacher.msa --data /base/test.npz --batch 1,64 --report /base/out/digits/ab.html --force",
        ])
    }

    func testUnknownStepIsNamedWithItsNumber() {
        let bad = "model: m.msa\nsteps:\n  - prune: {amount: 0.5}\n  - shrink: {}\n"
        XCTAssertThrowsError(try Recipe(yaml: bad, file: "r.yaml", baseDirectory: "/")) { error in
            XCTAssertEqual("\(error)", "r.yaml: step 2 (shrink): unknown step (expected prune, distill, quantize, verify, bench)")
        }
    }

    func testMissingDataIsReportedForTheStepThatNeedsIt() throws {
        let recipe = try Recipe(yaml: "model: m.msa\nsteps:\n  - verify: {}\n", file: "r.yaml", baseDirectory: "/")
        XCTAssertThrowsError(try RecipePlan(recipe: recipe, file: "r.yaml")) { error in
            XCTAssertEqual("\(error)", "r.yaml: step 1 (verify) needs 'data.eval'")
        }
    }

    func testMalformedDocumentsAreRefused() {
        for (text, message) in [
            ("- just a list", "r.yaml: the top level must be a mapping"),
            ("model: m.msa\nsteps: []\n", "r.yaml: 'steps' must be a non-empty list"),
            ("steps:\n  - prune\n", "r.yaml: missing 'model'"),
            ("model: m.msa\nmodle: x\nsteps:\n  - prune\n", "r.yaml: unknown key 'modle' (expected budget, data, graph, model, name, output, steps)"),
        ] {
            XCTAssertThrowsError(try Recipe(yaml: text, file: "r.yaml", baseDirectory: "/")) { XCTAssertEqual("\($0)", message) }
        }
    }
}
