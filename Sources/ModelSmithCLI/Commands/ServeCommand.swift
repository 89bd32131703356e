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
        """)

    @Argument(help: "Models to serve, each under its graph's name.") var paths: [String] = []
    @Option(name: .long, help: ArgumentHelp("A model under a name (repeatable).", valueName: "name=path")) var model: [String] = []
    @Option(name: .long, help: ArgumentHelp("Send FRACTION of a model's traffic to another artifact (the model whose name NAME starts with, or the only one).",
                                            valueName: "name=artifact:fraction")) var ab: [String] = []
    @Flag(name: .long, help: "Run the --ab artifacts on a copy of all traffic instead, recording agreement in /metrics.") var shadow = false
    @Option(name: .long, help: "Address to bind (0.0.0.0 in a container).") var host = "127.0.0.1"
    @Option(name: .long, help: "Port (0: any free port, printed at start).") var port = 8080
    @Option(name: .long, help: "Model runs at once across the server.") var threads = 1
    @Option(name: .long, help: "Sessions per model, each batching on its own (default: --threads).") var instances: Int?
    @Option(name: .long, help: "Largest batch of one model run.") var maxBatch = 32
    @Option(name: .long, help: ArgumentHelp("Longest a request waits for others to batch with (us, ms, s).", valueName: "duration")) var maxQueueDelay = "2ms"
    @Option(name: .long, help: "Requests waiting per model before 429.") var maxQueue = 256
    @Option(name: .long, help: ArgumentHelp("Response cache size (K/M/G); 0 turns it off.", valueName: "bytes")) var cacheBytes = "0"
    @Option(name: .long, help: ArgumentHelp("Largest request body (K/M/G); larger ones get 413.", valueName: "bytes")) var maxBody = "64M"
    @Option(name: .long, help: ArgumentHelp("Close a connection idle this long (slow clients).", valueName: "duration")) var readTimeout = "30s"
    @Flag(name: .long, help: "Accept NaN and ±Inf in inputs (refused with 400 otherwise).") var allowNonfinite = false

    func run() throws {
        var configuration = ServingConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.models = try paths.map { ServingConfiguration.ModelSource(name: "", path: $0) } + model.map(Self.parseModel)
        configuration.variants = try ab.map { try Self.parseVariant($0, models: configuration.models.map(\.name)) }
        configuration.shadow = shadow
        configuration.threads = threads
        configuration.instances = instances
        configuration.maxBatch = maxBatch
        configuration.maxQueueDelay = try Self.parseDuration(maxQueueDelay, option: "--max-queue-delay")
        configuration.maxQueue = maxQueue
        configuration.cacheBytes = try Self.parseBytes(cacheBytes, option: "--cache-bytes", allowZero: true)
        configuration.maxBodyBytes = try Self.parseBytes(maxBody, option: "--max-body", allowZero: false)
        configuration.idleTimeout = try Self.parseDuration(readTimeout, option: "--read-timeout")
        configuration.allowNonFinite = allowNonfinite

        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
        let server = try InferenceServer(configuration: configuration)
        try server.runBlocking()
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
