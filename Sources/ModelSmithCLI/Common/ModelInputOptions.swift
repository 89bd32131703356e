import ArgumentParser
import Foundation
import ModelFormats
import ModelGraph
import ModelRuntime

/// The model a command reads: a positional path (archive, directory, weight file or artifact)
/// and an optional `--graph model.json` that adds or replaces the graph.
public struct ModelInputOptions: ParsableArguments {
    @Argument(help: "The model: .onnx, .msa artifact, .tar[.gz|.xz|.zst], .zip, .npz, .safetensors, .pt or a directory.")
    public var model: String

    @Option(name: .long, help: ArgumentHelp("A model.json graph that replaces the one inside the model (or adds one to bare weights).", valueName: "model.json"))
    public var graph: String?

    @Option(name: .long, help: ArgumentHelp("PyTorch checkpoints: the key holding the state_dict (state_dict, model, …; a/b for nested dicts). Detected when omitted.", valueName: "key"))
    public var key: String?

    @Option(name: .long, help: ArgumentHelp("Remove this prefix from tensor names that start with it (e.g. 'module.' of nn.DataParallel).", valueName: "prefix"))
    public var stripPrefix: String?

    @Flag(name: .customLong("strict-dtypes"), help: "Refuse weights and data whose dtype would be converted (float64, int16, uint16 weights; integer or float64 data) instead of converting them with a note.")
    public var strictDTypes = false

    @Option(name: .customLong("limit"), help: ArgumentHelp(
        "Override a resource bound for reading untrusted input (repeatable): \(ReadLimits.overridable.map(\.name).joined(separator: ", ")). Sizes take K/M/G/T; see docs/robustness.md.",
        valueName: "name=value"))
    public var limitOverrides: [String] = []

    @Option(name: .customLong("dim"), help: ArgumentHelp(
        "ONNX models: fix a symbolic input dimension other than the batch at import (repeatable), e.g. sequence=128; without it the size comes from each run's data.",
        valueName: "name=size"))
    public var dimOverrides: [String] = []

    public init() {}

    public func validate() throws {
        _ = try readLimits()
        _ = try onnxOptions()
    }

    /// `--dim name=size` as import options.
    public func onnxOptions() throws -> ONNXImport.Options { try Self.onnxOptions(dims: dimOverrides) }

    /// The default `ReadLimits` with every `--limit` applied.
    public func readLimits() throws -> ReadLimits { try Self.readLimits(overrides: limitOverrides) }

    /// `name=size` texts (`--dim`, or `serve`'s) as import options.
    static func onnxOptions(dims: [String]) throws -> ONNXImport.Options {
        var options = ONNXImport.Options()
        for text in dims {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let size = Int(parts[1]), size >= 1 else {
                throw ValidationError("--dim '\(text)': expected name=size with a positive size")
            }
            options.dims[parts[0]] = size
        }
        return options
    }

    /// The default `ReadLimits` with `name=value` overrides (`--limit`) applied.
    static func readLimits(overrides: [String]) throws -> ReadLimits {
        var limits = ReadLimits.default
        for text in overrides { try limits.apply(override: text) }
        return limits
    }

    /// Reads and validates the package (a graph is required); `limits` defaults to `readLimits()`;
    /// weights holding NaN or ±Inf are refused (`ModelPackage.requiringFiniteWeights`).
    func loadPackage(limits: ReadLimits? = nil, console: Console) throws -> ModelPackage {
        if ONNXImport.canRead(model) {
            return try ModelPackage.loadForRunning(path: model, graphPath: graph, limits: limits ?? readLimits(), onnx: onnxOptions())
        }
        return try ModelPackage(contents: readContents(limits: limits, console: console), graphPath: graph, limits: limits ?? readLimits()).requiringFiniteWeights(path: model)
    }

