import ArgumentParser
import Foundation
import ModelFormats
import ModelGraph
import TensorCore

/// `modelsmith convert`: any readable model → an `.msa` artifact, an `.onnx` model (docs/onnx.md,
/// "Export") or an export for NumPy/PyTorch users, chosen by the output's extension.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a model to an .msa artifact or export it to .onnx, .npz, .safetensors, .tar, .tar.zst, .tar.gz or .zip.",
        discussion: """
        The output format follows the extension of -o. An .msa artifact needs a graph (inside the \
        input or given with --graph), and so does .onnx; exports of weights alone to .npz or \
        .safetensors do not. An .onnx export writes INT8 layers as QuantizeLinear/DequantizeLinear \
        pairs (opset 17); other exports dequantize int8 tensors to f32 unless --keep-int8. A graph that is present is \
        validated against the tensors first. Nothing is written on error, and an existing output \
        is replaced only with --force.

        Examples:
          modelsmith convert weights.safetensors --graph model.json -o teacher.msa
          modelsmith convert teacher.msa -o teacher.npz
          modelsmith convert teacher-int8.msa -o teacher-int8.onnx
          modelsmith convert checkpoint.npz --strip-prefix module. --graph model.json -o model.tar.zst
          modelsmith convert checkpoint.pt --key state_dict --strip-prefix module. -o weights.npz
        """)

    @OptionGroup var input: ModelInputOptions
    @OptionGroup var output: OutputOptions

    @Option(name: .long, help: "zstd compression level (1–22) for .msa and .tar.zst outputs.")
    var level: Int = Zstd.defaultLevel

    @Flag(name: .long, help: "Keep int8 tensors (with their scales) in exports instead of dequantizing them to f32.")
    var keepInt8 = false

    @Flag(name: .long, help: "Write tensors holding NaN or Inf (with a warning, recorded in the provenance) instead of refusing.")
    var allowNonfinite = false

    @OptionGroup var common: CommonOptions

    /// The extensions of `-o` that name an output format: ONNX's and those `PackageExporter` writes.
    private static let supportedExtensions = [".onnx"] + PackageExporter.supportedExtensions

    /// The extension of `-o` that names the output format, if it is one of `supportedExtensions`.
    private var outputExtension: String? {
        let lower = output.output.lowercased()
        return Self.supportedExtensions.first { lower.hasSuffix($0) }
    }

    func validate() throws {
        guard (1...22).contains(level) else { throw ValidationError("--level must be between 1 and 22, got \(level)") }
        guard outputExtension != nil else {
            let known = Self.supportedExtensions.joined(separator: ", ")
            throw ValidationError("cannot tell the format of '\(output.output)': its extension must be one of \(known)")
        }
    }

    func run() throws {
        let console = Console(common)
        var contents = try input.readContents(console: console)
        contents = try ModelPackage.validatedContents(contents, graphPath: input.graph, limits: try input.readLimits())
        let nonFinite = try checkNonFinite(contents, console: console)
        let format = outputExtension ?? ".msa"
        if format == ".msa" {
            guard contents.graphJSON != nil else { throw FormatError.missingGraph(path: input.model) }
            var step = ProvenanceStep(step: "convert", options: ["from": .string(URL(fileURLWithPath: input.model).lastPathComponent),
                                                                 "level": .int(level)])
            if let prefix = input.stripPrefix { step.options["strip_prefix"] = .string(prefix) }
            if !nonFinite.isEmpty { step.results["nonfinite_tensors"] = .array(nonFinite.map { .string($0) }) }
            contents.provenance.steps.append(step)
        }
        if format == ".onnx" {
            try exportONNX(contents)
        } else {
            try PackageExporter.export(contents, to: output.output, keepInt8: keepInt8, force: output.force, level: level)
        }
        let bytes = RuntimeSupport.sizeOnDisk(output.output)
        if common.json {
            try JSONOutput.print(JSONValue.object([
                "output": .string(output.output), "format": .string(String(format.dropFirst())),
                "tensors": .int(contents.tensors.count), "bytes": .int(bytes),
            ]))
        } else {
            console.note("wrote \(output.output): \(contents.tensors.count) tensors, \(Formatting.bytes(bytes))")
        }
    }

    /// The package as an ONNX model (the exporter records the conversion in `metadata_props`).
    private func exportONNX(_ contents: PackageContents) throws {
        guard contents.graphJSON != nil else { throw FormatError.missingGraph(path: input.model) }
        try ONNXExport.write(ModelPackage(contents: contents, graphPath: nil), to: output.output, force: output.force)
    }

    /// NaN/Inf that `NonFiniteRule` refuses (±Inf is allowed in constant masks): refused (exit 2,
    /// naming the first such tensor) unless `--allow-nonfinite`, which warns for each and returns
    /// their names for the provenance.
    private func checkNonFinite(_ contents: PackageContents, console: Console) throws -> [String] {
        let graph = try contents.graphJSON.map { try Graph(json: $0) }
        let found = NonFiniteRule.refused(contents.tensors, graph: graph)
        if let first = found.first, !allowNonfinite {
            throw FormatError.nonFiniteValues(path: input.model, tensor: first.name, count: first.count,
                                              hint: "pass --allow-nonfinite to write it anyway")
        }
        for (name, count) in found { console.warning("tensor '\(name)' holds \(count.summary); written as is (--allow-nonfinite)") }
        return found.map(\.name)
    }
}
