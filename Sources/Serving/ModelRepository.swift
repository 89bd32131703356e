import Benchmarking
import Foundation
import Logging
import ModelGraph
import ModelRuntime
import TensorCore

/// The served models by name, the cache, and the answer to one infer request, apart from HTTP
/// (docs/serving.md). A reload builds the new model beside the old one and swaps it in under the
/// lock; requests already holding the old one finish on it, then its batchers stop.
final class ModelRepository: @unchecked Sendable {
    /// A served model and how many requests hold it right now.
    private final class Slot {
        let model: ServedModel
        var users = 0
        var retired = false
        init(_ model: ServedModel) { self.model = model }
    }

    struct Answer {
        var status: Int
        var body: [UInt8]
        var jsonLength: Int? = nil
        var variant = "primary"
    }

    let configuration: ServingConfiguration
    let metrics: ServerMetrics
    let pool: InferencePool
    private let cache: ResponseCache?
    private let logger: Logger
    private let lock = NSLock()
    private var slots: [String: Slot] = [:]
    private let reloadLock = NSLock()

    /// Loads and warms every model and variant; throws (naming the file) if any cannot be served.
    init(configuration: ServingConfiguration, metrics: ServerMetrics, logger: Logger) throws {
        let configuration = try configuration.namingModels()
        try configuration.validate()
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        pool = InferencePool(threads: configuration.threads)
        cache = configuration.cacheBytes > 0 ? ResponseCache(capacityBytes: configuration.cacheBytes) : nil
        for source in configuration.models {
            slots[source.name] = Slot(try load(source.name))
        }
    }

    var modelNames: [String] { lock.withLock { slots.keys.sorted() } }

    /// The model's primary signature, or nil for an unknown name.
    func signature(of name: String) -> ModelSignature? { lock.withLock { slots[name]?.model.primary.signature } }

    /// Requests for the model being answered right now (received, queued or running).
    func requestsInFlight(for name: String) -> Int { lock.withLock { slots[name]?.users ?? 0 } }

    /// Requests waiting in the model's batchers.
    func queueDepth(of name: String) -> Int {
        lock.withLock { slots[name]?.model.variants.reduce(0) { $0 + $1.batcher.queueDepth } ?? 0 }
    }

    /// Loads `name` again from its files (all variants), warms it, and swaps it in.
    func reload(_ name: String) throws {
        guard configuration.models.contains(where: { $0.name == name }) else { throw ServingError.unknownModel(name) }
        reloadLock.lock()  // one reload at a time, so two never race to swap the same slot
        defer { reloadLock.unlock() }
        let fresh = try load(name)
        let old: Slot? = lock.withLock {
            let old = slots[name]
            slots[name] = Slot(fresh)
            old?.retired = true
            return (old?.users ?? 1) == 0 ? old : nil
        }
        old.map(stopBatchers)
        logger.info("reloaded", metadata: ["model": "\(name)", "digest": "\(fresh.primary.digest)"])
    }

    /// Stops every batcher once the queues have drained (after the HTTP server stopped accepting).
    func shutdown() {
        let variants = lock.withLock { slots.values.flatMap(\.model.variants) }
        for variant in variants { variant.batcher.stop() }
        for variant in variants { variant.batcher.waitUntilStopped() }
    }

    /// The answer to `POST /v2/models/{name}/infer` with this body.
    func infer(model name: String, body: [UInt8], jsonLength: Int?) async -> Answer {
        let start = ProcessStatistics.now()
        guard let slot = acquire(name) else { return Self.failure(.unknownModel(name)) }
        defer { release(slot) }
        let model = slot.model
        var variant = model.primary
        model.arrivals.arrive()
        var settled = false
        defer { if !settled { model.arrivals.settle() } }
        do {
            let request = try RequestDecoder(signature: model.primary.signature, allowNonFinite: configuration.allowNonFinite)
                .decode(body: body, jsonLength: jsonLength)
            variant = model.route(requestID: request.id)
            let outputs = try await run(request, on: variant, settled: &settled)
            if model.shadow, let (shadow, _) = model.alternative { compareInBackground(request, served: outputs, shadow: shadow) }
            let encoded = ResponseEncoder.encode(model: name, version: "1", id: request.id,
                                                 outputs: request.outputs.map { ($0, outputs[$0]!) }, binary: request.binaryOutputs)
            metrics.request(model: name, variant: variant.variant, status: 200)
            metrics.latency(.total, model: name, variant: variant.variant, nanoseconds: ProcessStatistics.now() - start)
            return Answer(status: 200, body: encoded.body, jsonLength: encoded.jsonLength, variant: variant.variant)
        } catch {
            let failure = (error as? ServingError) ?? Self.describe(error)
            metrics.request(model: name, variant: variant.variant, status: failure.status)
            var answer = Self.failure(failure)
            answer.variant = variant.variant
            return answer
        }
    }

