import Foundation
import ModelFormats
import ModelGraph
import TensorCore

/// Inputs (and optional integer labels) for evaluation, calibration and training (DESIGN §1):
/// an `.npz` with the inputs under `x` and labels under `y` (keys overridable).
public struct Dataset: Sendable {
    /// All samples, batch first.
    public let x: Tensor
    /// One class index per sample, when the file has labels.
    public let labels: [Int]?
    /// What reading converted to get here (float64 arrays, integer images to f32) or skipped, for
    /// the command's note (`ReadNote.summary`); `--strict-dtypes` refuses them instead.
    public let notes: [ReadNote]

    public init(x: Tensor, labels: [Int]? = nil, source: String = "dataset", notes: [ReadNote] = []) throws {
        guard x.shape.rank >= 1, x.shape[0] > 0 else { throw RuntimeError.badDataset(path: source, reason: "inputs have shape \(x.shape); need at least one sample") }
        guard x.dtype.isFloatingPoint else {
            throw RuntimeError.badDataset(path: source, reason: "inputs have dtype \(x.dtype.rawValue), expected f32 (or f16/bf16, or u8/i8 images)")
        }
        if let labels, labels.count != x.shape[0] {
            throw RuntimeError.badDataset(path: source, reason: "\(labels.count) labels for \(x.shape[0]) samples")
        }
        self.x = x.dtype == .f32 && x.quant == nil ? x : x.toF32()
        self.labels = labels
        self.notes = notes
    }

    /// Reads `path` (any format `WeightReaders` understands, normally `.npz`). With `yKey` nil, or
    /// when the file has no such array, there are no labels. Byte inputs (uint8/int8 images) become
    /// f32 exactly, and float64 ones are rounded to f32 by the reader; both are in `notes`.
    public static func load(path: String, xKey: String = "x", yKey: String? = "y", limits: ReadLimits = .default) throws -> Dataset {
        let contents = try WeightReaders.read(path, limits: limits)
        guard var x = contents.tensors[xKey] else {
            throw RuntimeError.missingDatasetKey(path: path, key: xKey, available: contents.tensors.names)
        }
        // Only what this dataset uses: notes about the file's other arrays would be noise.
        var notes = contents.notes.filter {
            if case .converted(let c) = $0 { return c.tensor == xKey || c.tensor == yKey }
            return true
        }
        // Images come as bytes; wider integers are more likely labels passed by mistake, and are refused.
        if x.dtype == .u8 || x.dtype == .i8 {
            notes.append(.converted(DTypeConversion(tensor: xKey, from: x.dtype == .u8 ? "uint8" : "int8", to: .f32, maxError: 0)))
            x = x.toF32()
        }
        var labels: [Int]?
        if let yKey, let y = contents.tensors[yKey] {
            guard !y.dtype.isFloatingPoint, y.shape.rank == 1 else {
                throw RuntimeError.badDataset(path: path, reason: "labels '\(yKey)' must be a 1-D integer array, got \(y.dtype.rawValue) \(y.shape)")
            }
            labels = y.integers
        }
        return try Dataset(x: x, labels: labels, source: path, notes: notes)
    }

    public var count: Int { x.shape[0] }

    /// Throws unless every input value is finite, naming the first bad sample and its flat index.
    public func checkFinite(source: String) throws {
        let perSample = x.elementCount / count
        try x.withUnsafeBufferPointer(of: Float.self) { values in
            for i in values.indices where !values[i].isFinite {
                throw RuntimeError.badDataset(path: source, reason: "sample \(i / perSample) holds \(values[i]) (flat index \(i))")
            }
        }
    }

    /// Throws unless the samples fit graph input `info` (same per-sample dims), naming the dim.
    public func checkShape(against info: ValueInfo, source: String) throws {
        let dims = x.shape.dims
        guard dims.count == info.shape.count else {
            throw RuntimeError.badDataset(path: source, reason: "inputs have shape \(dims); the model's input '\(info.name)' has rank \(info.shape.count) (\(info.shape))")
        }
        for d in 1..<dims.count where dims[d] != info.shape[d] {
            throw RuntimeError.badDataset(path: source, reason: "inputs have shape \(dims): dim \(d) is \(dims[d]), the model's input '\(info.name)' expects \(info.shape[d])")
        }
    }

    /// The samples in `range`, as one batch tensor.
    public func batch(_ range: Range<Int>) -> Tensor {
        let perSample = x.elementCount / count
        var out = Tensor(zeros: .f32, Shape([range.count] + x.shape.dims.dropFirst()))
        x.withUnsafeBytes { source in
            out.withUnsafeMutableBytes { target in
                target.baseAddress!.copyMemory(from: source.baseAddress! + range.lowerBound * perSample * 4, byteCount: range.count * perSample * 4)
            }
        }
        return out
    }

    /// The samples of `range` followed by copies of its first sample up to `size` rows (a batch of
    /// fixed size whose padding rows the caller ignores).
    public func batch(_ range: Range<Int>, paddedTo size: Int) -> Tensor {
        let indices = Array(range) + [Int](repeating: range.lowerBound, count: Swift.max(0, size - range.count))
        let perSample = x.elementCount / count
        var out = Tensor(zeros: .f32, Shape([indices.count] + x.shape.dims.dropFirst()))
        x.withUnsafeBytes { source in
            out.withUnsafeMutableBytes { target in
                for (row, index) in indices.enumerated() {
                    (target.baseAddress! + row * perSample * 4).copyMemory(from: source.baseAddress! + index * perSample * 4, byteCount: perSample * 4)
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