    /// The same for a command's other models (`--teacher`, `--reference`, `--baseline`, …): read with
    /// `limits` (pass `readLimits()` so `--limit` covers them too) by `ModelPackage.loadForRunning`,
    /// what the reader converted noted (or refused with `strictDTypes`). `onnx`: the `--dim` sizes
    /// (pass `onnxOptions()`) for an `.onnx` model.
    static func loadPackage(path: String, graph: String?, limits: ReadLimits = .default, strictDTypes: Bool = false,
                            onnx: ONNXImport.Options = ONNXImport.Options(), console: Console) throws -> ModelPackage {
        try ModelPackage.loadForRunning(path: path, graphPath: graph, limits: limits, onnx: onnx, strictDTypes: strictDTypes,
                                        notes: { printNotes($0, source: path, console: console) })
    }

    /// Reads a dataset (`--data`, `--calib`, `--eval`, …), noting what was converted to f32, or
    /// refusing it with `--strict-dtypes`.
    /// With `graph`, one array per graph input as `Dataset.load(path:for:)` reads them.
    func loadDataset(_ path: String, xKey: String, yKey: String?, for graph: Graph? = nil, console: Console) throws -> Dataset {
        try Self.loadDataset(path, xKey: xKey, yKey: yKey, for: graph, strictDTypes: strictDTypes, console: console)
    }

    /// As above; with `graph`, one array per graph input (`Dataset.load(path:for:)`).
    static func loadDataset(_ path: String, xKey: String, yKey: String?, for graph: Graph? = nil, strictDTypes: Bool = false,
                            console: Console) throws -> Dataset {
        let data = try graph.map { try Dataset.load(path: path, for: $0, xKey: xKey, yKey: yKey) }
            ?? Dataset.load(path: path, xKey: xKey, yKey: yKey)
        try admit(data.notes, source: path, strictDTypes: strictDTypes, console: console)
        return data
    }

    /// Prints the reader's notes (conversions, skipped entries), or refuses a conversion when strict.
    static func admit(_ notes: [ReadNote], source: String, strictDTypes: Bool, console: Console) throws {
        try ModelPackage.admit(notes, source: source, strictDTypes: strictDTypes,
                               notes: { printNotes($0, source: source, console: console) })
    }

    private static func printNotes(_ notes: [ReadNote], source: String, console: Console) {
        for line in ReadNote.summary(notes, source: source) { console.note(line) }
    }

    /// Reads the model's tensors (and graph, if inside) without validating: a PyTorch checkpoint
    /// with `--key` through its reader, an ONNX model through its importer, anything else through
    /// the reader registry; then `--strip-prefix`, and the reader's notes printed (or a conversion
    /// refused with `--strict-dtypes`). `limits` defaults to `readLimits()` (the defaults with
    /// `--limit` overrides).
    func readContents(limits: ReadLimits? = nil, console: Console) throws -> PackageContents {
        var contents = try readUnrenamed(limits: limits ?? readLimits())
        try Self.admit(contents.notes, source: model, strictDTypes: strictDTypes, console: console)
        if let stripPrefix { contents = try contents.strippingPrefix(stripPrefix) }
        return contents
    }

    private func readUnrenamed(limits: ReadLimits) throws -> PackageContents {
        if ONNXImport.canRead(model) {
            return try ModelPackage.load(path: model, graphPath: graph, limits: limits, onnx: onnxOptions()).contents
        }
        guard let key else { return try WeightReaders.read(model, limits: limits) }
        let url = URL(fileURLWithPath: model)
        let reader = PyTorchCheckpointReader(options: PyTorchLoadOptions(key: key))
        guard FileManager.default.fileExists(atPath: model) else { throw FormatError.fileNotFound(path: model) }
        guard reader.canRead(url) else {
            throw FormatError.malformed(path: model, entry: nil, reason: "--key applies only to PyTorch checkpoints (.pt, .pth, .bin)")
        }
        return try reader.read(url, limits: limits)
    }
}
