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
        "ONNX models: the size of a symbolic input dimension other than the batch (repeatable), e.g. sequence=128.",
        valueName: "name=size"))
    public var dimOverrides: [String] = []

    public init() {}

    public func validate() throws {
        _ = try readLimits()
        _ = try onnxOptions()
    }

    /// `--dim name=size` as import options.
    public func onnxOptions() throws -> ONNXImport.Options {
        var options = ONNXImport.Options()
        for text in dimOverrides {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let size = Int(parts[1]), size >= 1 else {
                throw ValidationError("--dim '\(text)': expected name=size with a positive size")
            }
            options.dims[parts[0]] = size
        }
        return options
    }

    /// The default `ReadLimits` with every `--limit` applied.
    public func readLimits() throws -> ReadLimits {
        var limits = ReadLimits.default
        for text in limitOverrides { try limits.apply(override: text) }
        return limits
    }

    /// Reads and validates the package (a graph is required); `limits` defaults to `readLimits()`.
    /// Weights holding NaN or ±Inf are refused (naming the first such tensor): every command that
    /// loads a package to run or transform it would otherwise propagate them into its output
    /// (docs/robustness.md, "Numerics"); `convert --allow-nonfinite` is the way to keep them.
    func loadPackage(limits: ReadLimits? = nil, console: Console) throws -> ModelPackage {
        if ONNXImport.canRead(model) {
            return try Self.checkFinite(ModelPackage.load(path: model, graphPath: graph, limits: limits ?? readLimits(), onnx: onnxOptions()), path: model)
        }
        return try Self.checkFinite(ModelPackage(contents: readContents(limits: limits, console: console), graphPath: graph, limits: limits ?? readLimits()), path: model)
    }

    /// The same for a command's other models (`--teacher`, `--reference`, `--baseline`, …): read with
    /// `limits` (pass `readLimits()` so `--limit` covers them too), validated, NaN/Inf refused;
    /// what the reader converted is noted (or refused with `strictDTypes`). `onnx`: the `--dim`
    /// sizes (pass `onnxOptions()`) for an `.onnx` model.
    static func loadPackage(path: String, graph: String?, limits: ReadLimits = .default, strictDTypes: Bool = false,
                            onnx: ONNXImport.Options = ONNXImport.Options(), console: Console) throws -> ModelPackage {
        if ONNXImport.canRead(path) {
            return try checkFinite(ModelPackage.load(path: path, graphPath: graph, limits: limits, onnx: onnx), path: path)
        }
        let contents = try WeightReaders.read(path, limits: limits)
        try admit(contents.notes, source: path, strictDTypes: strictDTypes, console: console)
        return try checkFinite(ModelPackage(contents: contents, graphPath: graph, limits: limits), path: path)
    }

    /// Reads a dataset (`--data`, `--calib`, `--eval`, …), noting what was converted to f32, or
    /// refusing it with `--strict-dtypes`.
    func loadDataset(_ path: String, xKey: String, yKey: String?, console: Console) throws -> Dataset {
        try Self.loadDataset(path, xKey: xKey, yKey: yKey, strictDTypes: strictDTypes, console: console)
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
        if strictDTypes { try ReadNote.refuseConversions(notes, source: source) }
        for line in ReadNote.summary(notes, source: source) { console.note(line) }
    }

    private static func checkFinite(_ package: ModelPackage, path: String) throws -> ModelPackage {
        if let first = NonFiniteScan.scan(package.tensors).first {
            throw FormatError.nonFiniteValues(path: path, tensor: first.name, count: first.count, hint: nil)
        }
        return package
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
