import Foundation
import TensorCore

/// A Hugging Face checkpoint split into shards: `model.safetensors.index.json` (or
/// `pytorch_model.bin.index.json`) maps every tensor name to the shard file holding it
/// (`{"metadata": {...}, "weight_map": {"name": "model-00001-of-00002.safetensors", …}}`), and the
/// shards sit next to it. Read as one set of tensors, in index order; every tensor must be in the
/// shard the index names, and every tensor of a shard must be in the index.
enum ShardedCheckpoint {
    /// Index files in the order they are preferred when a folder holds both.
    static let indexNames = ["model.safetensors.index.json", "pytorch_model.bin.index.json"]

    /// The index file inside `directory`, if there is one.
    static func index(in directory: URL) -> URL? {
        indexNames.map { directory.appendingPathComponent($0) }.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Reads every shard the index names. `path` names the folder in messages; the graph is the
    /// folder's `model.json`, when it has one.
    static func read(index: URL, directory: URL, path: String, limits: ReadLimits) throws -> PackageContents {
        let indexName = index.lastPathComponent
        func malformed(_ reason: String) -> FormatError { .malformed(path: path, entry: indexName, reason: reason) }
        let weightMap = try parseWeightMap(readWholeFile(index, limits: limits), limits: limits, malformed: malformed)
        guard weightMap.count <= limits.maxTensors else {
            throw FormatError.limitExceeded(path: path, entry: indexName, limit: "the limit of \(limits.maxTensors) tensors")
        }
        var shardOf: [String: String] = [:]
        var shards: [String] = []
        for (name, shard) in weightMap {
            guard let shard, let relative = EntryPath.normalised(shard), !relative.isEmpty else {
                throw malformed("tensor '\(name)' names a shard that is not a relative file path")
            }
            guard shardOf.updateValue(relative, forKey: name) == nil else { throw FormatError.duplicateTensor(path: path, name: name) }
            if !shards.contains(relative) { shards.append(relative) }
        }

        var found = TensorMap()
        var notes: [ReadNote] = []
        var totalBytes = 0
        for shard in shards {
            let url = directory.appendingPathComponent(shard)
            guard let size = inputFileSize(url) else { throw malformed("names shard '\(shard)', which is missing") }
            totalBytes += size
            guard totalBytes <= limits.maxDecodedBytes else {
                throw FormatError.limitExceeded(path: path, entry: shard, limit: "the decoded-size cap of \(limits.maxDecodedBytes) bytes")
            }
            let contents = try readShard(url, limits: limits)
            notes += contents.notes
            for (name, tensor) in contents.tensors {
                guard shardOf[name] == shard else {
                    let reason = shardOf[name].map { "the index puts it in '\($0)'" } ?? "the index does not list it"
                    throw FormatError.malformed(path: path, entry: shard, reason: "holds tensor '\(name)', but \(reason)")
                }
                guard !found.contains(name) else { throw FormatError.duplicateTensor(path: path, name: name) }
                found[name] = tensor
            }
        }
        var tensors = TensorMap()
        for (name, _) in weightMap {
            guard let tensor = found[name] else { throw malformed("lists tensor '\(name)' in '\(shardOf[name]!)', which does not hold it") }
            tensors[name] = tensor
        }
        let graph = directory.appendingPathComponent("model.json")
        let graphJSON = try inputFileSize(graph).map { _ in Data(try readWholeFile(graph, limits: limits)) }
        return PackageContents(graphJSON: graphJSON, tensors: tensors, source: path, notes: notes)
    }

    /// The `weight_map` pairs of an index document.
    private static func parseWeightMap(_ text: [UInt8], limits: ReadLimits,
                                       malformed: (String) -> FormatError) throws -> [(name: String, shard: String?)] {
        let document: HeaderLiteral
        do { document = try HeaderLiteral.parse(text[...], dialect: .json, maxDepth: limits.maxJSONDepth) }
        catch { throw malformed("not valid JSON: \(error.reason)") }
        guard let pairs = document["weight_map"]?.objectPairs else { throw malformed("has no \"weight_map\" object") }
        return pairs.map { ($0.key, $0.value.stringValue) }
    }

    /// One shard: a safetensors file, or a `torch.save` state_dict (`.bin`).
    private static func readShard(_ url: URL, limits: ReadLimits) throws -> PackageContents {
        let reader: any WeightArchiveReader = hasExtension(url, ["safetensors"]) ? SafetensorsReader() : PyTorchCheckpointReader()
        return try reader.read(url, limits: limits)
    }
}