    /// The outputs for a decoded request: from the cache, or through the variant's batcher.
    /// `settled` turns true once the batcher has settled the request's arrival.
    private func run(_ request: InferRequest, on variant: ServedVariant, settled: inout Bool) async throws -> [String: Tensor] {
        let key = cache.map { _ in ResponseCache.key(modelDigest: variant.digest, inputs: request.inputs) }
        if let cache, let key {
            if let hit = cache.lookup(key) {
                metrics.cache(model: variant.model, hit: true)
                return hit
            }
            metrics.cache(model: variant.model, hit: false)
        }
        settled = true
        let result = try await variant.batcher.submit(request.inputs, batch: request.batch, settlingArrival: true)
        metrics.latency(.queue, model: variant.model, variant: variant.variant, nanoseconds: result.queueNanoseconds)
        metrics.latency(.inference, model: variant.model, variant: variant.variant, nanoseconds: result.inferenceNanoseconds)
        if let cache, let key { cache.store(key, result.outputs) }
        return result.outputs
    }

    /// Runs the shadow variant on the same inputs and records how it compares; never delays or
    /// changes the served answer.
    private func compareInBackground(_ request: InferRequest, served: [String: Tensor], shadow: ServedVariant) {
        Task.detached { [metrics] in
            guard let result = try? await shadow.batcher.submit(request.inputs, batch: request.batch),
                  let name = shadow.signature.outputs.first?.name, let a = served[name], let b = result.outputs[name],
                  a.shape == b.shape else { return }
            let (agreed, maxDifference) = Self.compare(a, b, batch: request.batch)
            metrics.shadow(model: shadow.model, variant: shadow.variant, agreed: agreed, compared: request.batch, maxAbsDifference: maxDifference)
        }
    }

    /// Per sample, whether the top-1 class agrees; and the largest absolute difference.
    static func compare(_ a: Tensor, _ b: Tensor, batch: Int) -> (agreed: Int, maxAbsDifference: Float) {
        let x = a.floats, y = b.floats
        let classes = x.count / max(batch, 1)
        var agreed = 0
        var maxDifference: Float = 0
        for i in 0..<x.count { maxDifference = max(maxDifference, abs(x[i] - y[i])) }
        guard classes > 0 else { return (0, maxDifference) }
        for s in 0..<batch {
            let row = (s * classes)..<((s + 1) * classes)
            if x[row].indices.max(by: { x[$0] < x[$1] }) == y[row].indices.max(by: { y[$0] < y[$1] }) { agreed += 1 }
        }
        return (agreed, maxDifference)
    }

    static func failure(_ error: ServingError) -> Answer {
        Answer(status: error.status, body: Array(error.jsonBody))
    }

    /// Errors from the runtime are the request's fault (they name the input); others are the server's.
    private static func describe(_ error: any Error) -> ServingError {
        if error is CancellationError { return ServingError(status: 499, "the client went away") }
        let text = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
        return error is RuntimeError ? .badRequest(text) : ServingError(status: 500, text)
    }

    private func load(_ name: String) throws -> ServedModel {
        let source = configuration.models.first { $0.name == name }!
        let arrivals = ArrivalCounter()
        let primary = try ServedVariant(model: name, variant: "primary", path: source.path, graphPath: source.graph,
                                        configuration: configuration, pool: pool, arrivals: arrivals, metrics: metrics)
        var alternative: (ServedVariant, Double)?
        if let spec = configuration.variants.first(where: { $0.model == name }) {
            let variant = try ServedVariant(model: name, variant: spec.name, path: spec.path, graphPath: spec.graph,
                                            configuration: configuration, pool: pool, arrivals: arrivals, metrics: metrics)
            guard variant.signature.inputs == primary.signature.inputs, Set(variant.signature.outputs.map(\.name)).isSuperset(of: primary.signature.outputs.map(\.name)) else {
                throw ServingError.badConfiguration("--ab \(spec.name): \(spec.path) has other inputs or outputs than \(source.path)")
            }
            alternative = (variant, spec.fraction)
        }
        for variant in [primary] + [alternative?.0].compactMap({ $0 }) {
            for line in variant.readNotes { logger.notice("\(line)", metadata: ["model": "\(name)", "variant": "\(variant.variant)"]) }
        }
        logger.info("loaded", metadata: ["model": "\(name)", "path": "\(source.path)", "digest": "\(primary.digest)",
                                         "seconds": "\(String(format: "%.3f", primary.loadSeconds))"])
        return ServedModel(name: name, primary: primary, alternative: alternative, shadow: configuration.shadow, arrivals: arrivals)
    }

    private func acquire(_ name: String) -> Slot? {
        lock.withLock {
            guard let slot = slots[name] else { return nil }
            slot.users += 1
            return slot
        }
    }

    private func release(_ slot: Slot) {
        let finished = lock.withLock {
            slot.users -= 1
            return slot.retired && slot.users == 0
        }
        if finished { stopBatchers(slot) }
    }

    private func stopBatchers(_ slot: Slot) {
        for variant in slot.model.variants { variant.batcher.stop() }
    }
}

extension ServingConfiguration {
    /// Models given by path alone take their graph's name (or the file's, if the graph has none);
    /// so do the variants that split them.
    func namingModels() throws -> ServingConfiguration {
        var named = self
        for index in named.models.indices where named.models[index].name.isEmpty {
            let source = named.models[index]
            let graphName = try ModelPackage.load(path: source.path, graphPath: source.graph).graph.name
            let name = graphName.isEmpty ? URL(fileURLWithPath: source.path).deletingPathExtension().lastPathComponent : graphName
            named.models[index].name = name
            for v in named.variants.indices where named.variants[v].model.isEmpty { named.variants[v].model = name }
        }
        return named
    }
}
