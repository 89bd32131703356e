import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import ModelRuntime
import NIOCore
import NIOHTTP1
@testable import Serving
import TensorCore
import XCTest

/// The server over real HTTP on 127.0.0.1 (an ephemeral port): the protocol's endpoints, errors as
/// JSON naming the field, the cache, A/B routing, reload under load and a draining shutdown.
final class ServerTests: XCTestCase {
    /// A server running in a task, and a client for it.
    struct Running {
        let server: InferenceServer
        let task: Task<Void, any Error>
        let base: String
        let client: HTTPClient

        func stop() async throws {
            await server.shutdown()
            try await task.value
            try await client.shutdown()
        }

        func request(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = [])
            async throws -> (status: Int, headers: HTTPHeaders, body: [UInt8]) {
            var request = HTTPClientRequest(url: base + path)
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body { request.body = .bytes(body) }
            let response = try await client.execute(request, timeout: .seconds(30))
            return (Int(response.status.code), response.headers, Array(buffer: try await response.body.collect(upTo: 16 << 20)))
        }

        func json(_ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> (Int, [String: Any]) {
            let (status, _, bytes) = try await request(method, path, body: body.map { Array($0.utf8) })
            return (status, (try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]) ?? [:])
        }
    }

    final class PortBox: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        var port: Int { lock.withLock { value } }
        func set(_ port: Int) { lock.withLock { value = port } }
    }

    func start(_ configuration: ServingConfiguration) async throws -> Running {
        let server = try InferenceServer(configuration: configuration)
        let box = PortBox()
        let task = Task { try await server.run(signals: []) { box.set($0) } }
        try await waitUntil { box.port != 0 }
        return Running(server: server, task: task, base: "http://127.0.0.1:\(box.port)", client: HTTPClient(eventLoopGroupProvider: .singleton))
    }

    private static func inferBody(_ x: Tensor, id: String? = nil) -> String {
        let idField = id.map { "\"id\":\"\($0)\"," } ?? ""
        return "{\(idField)\"inputs\":[{\"name\":\"x\",\"shape\":\(x.shape.dims),\"datatype\":\"FP32\",\"data\":\(x.floats)}]}"
    }

    private func logits(_ object: [String: Any]) -> [Float]? {
        ((object["outputs"] as? [[String: Any]])?.first?["data"] as? [NSNumber])?.map { Float($0.doubleValue) }
    }

    func testTheProtocolEndToEnd() async throws {
        var configuration = ServingFixtures.configuration([ServingFixtures.source("teacher")])
        configuration.maxBodyBytes = 2048
        let running = try await start(configuration)
        let session = try Session(package: ServingFixtures.package("teacher"), options: SessionOptions(maxBatch: 16, threads: 1))
        let x = try ServingFixtures.inputs("teacher")

        var (status, object) = try await running.json(.GET, "/v2/health/live")
        XCTAssertEqual(status, 200)
        (status, object) = try await running.json(.GET, "/v2/health/ready")
        XCTAssertEqual(object["ready"] as? Bool, true)
        (status, object) = try await running.json(.GET, "/v2/models/teacher/ready")
        XCTAssertEqual(status, 200)
        (status, object) = try await running.json(.GET, "/v2/models/teacher")
        let inputs = object["inputs"] as? [[String: Any]]
        XCTAssertEqual(inputs?.first?["name"] as? String, "x")
        XCTAssertEqual(inputs?.first?["shape"] as? [Int], [-1, 64])
        XCTAssertEqual((object["outputs"] as? [[String: Any]])?.first?["shape"] as? [Int], [-1, 10])

        // JSON tensors: the answer is bit-identical to the session run alone.
        (status, object) = try await running.json(.POST, "/v2/models/teacher/infer", body: Self.inferBody(x.rows(0, 3), id: "q1"))
        XCTAssertEqual(status, 200)
        XCTAssertEqual(object["id"] as? String, "q1")
        let expected = try session.run(["x": x.rows(0, 3)])["logits"]!.floats
        XCTAssertEqual(logits(object)?.map(\.bitPattern), expected.map(\.bitPattern))

        // Binary tensors in and out.
        let header = Array("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,64],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":256}}],\"parameters\":{\"binary_data_output\":true}}".utf8)
        let (binaryStatus, binaryHeaders, binaryBody) = try await running.request(
            .POST, "/v2/models/teacher/infer", body: header + x.rows(5, 1).withUnsafeBytes { Array($0) },
            headers: [("Inference-Header-Content-Length", "\(header.count)")])
        XCTAssertEqual(binaryStatus, 200)
        let jsonLength = try XCTUnwrap(binaryHeaders.first(name: "Inference-Header-Content-Length").flatMap { Int($0) })
        let bytes = Array(binaryBody[jsonLength...])
        XCTAssertEqual(bytes, try session.run(["x": x.rows(5, 1)])["logits"]!.withUnsafeBytes { Array($0) })

        // Errors: the status and a JSON body naming the field.
        (status, object) = try await running.json(.POST, "/v2/models/nope/infer", body: Self.inferBody(x.rows(0, 1)))
        XCTAssertEqual(status, 404)
        XCTAssertEqual(object["error"] as? String, "unknown model 'nope'")
        (status, object) = try await running.json(.GET, "/v2/models/nope")
        XCTAssertEqual(status, 404)
        (status, object) = try await running.json(.POST, "/v2/models/teacher/infer", body: "{\"inputs\":")
        XCTAssertEqual(status, 400)
        XCTAssertNotNil(object["error"] as? String)
        (status, object) = try await running.json(.POST, "/v2/models/teacher/infer",
                                                  body: Self.inferBody(x.rows(0, 1)).replacingOccurrences(of: "FP32", with: "INT8"))
        XCTAssertEqual(status, 400)
        XCTAssertTrue((object["error"] as? String)?.contains("input 'x': datatype INT8") ?? false)
        (status, object) = try await running.json(.POST, "/v2/models/teacher/infer", body: Self.inferBody(x.rows(0, 8)))
        XCTAssertEqual(status, 413)
        XCTAssertTrue((object["error"] as? String)?.contains("--max-body") ?? false)

        // The server is unaffected by the bad requests.
        (status, object) = try await running.json(.POST, "/v2/models/teacher/infer", body: Self.inferBody(x.rows(3, 1)))
        XCTAssertEqual(logits(object)?.map(\.bitPattern), try session.run(["x": x.rows(3, 1)])["logits"]!.floats.map(\.bitPattern))

        let (_, _, metrics) = try await running.request(.GET, "/metrics")
        let text = String(decoding: metrics, as: UTF8.self)
        XCTAssertTrue(text.contains("modelsmith_requests_total{model=\"teacher\",variant=\"primary\",status=\"200\"} 3"), text)
        XCTAssertTrue(text.contains("modelsmith_requests_total{model=\"teacher\",variant=\"primary\",status=\"400\"} 2"), text)
        XCTAssertTrue(text.contains("modelsmith_batch_size_bucket{model=\"teacher\",variant=\"primary\",le=\"4.0\"} 3"), text)
        XCTAssertTrue(text.contains("modelsmith_model_load_seconds{model=\"teacher\",variant=\"primary\"}"), text)
        XCTAssertTrue(text.contains("modelsmith_process_resident_bytes"), text)
        try await running.stop()
    }

    func testACachedAnswerIsByteIdenticalAndNeverRunsTheModel() async throws {
        var configuration = ServingFixtures.configuration([ServingFixtures.source("student")])
        configuration.cacheBytes = 1 << 20
        let running = try await start(configuration)
        let body = Array(Self.inferBody(try ServingFixtures.inputs("student").rows(0, 2)).utf8)
        let fresh = try await running.request(.POST, "/v2/models/student/infer", body: body)
        let cached = try await running.request(.POST, "/v2/models/student/infer", body: body)
        XCTAssertEqual(fresh.status, 200)
        XCTAssertEqual(cached.body, fresh.body)
        let text = String(decoding: try await running.request(.GET, "/metrics").body, as: UTF8.self)
        XCTAssertTrue(text.contains("modelsmith_cache_hits_total{model=\"student\"} 1"), text)
        XCTAssertTrue(text.contains("modelsmith_cache_misses_total{model=\"student\"} 1"), text)
        XCTAssertTrue(text.contains("modelsmith_batch_size_count{model=\"student\",variant=\"primary\"} 1"), text)
        try await running.stop()
    }

    func testABSplitsByRequestIDAndReloadUnderLoadFailsNothing() async throws {
        var configuration = ServingFixtures.configuration([ServingFixtures.source("teacher", name: "digits")])
        let student = ServingFixtures.source("student")
        configuration.variants = [.init(model: "digits", name: "digits-student", path: student.path, graph: student.graph, fraction: 0.5)]
        let running = try await start(configuration)
        let x = try ServingFixtures.inputs("teacher")
        let teacher = try Session(package: ServingFixtures.package("teacher"), options: SessionOptions(maxBatch: 16))
        let studentSession = try Session(package: ServingFixtures.package("student"), options: SessionOptions(maxBatch: 16))

        var variants: [String: String] = [:]
        for i in 0..<16 {
            let id = "request-\(i)"
            let (status, headers, bytes) = try await running.request(.POST, "/v2/models/digits/infer", body: Array(Self.inferBody(x.rows(i, 1), id: id).utf8))
            XCTAssertEqual(status, 200)
            let variant = try XCTUnwrap(headers.first(name: "X-Model-Variant"))
            variants[id] = variant
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
            let expected = try (variant == "primary" ? teacher : studentSession).run(["x": x.rows(i, 1)])["logits"]!.floats
            XCTAssertEqual(logits(object)?.map(\.bitPattern), expected.map(\.bitPattern), "\(id) on \(variant)")
        }
        XCTAssertEqual(Set(variants.values), ["primary", "digits-student"], "a 50% split sent 16 requests to one side")
        // The same id lands on the same side again.
        for i in [0, 5, 11] {
            let id = "request-\(i)"
            let (_, headers, _) = try await running.request(.POST, "/v2/models/digits/infer", body: Array(Self.inferBody(x.rows(i, 1), id: id).utf8))
            XCTAssertEqual(headers.first(name: "X-Model-Variant"), variants[id])
        }

        // Reload twice while 4 clients keep sending: every request is answered 200.
        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
            for client in 0..<4 {
                group.addTask {
                    var seen: [Int] = []
                    for i in 0..<40 {
                        seen.append(try await running.request(.POST, "/v2/models/digits/infer", body: Array(Self.inferBody(x.rows((client * 40 + i) % 300, 1)).utf8)).status)
                    }
                    return seen
                }
            }
            group.addTask {
                var seen: [Int] = []
                for _ in 0..<2 { seen.append(try await running.json(.POST, "/v2/repository/models/digits/load").0) }
                return seen
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        XCTAssertEqual(statuses.count, 162)
        XCTAssertEqual(Set(statuses), [200])
        try await running.stop()
    }

    func testAShadowVariantIsComparedButNeverAnswers() async throws {
        var configuration = ServingFixtures.configuration([ServingFixtures.source("teacher", name: "digits")])
        let student = ServingFixtures.source("student")
        configuration.variants = [.init(model: "digits", name: "digits-student", path: student.path, graph: student.graph, fraction: 1)]
        configuration.shadow = true
        let running = try await start(configuration)
        let x = try ServingFixtures.inputs("teacher")
        for i in 0..<4 {
            let (status, headers, _) = try await running.request(.POST, "/v2/models/digits/infer", body: Array(Self.inferBody(x.rows(i * 2, 2)).utf8))
            XCTAssertEqual(status, 200)
            XCTAssertEqual(headers.first(name: "X-Model-Variant"), "primary")
        }
        let samples = "modelsmith_shadow_samples_total{model=\"digits\",variant=\"digits-student\"} 8"
        try await waitUntil { String(decoding: (try? await running.request(.GET, "/metrics").body) ?? [], as: UTF8.self).contains(samples) }
        let text = String(decoding: try await running.request(.GET, "/metrics").body, as: UTF8.self)
        // Top-1 agreement as PyTorch's logits of the two models have it (the fixtures).
        let expected = try ServingFixtures.pytorchArgmax("teacher", 8).indices.filter {
            try ServingFixtures.pytorchArgmax("teacher", 8)[$0] == ServingFixtures.pytorchArgmax("student", 8)[$0]
        }.count
        XCTAssertTrue(text.contains("modelsmith_shadow_top1_agreements_total{model=\"digits\",variant=\"digits-student\"} \(expected)"), text)
        try await running.stop()
    }

    func testAClientThatDisconnectsFreesItsQueueSlot() async throws {
        var configuration = ServingFixtures.configuration([ServingFixtures.source("student")])
        configuration.threads = 1
        configuration.maxBatch = 1  // the two requests never share a batch
        let running = try await start(configuration)
        let release = hold(running.server.repository.pool)
        let body = Self.inferBody(try ServingFixtures.inputs("student").rows(0, 1))
        let port = Int(running.base.split(separator: ":").last!)!
        // Two raw connections send a request each: one is taken into a batch (blocked on the pool), one waits in the queue.
        let sockets = (0..<2).map { _ in Self.sendRaw("POST /v2/models/student/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)", port: port) }
        try await waitUntil { running.server.repository.queueDepth(of: "student") == 1 }
        for socket in sockets { Self.abort(socket) }
        try await waitUntil { running.server.repository.queueDepth(of: "student") == 0 }
        release.signal()
        try await waitUntil { running.server.repository.requestsInFlight(for: "student") == 0 }
        // The server still answers.
        let (status, _) = try await running.json(.POST, "/v2/models/student/infer", body: body)
        XCTAssertEqual(status, 200)
        try await running.stop()
    }

    /// A graph with two inputs (the runtime's `add` fixture): metadata lists both, and a request
    /// carrying both is answered with their element-wise sum.
    func testAModelWithSeveralInputs() async throws {
        let fixture = ServingFixtures.models.deletingLastPathComponent().appendingPathComponent("ops/add.json")
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixture)) as? [String: Any])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serve-add-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try JSONSerialization.data(withJSONObject: document["graph"]!).write(to: directory.appendingPathComponent("model.json"))
        let running = try await start(ServingFixtures.configuration([.init(name: "add", path: directory.path)]))

        let (_, metadata) = try await running.json(.GET, "/v2/models/add")
        let inputs = try XCTUnwrap(metadata["inputs"] as? [[String: Any]])
        XCTAssertEqual(inputs.map { $0["name"] as? String }, ["a", "b"])
        XCTAssertEqual(inputs.map { $0["shape"] as? [Int] }, [[-1, 4, 5], [-1, 4, 5]])

        let a = (0..<40).map { Float($0) / 8 }, b = (0..<40).map { Float(3 - $0) / 4 }
        func tensor(_ name: String, _ data: [Float]) -> String { "{\"name\":\"\(name)\",\"shape\":[2,4,5],\"datatype\":\"FP32\",\"data\":\(data)}" }
        let (status, answer) = try await running.json(.POST, "/v2/models/add/infer", body: "{\"inputs\":[\(tensor("a", a)),\(tensor("b", b))]}")
        XCTAssertEqual(status, 200)
        XCTAssertEqual(logits(answer), zip(a, b).map { $0 + $1 })
        let (missing, error) = try await running.json(.POST, "/v2/models/add/infer", body: "{\"inputs\":[\(tensor("a", a))]}")
        XCTAssertEqual(missing, 400)
        XCTAssertTrue((error["error"] as? String ?? "").contains("b"), "\(error)")
        try await running.stop()
    }

    /// The bounded queue over HTTP: with one request running and `--max-queue 1` waiting, the next
    /// is answered 429 with a JSON error at once (it never waits), and the two admitted still complete.
    func testAFullQueueAnswers429OverHTTPAndTheAdmittedRequestsComplete() async throws {
        var configuration = ServingFixtures.configuration([ServingFixtures.source("student")])
        configuration.threads = 1
        configuration.maxBatch = 1
        configuration.maxQueue = 1
        let running = try await start(configuration)
        let release = hold(running.server.repository.pool)
        let x = try ServingFixtures.inputs("student")
        let admitted = (0..<2).map { i in
            Task { () async throws -> (Int, [UInt8]) in
                let (status, _, body) = try await running.request(.POST, "/v2/models/student/infer", body: Array(Self.inferBody(x.rows(i, 1)).utf8))
                return (status, body)
            }
        }
        try await waitUntil { running.server.repository.queueDepth(of: "student") == 1 }
        let (status, error) = try await running.json(.POST, "/v2/models/student/infer", body: Self.inferBody(x.rows(2, 1)))
        XCTAssertEqual(status, 429)
        XCTAssertEqual(error["error"] as? String, ServingError.queueFull.message)
        release.signal()
        let session = try Session(package: ServingFixtures.package("student"), options: SessionOptions(maxBatch: 1))
        for (i, task) in admitted.enumerated() {
            let (status, body) = try await task.value
            XCTAssertEqual(status, 200)
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
            XCTAssertEqual(logits(object)?.map(\.bitPattern), try session.run(["x": x.rows(i, 1)])["logits"]!.floats.map(\.bitPattern))
        }
        let metrics = String(decoding: try await running.request(.GET, "/metrics").body, as: UTF8.self)
        XCTAssertTrue(metrics.contains("status=\"429\""), "no 429 counted in /metrics")
        try await running.stop()
    }

    /// Closes with a reset (SO_LINGER 0), as a client killed mid-request does.
    static func abort(_ socket: Int32) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(socket, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(socket)
    }

    /// Opens a TCP connection to 127.0.0.1:port and writes `text`; returns the socket.
    static func sendRaw(_ text: String, port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        _ = Array(text.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        return fd
    }

    func testShutdownFinishesEveryRequestInFlight() async throws {
        var configuration = ServingFixtures.configuration([ServingFixtures.source("student")])
        configuration.threads = 1
        let running = try await start(configuration)
        let release = hold(running.server.repository.pool)
        let body = Array(Self.inferBody(try ServingFixtures.inputs("student").rows(0, 1)).utf8)
        let inFlight = (0..<6).map { _ in Task { try await running.request(.POST, "/v2/models/student/infer", body: body).status } }
        try await waitUntil { running.server.repository.requestsInFlight(for: "student") == 6 }
        let stopping = Task { await running.server.shutdown() }
        try await waitUntil { !running.server.isReady }
        try await Task.sleep(nanoseconds: 50_000_000)  // the shutdown reaches the HTTP server while the requests wait
        release.signal()
        var answered: [Int] = []
        for task in inFlight { answered.append(try await task.value) }
        XCTAssertEqual(answered, [Int](repeating: 200, count: 6))
        await stopping.value
        try await running.task.value  // run returned: the server stopped by itself
        try await running.client.shutdown()
    }
}
