import ArgumentParser
import ModelFormats
import ModelGraph

/// The model a command reads: a positional path (archive, directory, weight file or artifact)
/// and an optional `--graph model.json` that adds or replaces the graph.
public struct ModelInputOptions: ParsableArguments {
    @Argument(help: "The model: .msa artifact, .tar[.gz|.xz|.zst], .zip, .npz, .safetensors, .pt or a directory.")
    public var model: String

    @Option(name: .long, help: ArgumentHelp("A model.json graph that replaces the one inside the model (or adds one to bare weights).", valueName: "model.json"))
    public var graph: String?

    public init() {}

    /// Reads and validates the package (a graph is required).
    public func loadPackage(limits: ReadLimits = .default) throws -> ModelPackage {
        try ModelPackage.load(path: model, graphPath: graph, limits: limits)
    }
}
