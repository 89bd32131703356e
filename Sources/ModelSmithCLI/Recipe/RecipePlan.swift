import Foundation

/// A recipe resolved into concrete command lines: what `--dry-run` prints and `optimize` runs.
public struct RecipePlan {
    public struct Command {
        public var kind: Recipe.StepKind
        /// The arguments after `modelsmith`.
        public var arguments: [String]
        /// The model this step writes (nil for verify/bench).
        public var output: String?
    }

    public var commands: [Command]

    /// Chains the steps: each model-producing step reads the previous step's output and writes
    /// `output/NN-step.msa`; verify and bench compare the current model against the input model.
    public init(recipe: Recipe, file: String) throws {
        var current = recipe.model
        var commands: [Command] = []
        let graphArgs = recipe.graph.map { ["--graph", $0] } ?? []
        for (index, step) in recipe.steps.enumerated() {
            let number = index + 1
            func data(_ value: String?, _ key: String) throws -> String {
                guard let value else { throw RecipeError.missingData(file: file, step: number, name: step.kind.rawValue, key: key) }
                return value
            }
            let given = Set(step.options.map(\.name))
            func unless(_ name: String, _ args: [String]) -> [String] { given.contains(name) ? [] : args }
            let output = step.kind.producesModel
                ? "\(recipe.output)/\(String(format: "%02d", number))-\(step.kind.rawValue).msa" : nil
            var args: [String]
            switch step.kind {
            case .prune:
                args = ["prune", current] + (current == recipe.model ? graphArgs : [])
            case .quantize:
                args = ["quantize", current] + (current == recipe.model ? graphArgs : [])
                    + unless("calib", ["--calib", try data(recipe.calibData, "calib")])
            case .distill:
                args = ["distill", "--student", current]
                    + unless("teacher", ["--teacher", recipe.model])
                    + unless("data", ["--data", try data(recipe.trainData, "train")])
                    + (recipe.evalData.map { unless("eval", ["--eval", $0]) } ?? [])
            case .verify:
                args = ["verify", current] + unless("reference", ["--reference", recipe.model])
                    + unless("data", ["--data", try data(recipe.evalData, "eval")])
            case .bench:
                args = ["bench", current] + unless("baseline", ["--baseline", recipe.model])
                    + (recipe.evalData.map { unless("data", ["--data", $0]) } ?? [])
            }
            for option in step.options {
                var value = option.value
                if option.name == "report", let v = value, !v.hasPrefix("/") { value = "\(recipe.output)/\(v)" }
                args += ["--\(option.name)"] + (value.map { [$0] } ?? [])
            }
            if let output { args += ["-o", output, "--force"] }
            if step.kind == .bench, given.contains("report") { args.append("--force") }
            commands.append(Command(kind: step.kind, arguments: args, output: output))
            if let output { current = output }
        }
        self.commands = commands
    }
}
