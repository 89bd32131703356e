import Foundation
import ModelFormats
import ModelGraph

/// Everything `modelsmith serve` takes (docs/serving.md, "Options"); the defaults are the CLI's.
public struct ServingConfiguration: Sendable {
    /// A model to serve: the name clients use and the artifact (or any readable model) behind it.
    public struct ModelSource: Sendable, Equatable {
        public var name: String
        public var path: String
        public var graph: String?
        public init(name: String, path: String, graph: String? = nil) {
            self.name = name
            self.path = path
            self.graph = graph
        }
    }

    /// Another artifact for a served model: `fraction` of its traffic (A/B), or a copy of all of it
    /// whose answers are only compared (`shadow`).
    public struct Variant: Sendable, Equatable {
        public var model: String
        public var name: String
        public var path: String
        public var graph: String?
        public var fraction: Double
        public init(model: String, name: String, path: String, graph: String? = nil, fraction: Double) {
            self.model = model
            self.name = name
            self.path = path
            self.graph = graph
            self.fraction = fraction
        }
    }

    public var host = "127.0.0.1"
    public var port = 8080
    public var models: [ModelSource] = []
    public var variants: [Variant] = []
    /// Variants run on a copy of the traffic instead of answering part of it.
    public var shadow = false
    public var maxBatch = 32
    public var maxQueueDelay: Duration = .milliseconds(2)
    /// Requests waiting per model variant before the server answers 429.
    public var maxQueue = 256
    /// Model runs at once across the server (the inference pool).
    public var threads = 1
    /// Sessions per model variant, each with its own batching thread; nil: one per pool thread.
    public var instances: Int?
    /// The response cache's bound in bytes; 0 turns it off.
    public var cacheBytes = 0
    public var maxBodyBytes = 64 << 20
    public var allowNonFinite = false
    /// A connection idle this long (a slow or stalled client) is closed.
    public var idleTimeout: Duration = .seconds(30)
    /// How the models are read (`ModelPackage.loadForRunning`): resource bounds (`--limit`), the
    /// sizes of an ONNX model's symbolic dims (`--dim`), refusing dtype conversions (`--strict-dtypes`).
    public var readLimits: ReadLimits = .default
    public var onnx = ONNXImport.Options()
    public var strictDTypes = false

    public init() {}

    /// Checks the values no type rules out; the message names the option.
    public func validate() throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw ServingError.badConfiguration(message) }
        }
        try require(!models.isEmpty, "serve needs a model (a path, or --model NAME=PATH)")
        try require(Set(models.map(\.name)).count == models.count, "--model: a model name is given twice")
        try require((1...4096).contains(maxBatch), "--max-batch must be 1…4096, got \(maxBatch)")
        try require(maxQueue >= 1, "--max-queue must be at least 1, got \(maxQueue)")
        try require(threads >= 1, "--threads must be at least 1, got \(threads)")
        try require((instances ?? 1) >= 1, "--instances must be at least 1")
        try require(cacheBytes >= 0, "--cache-bytes must not be negative")
        try require(maxBodyBytes >= 1, "--max-body must be positive")
        try require((0...65535).contains(port), "--port must be 0…65535, got \(port)")
        for variant in variants {
            try require(models.contains { $0.name == variant.model }, "--ab \(variant.name): no served model '\(variant.model)' to split")
            try require(variant.fraction >= 0 && variant.fraction <= 1, "--ab \(variant.name): the fraction must be 0…1, got \(variant.fraction)")
        }
        try require(Set(variants.map(\.model)).count == variants.count, "--ab: one variant per model")
    }
}
