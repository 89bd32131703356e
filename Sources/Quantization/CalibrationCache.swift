import Foundation
import ModelRuntime
import TensorCore

/// A reusable record of a calibration run (docs/quantization.md, "Calibration cache"): per
/// activation tensor the full histogram and exact min/max (not only a scale), so any method can
/// re-derive ranges without running the model again; plus what it is valid for (the model's and
/// graph's digests), which rows it saw (one digest per sample, so shards can be merged and checked
/// for overlap: docs/scale-out.md), how it was made (method, parameters) and by which tool
/// version. JSON, keys sorted, one document:
///
/// ```json
/// {"format": "modelsmith-calibration", "version": 2, "tool": "modelsmith 0.1.0",
///  "model_digest": "<sha256>", "graph_digest": "<sha256>", "data_digest": "<sha256>", "samples": 256,
///  "row_digests": ["<sha256>", ...], "shard": {"index": 0, "count": 4},
///  "method": "entropy", "parameters": {"start_bin": 128, "quantized_bins": 127},
///  "tensors": {"a1": {"min": 0, "max": 9.1, "count": 131072, "non_finite": 0,
///                     "capacity": 2048, "bin_exponent": -8, "first_bin": 0, "counts": [...],
///                     "range": [0, 7.3]}}}
/// ```
/// `counts[i]` is the number of values in `[(first_bin + i)·2^bin_exponent, (first_bin + i + 1)·2^bin_exponent)`;
/// trailing zero bins are omitted. `range` is what `method` derived (informative).
public struct CalibrationCache: Codable, Sendable {
    public static let formatName = "modelsmith-calibration"
    public static let formatVersion = 2

    public var format: String = CalibrationCache.formatName
    public var version: Int = CalibrationCache.formatVersion
    public var tool: String = "modelsmith \(ModelSmithVersion.current)"
    public var modelDigest: String
    public var graphDigest: String
    /// `Dataset.multisetDigest` of `rowDigests`: the same for shards merged in any order as for one pass.
    public var dataDigest: String
    public var samples: Int
    /// Sorted SHA-256 of every sample seen (`Dataset.rowDigests`).
    public var rowDigests: [String]
    /// Which slice of the data this cache saw (`calibrate --shard K/N`); nil for a whole data set or a merge.
    public var shard: DatasetShard?
    public var method: String
    public var parameters: [String: Double]
    public var tensors: [String: TensorStatistics]

    /// One activation tensor's statistics.
    public struct TensorStatistics: Codable, Sendable {
        public var min: Float
        public var max: Float
        public var count: UInt64
        public var nonFinite: UInt64
        public var capacity: Int
        public var binExponent: Int
        public var firstBin: Int
        public var counts: [UInt64]
        public var range: [Float]

        enum CodingKeys: String, CodingKey {
            case min, max, count, nonFinite = "non_finite", capacity, binExponent = "bin_exponent",
                 firstBin = "first_bin", counts, range
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, version, tool, modelDigest = "model_digest", graphDigest = "graph_digest", dataDigest = "data_digest",
             samples, rowDigests = "row_digests", shard, method, parameters, tensors
    }

    public init(modelDigest: String, graphDigest: String, rowDigests: [String], shard: DatasetShard? = nil,
                method: CalibrationMethod, histograms: [String: Histogram], levels: Int = 256) {
        self.modelDigest = modelDigest
        self.graphDigest = graphDigest
        self.rowDigests = rowDigests.sorted()
        self.dataDigest = Dataset.multisetDigest(ofRows: rowDigests)
        self.samples = rowDigests.count
        self.shard = shard
        self.method = method.name
        self.parameters = method.parameters
        self.tensors = histograms.mapValues { h in
            var counts = h.counts
            while counts.last == 0 { counts.removeLast() }
            let r = method.range(from: h, levels: levels)
            return TensorStatistics(min: h.min, max: h.max, count: h.total, nonFinite: h.nonFiniteCount,
                                    capacity: h.capacity, binExponent: h.exponent, firstBin: h.firstBin,
                                    counts: counts, range: [r.min, r.max])
        }
    }

