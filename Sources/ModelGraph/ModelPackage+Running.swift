import ModelFormats

extension ModelPackage {
    /// Reads and validates a package to run or transform it (the CLI's commands, the server):
    /// any input `load(path:graphPath:limits:onnx:)` reads — `.onnx` included, `onnx` sizing its
    /// symbolic dims; every `.msa` checksum verified by its reader — then
    /// `requiringFiniteWeights(path:)`. What the reader converted (float64 weights, …) goes to
    /// `notes`, or is refused with `strictDTypes` (docs/robustness.md, "Numerics").
    public static func loadForRunning(path: String, graphPath: String? = nil, limits: ReadLimits = .default,
                                      onnx: ONNXImport.Options = ONNXImport.Options(), strictDTypes: Bool = false,
                                      notes: ([ReadNote]) -> Void = { _ in }) throws -> ModelPackage {
        if ONNXImport.canRead(path) {
            return try load(path: path, graphPath: graphPath, limits: limits, onnx: onnx).requiringFiniteWeights(path: path)
        }
        let contents = try WeightReaders.read(path, limits: limits)
        try admit(contents.notes, source: path, strictDTypes: strictDTypes, notes: notes)
        return try ModelPackage(contents: contents, graphPath: graphPath, limits: limits).requiringFiniteWeights(path: path)
    }

    /// Hands a reader's notes on, or refuses the first conversion when `strictDTypes`.
    public static func admit(_ readNotes: [ReadNote], source: String, strictDTypes: Bool,
                             notes: ([ReadNote]) -> Void) throws {
        if strictDTypes { try ReadNote.refuseConversions(readNotes, source: source) }
        if !readNotes.isEmpty { notes(readNotes) }
    }

    /// The package itself, or an error naming the first tensor `NonFiniteRule` refuses (NaN
    /// anywhere, ±Inf outside constant masks): running or transforming such weights would
    /// propagate them into every output (docs/robustness.md, "Numerics"); `convert
    /// --allow-nonfinite` is the way to keep them.
    public func requiringFiniteWeights(path: String) throws -> ModelPackage {
        if let first = refusedNonFiniteTensors.first {
            throw FormatError.nonFiniteValues(path: path, tensor: first.name, count: first.count, hint: nil)
        }
        return self
    }
}
