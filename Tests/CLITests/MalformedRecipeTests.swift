import Foundation
import ModelSmithCLI
import XCTest

/// Recipes that crashed or exhausted `Fuzz/fuzz-recipe` before RecipeYAML bounded them: each is
/// now refused with one line.
final class MalformedRecipeTests: XCTestCase {
    private func message(_ yaml: String) -> String? {
        do { _ = try Recipe(yaml: yaml, file: "r.yaml", baseDirectory: "/"); return nil } catch { return "\(error)" }
    }

    /// 100,000 nested flow sequences overflowed the stack in Yams' recursive composer.
    func testDeepFlowNestingIsRefused() {
        let deep = "model: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertEqual(message(deep), "r.yaml: nested deeper than 64 levels")
        let mappings = "model: " + String(repeating: "{a: ", count: 20_000) + "1" + String(repeating: "}", count: 20_000)
        XCTAssertEqual(message(mappings), "r.yaml: nested deeper than 64 levels")
    }

    /// "- - - - …" nests block sequences two bytes per level.
    func testDeepBlockNestingIsRefused() {
        XCTAssertEqual(message("steps:\n  " + String(repeating: "- ", count: 50_000) + "x\n"), "r.yaml: nested deeper than 64 levels")
    }

    /// Nine aliases per level, twelve levels: 9^12 values once expanded (ran out of memory).
    func testBillionLaughsIsRefused() {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        for i in 1..<12 { lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]") }
        lines += ["model: m.msa", "steps: [verify]"]
        XCTAssertEqual(message(lines.joined(separator: "\n")), "r.yaml: expands to more than 100000 values (aliases nested in aliases?)")
    }

    func testHugeRecipeIsRefused() {
        XCTAssertEqual(message("model: m.msa\n# " + String(repeating: "x", count: 2 << 20)),
                       "r.yaml: larger than 1048576 bytes; a recipe is a short list of steps")
    }

    /// Yams force-unwraps every mapping key as a string: a complex key trapped (the fuzzer's input,
    /// reduced, then as found: Fuzz/Corpus/recipe/crash-complex-key.yaml).
    func testComplexAndMergeKeysAreRefused() {
        let expected = "r.yaml: mapping keys must be plain strings (no complex, merge or value keys)"
        XCTAssertEqual(message("model: m.msa\nsteps:\n  ? s-hrink: nk\n"), expected)
        XCTAssertEqual(message("model: m.msa\n? [a, b]\n: c\nsteps: [verify]\n"), expected)
        XCTAssertEqual(message("base: &b {x: 1}\nmodel: m.msa\nsteps:\n  - verify:\n      <<: *b\n"), expected)
        let found = "demo,: m.msa\nst`" + String(repeating: "m", count: 76) + "ps:\n  ? s-hrink: nk\u{FFFD}"
        XCTAssertEqual(message(found), expected)
    }

    /// Yams multiplies base-60 integers without overflow checks: the first (the fuzzer's input,
    /// Fuzz/Corpus/recipe/crash-sexagesimal.yaml) trapped.
    func testLongSexagesimalIntegerIsRefused() {
        XCTAssertEqual(message("701117110771007711:0"), "r.yaml: '701117110771007711:0' reads as a base-60 integer; quote it")
        XCTAssertEqual(message("model: m.msa\nsteps:\n  - bench: {batch: 99999999999:59:59:59:59:59}\n"),
                       "r.yaml: '99999999999:59:59:59:59:59' reads as a base-60 integer; quote it")
        XCTAssertNil(message("model: m.msa\nsteps:\n  - bench: {batch: \"1:30\"}\n"), "a quoted one is a string")
    }

    /// The bounds leave ordinary recipes (anchors included) alone.
    func testOrdinaryRecipeWithAnchorsStillLoads() throws {
        let yaml = "model: &m a.msa\noutput: out\ndata: {eval: test.npz}\nsteps:\n  - quantize:\n      method: entropy\n      exclude: [fc1, fc2]\n  - verify: {}\n"
        let recipe = try Recipe(yaml: yaml, file: "r.yaml", baseDirectory: "/base")
        XCTAssertEqual(recipe.model, "/base/a.msa")
        XCTAssertEqual(recipe.steps.map(\.kind), [.quantize, .verify])
        XCTAssertEqual(recipe.steps[0].options.map(\.name), ["exclude", "method"])
    }
}
