import Foundation
import ModelFormats
import TensorCore

/// Inputs (and optional integer labels) for evaluation, calibration and training (DESIGN §1):
/// an `.npz` with the inputs under `x` and labels under `y` (keys overridable).
public struct Dataset: Sendable {
    /// All samples, batch first.
    public let x: Tensor
    /// One class index per sample, when the file has labels.
    public let labels: [Int]?

    public init(x: Tensor, labels: [Int]? = nil, source: String = "dataset") throws {
        guard x.shape.rank >= 1, x.shape[0] > 0 else { throw RuntimeError.badDataset(path: source, reason: "inputs have shape \(x.shape); need at least one sample") }
        if let labels, labels.count != x.shape[0] {
            throw RuntimeError.badDataset(path: source, reason: "\(labels.count) labels for \(x.shape[0]) samples")
        }
        self.x = x.dtype == .f32 && x.quant == nil ? x : x.toF32()
        self.labels = labels
    }

    /// Reads `path` (any format `WeightReaders` understands, normally `.npz`). With `yKey` nil, or
    /// when the file has no such array, there are no labels.
    public static func load(path: String, xKey: String = "x", yKey: String? = "y", limits: ReadLimits = .default) throws -> Dataset {
        let contents = try WeightReaders.read(path, limits: limits)
        guard let x = contents.tensors[xKey] else {
            throw RuntimeError.missingDatasetKey(path: path, key: xKey, available: contents.tensors.names)
        }
        var labels: [Int]?
        if let yKey, let y = contents.tensors[yKey] {
            guard !y.dtype.isFloatingPoint, y.shape.rank == 1 else {
                throw RuntimeError.badDataset(path: path, reason: "labels '\(yKey)' must be a 1-D integer array, got \(y.dtype.rawValue) \(y.shape)")
            }
            labels = y.integers
        }
        return try Dataset(x: x, labels: labels, source: path)
    }

    public var count: Int { x.shape[0] }

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

    /// Batch ranges covering all samples.
    public func batchRanges(size: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: max(size, 1)).map { $0..<min($0 + max(size, 1), count) }
    }
}
