import ArgumentParser
import Foundation
import ModelRuntime
import Training

/// `modelsmith teacher-outputs`: a teacher's logits (and hidden values) for one shard of the data,
/// keyed by row digest, for `distill --teacher-outputs` (docs/scale-out.md).
struct TeacherOutputsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teacher-outputs",
        abstract: "Run a teacher over data (or one shard of it) and write its outputs keyed by row digest (.npz).",
        discussion: """
        Writes row_digest (the SHA-256 of each input row), logits (the teacher's first output) and \
        hidden.<value> for each --hidden value. distill --teacher-outputs then trains without \
        running the teacher, and refuses a training row whose digest no file holds.

        Examples:
          modelsmith teacher-outputs teacher.msa --data shard-3.npz -o logits/part-3.npz
          modelsmith teacher-outputs teacher.msa --data train.npz --shard 3/8 --hidden a1 -o logits/part-3.npz
          modelsmith distill --teacher-outputs 'logits/part-*.npz' --student student.json --data train.npz -o s.msa
        """)

    @OptionGroup var input: ModelInputOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Input rows (.npz with inputs under --x-key).", valueName: "data.npz")) var data: String
    @Option(help: "Key of the inputs in the .npz.") var xKey = "x"
    @Option(help: ArgumentHelp("Only shard K of N equal slices of the data (0 ≤ K < N).", valueName: "K/N")) var shard: DatasetShard?
    @Option(parsing: .upToNextOption, help: "Values (graph value names) to record besides the logits (comma- or space-separated).")
    var hidden: [String] = []
    @Option(help: "Threads for the matrix products.") var threads = 1

    func run() throws {
        let console = Console(common)
        guard output.output.hasSuffix(".npz") else { throw ValidationError("-o must name an .npz file, got '\(output.output)'") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        let teacher = try input.loadPackage(console: console)
        let dataset = try input.loadDataset(data, xKey: xKey, yKey: nil, console: console)
        let values = hidden.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        let outputs = try TeacherOutputs.compute(teacher: teacher, data: dataset, rows: shard?.rows(of: dataset.count), hidden: values,
                                                 options: SessionOptions(maxBatch: 256, threads: threads))
        try outputs.write(to: output.output, force: output.force)
        if common.json {
            try JSONOutput.print(Summary(output: output.output, rows: outputs.rowDigests.count, shard: shard?.description,
                                         hidden: outputs.hidden.keys.sorted()))
        } else {
            console.output("teacher outputs for \(outputs.rowDigests.count) rows\(shard.map { " (shard \($0))" } ?? "") → \(output.output)\n")
        }
    }

    private struct Summary: Encodable { let output: String, rows: Int, shard: String?, hidden: [String] }
}
