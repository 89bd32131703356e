import Foundation
import TensorCore

/// What any reader produces and the artifact writer consumes: the format-level view of a model
/// package. `ModelGraph.ModelPackage` adds the parsed, validated graph on top.
public struct PackageContents: Sendable {
    /// The graph document (model.json without the artifact's tensor index), if the input had one.
    public var graphJSON: Data?
    /// Every tensor, referenced or not, in file order.
    public var tensors: TensorMap
    /// Pruning masks by parameter tensor name (`bool`, same shape as the parameter; 1 keeps).
    public var masks: TensorMap
    public var provenance: Provenance
    /// Where it was read from (for messages).
    public var source: String
    /// What the reader converted or skipped, for the command to print (`ReadNote.summary`).
    public var notes: [ReadNote]

    public init(graphJSON: Data? = nil, tensors: TensorMap = TensorMap(), masks: TensorMap = TensorMap(),
                provenance: Provenance = Provenance(), source: String = "", notes: [ReadNote] = []) {
        self.graphJSON = graphJSON
        self.tensors = tensors
        self.masks = masks
        self.provenance = provenance
        self.source = source
        self.notes = notes
    }
}

/// How a package came to be: the tool, the input's digest and each optimization step applied.
public struct Provenance: Codable, Hashable, Sendable {
    public var tool: String = "modelsmith"
    public var version: String = ModelSmithVersion.current
    /// SHA-256 (hex) of the original input's tensors, carried through every step.
    public var sourceDigest: String?
    public var steps: [ProvenanceStep] = []

    public init(sourceDigest: String? = nil, steps: [ProvenanceStep] = []) {
        self.sourceDigest = sourceDigest
        self.steps = steps
    }

    enum CodingKeys: String, CodingKey { case tool, version, sourceDigest = "source_digest", steps }
}

/// One step (`quantize`, `prune`, `distill`, `train`, `convert`) with its options and measured results.
public struct ProvenanceStep: Codable, Hashable, Sendable {
    public var step: String
    public var options: [String: JSONValue]
    public var results: [String: JSONValue]

    public init(step: String, options: [String: JSONValue] = [:], results: [String: JSONValue] = [:]) {
        self.step = step
        self.options = options
        self.results = results
    }
}
