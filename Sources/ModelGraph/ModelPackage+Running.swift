import ModelFormats

extension ModelPackage {
    /// Reads and validates a package to run or transform it (the CLI's commands, the server):
    /// `load(path:graphPath:limits:)` — every `.msa` checksum verified by its reader — then
    /// `requiringFiniteWeights(path:)`.
    public static func loadForRunning(path: String, graphPath: String? = nil, limits: ReadLimits = .default) throws -> ModelPackage {
        try load(path: path, graphPath: graphPath, limits: limits).requiringFiniteWeights(path: path)
    }

    /// The package itself, or an error naming the first tensor holding NaN or ±Inf: running or
    /// transforming such weights would propagate them into every output (docs/robustness.md,
    /// "Numerics"); `convert --allow-nonfinite` is the way to keep them.
    public func requiringFiniteWeights(path: String) throws -> ModelPackage {
        if let first = NonFiniteScan.scan(tensors).first {
            throw FormatError.nonFiniteValues(path: path, tensor: first.name, count: first.count, hint: nil)
        }
        return self
    }
}
