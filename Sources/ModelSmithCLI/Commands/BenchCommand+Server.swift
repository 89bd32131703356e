import Foundation
import ModelRuntime
import Serving
import TensorCore

/// `modelsmith bench --server URL MODEL`: load on a running server (docs/serving.md, "Load generator").
extension BenchCommand {
    func runAgainstServer(_ url: String) throws {
        let console = Console(common)
        let levels = try RuntimeSupport.positiveList(concurrency, option: "--concurrency")
        let samplesPerRequest = try RuntimeSupport.positiveList(batch, option: "--batch")[0]
        guard duration > 0, (rate ?? 1) > 0 else { throw RuntimeError.badOption("--duration and --rate must be positive") }
        let name = model.model
        let signature = try Blocking.run { try await LoadGenerator.inputSignature(baseURL: url, model: name) }
        let bodies = try requestBodies(input: signature.name, sampleShape: signature.sampleShape, samples: samplesPerRequest)

        var reports: [LoadGenerator.Report] = []
        for level in levels {
            console.detail("\(url): \(rate.map { "\($0) requests/s" } ?? "\(level) connection(s)") for \(duration) s")
            let generator = LoadGenerator(baseURL: url, model: name, concurrency: level, rate: rate,
                                          duration: .nanoseconds(Int64(duration * 1e9)), bodies: bodies)
            reports.append(try Blocking.run { try await generator.run() })
        }
        if common.json {
            try JSONOutput.print(JSONValue.object(["server": .string(url), "model": .string(name), "samples_per_request": .int(samplesPerRequest),
                                                   "results": .array(reports.map(Self.json))]))
            return
        }
        var table = TextTable([.init("connections", .right), .init("rate/s", .right), .init("requests", .right), .init("errors", .right),
                               .init("req/s", .right), .init("p50 ms", .right), .init("p90 ms", .right), .init("p99 ms", .right),
                               .init("p99.9 ms", .right), .init("server batch sizes (≤size: runs)")])
        for r in reports {
            table.add(["\(r.concurrency)", r.rate.map { String(format: "%.0f", $0) } ?? "-", "\(r.succeeded)", "\(r.errors.values.reduce(0, +))",
                       String(format: "%.0f", r.throughput), String(format: "%.3f", r.latency.p50), String(format: "%.3f", r.latency.p90),
                       String(format: "%.3f", r.latency.p99), String(format: "%.3f", r.latency.p999),
                       r.batchSizes.map { "\($0.upperBound): \($0.runs)" }.joined(separator: ", ")])
        }
        console.output(table.render())
        for r in reports where !r.errors.isEmpty {
            console.output("\(r.concurrency) connection(s): errors by status " + r.errors.sorted { $0.key < $1.key }
                .map { "\($0.key == 0 ? "transport" : String($0.key)): \($0.value)" }.joined(separator: ", "))
        }
    }

    private static func json(_ r: LoadGenerator.Report) -> JSONValue {
        var object: [String: JSONValue] = [
            "concurrency": .int(r.concurrency), "seconds": .number(r.seconds), "requests": .int(r.succeeded),
            "throughput_per_s": .number(r.throughput),
            "errors": .object(Dictionary(uniqueKeysWithValues: r.errors.map { ($0.key == 0 ? "transport" : String($0.key), JSONValue.int($0.value)) })),
            "latency_ms": .object(["p50": .number(r.latency.p50), "p90": .number(r.latency.p90), "p99": .number(r.latency.p99),
                                   "p999": .number(r.latency.p999), "mean": .number(r.latency.mean), "max": .number(r.latency.max)]),
            "server_batch_sizes": .array(r.batchSizes.map { .object(["le": .string($0.upperBound), "runs": .int($0.runs)]) }),
        ]
        if let rate = r.rate { object["rate_per_s"] = .number(rate) }
        return .object(object)
    }

    /// Up to 64 distinct request bodies: consecutive samples of --data, or seeded normal values.
    private func requestBodies(input: String, sampleShape: [Int], samples: Int) throws -> [[UInt8]] {
        let shape = Shape([samples] + sampleShape)
        if let data {
            let dataset = try Dataset.load(path: data, xKey: inputKey, yKey: nil)
            guard Array(dataset.x.shape.dims.dropFirst()) == sampleShape else {
                throw RuntimeError.badOption("--data \(data): samples of shape \(Array(dataset.x.shape.dims.dropFirst())), the served model takes \(sampleShape)")
            }
            try dataset.checkFinite(source: data)
            let count = dataset.count / samples
            guard count > 0 else { throw RuntimeError.badOption("--data \(data) holds \(dataset.count) samples, fewer than --batch \(samples)") }
            return (0..<min(64, count)).map { i in LoadGenerator.requestBody(input: input, sample: dataset.batch((i * samples)..<((i + 1) * samples))) }
        }
        var rng = SeededRNG(seed: seed)
        return (0..<8).map { _ in LoadGenerator.requestBody(input: input, sample: Tensor((0..<shape.elementCount).map { _ in rng.normal() }, shape: shape)) }
    }
}
