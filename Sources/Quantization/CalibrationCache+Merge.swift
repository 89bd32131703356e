import ModelRuntime

/// Merging shard caches (docs/scale-out.md, "Exact merge"). Histograms merge exactly
/// (`Histogram.merge`: a common power-of-two grid that depends only on the multiset of values),
/// row digests are unioned and the data digest is a digest of that multiset, so the merge of any
/// split of the rows, in any order, is field for field the cache of one pass over all of them.
extension CalibrationCache {
    /// Reads every cache (each checked against the model) and merges them; one cache is checked the same way.
    public static func load(paths: [String], modelDigest: String, graphDigest: String) throws -> CalibrationCache {
        let parts = try paths.map { (path: $0, cache: try load(contentsOf: $0, modelDigest: modelDigest, graphDigest: graphDigest)) }
        return try merge(parts)
    }

    /// Refuses caches made with other method parameters or bin counts, for other tensors, sharing
    /// rows, or whose recorded shards (`--shard K/N`) are not exactly 0..<N.
    public static func merge(_ parts: [(path: String, cache: CalibrationCache)]) throws -> CalibrationCache {
        guard let (firstPath, first) = parts.first else { throw QuantizationError.noCalibrationCaches }
        for (path, cache) in parts.dropFirst() {
            func mismatch(_ field: String, _ value: String, _ firstValue: String) -> QuantizationError {
                .cacheMismatch(path: path, other: firstPath, field: field, value: value, otherValue: firstValue)
            }
            if cache.method != first.method { throw mismatch("method", cache.method, first.method) }
            if cache.parameters != first.parameters {
                throw mismatch("method parameters", describe(cache.parameters), describe(first.parameters))
            }
            if Set(cache.tensors.keys) != Set(first.tensors.keys) {
                throw mismatch("tensors", cache.tensors.keys.sorted().joined(separator: ","), first.tensors.keys.sorted().joined(separator: ","))
            }
            for (name, statistics) in cache.tensors.sorted(by: { $0.key < $1.key })
            where statistics.capacity != first.tensors[name]!.capacity {
                throw mismatch("bin count of '\(name)'", "\(statistics.capacity)", "\(first.tensors[name]!.capacity)")
            }
        }
        try checkShards(parts)
        try checkDisjointRows(parts)
        guard parts.count > 1 else { return first }
        var histograms = try first.histograms(path: firstPath)
        for (path, cache) in parts.dropFirst() {
            for (name, histogram) in try cache.histograms(path: path) { histograms[name]!.merge(histogram) }
        }
        return CalibrationCache(modelDigest: first.modelDigest, graphDigest: first.graphDigest,
                                rowDigests: parts.flatMap(\.cache.rowDigests), method: try first.recordedMethod(),
                                histograms: histograms)
    }

    /// Recorded shards must all be present, each once, with one shard count.
    private static func checkShards(_ parts: [(path: String, cache: CalibrationCache)]) throws {
        let recorded = parts.filter { $0.cache.shard != nil }
        guard let (firstPath, first) = recorded.first.map({ ($0.path, $0.cache.shard!) }) else { return }
        if let bare = parts.first(where: { $0.cache.shard == nil }) {
            throw QuantizationError.cacheMismatch(path: bare.path, other: firstPath, field: "shard", value: "none", otherValue: "\(first)")
        }
        var holder: [Int: String] = [:]
        for (path, cache) in parts {
            let shard = cache.shard!
            if shard.count != first.count {
                throw QuantizationError.cacheMismatch(path: path, other: firstPath, field: "shard count",
                                                      value: "\(shard.count)", otherValue: "\(first.count)")
            }
            if let other = holder[shard.index] { throw QuantizationError.duplicateShard(shard: "\(shard)", path: path, other: other) }
            holder[shard.index] = path
        }
        let missing = (0..<first.count).filter { holder[$0] == nil }
        if !missing.isEmpty { throw QuantizationError.missingShards(missing: missing, count: first.count) }
    }

    /// No sample may be counted by two caches (repeats inside one cache are the data's own).
    private static func checkDisjointRows(_ parts: [(path: String, cache: CalibrationCache)]) throws {
        var owner: [String: Int] = [:]
        for (index, part) in parts.enumerated() {
            for digest in Set(part.cache.rowDigests) {
                if let other = owner[digest] {
                    let shared = Set(part.cache.rowDigests).intersection(parts[other].cache.rowDigests)
                    throw QuantizationError.overlappingShards(path: part.path, other: parts[other].path, rows: shared.count,
                                                              example: shared.min()!)
                }
                owner[digest] = index
            }
        }
    }

    private static func describe(_ parameters: [String: Double]) -> String {
        parameters.isEmpty ? "none" : parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}
