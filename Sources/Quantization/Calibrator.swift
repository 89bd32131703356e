import Foundation
import ModelGraph
import ModelRuntime
import TensorCore

/// Runs the FP32 model over calibration samples and collects one `Histogram` per activation value
/// through `Session` taps: fixed memory per tensor (O(bins × observed tensors)), nothing stored per batch.
public enum Calibrator {
    /// The calibration cache of `rows` of `data` (all of them by default; `shard`'s slice when given,
    /// recorded in the cache): the one pipeline behind `calibrate` and `quantize --calib`.
    public static func calibrate(_ package: ModelPackage, data: Dataset, rows: Range<Int>? = nil, shard: DatasetShard? = nil,
                                 method: CalibrationMethod, bins: Int = Histogram.defaultCapacity,
                                 options: SessionOptions = SessionOptions()) throws -> CalibrationCache {
        let selected = rows ?? shard.map { $0.rows(of: data.count) } ?? 0..<data.count
        guard bins >= 16 else { throw QuantizationError.badBinCount(bins) }
        let session = try Session(package: package, options: options)
        let histograms = try collect(session: session, values: Quantizer.calibratedValues(package.graph), data: data,
                                     rows: selected, bins: bins)
        return CalibrationCache(modelDigest: package.contentDigest, graphDigest: package.graphDigest,
                                rowDigests: data.rowDigests(selected), shard: shard, method: method, histograms: histograms)
    }

    /// Histograms of `values` over `rows` of `data`, in batches of `batch`.
    /// Refuses data of the wrong shape, an empty or out-of-range selection, and NaN/Inf (naming the sample).
    public static func collect(session: Session, values: [String], data: Dataset, rows: Range<Int>,
                               bins: Int = Histogram.defaultCapacity, batch: Int = 64) throws -> [String: Histogram] {
        guard !session.graph.inputs.isEmpty else { throw QuantizationError.nothingToQuantize }
        try checkShapes(data, against: session.graph)
        guard !rows.isEmpty, rows.upperBound <= data.count, rows.lowerBound >= 0 else {
            throw QuantizationError.tooFewSamples(requested: rows.upperBound, available: data.count)
        }
        for (input, tensor) in feedsByInput(data, session.graph) where tensor.dtype.isFloatingPoint { try checkFinite(tensor, rows: rows, input: input) }
        var histograms = Dictionary(uniqueKeysWithValues: values.map { ($0, Histogram(capacity: bins)) })
        let wanted = Set(values)
        // Bins are allocated at the first observation: held to the memory budget before it.
        try MemoryBudget.admit(checkedProduct([values.count, bins, MemoryLayout<UInt64>.size]),
                               for: "the calibration histograms (\(values.count) values × \(bins) bins)")
        // Every batch runs at the same size, the last one padded with copies of its first row whose
        // activations are not observed: some kernels (oneDNN's AVX2 sgemm) give a row last-bit
        // different results at different batch sizes, and a row's statistics must not depend on
        // which shard or batch it falls in for shard caches to merge exactly (docs/scale-out.md).
        let size = Swift.max(1, Swift.min(batch, session.options.maxBatch))
        var start = rows.lowerBound
        while start < rows.upperBound {
            let range = start..<Swift.min(start + size, rows.upperBound)
            let feeds = try data.feeds(range, inputNames: session.inputNames, paddedTo: size)
            _ = try session.run(feeds, taps: wanted) { name, tensor in
                let observed = tensor.elementCount / Swift.max(tensor.shape[0], 1) * range.count
                tensor.withUnsafeBufferPointer(of: Float.self) { histograms[name]!.observe(UnsafeBufferPointer(rebasing: $0[..<observed])) }
            }
            start = range.upperBound
        }
        return histograms
    }

    /// The first `samples` rows (`quantize --samples`).
    public static func collect(session: Session, values: [String], data: Dataset, samples: Int,
                               bins: Int = Histogram.defaultCapacity, batch: Int = 64) throws -> [String: Histogram] {
        guard samples > 0 else { throw QuantizationError.tooFewSamples(requested: samples, available: data.count) }
        return try collect(session: session, values: values, data: data, rows: 0..<samples, bins: bins, batch: batch)
    }

    /// Which dataset array feeds each graph input (a one-input graph takes the one array whatever its name).
    private static func feedsByInput(_ data: Dataset, _ graph: Graph) -> [(String, Tensor)] {
        if graph.inputs.count == 1, data.inputOrder.count == 1 { return [(graph.inputs[0].name, data.x)] }
        return graph.inputs.compactMap { info in data.inputs[info.name].map { (info.name, $0) } }
    }

    /// Every graph input has an array whose per-sample dims are the input's.
    private static func checkShapes(_ data: Dataset, against graph: Graph) throws {
        if graph.inputs.count > 1 || data.inputOrder.count > 1 {
            for info in graph.inputs where data.inputs[info.name] == nil {
                throw QuantizationError.missingCalibrationInput(info.name, available: data.inputOrder)
            }
        }
        for (name, tensor) in feedsByInput(data, graph) {
            let info = graph.inputs.first { $0.name == name }!
            guard tensor.shape.rank == info.shape.count,
                  tensor.shape.dims.indices.dropFirst().allSatisfy({ tensor.shape[$0] == info.shape[$0] || info.symbol(at: $0) != nil }) else {
                throw QuantizationError.calibrationShape(input: name, expected: info.shape, actual: tensor.shape.dims)
            }
        }
    }

    static func checkFinite(_ x: Tensor, rows: Range<Int>, input: String) throws {
        let perSample = x.elementCount / Swift.max(x.shape[0], 1)
        try x.toF32().withUnsafeBufferPointer(of: Float.self) { values in
            for s in rows where !values[(s * perSample)..<((s + 1) * perSample)].allSatisfy(\.isFinite) {
                throw QuantizationError.nonFiniteCalibration(sample: s, input: input)
            }
        }
    }
}
