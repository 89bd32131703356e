import Benchmarking
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// `modelsmith serve`: the Open Inference Protocol over HTTP/1.1 (docs/serving.md). Every model is
/// loaded, verified and warmed up in `init`, before the port opens, so readiness is true from the
/// first accepted connection. `run` serves until SIGTERM/SIGINT (or `shutdown()`): it stops
/// accepting, finishes the requests in flight and the queued batches, then returns.
public final class InferenceServer: Sendable {
    public let configuration: ServingConfiguration
    public let metrics: ServerMetrics
    let repository: ModelRepository
    private let logger: Logger
    private let state = ServerState()

    public init(configuration: ServingConfiguration, logger: Logger = Logger(label: "modelsmith.serve")) throws {
        self.configuration = configuration
        self.logger = logger
        metrics = ServerMetrics()
        repository = try ModelRepository(configuration: configuration, metrics: metrics, logger: logger)
    }

    public var modelNames: [String] { repository.modelNames }

    /// Loads a model's files again and swaps it in (what `POST /v2/repository/models/{name}/load` and SIGHUP do).
    public func reload(_ name: String) throws { try repository.reload(name) }

    /// Reloads every model (SIGHUP); a model that fails to load keeps serving its old files.
    func reloadAll() async {
        for name in modelNames {
            do {
                try await Task.detached { try self.reload(name) }.value
            } catch {
                logger.error("reload failed", metadata: ["model": "\(name)", "error": "\(error)"])
            }
        }
    }

