import Foundation
import ModelFormats
import TensorCore

/// Everything needed to continue a run exactly after the last completed epoch: weights, buffers,
/// optimizer state, the best weights so far and the bookkeeping. Stored as a safetensors file
/// (tensors `param/…`, `buffer/…`, `opt/<name>/<k>`, `best/…`; scalars in the `state` metadata entry),
/// written atomically. The `sha256` metadata entry covers the state and every tensor byte, so a
/// damaged checkpoint is refused on `--resume` instead of continuing from corrupted weights.
struct Checkpoint {
    struct State: Codable, Equatable {
        var fingerprint: String
        var epochsDone: Int
        var stepsDone: Int
        var optimizerSteps: [String: Int]
        var bestAccuracy: Double?
        var bestEpoch: Int?
        var epochsWithoutImprovement: Int
        var history: [EpochMetrics]
    }

    var state: State
    var parameters: [String: FloatArray]
    var buffers: [String: FloatArray]
    var optimizer: [String: OptimizerState]
    var best: [String: FloatArray]

    func write(to path: String) throws {
        var map = TensorMap()
        for (name, p) in parameters.sorted(by: { $0.key < $1.key }) { map["param/\(name)"] = p.tensor }
        for (name, b) in buffers.sorted(by: { $0.key < $1.key }) { map["buffer/\(name)"] = b.tensor }
        for (name, s) in optimizer.sorted(by: { $0.key < $1.key }) {
            for (k, buffer) in s.buffers.enumerated() { map["opt/\(name)/\(k)"] = Tensor(buffer, shape: [buffer.count]) }
        }
        for (name, b) in best.sorted(by: { $0.key < $1.key }) { map["best/\(name)"] = b.tensor }
        let stateJSON = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        var metadata = ["state": stateJSON, "format": "modelsmith-checkpoint-1"]
        // The data section does not move when metadata is added, so its digest can go in the header.
        metadata["sha256"] = Self.digest(state: stateJSON, file: try Safetensors.encode(map, metadata: metadata))
        try AtomicFile.write(try Safetensors.encode(map, metadata: metadata), to: path, force: true)
    }

    /// SHA-256 of the state JSON followed by the safetensors data section (everything after the
    /// 8-byte length and the header).
    static func digest(state: String, file: [UInt8]) -> String {
        var hasher = SHA256.Hasher()
        Array(state.utf8).withUnsafeBytes { hasher.update($0) }
        let headerLength = file.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        file.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[min(8 + headerLength, $0.count)...])) }
        return hasher.finalizeHex()
    }

    static func read(from path: String) throws -> Checkpoint {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.badCheckpoint(path: path, reason: "cannot be read")
        }
        let bytes = [UInt8](data)
        let (map, metadata) = try Safetensors.decodeWithMetadata(bytes, path: path)
        guard metadata["format"] == "modelsmith-checkpoint-1", let stateText = metadata["state"],
              let state = try? JSONDecoder().decode(State.self, from: Data(stateText.utf8)) else {
            throw TrainingError.badCheckpoint(path: path, reason: "is not a ModelSmith training checkpoint")
        }
        guard metadata["sha256"] == digest(state: stateText, file: bytes) else {
            throw TrainingError.badCheckpoint(path: path, reason: "is damaged (checksum mismatch)")
        }
        var checkpoint = Checkpoint(state: state, parameters: [:], buffers: [:], optimizer: [:], best: [:])
        for (key, tensor) in map {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let value = FloatArray(tensor)
            switch parts[0] {
            case "param": checkpoint.parameters[parts[1]] = value
            case "buffer": checkpoint.buffers[parts[1]] = value
            case "best": checkpoint.best[parts[1]] = value
            case "opt":
                guard let slash = parts[1].lastIndex(of: "/"), let k = Int(parts[1][parts[1].index(after: slash)...]) else { continue }
                let name = String(parts[1][..<slash])
                var s = checkpoint.optimizer[name] ?? OptimizerState()
                while s.buffers.count <= k { s.buffers.append([]) }
                s.buffers[k] = value.values
                checkpoint.optimizer[name] = s
            default: continue
            }
        }
        for (name, steps) in state.optimizerSteps { checkpoint.optimizer[name, default: OptimizerState()].step = steps }
        return checkpoint
    }
}
