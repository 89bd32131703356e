import FuzzSupport
import ModelSmithCLI

// Recipe YAML (Yams/libyaml, then the recipe schema) and the plan built from it.
runFuzzer { bytes in
    let text = String(decoding: bytes, as: UTF8.self)
    guard let recipe = try? Recipe(yaml: text, file: "fuzz.yaml", baseDirectory: "/nonexistent") else { return }
    _ = try? RecipePlan(recipe: recipe, file: "fuzz.yaml")
}
