import ArgumentParser
import Benchmarking
import Foundation
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore

/// `modelsmith run`: the model's outputs on the inputs of an npz.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model on the inputs in an .npz and write its outputs.",
        discussion: """
        Runs every sample of the input array (key `x`, or --input-key) through the model in \
        batches of --batch and writes one array per graph output, named as the output, to the \
        -o .npz. Labels under `y`, when present, give an accuracy line.

        Examples:
          modelsmith run teacher.msa --input test.npz -o logits.npz
          modelsmith run weights.npz --graph model.json --input test.npz --batch 8 --threads 2 --json
        """)

    @OptionGroup var model: ModelInputOptions
    @Option(name: .long, help: ArgumentHelp("The .npz holding the inputs.", valueName: "npz")) var input: String
    @Option(name: .long, help: "The array of --input holding the inputs.") var inputKey = "x"
    @Option(name: .long, help: "The array of --input holding integer labels, if any.") var labelKey = "y"
    @Option(name: [.customShort("o"), .long], help: "Write the outputs to this .npz.") var output: String?
    @Flag(name: .long, help: "Overwrite the output if it exists.") var force = false
    @Option(name: .long, help: "Samples per run (the planned maximum batch).") var batch = 64
    @Option(name: .long, help: "Kernel threads.") var threads = 1
    @OptionGroup var common: CommonOptions

    func run() throws {
        if let output, !force, FileManager.default.fileExists(atPath: output) { throw FormatError.outputExists(path: output) }
        let console = Console(common)
        let package = try model.loadPackage(console: console)
        let data = try RuntimeSupport.loadDataset(input, xKey: inputKey, yKey: labelKey, for: package.graph,
                                                  strictDTypes: model.strictDTypes, console: console)
        let session = try Session(package: package, options: SessionOptions(maxBatch: batch, threads: threads))
        let start = ProcessStatistics.now()
        let outputs = try Evaluation.outputs(session: session, dataset: data, batch: batch)
        let seconds = Double(ProcessStatistics.now() - start) / 1e9
        if let output {
            var tensors = TensorMap()
            for name in session.outputNames { tensors[name] = outputs[name] }
            try PackageExporter.export(PackageContents(tensors: tensors, source: model.model), to: output, force: force)
        }
        let accuracy = data.labels.map { Evaluation.accuracy(logits: outputs[session.outputNames[0]]!, labels: $0) }
        if common.json {
            var object: [String: JSONValue] = [
                "model": .string(model.model), "samples": .int(data.count), "batch": .int(batch), "threads": .int(threads),
                "seconds": .number(seconds),
                "outputs": .object(outputs.mapValues { .ints($0.shape.dims) }),
            ]
            if let output { object["output"] = .string(output) }
            if let accuracy { object["accuracy"] = .number(accuracy) }
            try JSONOutput.print(JSONValue.object(object))
        } else {
            let shapes = session.outputNames.map { "\($0) \(outputs[$0]!.shape)" }.joined(separator: ", ")
            // --quiet prints only errors: the outputs are in -o, and this summary is about them.
            if !common.quiet {
                console.output("ran \(data.count) samples in \(String(format: "%.3f", seconds)) s: \(shapes)")
                if let accuracy { console.output("accuracy \(String(format: "%.4f", accuracy)) on '\(labelKey)'") }
            }
            if let output { console.note("wrote \(output)") }
        }
    }
}
