import ArgumentParser
import Foundation
import ModelFormats
import ModelGraph
import TensorCore

/// `modelsmith convert`: any readable model → an `.msa` artifact or an export for NumPy/PyTorch
/// users, chosen by the output's extension.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a model to an .msa artifact or export it to .npz, .safetensors, .tar, .tar.zst or .zip.",
        discussion: """
        The output format follows the extension of -o. An .msa artifact needs a graph (inside the \
        input or given with --graph); exports of weights alone to .npz or .safetensors do not. \
        Exports dequantize int8 tensors to f32 unless --keep-int8. A graph that is present is \
        validated against the tensors first. Nothing is written on error, and an existing output \
        is replaced only with --force.

        Examples:
          modelsmith convert weights.safetensors --graph model.json -o teacher.msa
          modelsmith convert teacher.msa -o teacher.npz
          modelsmith convert checkpoint.npz --strip-prefix module. --graph model.json -o model.tar.zst
        """)

    @OptionGroup var input: ModelInputOptions
    @OptionGroup var output: OutputOptions

    @Option(name: .long, help: "zstd compression level (1–22) for .msa outputs.")
    var level: Int = Zstd.defaultLevel

    @Flag(name: .long, help: "Keep int8 tensors (with their scales) in exports instead of dequantizing them to f32.")
    var keepInt8 = false

    @Option(name: .long, help: ArgumentHelp("Remove this prefix from tensor names that start with it (e.g. 'module.').", valueName: "prefix"))
    var stripPrefix: String?

    @OptionGroup var common: CommonOptions

    /// The formats `-o` can name, by extension.
    enum OutputFormat: String, CaseIterable {
        case msa = ".msa", npz = ".npz", safetensors = ".safetensors", tarZst = ".tar.zst", tar = ".tar", zip = ".zip"

        init?(path: String) {
            let lower = path.lowercased()
            guard let format = Self.allCases.first(where: { lower.hasSuffix($0.rawValue) }) else { return nil }
            self = format
        }
    }

    func validate() throws {
        guard (1...22).contains(level) else { throw ValidationError("--level must be between 1 and 22, got \(level)") }
        guard OutputFormat(path: output.output) != nil else {
            let known = OutputFormat.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("cannot tell the format of '\(output.output)': its extension must be one of \(known)")
        }
    }

    func run() throws {
        let console = Console(common)
        var contents = try WeightReaders.read(input.model)
        if let prefix = stripPrefix { contents = try contents.strippingPrefix(prefix) }
        contents = try ModelPackage.validatedContents(contents, graphPath: input.graph)
        let format = OutputFormat(path: output.output) ?? .msa
        var step = ProvenanceStep(step: "convert", options: ["from": .string(URL(fileURLWithPath: input.model).lastPathComponent)])
        if let prefix = stripPrefix { step.options["strip_prefix"] = .string(prefix) }

        switch format {
        case .msa:
            guard contents.graphJSON != nil else { throw FormatError.missingGraph(path: input.model) }
            step.options["level"] = .int(level)
            contents.provenance.steps.append(step)
            _ = try Artifact.write(contents, to: output.output, options: ArtifactWriteOptions(level: level, force: output.force))
        case .npz, .safetensors, .tar, .tarZst, .zip:
            try export(contents, format: format)
        }
        let bytes = ModelSummary.sizeOnDisk(output.output)
        if common.json {
            try JSONOutput.print(JSONValue.object([
                "output": .string(output.output), "format": .string(String(format.rawValue.dropFirst())),
                "tensors": .int(contents.tensors.count), "bytes": .int(bytes),
            ]))
        } else {
            console.note("wrote \(output.output): \(contents.tensors.count) tensors, \(Formatting.bytes(bytes))")
        }
    }

    /// Exports through the writers' `PackageExporter` (pending: that branch has not landed it yet).
    private func export(_ contents: PackageContents, format: OutputFormat) throws {
        throw ValidationError("export to \(format.rawValue) is not available in this build yet")
    }
}
