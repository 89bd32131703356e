import ArgumentParser
import Foundation
import ModelGraph
import ModelRuntime

/// `modelsmith optimize`: runs a YAML recipe of prune / distill / quantize / verify / bench steps.
struct OptimizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimize",
        abstract: "Run a recipe: ordered prune, distill, quantize, verify and bench steps with an accuracy budget.",
        discussion: """
        Each step takes the same options as its command (its output goes to stderr; stdout carries \
        only the summary table, or with --json the summary object); the recipe chains them (each step reads the \
        previous step's model) and keeps every intermediate artifact in the output folder. Every step \
        is checked before the first one runs. After each step that writes a model, accuracy on \
        data.eval is measured against the input model's; a step that breaks the budget stops the \
        recipe with exit 1 and the artifacts written before it stay. A step followed by a distill \
        step is only reported, not held to the budget: distillation exists to win the accuracy back. \
        A failing step (bad option, failed check) stops the recipe the same way.

        Example recipe (paths relative to the recipe file):
          model: teacher.msa
          output: out
          data: {train: train.npz, eval: test.npz}
          budget: {max_accuracy_drop: 1.0}
          steps:
            - prune: {amount: 0.8, scope: global}
            - distill: {epochs: 10}
            - quantize: {method: percentile}
            - verify: {min-agreement: 0.95}
            - bench: {batch: "1,64", report: ab.html}

        Examples:
          modelsmith optimize --recipe Examples/digits/recipe.yaml --dry-run
          modelsmith optimize --recipe Examples/digits/recipe.yaml
        """)

    @Option(help: ArgumentHelp("The recipe (YAML).", valueName: "recipe.yaml")) var recipe: String
    @Flag(help: "Print the resolved command of every step and stop.") var dryRun = false
    @Flag(help: "Reuse an output folder that already holds files.") var force = false
    @OptionGroup var common: CommonOptions

    struct StepResult: Encodable {
        var step: Int
        var command: String
        var artifact: String?
        var sizeBytes: Int?
        var accuracy: Double?
        var accuracyDropPoints: Double?

        enum CodingKeys: String, CodingKey {
            case step, command, artifact, sizeBytes = "size_bytes", accuracy, accuracyDropPoints = "accuracy_drop_points"
        }
    }

    struct Summary: Encodable {
        var recipe: String
        var model: String
        var sizeBytes: Int
        var accuracy: Double?
        var steps: [StepResult]

        enum CodingKeys: String, CodingKey { case recipe, model, sizeBytes = "size_bytes", accuracy, steps }
    }

    func run() throws {
        let console = Console(common)
        let text: String
        do { text = try String(contentsOfFile: recipe, encoding: .utf8) } catch {
            throw RecipeError.malformed(file: recipe, reason: "cannot read the file")
        }
        let base = URL(fileURLWithPath: recipe).deletingLastPathComponent().path
        let parsed = try Recipe(yaml: text, file: recipe, baseDirectory: base)
        let plan = try RecipePlan(recipe: parsed, file: recipe)
        // Check every step's options before running anything.
        for (index, command) in plan.commands.enumerated() {
            do { _ = try ModelSmith.parseAsRoot(command.arguments) } catch {
                let reason = ModelSmith.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "invalid options"
                throw RecipeError.badStep(file: recipe, step: index + 1, name: command.kind.rawValue, reason: reason)
            }
        }
        if dryRun {
            console.output(plan.commands.map { "modelsmith " + $0.arguments.map(Self.quoted).joined(separator: " ") }.joined(separator: "\n"))
            return
        }
        try prepareOutputFolder(parsed.output)

        let evalData = try parsed.evalData.map { try ModelInputOptions.loadDataset($0, xKey: "x", yKey: "y", console: console) }
        let baseline = try measure(parsed.model, graph: parsed.graph, on: evalData, console: console)
        var results: [StepResult] = []
        for (index, command) in plan.commands.enumerated() {
            let number = index + 1
            console.note("[\(number)/\(plan.commands.count)] modelsmith \(command.arguments.joined(separator: " "))")
            do {
                var subcommand = try ModelSmith.parseAsRoot(command.arguments + (common.quiet ? ["--quiet"] : []))
                try Self.withStandardOutputOnStandardError { try subcommand.run() }
            } catch let failure as CheckFailure {
                throw CheckFailure("step \(number) (\(command.kind.rawValue)): \(failure.message)")
            } catch {
                throw RecipeError.badStep(file: recipe, step: number, name: command.kind.rawValue, reason: oneLine(error))
            }
            var result = StepResult(step: number, command: command.kind.rawValue)
            if let artifact = command.output {
                let measured = try measure(artifact, graph: nil, on: evalData, console: console)
                result.artifact = artifact
                result.sizeBytes = measured.size
                result.accuracy = measured.accuracy
                if let before = baseline.accuracy, let after = measured.accuracy {
                    let drop = (before - after) * 100
                    result.accuracyDropPoints = drop
                    let recovers = plan.commands[(index + 1)...].contains { $0.kind == .distill }
                    if let budget = parsed.maxAccuracyDrop, drop > budget, !recovers {
                        results.append(result)
                        report(results, baseline: baseline, recipe: parsed, console: console)
                        throw CheckFailure(String(format: "step %d (%@): accuracy %.4f is %.2f points below the input model's %.4f (budget %.2f); artifacts so far are in %@",
                                                  number, command.kind.rawValue, after, drop, before, budget, parsed.output))
                    }
                }
            }
            results.append(result)
        }
        report(results, baseline: baseline, recipe: parsed, console: console)
    }

    /// Size on disk and accuracy on the eval data (when it has labels).
    private func measure(_ path: String, graph: String?, on data: Dataset?, console: Console) throws -> (size: Int, accuracy: Double?) {
        let size = RuntimeSupport.sizeOnDisk(path)
        guard let data, data.labels != nil else { return (size, nil) }
        let package = try ModelInputOptions.loadPackage(path: path, graph: graph, console: console)
        let session = try Session(package: package, options: SessionOptions(maxBatch: 64, threads: 1))
        return (size, try Evaluation.accuracy(session: session, dataset: data, batch: 64))
    }

    private func prepareOutputFolder(_ path: String) throws {
        let manager = FileManager.default
        if let existing = try? manager.contentsOfDirectory(atPath: path), !existing.isEmpty, !force {
            throw RecipeError.outputNotEmpty(path: path)
        }
        try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    private func report(_ results: [StepResult], baseline: (size: Int, accuracy: Double?), recipe: Recipe, console: Console) {
        if common.json {
            let summary = Summary(recipe: self.recipe, model: recipe.model, sizeBytes: baseline.size, accuracy: baseline.accuracy, steps: results)
            try? JSONOutput.print(summary)
            return
        }
        var table = TextTable([.init("step"), .init("artifact"), .init("size", .right), .init("vs input", .right),
                               .init("accuracy", .right), .init("drop (points)", .right)])
        func accuracy(_ a: Double?) -> String { a.map { String(format: "%.4f", $0) } ?? "-" }
        table.add(["input", Formatting.relativePath(recipe.model), Formatting.bytes(baseline.size), "1.0×", accuracy(baseline.accuracy), "-"])
        for r in results {
            let ratio = r.sizeBytes.map { $0 > 0 ? String(format: "%.1f× smaller", Double(baseline.size) / Double($0)) : "-" } ?? "-"
            table.add(["\(r.step) \(r.command)", r.artifact.map(Formatting.relativePath) ?? "-", r.sizeBytes.map(Formatting.bytes) ?? "-", r.artifact == nil ? "-" : ratio,
                       accuracy(r.accuracy), r.accuracyDropPoints.map { String(format: "%.2f", $0) } ?? "-"])
        }
        console.table(table.render())
    }

    /// Runs `body` with file descriptor 1 pointed at stderr: a step's own tables are progress here,
    /// and stdout keeps only the recipe's summary (so `--json` output stays parseable).
    static func withStandardOutputOnStandardError<T>(_ body: () throws -> T) rethrows -> T {
        fflush(nil)  // every C stream, before the descriptor moves
        let saved = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        defer {
            fflush(nil)  // every C stream, before the descriptor moves
            dup2(saved, STDOUT_FILENO)
            close(saved)
        }
        return try body()
    }

    static func quoted(_ argument: String) -> String {
        argument.contains(where: { $0 == " " || $0 == "\"" || $0 == "'" }) ? "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'" : argument
    }
}
