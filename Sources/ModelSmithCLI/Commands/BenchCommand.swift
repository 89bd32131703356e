import ArgumentParser
import Benchmarking
import Foundation
import Kernels
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore

/// `modelsmith bench`: what deploying the model costs — size, load time, memory, latency, accuracy.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a model's size, load time, peak memory, latency and throughput (optionally A/B against a baseline).",
        discussion: """
        For the model (and --baseline), each --batch and each --threads: latency per call \
        (p50/p90/p99/mean, monotonic clock, after --warmup calls) over --iterations calls or \
        --duration seconds, and throughput in samples/s. Per model: size on disk, load time \
        (read + validate + plan, separately from inference), peak RSS, and with labelled --data \
        the accuracy; with a baseline, top-1 agreement and model/baseline ratios. Without --data \
        the inputs are random normal values of the graph's input shape. --json prints one object \
        (see docs/runtime.md).

        Examples:
          modelsmith bench teacher.msa --data test.npz --batch 1,8,64 --threads 1,2
          modelsmith bench teacher-int8.msa --baseline teacher.msa --data test.npz --batch 1,64 --json
          modelsmith bench teacher-opt.msa --baseline teacher.msa --data test.npz --batch 1,8,64 --threads 1,2 --report ab.html
          modelsmith bench --server http://127.0.0.1:8080 digits-teacher-mlp --data test.npz --batch 1 --concurrency 1,16,64 --duration 10

        With --server URL the positional argument is the name of a model that server serves: \
        --concurrency connections each send a request of --batch (first value) samples as soon as \
        the last is answered (or --rate requests/s are sent on a fixed schedule) for --duration \
        seconds; the report gives throughput, p50/p90/p99/p99.9 latency, errors by status and \
        the server's batch-size histogram over the run (from its /metrics).
        """)

    @OptionGroup var model: ModelInputOptions
    @Option(name: .long, help: "A baseline model to compare with.") var baseline: String?
    @Option(name: .long, help: ArgumentHelp("A graph for the baseline, if it is bare weights.", valueName: "model.json")) var baselineGraph: String?
    @Option(name: .long, help: ArgumentHelp("Inputs (and labels); random inputs without it.", valueName: "npz")) var data: String?
    @Option(name: .long, help: "The array of --data holding the inputs.") var inputKey = "x"
    @Option(name: .long, help: "The array of --data holding integer labels.") var labelKey = "y"
    @Option(name: .long, help: "Batch sizes, comma-separated.") var batch = "1,64"
    @Option(name: .long, help: "Thread counts, comma-separated.") var threads = "1"
    @Option(name: .long, help: "Untimed calls before measuring.") var warmup = 10
    @Option(name: .long, help: "Timed calls per configuration (overrides --duration).") var iterations: Int?
    @Option(name: .long, help: "Seconds of timed calls per configuration.") var duration = 1.0
    @Option(name: .long, help: "Seed of the random inputs.") var seed: UInt64 = 0
    @Option(name: .long, help: ArgumentHelp("Write a self-contained HTML page with charts (latency, size and error per layer).", valueName: "report.html"))
    var report: String?
    @Flag(name: .long, help: "Overwrite the --report file if it exists.") var force = false
    @Option(name: .long, help: ArgumentHelp("Load a running server instead (the positional argument names the served model).", valueName: "url"))
    var server: String?
    @Option(name: .long, help: "With --server: concurrent connections (closed loop), comma-separated; with --rate, the connections the requests share.") var concurrency = "1"
    @Option(name: .long, help: "With --server: requests per second (open loop) instead of a closed loop.") var rate: Double?
    @OptionGroup var common: CommonOptions

    struct ModelReport {
        var path: String
        var sizeBytes: Int
        var loadMilliseconds: Double
        var peakRSS: Int
        var accuracy: Double?
        /// The product each INT8 node runs at the largest batch (`Session.int8Kernels`).
        var int8Kernels: [(node: String, kernel: String)] = []
        var json: JSONValue {
            var o: [String: JSONValue] = ["path": .string(path), "size_bytes": .int(sizeBytes), "load_ms": .number(loadMilliseconds),
                                          "peak_rss_bytes": .int(peakRSS)]
            if let accuracy { o["accuracy"] = .number(accuracy) }
            if !int8Kernels.isEmpty { o["int8_kernels"] = .object(Dictionary(uniqueKeysWithValues: int8Kernels.map { ($0.node, .string($0.kernel)) })) }
            return .object(o)
        }
    }

    struct Result {
        var model: String
        var batch: Int
        var threads: Int
        var latency: (p50: Double, p90: Double, p99: Double, mean: Double)
        var calls: Int
        var throughput: Double { Double(batch) / (latency.mean / 1000) }
        var json: JSONValue {
            .object(["model": .string(model), "batch": .int(batch), "threads": .int(threads), "calls": .int(calls),
                     "latency_ms": .object(["p50": .number(latency.p50), "p90": .number(latency.p90), "p99": .number(latency.p99),
                                            "mean": .number(latency.mean)]),
                     "throughput_per_s": .number(throughput)])
        }
    }

    func run() throws {
        if let server { return try runAgainstServer(server) }
        let batches = try RuntimeSupport.positiveList(batch, option: "--batch")
        let threadCounts = try RuntimeSupport.positiveList(threads, option: "--threads")
        guard warmup >= 0, (iterations ?? 1) > 0, duration > 0 else { throw RuntimeError.badOption("--warmup, --iterations and --duration must be positive") }
        let console = Console(common)

        var results: [Result] = []
        var baselineReport: ModelReport?
        var baselineLogits: Tensor?
        var baselinePackage: ModelPackage?
        if let report, !force, FileManager.default.fileExists(atPath: report) { throw FormatError.outputExists(path: report) }
        if let baseline {
            let (report, rows, logits, package, _) = try measure(label: "baseline", path: baseline, graph: baselineGraph, batches: batches, threadCounts: threadCounts, console: console)
            baselineReport = report
            baselinePackage = package
            results += rows
            baselineLogits = logits
        }
        let (report, rows, logits, package, dataset) = try measure(label: "model", path: model.model, graph: model.graph, batches: batches, threadCounts: threadCounts, console: console)
        results = rows + results
        let agreement: Double? = logits.flatMap { a in baselineLogits.map { Evaluation.compare(a, $0).top1Agreement } }
        if let path = self.report {
            try writeReport(to: path, model: (report, package), baseline: baselineReport.flatMap { r in baselinePackage.map { (r, $0) } },
                            results: results, agreement: agreement, dataset: dataset)
            console.note("wrote \(path)")
        }

        if common.json {
            var object: [String: JSONValue] = ["model": report.json, "results": .array(results.map(\.json)), "cpu": CPUFeatures.json]
            if let baselineReport { object["baseline"] = baselineReport.json }
            if let agreement { object["agreement"] = .number(agreement) }
            if baselineReport != nil { object["ratios"] = .array(ratios(results)) }
            try JSONOutput.print(JSONValue.object(object))
            return
        }
        var models = TextTable([.init("model"), .init("path"), .init("size", .right), .init("load ms", .right), .init("peak RSS", .right), .init("accuracy", .right)])
        for (label, r) in [("model", report)] + (baselineReport.map { [("baseline", $0)] } ?? []) {
            models.add([label, Formatting.relativePath(r.path), Formatting.bytes(r.sizeBytes), String(format: "%.1f", r.loadMilliseconds),
                        String(format: "%.1f MiB", Double(r.peakRSS) / 1_048_576), r.accuracy.map { String(format: "%.4f", $0) } ?? "-"])
        }
        console.table(models.render())
        var table = TextTable([.init("model"), .init("batch", .right), .init("threads", .right), .init("p50 ms", .right), .init("p90 ms", .right),
                               .init("p99 ms", .right), .init("mean ms", .right), .init("samples/s", .right), .init("speed-up", .right)])
        for r in results {
            let base = results.first { $0.model == "baseline" && $0.batch == r.batch && $0.threads == r.threads }
            let speedup = r.model == "model" && base != nil ? String(format: "%.2fx", base!.latency.mean / r.latency.mean) : ""
            table.add([r.model, "\(r.batch)", "\(r.threads)", String(format: "%.4f", r.latency.p50), String(format: "%.4f", r.latency.p90),
                       String(format: "%.4f", r.latency.p99), String(format: "%.4f", r.latency.mean), String(format: "%.0f", r.throughput), speedup])
        }
        console.table(table.render())
        if let agreement { console.output("top-1 agreement with the baseline: \(String(format: "%.4f", agreement))") }
    }

    /// The A/B page: both models, latency spreads, and per layer stored bytes, sparsity and output SQNR
    /// (layer outputs compared on the first batch of --data, or on random inputs).
    private func writeReport(to path: String, model: (ModelReport, ModelPackage), baseline: (ModelReport, ModelPackage)?,
                             results: [Result], agreement: Double?, dataset: Dataset?) throws {
        var rows = [model.0].map { ABReport.ModelRow(label: "model", path: $0.path, sizeBytes: $0.sizeBytes, loadMilliseconds: $0.loadMilliseconds, peakRSS: $0.peakRSS, accuracy: $0.accuracy) }
        var layers: [LayerComparison] = []
        if let (b, basePackage) = baseline {
            rows.append(ABReport.ModelRow(label: "baseline", path: b.path, sizeBytes: b.sizeBytes, loadMilliseconds: b.loadMilliseconds, peakRSS: b.peakRSS, accuracy: b.accuracy))
            let sample = try makeInputs(batch: min(64, dataset?.count ?? 64), inputNames: model.1.graph.inputs.map(\.name),
                                        info: model.1.graph.inputs[0], dataset: dataset)[0]
            layers = try LayerComparison.compare(model: model.1, modelPath: model.0.path, baseline: basePackage, baselinePath: b.path,
                                                 inputs: sample)
        }
        let latency = results.map { ABReport.LatencyRow(label: $0.model, batch: $0.batch, threads: $0.threads, p50: $0.latency.p50,
                                                        p90: $0.latency.p90, p99: $0.latency.p99, mean: $0.latency.mean) }
        let html = ABReport(models: rows, latency: latency, layers: layers, agreement: agreement).render()
        try AtomicFile.write(Array(html.utf8), to: path, force: true)
    }

    /// Per (batch, threads): model mean latency / baseline mean latency and throughput ratio.
    private func ratios(_ results: [Result]) -> [JSONValue] {
        results.filter { $0.model == "model" }.compactMap { r in
            guard let b = results.first(where: { $0.model == "baseline" && $0.batch == r.batch && $0.threads == r.threads }) else { return nil }
            return .object(["batch": .int(r.batch), "threads": .int(r.threads),
                            "latency_ratio": .number(r.latency.mean / b.latency.mean), "throughput_ratio": .number(r.throughput / b.throughput)])
        }
    }

    /// Loads, plans and times one model; returns its report, timing rows and (with data) its logits.
    private func measure(label: String, path: String, graph: String?, batches: [Int], threadCounts: [Int],
                         console: Console) throws -> (ModelReport, [Result], Tensor?, ModelPackage, Dataset?) {
        ProcessStatistics.resetPeakRSS()
        let maxBatch = batches.max()!
        let loadStart = ProcessStatistics.now()
        let package = try ModelInputOptions.loadPackage(path: path, graph: graph, limits: model.readLimits(),
                                                        strictDTypes: model.strictDTypes, onnx: model.onnxOptions(), console: console)
        var sessions: [Int: Session] = [:]
        sessions[threadCounts[0]] = try Session(package: package, options: SessionOptions(maxBatch: maxBatch, threads: threadCounts[0]))
        let loadMilliseconds = Double(ProcessStatistics.now() - loadStart) / 1e6
        for t in threadCounts where sessions[t] == nil {
            sessions[t] = try Session(package: package, options: SessionOptions(maxBatch: maxBatch, threads: t))
        }
        let dataset = try data.map { try RuntimeSupport.loadDataset($0, xKey: inputKey, yKey: labelKey, for: package.graph,
                                                                            strictDTypes: model.strictDTypes, console: console) }
        guard package.graph.inputs.count == 1 || dataset != nil else {
            throw RuntimeError.badOption("bench makes random inputs only for models with one input; give --data with an array per graph input")
        }
        let input = package.graph.inputs[0]

        var rows: [Result] = []
        for t in threadCounts {
            let session = sessions[t]!
            try session.prepare(batches: batches)
            for b in batches {
                let inputs = try makeInputs(batch: b, inputNames: session.inputNames, info: input, dataset: dataset)
                console.detail("\(label): batch \(b), \(t) thread(s)")
                rows.append(try time(session, inputs: inputs, label: label, batch: b, threads: t))
            }
        }
        var logits: Tensor?
        var accuracy: Double?
        if let dataset {
            logits = try Evaluation.logits(session: sessions[threadCounts[0]]!, dataset: dataset, batch: maxBatch)
            accuracy = dataset.labels.map { Evaluation.accuracy(logits: logits!, labels: $0) }
        }
        var report = ModelReport(path: path, sizeBytes: RuntimeSupport.sizeOnDisk(path), loadMilliseconds: loadMilliseconds,
                                 peakRSS: ProcessStatistics.peakRSS(), accuracy: accuracy)
        report.int8Kernels = try sessions[threadCounts[0]]!.int8Kernels(batch: maxBatch)
        if !report.int8Kernels.isEmpty {
            console.detail("\(label): INT8 kernels at batch \(maxBatch) (\(CPUFeatures.summary)): "
                           + report.int8Kernels.map { "\($0.node) \($0.kernel)" }.joined(separator: ", "))
        }
        return (report, rows, logits, package, dataset)
    }

    /// Up to 8 distinct feeds of every graph input (dataset slices, or seeded normal values).
    private func makeInputs(batch: Int, inputNames: [String], info: ValueInfo, dataset: Dataset?) throws -> [[String: Tensor]] {
        if let dataset {
            guard batch > dataset.count else {
                return try (0..<min(8, dataset.count / batch)).map { try dataset.feeds(($0 * batch)..<(($0 + 1) * batch), inputNames: inputNames) }
            }
            return [try dataset.feeds(0..<dataset.count, inputNames: inputNames).mapValues { repeated($0, batch) }]
        }
        // Random inputs need every size; a symbolic dim's comes from --data (or --dim at import).
        if let d = info.shape.indices.first(where: { info.symbol(at: $0) != nil }) {
            throw GraphError.symbolicDim(input: info.name, dim: d, name: info.symbol(at: d)!)
        }
        var rng = SeededRNG(seed: seed)
        let shape = Shape([batch] + info.shape.dropFirst())
        try MemoryBudget.admit(shape.checkedElementCount.flatMap { checkedMultiply($0, 2 * DType.f32.byteSize) },
                               for: "input '\(info.name)' (two random batches of shape \(shape))")
        return (0..<2).map { _ in [info.name: Tensor((0..<shape.elementCount).map { _ in rng.normal() }, shape: shape)] }
    }

    /// A batch larger than the dataset: its samples repeated (any dtype).
    private func repeated(_ all: Tensor, _ batch: Int) -> Tensor {
        var out = Tensor(zeros: all.dtype, Shape([batch] + all.shape.dims.dropFirst()))
        all.withUnsafeBytes { source in
            out.withUnsafeMutableBytes { target in
                for offset in stride(from: 0, to: target.count, by: source.count) {
                    (target.baseAddress! + offset).copyMemory(from: source.baseAddress!, byteCount: min(source.count, target.count - offset))
                }
            }
        }
        return out
    }

    private func time(_ session: Session, inputs: [[String: Tensor]], label: String, batch: Int, threads: Int) throws -> Result {
        for i in 0..<warmup { _ = try session.run(inputs[i % inputs.count]) }
        var latencies = LatencyRecorder()
        let deadline = ProcessStatistics.now() + UInt64(duration * 1e9)
        while iterations.map({ latencies.count < $0 }) ?? (latencies.count < 10 || ProcessStatistics.now() < deadline) {
            let x = inputs[latencies.count % inputs.count]
            let start = ProcessStatistics.now()
            _ = try session.run(x)
            latencies.record(nanoseconds: ProcessStatistics.now() - start)
        }
        let s = latencies.summary
        return Result(model: label, batch: batch, threads: threads, latency: (s.p50, s.p90, s.p99, s.mean), calls: s.count)
    }
}
