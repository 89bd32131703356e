import Foundation

/// At most `threads` model runs at once, across every model and instance of the server (`--threads`):
/// inference happens on the batchers' own threads, never on the HTTP event loops, and this bounds
/// how many of them compute at the same time (docs/serving.md, "Concurrency").
final class InferencePool: @unchecked Sendable {
    private let permits: DispatchSemaphore
    let threads: Int

    init(threads: Int) {
        self.threads = threads
        permits = DispatchSemaphore(value: threads)
    }

    /// Runs `work` on the calling (batcher) thread once a permit is free.
    func run<T>(_ work: () throws -> T) rethrows -> T {
        permits.wait()
        defer { permits.signal() }
        return try work()
    }
}
