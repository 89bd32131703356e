import ArgumentParser
import Foundation
import ModelFormats
import ModelGraph
import Pruning
import TensorCore

/// `modelsmith prune`: L1 unstructured pruning with `torch.nn.utils.prune` semantics, written as an
/// artifact with masks; or, with `--sensitivity`, accuracy per layer and global at each sparsity step.
struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Zero the smallest-magnitude weights (L1 unstructured), per layer or globally.",
        discussion: """
        Same semantics as torch.nn.utils.prune.l1_unstructured / global_unstructured: a decimal \
        amount is a fraction (rounded to a count half to even, as PyTorch does), an integer amount \
        is a count. Pruned weights become +0.0 and the masks are stored in the artifact, so \
        pruning a pruned model prunes the remaining weights. By default every linear and conv2d \
        weight is pruned; --layers/--exclude take node names (fc1) or parameter names (fc1.bias). \
        Among equal magnitudes at the cut, the lowest flat index is pruned first (docs/pruning.md).

        With --sensitivity, nothing is written: each chosen layer alone and all of them globally \
        are pruned at every --steps fraction and evaluated on --eval (table, --json, --report SVG).

        Examples:
          modelsmith prune teacher.tar.zst --amount 0.8 --scope global -o teacher-p80.msa
          modelsmith prune teacher.tar.zst --amount 0.5 --layers fc1,fc2 -o p50.msa
          modelsmith prune teacher.tar.zst --amount 1200 --layers fc1 -o p.msa
          modelsmith prune teacher.tar.zst --sensitivity --eval test.npz --steps 0.5,0.8,0.9 --report sens.svg
        """)

    @OptionGroup var input: ModelInputOptions
    @OptionGroup var common: CommonOptions

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("A fraction in [0, 1] (0.8) or a count of weights (1200).", valueName: "amount"))
    var amount: String?

    @Option(name: .long, help: "layer: each tensor pruned by the amount; global: one threshold across them.")
    var scope: Scope = .layer

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Comma-separated layers or parameter tensors to prune.", valueName: "names"))
    var layers: String?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Comma-separated layers or parameter tensors to leave alone.", valueName: "names"))
    var exclude: String?

    @Option(name: [.customShort("o"), .long], help: "The artifact to write (.msa).")
    var output: String?

    @Flag(name: .long, help: "Overwrite the output if it exists.")
    var force = false

    @Option(name: .long, help: "zstd level of the artifact (1…22).")
    var level: Int = Zstd.defaultLevel

    @Flag(name: .long, help: "Sweep sparsity per layer and globally, report accuracy; writes no model.")
    var sensitivity = false

    @Option(name: .long, help: ArgumentHelp("Dataset (.npz with x and y) for --sensitivity.", valueName: "data.npz"))
    var eval: String?

    @Option(name: .long, help: ArgumentHelp("Comma-separated fractions for --sensitivity.", valueName: "fractions"))
    var steps: String = "0.1,0.3,0.5,0.7,0.8,0.9,0.95"

    @Option(name: .long, help: ArgumentHelp("Write the sensitivity chart (accuracy vs sparsity) as SVG.", valueName: "file.svg"))
    var report: String?

    @Option(name: .long, help: "Batch size for evaluation.")
    var batch: Int = 64

    enum Scope: String, ExpressibleByArgument, CaseIterable {
        case layer, global
        var pruningScope: PruningScope { self == .layer ? .layer : .global }
    }

    func validate() throws {
        if sensitivity {
            guard eval != nil else { throw ValidationError("--sensitivity needs --eval data.npz") }
            guard output == nil, amount == nil else { throw ValidationError("--sensitivity writes no model: drop --amount and -o") }
        } else {
            guard amount != nil else { throw ValidationError("missing --amount (a fraction like 0.8 or a count like 1200)") }
            guard let output else { throw ValidationError("missing -o/--output (the .msa artifact to write)") }
            guard output.hasSuffix(".msa") else { throw ValidationError("-o must name an .msa artifact, got '\(output)'") }
            guard report == nil else { throw ValidationError("--report goes with --sensitivity") }
        }
        guard batch > 0 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let console = Console(common)
        let package = try input.loadPackage()
        let selection = ParameterSelection(layers: Self.list(layers), exclude: Self.list(exclude))
        let parameters = try selection.resolve(in: package.graph)
        if sensitivity {
            try runSensitivity(package, parameters: parameters, console: console)
            return
        }
        let pruningAmount = try PruningAmount(parsing: amount ?? "")
        guard let output else { return }
        if !force && FileManager.default.fileExists(atPath: output) { throw FormatError.outputExists(path: output) }

        var pruned = try package.pruned(parameters, by: L1Unstructured(amount: pruningAmount), scope: scope.pruningScope)
        let summary = SparsitySummary(pruned, parameters: parameters)
        pruned.provenance.steps.append(ProvenanceStep(step: "prune", options: [
            "method": .string("l1_unstructured"),
            "amount": amountJSON(pruningAmount),
            "scope": .string(scope.rawValue),
            "parameters": .array(parameters.map { .string($0) }),
        ], results: [
            "sparsity": .number(summary.sparsity),
            "pruned": .number(Double(summary.zeros)),
            "count": .number(Double(summary.count)),
        ]))
        let written = try Artifact.write(pruned.contents, to: output, options: ArtifactWriteOptions(level: level, force: force))
        try printResult(summary, output: output, fileBytes: written.fileBytes, console: console)
    }

    private func amountJSON(_ amount: PruningAmount) -> JSONValue {
        switch amount.kind {
        case .fraction(let f): return .number(f)
        case .count(let n): return .number(Double(n))
        }
    }

    private func printResult(_ summary: SparsitySummary, output: String, fileBytes: Int, console: Console) throws {
        if common.json {
            struct Result: Encodable {
                struct Row: Encodable { var name: String; var count: Int; var zeros: Int; var sparsity: Double }
                var output: String, bytes: Int, scope: String
                var parameters: [Row]
                var count: Int, zeros: Int, sparsity: Double
            }
            try JSONOutput.print(Result(
                output: output, bytes: fileBytes, scope: scope.rawValue,
                parameters: summary.entries.map { .init(name: $0.name, count: $0.count, zeros: $0.zeros, sparsity: $0.sparsity) },
                count: summary.count, zeros: summary.zeros, sparsity: summary.sparsity))
            return
        }
        var table = TextTable([.init("parameter"), .init("weights", .right), .init("zeros", .right), .init("sparsity", .right)])
        for entry in summary.entries {
            table.add([entry.name, Formatting.count(entry.count), Formatting.count(entry.zeros), Formatting.percent(entry.sparsity)])
        }
        table.add(["total", Formatting.count(summary.count), Formatting.count(summary.zeros), Formatting.percent(summary.sparsity)])
        console.output(table.render())
        console.note("wrote \(output) (\(Formatting.bytes(fileBytes)))")
    }

    private func runSensitivity(_ package: ModelPackage, parameters: [String], console: Console) throws {
        throw ValidationError("--sensitivity needs the runtime, which this build does not have yet")
    }

    /// `a,b , c` → ["a", "b", "c"]; nil → [].
    static func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
