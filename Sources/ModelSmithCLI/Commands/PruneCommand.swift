import ArgumentParser
import Foundation
import ModelFormats
import Benchmarking
import ModelGraph
import ModelRuntime
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

        With --sensitivity, nothing is written: each chosen layer alone, all of them per layer, \
        and all of them globally are pruned at every --steps fraction and evaluated on --eval \
        (table, --json, --report SVG line chart).

        Examples:
          modelsmith prune teacher.tar.zst --amount 0.8 --scope global -o p80.msa
          modelsmith prune teacher.tar.zst --amount 0.5 --layers fc1,fc2 -o p50.msa
          modelsmith prune teacher.tar.zst --amount 1200 --layers fc1 -o p.msa
          modelsmith prune teacher.tar.zst --sensitivity --eval test.npz \\
            --steps 0.5,0.8,0.9 --report sens.svg
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
        let pruningAmount = sensitivity ? nil : try PruningAmount(parsing: amount ?? "")  // refuse bad amounts before loading
        let package = try input.loadPackage(console: console)
        let selection = ParameterSelection(layers: Self.list(layers), exclude: Self.list(exclude))
        let parameters = try selection.resolve(in: package.graph)
        guard let pruningAmount, let output else {
            return try runSensitivity(package, parameters: parameters, console: console)
        }
        if !force && FileManager.default.fileExists(atPath: output) { throw FormatError.outputExists(path: output) }

        var pruned = try package.pruned(parameters, by: L1Unstructured(amount: pruningAmount), scope: scope.pruningScope)
        let summary = SparsitySummary(pruned, parameters: parameters)
        pruned.provenance.steps.append(ProvenanceStep(step: "prune", options: [
            "method": .string("l1_unstructured"),
            "amount": amountJSON(pruningAmount),
            "amount_kind": .string(pruningAmount.isCount ? "count" : "fraction"),
            "scope": .string(scope.rawValue),
            "parameters": .array(parameters.map { .string($0) }),
        ], results: [
            "sparsity": .number(summary.sparsity),
            "pruned": .number(Double(summary.zeros)),
            "count": .number(Double(summary.count)),
        ]))
        let written = try Artifact.write(pruned.contents, to: output, options: ArtifactWriteOptions(level: level, force: force))
        let storage = StorageRow.rows(pruned, index: written.index)
        try printResult(summary, storage: storage, output: output, fileBytes: written.fileBytes, console: console)
    }

    private func amountJSON(_ amount: PruningAmount) -> JSONValue {
        switch amount.kind {
        case .fraction(let f): return .number(f)
        case .count(let n): return .number(Double(n))
        }
    }

    /// Bytes an artifact spends on one parameter (payload + stored mask) next to its entropy bound.
    struct StorageRow: Encodable {
        var name: String
        var count: Int
        var zeros: Int
        var sparsity: Double
        var storedBytes: Int
        var bitsPerWeight: Double
        var entropyBitsPerWeight: Double

        static func rows(_ package: ModelPackage, index: ArtifactIndex) -> [StorageRow] {
            index.params.compactMap { entry in
                guard let tensor = package.tensors[entry.name] else { return nil }
                let mask = index.tensors.first { $0.role == .mask && $0.name == entry.name }
                let stored = entry.storedBytes + (mask?.storedBytes ?? 0)
                let n = max(tensor.elementCount, 1)
                let zeros = tensor.zeroCount
                return StorageRow(name: entry.name, count: tensor.elementCount, zeros: zeros, sparsity: Double(zeros) / Double(n),
                                  storedBytes: stored, bitsPerWeight: Double(stored * 8) / Double(n),
                                  entropyBitsPerWeight: StorageEntropy.bits(of: tensor) / Double(n))
            }
        }
    }

    private func printResult(_ summary: SparsitySummary, storage: [StorageRow], output: String, fileBytes: Int, console: Console) throws {
        let count = storage.reduce(0) { $0 + $1.count }
        let entropyBits = storage.reduce(0.0) { $0 + $1.entropyBitsPerWeight * Double($1.count) }
        let denseBytes = count * 4
        if common.json {
            struct Result: Encodable {
                var output: String, bytes: Int, scope: String
                var pruned: [String]
                var count: Int, zeros: Int, sparsity: Double
                var tensors: [StorageRow]
                var bitsPerWeight: Double, entropyBitsPerWeight: Double
            }
            try JSONOutput.print(Result(
                output: output, bytes: fileBytes, scope: scope.rawValue, pruned: summary.entries.map(\.name),
                count: summary.count, zeros: summary.zeros, sparsity: summary.sparsity, tensors: storage,
                bitsPerWeight: Double(fileBytes * 8) / Double(max(count, 1)), entropyBitsPerWeight: entropyBits / Double(max(count, 1))))
            return
        }
        let pruned = Set(summary.entries.map(\.name))
        var table = TextTable([.init("tensor"), .init("weights", .right), .init("zeros", .right), .init("sparsity", .right),
                               .init("stored", .right), .init("bits/weight", .right), .init("entropy", .right)])
        for row in storage {
            table.add([row.name + (pruned.contains(row.name) ? " *" : ""), Formatting.count(row.count), Formatting.count(row.zeros),
                       Formatting.percent(row.sparsity), Formatting.bytes(row.storedBytes),
                       String(format: "%.2f", row.bitsPerWeight), String(format: "%.2f", row.entropyBitsPerWeight)])
        }
        table.add(["file", Formatting.count(count), Formatting.count(summary.zeros), Formatting.percent(summary.sparsity),
                   Formatting.bytes(fileBytes), String(format: "%.2f", Double(fileBytes * 8) / Double(max(count, 1))),
                   String(format: "%.2f", entropyBits / Double(max(count, 1)))])
        console.table(table.render())
        console.output("pruned (*) \(Formatting.percent(summary.sparsity)) of \(Formatting.count(summary.count)) weights; "
            + "wrote \(output): \(Formatting.bytes(fileBytes)), \(Formatting.ratio(Double(denseBytes) / Double(max(fileBytes, 1)))) smaller than dense FP32, "
            + "\(Formatting.ratio(Double(fileBytes * 8) / max(entropyBits, 1))) the entropy bound")
    }

    private func runSensitivity(_ package: ModelPackage, parameters: [String], console: Console) throws {
        guard let eval else { return }
        let fractions = try Self.list(steps).map { text -> Double in
            guard let value = Double(text) else { throw ValidationError("--steps: '\(text)' is not a fraction") }
            return value
        }
        guard !fractions.isEmpty else { throw ValidationError("--steps needs at least one fraction") }
        let dataset = try input.loadDataset(eval, xKey: "x", yKey: "y", console: console)
        guard dataset.labels != nil else { throw ValidationError("--eval \(eval) has no labels (y); accuracy needs them") }
        let options = SessionOptions(maxBatch: batch)
        var evaluated = 0
        let total = (parameters.count + 1) * fractions.count + 1
        if let path = report, !force, FileManager.default.fileExists(atPath: path) { throw FormatError.outputExists(path: path) }
        let sweep = try SensitivityAnalysis.run(package, parameters: parameters, steps: fractions) { candidate in
            evaluated += 1
            console.detail("evaluating \(evaluated)/\(total)")
            return try Evaluation.accuracy(session: Session(package: candidate, options: options), dataset: dataset, batch: batch)
        }
        if let path = report {
            let chart = SVGChart.lines(
                title: "Pruning sensitivity: \(package.graph.name)", xLabel: "sparsity (fraction pruned)", yLabel: "accuracy",
                series: sweep.curves.map { curve in SVGChart.Series(name: curve.target, points: curve.points.map { ($0.amount, $0.accuracy) }) },
                yRange: 0...1)
            try AtomicFile.write(Array(chart.utf8), to: path, force: force)
            console.note("wrote \(path)")
        }
        if common.json {
            try JSONOutput.print(sweep)
        } else {
            console.output("accuracy on \(eval) (\(dataset.count) samples), each layer pruned alone, all per layer, all globally:\n" + sweep.table)
        }
    }

    /// `a,b , c` → ["a", "b", "c"]; nil → [].
    static func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
