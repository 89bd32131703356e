import Foundation

/// A tiny lock wrapper (Foundation's `NSLock`), so the kernel caches can be shared across threads.
final class NSLockLike: @unchecked Sendable {
    private let lock = NSLock()
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
