import Foundation
import ModelFormats
import ModelGraph
import TensorCore

/// Inputs (and optional integer labels) for evaluation, calibration and training (DESIGN §1):
/// an `.npz` with the inputs under `x` and labels under `y` (keys overridable). A graph with
/// several inputs takes one array per input, keyed by the input's name (docs/onnx.md, "Datasets").
public struct Dataset: Sendable {
    /// All samples of the first (for most models the only) input, batch first.
    public let x: Tensor
    /// Every input by graph input name, `x` among them (f32, or i64/i32/bool ids and masks).
    public let inputs: [String: Tensor]
    /// One class index per sample, when the file has labels.
    public let labels: [Int]?
    /// What reading converted to get here (float64 arrays, integer images to f32) or skipped, for
    /// the command's note (`ReadNote.summary`); `--strict-dtypes` refuses them instead.
    public let notes: [ReadNote]

    public init(x: Tensor, labels: [Int]? = nil, source: String = "dataset", notes: [ReadNote] = []) throws {
        try self.init(inputs: [("x", x)], labels: labels, source: source, notes: notes)
    }

    /// `inputs` in graph order; each holds the same number of samples.
    public init(inputs: [(name: String, tensor: Tensor)], labels: [Int]? = nil, source: String = "dataset", notes: [ReadNote] = []) throws {
        var converted: [String: Tensor] = [:]
        for (name, tensor) in inputs {
            guard tensor.shape.rank >= 1, tensor.shape[0] > 0 else {
                throw RuntimeError.badDataset(path: source, reason: "input '\(name)' has shape \(tensor.shape); need at least one sample")
            }
            guard tensor.shape[0] == inputs[0].tensor.shape[0] else {
                throw RuntimeError.badDataset(path: source, reason: "input '\(name)' has \(tensor.shape[0]) samples, '\(inputs[0].name)' has \(inputs[0].tensor.shape[0])")
            }
            switch tensor.dtype {
            case .f32, .f16, .bf16: converted[name] = tensor.dtype == .f32 && tensor.quant == nil ? tensor : tensor.toF32()
            case .i64, .i32, .bool: converted[name] = tensor
            case .i8, .u8:
                throw RuntimeError.badDataset(path: source, reason: "input '\(name)' has dtype \(tensor.dtype.rawValue), expected f32 (or f16/bf16, or u8/i8 images read from a file), or i64/i32/bool ids and masks")
            }
        }
        guard let first = inputs.first else { throw RuntimeError.badDataset(path: source, reason: "no inputs") }
        if let labels, labels.count != first.tensor.shape[0] {
            throw RuntimeError.badDataset(path: source, reason: "\(labels.count) labels for \(first.tensor.shape[0]) samples")
        }
        self.x = converted[first.name]!
        self.inputs = converted
        self.labels = labels
        self.notes = notes
        inputOrder = inputs.map(\.name)
    }

    /// Input names in the order given.
    public let inputOrder: [String]

    /// Reads `path` (any format `WeightReaders` understands, normally `.npz`). With `yKey` nil, or
    /// when the file has no such array, there are no labels. Byte inputs (uint8/int8 images) become
    /// f32 exactly, and float64 ones are rounded to f32 by the reader; both are in `notes`.
    public static func load(path: String, xKey: String = "x", yKey: String? = "y", limits: ReadLimits = .default) throws -> Dataset {
        try load(path: path, inputs: nil, xKey: xKey, yKey: yKey, limits: limits)
    }

    /// As `load(path:xKey:yKey:limits:)` for the inputs of `graph`: with several inputs, one
    /// array per input under its name; with one, the array `xKey`, or the input's own name when
    /// the file has no `xKey` array.
    public static func load(path: String, for graph: Graph, xKey: String = "x", yKey: String? = "y", limits: ReadLimits = .default) throws -> Dataset {
        try load(path: path, inputs: graph.inputs.map(\.name), xKey: xKey, yKey: yKey, limits: limits)
    }

    private static func load(path: String, inputs names: [String]?, xKey: String, yKey: String?, limits: ReadLimits) throws -> Dataset {
        let contents = try WeightReaders.read(path, limits: limits)
        var inputs: [(name: String, tensor: Tensor)] = []
        var keys: [String] = []  // the file's arrays, one per input
        if let names, names.count > 1 {
            for name in names {
                guard let tensor = contents.tensors[name] else {
                    throw RuntimeError.missingDatasetKey(path: path, key: name, available: contents.tensors.names)
                }
                inputs.append((name, tensor))
                keys.append(name)
            }
        } else {
            // The default key falls back to the input's own name; a key the user gave does not.
            let named = xKey == "x" && !contents.tensors.contains(xKey) ? names?.first.flatMap { contents.tensors.contains($0) ? $0 : nil } : nil
            let key = named ?? xKey
            guard let x = contents.tensors[key] else {
                throw RuntimeError.missingDatasetKey(path: path, key: xKey, available: contents.tensors.names)
            }
            inputs = [(names?.first ?? "x", x)]
            keys = [key]
        }
        // Only what this dataset uses: notes about the file's other arrays would be noise.
        var notes = contents.notes.filter {
            if case .converted(let c) = $0 { return keys.contains(c.tensor) || c.tensor == yKey }
            return true
        }
        // Images come as bytes; wider integers are more likely labels passed by mistake, and are refused.
        for i in inputs.indices where inputs[i].tensor.dtype == .u8 || inputs[i].tensor.dtype == .i8 {
            notes.append(.converted(DTypeConversion(tensor: keys[i], from: inputs[i].tensor.dtype == .u8 ? "uint8" : "int8", to: .f32, maxError: 0)))
            inputs[i].tensor = inputs[i].tensor.toF32()
        }
        var labels: [Int]?
        if let yKey, let y = contents.tensors[yKey] {
            guard !y.dtype.isFloatingPoint, y.shape.rank == 1 else {
                throw RuntimeError.badDataset(path: path, reason: "labels '\(yKey)' must be a 1-D integer array, got \(y.dtype.rawValue) \(y.shape)")
            }
            labels = y.integers
        }
        return try Dataset(inputs: inputs, labels: labels, source: path, notes: notes)
    }