    /// The recorded method with its parameters.
    public func recordedMethod() throws -> CalibrationMethod {
        try CalibrationMethod(name: method, percentile: parameters["percentile"] ?? PercentileObserver.defaultPercentile)
    }

    /// Every tensor's histogram, validated.
    public func histograms(path: String = "calibration cache") throws -> [String: Histogram] {
        var out: [String: Histogram] = [:]
        for (name, s) in tensors {
            do {
                out[name] = try Histogram(capacity: s.capacity, exponent: s.binExponent, firstBin: s.firstBin,
                                          counts: s.counts, min: s.min, max: s.max, nonFiniteCount: s.nonFinite)
            } catch {
                throw QuantizationError.malformedCache(path: path, reason: "tensor '\(name)': \(error)")
            }
            guard out[name]!.total == s.count else {
                throw QuantizationError.malformedCache(path: path, reason: "tensor '\(name)': counts sum to \(out[name]!.total), 'count' says \(s.count)")
            }
        }
        return out
    }

    public func jsonData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try! encoder.encode(self)
    }

    /// Parses a cache and checks it was made for the model with `modelDigest` and `graphDigest`.
    public static func load(contentsOf path: String, modelDigest: String, graphDigest: String) throws -> CalibrationCache {
        // Read up to the memory budget plus one byte: neither a huge file nor an endless one is read whole.
        let data: Data
        do {
            let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? file.close() }
            data = try file.read(upToCount: MemoryBudget.limit + 1) ?? Data()
        } catch {
            throw QuantizationError.malformedCache(path: path, reason: "cannot read it")
        }
        try MemoryBudget.admit(data.count, for: "calibration cache '\(path)' (read until it passed the budget)")
        return try decode(data, path: path, modelDigest: modelDigest, graphDigest: graphDigest)
    }

    public static func decode(_ data: Data, path: String, modelDigest: String, graphDigest: String) throws -> CalibrationCache {
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: data) } catch {
            throw QuantizationError.malformedCache(path: path, reason: "not the JSON described in docs/quantization.md")
        }
        guard header.format == formatName else {
            throw QuantizationError.malformedCache(path: path, reason: "format is '\(header.format)', expected '\(formatName)'")
        }
        guard header.version == formatVersion else {
            throw QuantizationError.malformedCache(path: path, reason: "version \(header.version); this tool reads \(formatVersion) (recalibrate with `modelsmith calibrate`)")
        }
        let cache: CalibrationCache
        do { cache = try JSONDecoder().decode(CalibrationCache.self, from: data) } catch {
            throw QuantizationError.malformedCache(path: path, reason: "not the JSON described in docs/quantization.md")
        }
        if cache.graphDigest != graphDigest {
            throw QuantizationError.cacheGraphMismatch(path: path, expected: graphDigest, found: cache.graphDigest)
        }
        guard cache.modelDigest == modelDigest else {
            throw QuantizationError.cacheModelMismatch(path: path, expected: modelDigest, found: cache.modelDigest)
        }
        guard cache.rowDigests.count == cache.samples, cache.rowDigests == cache.rowDigests.sorted(),
              Dataset.multisetDigest(ofRows: cache.rowDigests) == cache.dataDigest else {
            throw QuantizationError.malformedCache(path: path, reason: "'row_digests' do not match 'samples' and 'data_digest'")
        }
        if let shard = cache.shard, shard.count < 1 || !(0..<shard.count).contains(shard.index) {
            throw QuantizationError.malformedCache(path: path, reason: "'shard' \(shard) is not K/N with 0 ≤ K < N")
        }
        _ = try cache.histograms(path: path)
        return cache
    }

    /// The fields read before the rest, so an old or foreign document is named by its version.
    private struct Header: Decodable {
        var format: String
        var version: Int
    }
}
