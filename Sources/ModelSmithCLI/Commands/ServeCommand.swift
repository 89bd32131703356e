import ArgumentParser
import Foundation
import Logging
import ModelFormats
import Serving

/// `modelsmith serve`: parses the options and starts the `Serving` library's server (docs/serving.md).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve models over HTTP (KServe v2 / Open Inference Protocol): preloaded, batched, cached, measured.",
        discussion: """
        Every model is read, verified and warmed up at each batch size before the port opens. \
        Requests to a model are batched dynamically (up to --max-batch samples, waiting at most \
        --max-queue-delay); past --max-queue waiting requests the server answers 429. SIGTERM \
        stops accepting, finishes what is queued and exits 0; SIGHUP (or POST \
        /v2/repository/models/NAME/load) reloads the models from their files. One access-log \
        line per request goes to stderr. See docs/serving.md.

        Examples:
          modelsmith serve teacher-int8.msa --port 8080
          modelsmith serve --model digits=q.msa --model cnn=cnn.msa --port 8080 --threads 2
          modelsmith serve --model digits=q.msa --ab digits-fp32=teacher.msa:0.1 --port 8080
          modelsmith serve --config deploy/serve.yaml --port 9090
        """)

    @Argument(help: "Models to serve, each under its graph's name (.msa, .onnx or any model `run` reads).") var paths: [String] = []
    @Option(name: .long, help: ArgumentHelp("A YAML file of these options (keys: the long option names; see docs/serving.md). Options given here override it.",
                                            valueName: "serve.yaml")) var config: String?
    @Option(name: .long, help: ArgumentHelp("A model under a name (repeatable).", valueName: "name=path")) var model: [String] = []
    @Option(name: .long, help: ArgumentHelp("Send FRACTION of a model's traffic to another artifact (the model whose name NAME starts with, or the only one).",
                                            valueName: "name=artifact:fraction")) var ab: [String] = []
    @Flag(name: .long, help: "Run the --ab artifacts on a copy of all traffic instead, recording agreement in /metrics.") var shadow = false
    @Option(name: .long, help: "Address to bind (0.0.0.0 in a container; default 127.0.0.1).") var host: String?
    @Option(name: .long, help: "Port (0: any free port, printed at start; default 8080).") var port: String?
    @Option(name: .long, help: "Model runs at once across the server (default 1).") var threads: String?
    @Option(name: .long, help: "Sessions per model, each batching on its own (default: --threads).") var instances: String?
    @Option(name: .long, help: "Largest batch of one model run (default 32).") var maxBatch: String?
    @Option(name: .long, help: ArgumentHelp("Longest a request waits for others to batch with (us, ms, s; default 2ms).", valueName: "duration")) var maxQueueDelay: String?
    @Option(name: .long, help: "Requests waiting per model before 429 (default 256).") var maxQueue: String?
    @Option(name: .long, help: ArgumentHelp("Response cache size (K/M/G); 0 (the default) turns it off.", valueName: "bytes")) var cacheBytes: String?
    @Option(name: .long, help: ArgumentHelp("Largest request body (K/M/G; default 64M); larger ones get 413.", valueName: "bytes")) var maxBody: String?
    @Option(name: .long, help: ArgumentHelp("Close a connection idle this long (slow clients; default 30s).", valueName: "duration")) var readTimeout: String?
    @Flag(name: .long, help: "Accept NaN and ±Inf in inputs (refused with 400 otherwise).") var allowNonfinite = false
    @Option(name: .customLong("dim"), help: ArgumentHelp("ONNX models: the size of a symbolic input dimension other than the batch (repeatable).",
                                                        valueName: "name=size")) var dim: [String] = []
    @Option(name: .customLong("limit"), help: ArgumentHelp("Override a resource bound for reading the models (repeatable; see docs/robustness.md).",
                                                          valueName: "name=value")) var limit: [String] = []
    @Flag(name: .customLong("strict-dtypes"), help: "Refuse weights whose dtype would be converted instead of converting them with a note.") var strictDTypes = false
    @Option(name: .customLong("max-memory"), help: ArgumentHelp("The memory budget for activation arenas (K/M/G/T; default: half of physical memory).",
                                                               valueName: "size")) var maxMemory: String?

    func run() throws {
        let configuration = try Self.configuration(settings())
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
        let server = try InferenceServer(configuration: configuration)
        try server.runBlocking()
    }

    /// The config file's settings (if any) with the command line's on top.
    func settings() throws -> ServeSettings {
        var settings = try config.map(ServeSettings.init(file:)) ?? ServeSettings()
        settings.override(
            values: ["host": host, "port": port, "threads": threads, "instances": instances, "max-batch": maxBatch,
                     "max-queue-delay": maxQueueDelay, "max-queue": maxQueue, "cache-bytes": cacheBytes, "max-body": maxBody,
                     "read-timeout": readTimeout, "max-memory": maxMemory],
            lists: ["paths": paths, "model": model, "ab": ab, "dim": dim, "limit": limit],
            flags: ["shadow": shadow, "allow-nonfinite": allowNonfinite, "strict-dtypes": strictDTypes])
        return settings
    }

    /// The server's configuration from settings by option name; a bad value names its option.
    static func configuration(_ settings: ServeSettings) throws -> ServingConfiguration {
        var configuration = ServingConfiguration()
        func integer(_ key: String) throws -> Int? {
            guard let text = settings.value(key) else { return nil }
            guard let value = Int(text) else { throw ValidationError("--\(key) expects an integer, got '\(text)'") }
            return value
        }
        configuration.host = settings.value("host") ?? configuration.host
        configuration.port = try integer("port") ?? configuration.port
        configuration.models = try settings.list("paths").map { ServingConfiguration.ModelSource(name: "", path: $0) }
            + settings.list("model").map(parseModel)
        configuration.variants = try settings.list("ab").map { try parseVariant($0, models: configuration.models.map(\.name)) }
        configuration.shadow = settings.flag("shadow")
        configuration.threads = try integer("threads") ?? configuration.threads
        configuration.instances = try integer("instances")
        configuration.maxBatch = try integer("max-batch") ?? configuration.maxBatch
        configuration.maxQueueDelay = try settings.value("max-queue-delay").map { try parseDuration($0, option: "--max-queue-delay") }
            ?? configuration.maxQueueDelay
        configuration.maxQueue = try integer("max-queue") ?? configuration.maxQueue
        configuration.cacheBytes = try settings.value("cache-bytes").map { try parseBytes($0, option: "--cache-bytes", allowZero: true) }
            ?? configuration.cacheBytes
        configuration.maxBodyBytes = try settings.value("max-body").map { try parseBytes($0, option: "--max-body", allowZero: false) }
            ?? configuration.maxBodyBytes
        configuration.idleTimeout = try settings.value("read-timeout").map { try parseDuration($0, option: "--read-timeout") }
            ?? configuration.idleTimeout
        configuration.allowNonFinite = settings.flag("allow-nonfinite")
        configuration.onnx = try ModelInputOptions.onnxOptions(dims: settings.list("dim"))
        configuration.readLimits = try ModelInputOptions.readLimits(overrides: settings.list("limit"))
        configuration.strictDTypes = settings.flag("strict-dtypes")
        if let maxMemory = settings.value("max-memory") { try CommonOptions.installMemoryBudget(maxMemory) }
        return configuration
    }

    static func parseModel(_ text: String) throws -> ServingConfiguration.ModelSource {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("--model expects NAME=PATH, got '\(text)'") }
        return .init(name: parts[0], path: parts[1])
    }

    /// `NAME=ARTIFACT:FRACTION`; the split model is the only one served, or the one NAME starts with.
    static func parseVariant(_ text: String, models: [String]) throws -> ServingConfiguration.Variant {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let colon = parts[1].lastIndex(of: ":"),
              let fraction = Double(parts[1][parts[1].index(after: colon)...]) else {
            throw ValidationError("--ab expects NAME=ARTIFACT:FRACTION, got '\(text)'")
        }
        let named = models.filter { !$0.isEmpty && parts[0].hasPrefix($0) }.max { $0.count < $1.count }
        guard let target = named ?? (models.count == 1 ? models[0] : nil) else {
            throw ValidationError("--ab \(parts[0]): name it after the model it splits (MODEL-…) when several are served")
        }
        return .init(model: target, name: parts[0], path: String(parts[1][..<colon]), fraction: fraction)
    }

    /// "500us", "2ms", "1.5s", "30" (seconds).
    static func parseDuration(_ text: String, option: String) throws -> Duration {
        let units: [(String, Double)] = [("us", 1e-6), ("ms", 1e-3), ("s", 1)]
        let unit = units.first { text.hasSuffix($0.0) }
        guard let value = Double(unit.map { String(text.dropLast($0.0.count)) } ?? text), value >= 0, value.isFinite else {
            throw ValidationError("\(option) expects a duration such as 500us, 2ms or 10s, got '\(text)'")
        }
        return .nanoseconds(Int64(value * (unit?.1 ?? 1) * 1e9))
    }

    static func parseBytes(_ text: String, option: String, allowZero: Bool) throws -> Int {
        guard let value = ReadLimits.parseSize(text), value > 0 || (allowZero && value == 0) else {
            throw ValidationError("\(option) expects a byte count (K/M/G suffixes allowed), got '\(text)'")
        }
        return value
    }
}