    public var count: Int { x.shape[0] }

    /// Throws unless every float input value is finite, naming the input, the first bad sample
    /// and its flat index.
    public func checkFinite(source: String) throws {
        for name in inputOrder {
            let tensor = inputs[name]!
            guard tensor.dtype == .f32 else { continue }
            let perSample = tensor.elementCount / count
            try tensor.withUnsafeBufferPointer(of: Float.self) { values in
                for i in values.indices where !values[i].isFinite {
                    let which = inputOrder.count > 1 ? "input '\(name)' " : ""
                    throw RuntimeError.badDataset(path: source, reason: "\(which)sample \(i / perSample) holds \(values[i]) (flat index \(i))")
                }
            }
        }
    }

    /// Throws unless every graph input has samples that fit it (same per-sample dims).
    public func checkShapes(against graph: Graph, source: String) throws {
        if graph.inputs.count == 1, inputOrder.count == 1 { return try checkShape(against: graph.inputs[0], source: source) }
        for info in graph.inputs {
            guard let tensor = inputs[info.name] else {
                throw RuntimeError.badDataset(path: source, reason: "no array for the model's input '\(info.name)' (have \(inputOrder.joined(separator: ", ")))")
            }
            try Self.checkShape(tensor, against: info, source: source)
        }
    }

    /// Throws unless the samples fit graph input `info` (same per-sample dims), naming the dim.
    public func checkShape(against info: ValueInfo, source: String) throws {
        try Self.checkShape(x, against: info, source: source)
    }

    private static func checkShape(_ x: Tensor, against info: ValueInfo, source: String) throws {
        if info.dtype.isFloatingPoint, !x.dtype.isFloatingPoint {
            throw RuntimeError.badDataset(path: source, reason: "inputs have dtype \(x.dtype.rawValue), expected f32 (or f16/bf16, or u8/i8 images)")
        }
        let dims = x.shape.dims
        guard dims.count == info.shape.count else {
            throw RuntimeError.badDataset(path: source, reason: "inputs have shape \(dims); the model's input '\(info.name)' has rank \(info.shape.count) (\(info.shape))")
        }
        for d in 1..<dims.count where dims[d] != info.shape[d] {
            throw RuntimeError.badDataset(path: source, reason: "inputs have shape \(dims): dim \(d) is \(dims[d]), the model's input '\(info.name)' expects \(info.shape[d])")
        }
    }

    /// The samples in `range` of the first input, as one batch tensor.
    public func batch(_ range: Range<Int>) -> Tensor { Self.samples(x, range, count: count) }

    /// The samples in `range` of every input, keyed by the session's input names (a dataset of
    /// one input feeds a graph of one input whatever the array's name).
    public func feeds(_ range: Range<Int>, inputNames: [String]) throws -> [String: Tensor] {
        if inputNames.count == 1, inputOrder.count == 1 { return [inputNames[0]: batch(range)] }
        var feeds: [String: Tensor] = [:]
        for name in inputNames {
            guard let tensor = inputs[name] else {
                throw RuntimeError.badOption("the dataset has no array for graph input '\(name)' (has \(inputOrder.joined(separator: ", ")))")
            }
            feeds[name] = Self.samples(tensor, range, count: count)
        }
        return feeds
    }

    /// The samples of `range` followed by copies of its first sample up to `size` rows (a batch of
    /// fixed size whose padding rows the caller ignores).
    public func batch(_ range: Range<Int>, paddedTo size: Int) -> Tensor { Self.samples(x, range, count: count, paddedTo: size) }

    private static func samples(_ x: Tensor, _ range: Range<Int>, count: Int, paddedTo size: Int = 0) -> Tensor {
        let sampleBytes = x.byteCount / count
        let padding = Swift.max(0, size - range.count)
        var out = Tensor(zeros: x.dtype, Shape([range.count + padding] + x.shape.dims.dropFirst()))
        x.withUnsafeBytes { source in
            out.withUnsafeMutableBytes { target in
                target.baseAddress!.copyMemory(from: source.baseAddress! + range.lowerBound * sampleBytes, byteCount: range.count * sampleBytes)
                for row in range.count..<(range.count + padding) {
                    (target.baseAddress! + row * sampleBytes).copyMemory(from: source.baseAddress! + range.lowerBound * sampleBytes, byteCount: sampleBytes)
                }
            }
        }
        return out
    }

    /// Batch ranges covering all samples.
    public func batchRanges(size: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: max(size, 1)).map { $0..<min($0 + max(size, 1), count) }
    }
}
