import AsyncHTTPClient
import Benchmarking
import Foundation
import NIOCore
import TensorCore

/// `modelsmith bench --server`: drives a running server with infer requests and measures it from
/// the client side (docs/serving.md, "Load generator"). Closed loop: `concurrency` connections,
/// each sending its next request when the last one is answered. Open loop (`rate`): requests
/// start on a fixed schedule whatever the answers do, and each latency counts from its scheduled
/// start, so a stalled server shows up in the percentiles rather than slowing the client.
public struct LoadGenerator: Sendable {
    public var baseURL: String
    public var model: String
    public var concurrency: Int
    /// Requests per second for the open loop; nil for the closed loop.
    public var rate: Double?
    public var duration: Duration
    /// Request bodies to cycle through (`requestBody(input:sample:)`).
    public var bodies: [[UInt8]]

    public init(baseURL: String, model: String, concurrency: Int, rate: Double?, duration: Duration, bodies: [[UInt8]]) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.model = model
        self.concurrency = concurrency
        self.rate = rate
        self.duration = duration
        self.bodies = bodies
    }

    public struct Report: Sendable {
        public var concurrency: Int
        public var rate: Double?
        public var seconds: Double
        /// Answered with 200.
        public var succeeded: Int
        /// Failures by HTTP status; transport failures (refused, reset, timed out) under 0.
        public var errors: [Int: Int]
        public var latency: LatencySummary
        /// The server's `modelsmith_batch_size` histogram over the run: (upper bound, runs).
        public var batchSizes: [(upperBound: String, runs: Int)]
        public var throughput: Double { seconds > 0 ? Double(succeeded) / seconds : 0 }
    }

    /// A request body for one batch: JSON tensors, as any KServe v2 client sends them.
    public static func requestBody(input: String, sample: Tensor) -> [UInt8] {
        let shape = sample.shape.dims.map(String.init).joined(separator: ",")
        let data = sample.floats.map { ResponseEncoder.number($0) }.joined(separator: ",")
        return Array("{\"inputs\":[{\"name\":\(ResponseEncoder.quoted(input)),\"shape\":[\(shape)],\"datatype\":\"FP32\",\"data\":[\(data)]}]}".utf8)
    }

    /// The first input's name and per-sample shape, from `GET /v2/models/{name}`.
    public static func inputSignature(baseURL: String, model: String) async throws -> (name: String, sampleShape: [Int]) {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let answer = await capture { try await get(client, "\(baseURL)/v2/models/\(model)") }
        try await client.shutdown()
        let (status, body) = try answer.get()
        guard status == 200, let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let inputs = object["inputs"] as? [[String: Any]], let first = inputs.first,
              let name = first["name"] as? String, let shape = first["shape"] as? [Int] else {
            throw ServingError(status: status, "\(baseURL)/v2/models/\(model) answered \(status): \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        return (name, Array(shape.dropFirst()))
    }

    public func run() async throws -> Report {
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)
        pool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                configuration: .init(timeout: .init(connect: .seconds(5), read: .seconds(30)), connectionPool: pool))
        let report = await Self.capture { try await measure(client) }
        try await client.shutdown()
        return try report.get()
    }

    private func measure(_ client: HTTPClient) async throws -> Report {
        let before = try await batchHistogram(client)
        let start = ProcessStatistics.now()
        let deadline = start + UInt64(max(0, duration.nanoseconds))
        let url = "\(baseURL)/v2/models/\(model)/infer"
        let tallies: [Tally]
        if let rate {
            tallies = try await openLoop(client, url: url, rate: rate, start: start, deadline: deadline)
        } else {
            tallies = try await withThrowingTaskGroup(of: Tally.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var tally = Tally()
                        var index = worker
                        while ProcessStatistics.now() < deadline {
                            let sent = ProcessStatistics.now()
                            await tally.add(send(client, url: url, body: bodies[index % bodies.count]), since: sent)
                            index += concurrency
                        }
                        return tally
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        let seconds = Double(ProcessStatistics.now() - start) / 1e9
        let after = try await batchHistogram(client)
        var total = Tally()
        for tally in tallies { total.merge(tally) }
        let batches = after.map { bucket in (bucket.upperBound, bucket.count - (before.first { $0.upperBound == bucket.upperBound }?.count ?? 0)) }
        var perBucket: [(String, Int)] = []
        var previous = 0
        for (bound, cumulative) in batches {
            perBucket.append((bound, cumulative - previous))
            previous = cumulative
        }
        return Report(concurrency: concurrency, rate: rate, seconds: seconds, succeeded: total.succeeded, errors: total.errors,
                      latency: total.latency.summary, batchSizes: perBucket.filter { $0.1 > 0 })
    }

    private struct Tally: Sendable {
        var latency = LatencyRecorder()
        var succeeded = 0
        var errors: [Int: Int] = [:]

        mutating func add(_ status: Int, since start: UInt64) {
            if status == 200 {
                succeeded += 1
                latency.record(nanoseconds: ProcessStatistics.now() - start)
            } else {
                errors[status, default: 0] += 1
            }
        }

        mutating func merge(_ other: Tally) {
            latency.merge(other.latency)
            succeeded += other.succeeded
            errors.merge(other.errors, uniquingKeysWith: +)
        }
    }

    /// Requests scheduled every 1/rate seconds; at most 4096 in flight (beyond that a request counts as a client error, 0).
    private func openLoop(_ client: HTTPClient, url: String, rate: Double, start: UInt64, deadline: UInt64) async throws -> [Tally] {
        let interval = UInt64(1e9 / rate)
        return await withTaskGroup(of: Tally.self) { group in
            var tallies: [Tally] = []
            var scheduled = start
            var index = 0
            var inFlight = 0
            while scheduled < deadline {
                let now = ProcessStatistics.now()
                if scheduled > now { try? await Task.sleep(nanoseconds: scheduled - now) }
                if inFlight >= 4096, let done = await group.next() {
                    tallies.append(done)
                    inFlight -= 1
                }
                let body = bodies[index % bodies.count]
                let due = scheduled
                group.addTask {
                    var tally = Tally()
                    await tally.add(send(client, url: url, body: body), since: due)
                    return tally
                }
                inFlight += 1
                index += 1
                scheduled += interval
            }
            for await tally in group { tallies.append(tally) }
            return tallies
        }
    }

    /// The status of one infer request (0 when it failed in transport).
    private func send(_ client: HTTPClient, url: String, body: [UInt8]) async -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(body)
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 64 << 20)
            return Int(response.status.code)
        } catch {
            return 0
        }
    }

    /// The cumulative `modelsmith_batch_size` buckets of this model's primary variant.
    private func batchHistogram(_ client: HTTPClient) async throws -> [(upperBound: String, count: Int)] {
        let (status, body) = try await Self.get(client, "\(baseURL)/metrics")
        guard status == 200 else { return [] }
        return Self.buckets(metrics: String(decoding: body, as: UTF8.self), name: "modelsmith_batch_size", model: model)
    }

    /// Parses `NAME_bucket{model="m",variant="v",le="8"} 123` lines of the text format (summed over variants).
    static func buckets(metrics: String, name: String, model: String) -> [(upperBound: String, count: Int)] {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for line in metrics.split(separator: "\n") where line.hasPrefix("\(name)_bucket{") && line.contains("model=\"\(model)\"") {
            guard let leStart = line.range(of: "le=\""), let leEnd = line[leStart.upperBound...].firstIndex(of: "\""),
                  let count = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            let bound = String(line[leStart.upperBound..<leEnd])
            if counts[bound] == nil { order.append(bound) }
            counts[bound, default: 0] += Int(count)
        }
        return order.map { ($0, counts[$0]!) }
    }

    private static func get(_ client: HTTPClient, _ url: String) async throws -> (Int, [UInt8]) {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), Array(buffer: body))
    }

    /// The outcome of `body`, so the client is shut down (asynchronously) whatever it was.
    private static func capture<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }
}
