import Foundation

/// Async work awaited from synchronous code (the CLI's commands are synchronous).
public enum Blocking {
    /// Runs `body` as a task and blocks the calling thread until it has finished.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome<T>()
        Task {
            do { outcome.result = .success(try await body()) } catch { outcome.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try outcome.result!.get()
    }

    /// Written by the task before the semaphore is signalled, read after the wait.
    private final class Outcome<T>: @unchecked Sendable {
        var result: Result<T, any Error>?
    }
}
