import Benchmarking
import Foundation
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore

/// One artifact ready to answer: read, verified (checksums, finite weights), planned for batches
/// up to `--max-batch`, warmed up at every batch size, and its batcher running
/// (docs/serving.md, "Loading").
final class ServedVariant: Sendable {
    let model: String
    /// "primary", or the `--ab` variant's name.
    let variant: String
    let path: String
    let graphPath: String?
    /// SHA-256 of the model file: names this exact artifact in cache keys and metadata.
    let digest: String
    let signature: ModelSignature
    let batcher: Batcher
    let loadSeconds: Double
    /// What the reader converted or skipped, one line each (logged at load).
    let readNotes: [String]

    init(model: String, variant: String, path: String, graphPath: String?, configuration: ServingConfiguration,
         pool: InferencePool, arrivals: ArrivalCounter, metrics: ServerMetrics) throws {
        let start = ProcessStatistics.now()
        self.model = model
        self.variant = variant
        self.path = path
        self.graphPath = graphPath
        var notes: [ReadNote] = []
        let package = try ModelPackage.loadForRunning(path: path, graphPath: graphPath, limits: configuration.readLimits,
                                                      onnx: configuration.onnx, strictDTypes: configuration.strictDTypes,
                                                      notes: { notes = $0 })
        readNotes = ReadNote.summary(notes, source: path)
        digest = try Self.fileDigest(path)
        let options = SessionOptions(maxBatch: configuration.maxBatch, threads: 1, rejectNonFinite: !configuration.allowNonFinite)
        let instances = configuration.instances ?? configuration.threads
        let sessions = try (0..<instances).map { _ in try Session(package: package, options: options) }
        let first = sessions[0]
        signature = ModelSignature(
            inputs: package.graph.inputs.map { .init(name: $0.name, sampleShape: Array($0.shape.dropFirst())) },
            outputs: first.outputNames.map { .init(name: $0, sampleShape: first.sampleShape(of: $0) ?? []) },
            maxBatch: configuration.maxBatch)
        for session in sessions { try Self.warmUp(session, signature: signature) }
        batcher = Batcher(sessions: sessions, maxBatch: configuration.maxBatch, maxDelay: configuration.maxQueueDelay,
                          maxQueue: configuration.maxQueue, pool: pool, arrivals: arrivals) { event in
            switch event {
            case .queueDepth(let depth): metrics.queueDepth(model: model, variant: variant, depth: depth)
            case .batch(let size): metrics.batch(model: model, variant: variant, size: size)
            }
        }
        loadSeconds = Double(ProcessStatistics.now() - start) / 1e9
        metrics.loaded(model: model, variant: variant, seconds: loadSeconds)
    }

    /// One run at each batch size 1…maxBatch, so no request pays for a primitive's creation.
    private static func warmUp(_ session: Session, signature: ModelSignature) throws {
        for batch in 1...signature.maxBatch {
            var inputs: [String: Tensor] = [:]
            for input in signature.inputs { inputs[input.name] = Tensor(zeros: .f32, Shape([batch] + input.sampleShape)) }
            _ = try session.run(inputs)
        }
    }

    /// SHA-256 of a file, or of a directory's regular files in path order.
    static func fileDigest(_ path: String) throws -> String {
        var hasher = SHA256.Hasher()
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let files = isDirectory.boolValue
            ? (FileManager.default.subpaths(atPath: path) ?? []).sorted().map { path + "/" + $0 }
            : [path]
        for file in files {
            guard let handle = FileHandle(forReadingAtPath: file) else { continue }
            defer { try? handle.close() }
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                chunk.withUnsafeBytes { hasher.update($0) }
            }
        }
        return hasher.finalizeHex()
    }
}

/// A served name: its primary variant and, with `--ab`, the other one with its traffic fraction
/// (or, with `--shadow`, run on a copy of every request). Swapped whole on reload.
final class ServedModel: Sendable {
    let name: String
    let primary: ServedVariant
    let alternative: (variant: ServedVariant, fraction: Double)?
    let shadow: Bool
    /// Requests received for this name and not yet queued (see `Batcher`).
    let arrivals: ArrivalCounter

    init(name: String, primary: ServedVariant, alternative: (ServedVariant, Double)?, shadow: Bool, arrivals: ArrivalCounter) {
        self.name = name
        self.arrivals = arrivals
        self.primary = primary
        self.alternative = alternative
        self.shadow = shadow
    }

    var variants: [ServedVariant] { [primary] + (alternative.map { [$0.variant] } ?? []) }

    /// The variant that answers: with `--ab`, a request id always lands on the same side (its
    /// hash against the fraction); without one, a random draw.
    func route(requestID: String?) -> ServedVariant {
        guard let (variant, fraction) = alternative, !shadow, fraction > 0 else { return primary }
        let draw = requestID.map(Self.unitHash) ?? Double.random(in: 0..<1)
        return draw < fraction ? variant : primary
    }

    /// FNV-1a of the id, its bits mixed (splitmix64's finaliser) so that ids differing only in
    /// their last characters spread over [0, 1).
    static func unitHash(_ text: String) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        return Double(hash >> 11) / Double(UInt64(1) << 53)
    }
}
