import Foundation
import ModelFormats
import TensorCore

extension ModelPackage {
    /// Reads any supported input (archive, directory, weight file, artifact) and its graph: the
    /// `model.json` inside, or the file at `graphPath`, which overrides it (or adds one to bare
    /// weights). Validates the graph against the tensors and the masks against their tensors.
    /// Throws `FormatError.missingGraph` when there is no graph at all. An `.onnx` file is
    /// translated by `ONNXImport` (its graph is the file's; `onnx` sizes its symbolic dims).
    public static func load(path: String, graphPath: String? = nil, limits: ReadLimits = .default,
                            onnx: ONNXImport.Options = ONNXImport.Options()) throws -> ModelPackage {
        if ONNXImport.canRead(path) {
            guard graphPath == nil else {
                throw FormatError.malformed(path: path, entry: nil, reason: "an ONNX model carries its graph; --graph does not apply")
            }
            return try ONNXImport.load(path: path, limits: limits, options: onnx)
        }
        let contents = try WeightReaders.read(path, limits: limits)
        return try ModelPackage(contents: contents, graphPath: graphPath, limits: limits)
    }

    /// Builds a package from what a reader produced, with the graph from `graphPath` if given,
    /// else from `contents.graphJSON`; validated as `load` does. A file at `graphPath` is held to
    /// `limits.maxHeaderBytes`, the cap of an artifact's manifest, which holds the graph.
    public init(contents: PackageContents, graphPath: String? = nil, limits: ReadLimits = .default) throws {
        let (graphData, graphSource) = try Self.graphDocument(contents: contents, graphPath: graphPath, limits: limits)
        guard let graphData else { throw FormatError.missingGraph(path: contents.source) }
        let graph: Graph
        do {
            graph = try Graph(json: graphData)
            try graph.validate(tensors: contents.tensors)
            try Self.checkMasks(contents.masks, tensors: contents.tensors)
        } catch let error as GraphError {
            throw GraphError.located(path: graphSource, error: Self.namingPrefix(error, tensors: contents.tensors))
        }
        self.init(graph: graph, tensors: contents.tensors, masks: contents.masks,
                  provenance: contents.provenance, source: contents.source)
    }

    /// Reads weights for an export that may have no graph (to .npz / .safetensors). A graph that
    /// is present (inside, or at `graphPath`) is validated and kept in `graphJSON`.
    public static func loadContents(path: String, graphPath: String? = nil, limits: ReadLimits = .default) throws -> PackageContents {
        if ONNXImport.canRead(path) { return try load(path: path, graphPath: graphPath, limits: limits).contents }
        return try validatedContents(WeightReaders.read(path, limits: limits), graphPath: graphPath, limits: limits)
    }

    /// As `loadContents(path:graphPath:limits:)`, for contents already read (say, renamed).
    public static func validatedContents(_ contents: PackageContents, graphPath: String?, limits: ReadLimits = .default) throws -> PackageContents {
        var contents = contents
        if graphPath != nil || contents.graphJSON != nil {
            let package = try ModelPackage(contents: contents, graphPath: graphPath, limits: limits)
            contents.graphJSON = package.graph.jsonData()
        } else {
            do {
                try Self.checkMasks(contents.masks, tensors: contents.tensors)
            } catch let error as GraphError {
                throw GraphError.located(path: contents.source, error: error)
            }
        }
        return contents
    }

    /// The shape of every value for a concrete batch size (see `Graph.inferShapes`).
    public func inferShapes(batch: Int) throws -> [String: Shape] {
        try graph.inferShapes(batch: batch, tensors: tensors)
    }

    /// The graph bytes and the name to use in messages about them.
    /// Reads at most one byte past the cap, so neither a huge file nor an endless one (a FIFO,
    /// `/dev/zero`) is read whole.
    private static func graphDocument(contents: PackageContents, graphPath: String?, limits: ReadLimits) throws -> (Data?, String) {
        guard let graphPath else { return (contents.graphJSON, contents.source) }
        guard FileManager.default.fileExists(atPath: graphPath) else { throw FormatError.fileNotFound(path: graphPath) }
        let data: Data
        do {
            let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: graphPath))
            defer { try? file.close() }
            data = try file.read(upToCount: limits.maxHeaderBytes + 1) ?? Data()
        } catch {
            throw FormatError.unreadable(path: graphPath, reason: error.localizedDescription)
        }
        guard data.count <= limits.maxHeaderBytes else {
            throw FormatError.limitExceeded(path: graphPath, entry: nil, limit: "the graph cap of \(limits.maxHeaderBytes) bytes (--limit header-bytes)")
        }
        return (data, graphPath)
    }

    /// A missing tensor that the file holds under a prefix (`module.fc1.weight` for `fc1.weight`)
    /// becomes `prefixedTensor`, naming the shortest such prefix; any other error is returned as is.
    static func namingPrefix(_ error: GraphError, tensors: TensorMap) -> GraphError {
        guard case .missingTensor(let node, let role, let tensor) = error else { return error }
        let prefixes = tensors.names.filter { $0.count > tensor.count && $0.hasSuffix("." + tensor) }.map { String($0.dropLast(tensor.count)) }
        guard let prefix = prefixes.min(by: { $0.count < $1.count }) else { return error }
        return .prefixedTensor(node: node, role: role, tensor: tensor, prefix: prefix)
    }

    /// Every mask belongs to a tensor of the same shape and is `bool`.
    static func checkMasks(_ masks: TensorMap, tensors: TensorMap) throws {
        for (name, mask) in masks {
            guard let tensor = tensors[name] else { throw GraphError.badMask(tensor: name, reason: "no such tensor") }
            guard mask.dtype == .bool else { throw GraphError.badMask(tensor: name, reason: "has dtype \(mask.dtype.rawValue), expected bool") }
            guard mask.shape == tensor.shape else {
                throw GraphError.badMask(tensor: name, reason: "has shape \(mask.shape), the tensor has \(tensor.shape)")
            }
        }
    }
}

extension PackageContents {
    /// The same contents with `prefix` removed from every tensor (and mask) name that starts
    /// with it, e.g. `module.` from a `DataParallel` state_dict. Two names colliding is an error.
    public func strippingPrefix(_ prefix: String) throws -> PackageContents {
        guard !prefix.isEmpty else { return self }
        func strip(_ map: TensorMap) throws -> TensorMap {
            var renamed = TensorMap()
            for (name, tensor) in map {
                let newName = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : name
                guard !newName.isEmpty else {
                    throw FormatError.malformed(path: source, entry: nil, reason: "tensor '\(name)' would have an empty name without prefix '\(prefix)'")
                }
                guard !renamed.contains(newName) else { throw FormatError.duplicateTensor(path: source, name: newName) }
                renamed[newName] = tensor
            }
            return renamed
        }
        var result = self
        result.tensors = try strip(tensors)
        result.masks = try strip(masks)
        return result
    }
}
