import ArgumentParser
import Foundation
import ModelFormats
import ModelGraph

/// The model a command reads: a positional path (archive, directory, weight file or artifact)
/// and an optional `--graph model.json` that adds or replaces the graph.
public struct ModelInputOptions: ParsableArguments {
    @Argument(help: "The model: .msa artifact, .tar[.gz|.xz|.zst], .zip, .npz, .safetensors, .pt or a directory.")
    public var model: String

    @Option(name: .long, help: ArgumentHelp("A model.json graph that replaces the one inside the model (or adds one to bare weights).", valueName: "model.json"))
    public var graph: String?

    @Option(name: .long, help: ArgumentHelp("PyTorch checkpoints: the key holding the state_dict (state_dict, model, …; a/b for nested dicts). Detected when omitted.", valueName: "key"))
    public var key: String?

    public init() {}

    /// Reads and validates the package (a graph is required).
    public func loadPackage(limits: ReadLimits = .default) throws -> ModelPackage {
        try ModelPackage(contents: readContents(limits: limits), graphPath: graph)
    }

    /// Reads the model's tensors (and graph, if inside) without validating: a PyTorch checkpoint
    /// with `--key` through its reader, anything else through the reader registry.
    public func readContents(limits: ReadLimits = .default) throws -> PackageContents {
        guard let key else { return try WeightReaders.read(model, limits: limits) }
        let url = URL(fileURLWithPath: model)
        let reader = PyTorchCheckpointReader(options: PyTorchLoadOptions(key: key))
        guard FileManager.default.fileExists(atPath: model) else { throw FormatError.fileNotFound(path: model) }
        guard reader.canRead(url) else {
            throw FormatError.malformed(path: model, entry: nil, reason: "--key applies only to PyTorch checkpoints (.pt, .pth, zip .bin)")
        }
        return try reader.read(url, limits: limits)
    }
}
