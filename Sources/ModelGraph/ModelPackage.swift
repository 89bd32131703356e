import Foundation
import ModelFormats
import TensorCore

/// A graph plus the named tensors it references: what every command consumes (DESIGN §1).
public struct ModelPackage: Sendable {
    public var graph: Graph
    public var tensors: TensorMap
    /// Pruning masks by parameter tensor name (`bool`, 1 keeps the weight).
    public var masks: TensorMap
    public var provenance: Provenance
    public var source: String

    public init(graph: Graph, tensors: TensorMap, masks: TensorMap = TensorMap(),
                provenance: Provenance = Provenance(), source: String = "") {
        self.graph = graph
        self.tensors = tensors
        self.masks = masks
        self.provenance = provenance
        self.source = source
    }

    /// The format-level view, for writers.
    public var contents: PackageContents {
        PackageContents(graphJSON: graph.jsonData(), tensors: tensors, masks: masks, provenance: provenance, source: source)
    }
}
