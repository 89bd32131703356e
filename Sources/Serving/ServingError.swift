import Foundation

/// A request the server refuses, or a model it cannot serve: an HTTP status and a one-line
/// message naming the field, the input or the model (docs/serving.md, "Errors").
public struct ServingError: Error, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String

    public init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }

    static func badRequest(_ message: String) -> ServingError { ServingError(status: 400, message) }
    static func unknownModel(_ name: String) -> ServingError { ServingError(status: 404, "unknown model '\(name)'") }
    static func bodyTooLarge(limit: Int) -> ServingError { ServingError(status: 413, "the request body is over --max-body (\(limit) bytes)") }
    static let queueFull = ServingError(status: 429, "the model's queue is full (--max-queue); retry later")
    /// A configuration the server cannot start with (no HTTP status: the CLI exits 2).
    static func badConfiguration(_ message: String) -> ServingError { ServingError(status: 0, message) }
    static let shuttingDown = ServingError(status: 503, "the server is shutting down")

    /// The JSON body the protocol uses for errors: `{"error": "..."}`.
    var jsonBody: Data {
        (try? JSONSerialization.data(withJSONObject: ["error": message], options: [.sortedKeys])) ?? Data("{\"error\":\"\"}".utf8)
    }
}