    /// Serves until a graceful shutdown; `onListening` gets the bound port (useful with port 0).
    public func run(signals: [UnixSignal] = [.sigterm, .sigint], onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = Application(
            router: makeRouter(),
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(configuration.idleTimeout.nanoseconds))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "modelsmith"),
            onServerRunning: { [logger] channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("listening", metadata: ["host": "\(self.configuration.host)", "port": "\(port)"])
                await onListening(port)
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app, ReloadOnHangUp(server: self)],
                                                      gracefulShutdownSignals: signals, logger: logger))
        state.setGroup(group)
        try await group.run()
        state.markStopping()
        repository.shutdown()
        logger.info("stopped")
    }

    /// Starts the same graceful shutdown SIGTERM does.
    public func shutdown() async {
        state.markStopping()
        await state.group?.triggerGracefulShutdown()
    }

    /// What `/v2/health/ready` answers.
    var isReady: Bool { !state.stopping }

    /// Readiness turns false (the first step of a graceful shutdown).
    func markStopping() { state.markStopping() }


    /// `run` from synchronous code (the CLI): blocks until the server has stopped.
    public func runBlocking(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) throws {
        try Blocking.run { try await self.run(onListening: onListening) }
    }

    // MARK: routes

    private func makeRouter() -> Router<ServingRequestContext> {
        let router = Router(context: ServingRequestContext.self)
        router.add(middleware: AccessLog(logger: logger))
        router.get("/v2/health/live") { _, _ in Self.json(200, ["live": true]) }
        router.get("/v2/health/ready") { [state] _, _ in
            state.stopping ? Self.json(503, ["ready": false]) : Self.json(200, ["ready": true])
        }
        router.get("/v2") { [repository] _, _ in
            Self.json(200, ["name": "modelsmith", "version": "0.1.0", "extensions": ["binary_tensor_data", "model_repository"],
                            "models": repository.modelNames])
        }
        router.get("/v2/models/:name") { [repository] _, context in
            let name = context.parameters.get("name") ?? ""
            guard let signature = repository.signature(of: name) else { return Self.error(.unknownModel(name)) }
            func values(_ list: [ModelSignature.Value]) -> [[String: Any]] {
                list.map { ["name": $0.name, "datatype": "FP32", "shape": [-1] + $0.sampleShape] }
            }
            return Self.json(200, ["name": name, "versions": ["1"], "platform": "modelsmith",
                                   "inputs": values(signature.inputs), "outputs": values(signature.outputs),
                                   "parameters": ["max_batch_size": signature.maxBatch]])
        }
        router.get("/v2/models/:name/ready") { [repository, state] _, context in
            let name = context.parameters.get("name") ?? ""
            guard repository.signature(of: name) != nil else { return Self.error(.unknownModel(name)) }
            return state.stopping ? Self.json(503, ["name": name, "ready": false]) : Self.json(200, ["name": name, "ready": true])
        }
        router.post("/v2/models/:name/infer") { [repository, configuration] request, context in
            let name = context.parameters.get("name") ?? ""
            guard repository.signature(of: name) != nil else { return Self.error(.unknownModel(name)) }
            if let declared = request.headers[.contentLength].flatMap(Int.init), declared > configuration.maxBodyBytes {
                return Self.error(.bodyTooLarge(limit: configuration.maxBodyBytes))
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: configuration.maxBodyBytes)
            } catch is NIOTooManyBytesError {
                return Self.error(.bodyTooLarge(limit: configuration.maxBodyBytes))
            }
            var jsonLength: Int?
            if let header = request.headers[HTTPField.Name("Inference-Header-Content-Length")!] {
                guard let value = Int(header) else {
                    return Self.error(.badRequest("Inference-Header-Content-Length must be an integer, got '\(header)'"))
                }
                jsonLength = value
            }
            // A client that disconnects cancels its request, which then leaves the batch queue.
            let bytes = Array(buffer: body)
            let work = Task { await repository.infer(model: name, body: bytes, jsonLength: jsonLength) }
            context.channel.closeFuture.whenComplete { _ in work.cancel() }
            let answer = await work.value
            var headers: HTTPFields = [.contentType: answer.jsonLength == nil ? "application/json" : "application/octet-stream"]
            if let length = answer.jsonLength { headers[HTTPField.Name("Inference-Header-Content-Length")!] = String(length) }
            headers[HTTPField.Name("X-Model-Variant")!] = answer.variant
            return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        router.post("/v2/repository/models/:name/load") { [repository] _, context in
            let name = context.parameters.get("name") ?? ""
            do {
                try await Task.detached { try repository.reload(name) }.value
                return Self.json(200, ["name": name, "loaded": true])
            } catch let error as ServingError {
                return Self.error(error)
            } catch {
                return Self.error(ServingError(status: 400, "reloading '\(name)': \((error as? LocalizedError)?.errorDescription ?? "\(error)")"))
            }
        }
        router.get("/metrics") { [metrics] _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
        return router
    }

    static func json(_ status: Int, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ error: ServingError) -> Response {
        Response(status: .init(code: error.status), headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: error.jsonBody)))
    }
}

/// The request context, with the connection's channel (to notice a client going away).
struct ServingRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Readiness and the running service group.
private final class ServerState: @unchecked Sendable {
    private let lock = NSLock()
    private var _stopping = false
    private var _group: ServiceGroup?
    var stopping: Bool { lock.withLock { _stopping } }
    var group: ServiceGroup? { lock.withLock { _group } }
    func markStopping() { lock.withLock { _stopping = true } }
    func setGroup(_ group: ServiceGroup) { lock.withLock { _group = group } }
}

/// SIGHUP reloads every model from its files (as the load endpoint does for one). Listed last,
/// it is the first service a graceful shutdown stops: readiness turns false before the HTTP
/// server stops accepting.
private struct ReloadOnHangUp: Service {
    let server: InferenceServer

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                await server.reloadAll()
            }
        }
        server.markStopping()
    }
}

/// One structured line on stderr per request: method, path, status, milliseconds.
private struct AccessLog: RouterMiddleware {
    typealias Context = ServingRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ProcessStatistics.now()
        let response = try await next(request, context)
        let milliseconds = Double(ProcessStatistics.now() - start) / 1e6
        logger.info("request", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
                                          "ms": "\(String(format: "%.3f", milliseconds))"])
        return response
    }
}
