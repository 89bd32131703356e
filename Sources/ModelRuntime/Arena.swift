import Kernels

/// The bytes one run works in, plus that run's library state. A `Session` keeps a pool of them so
/// that concurrent runs never share one.
final class Arena: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    let context: ExecutionContext

    init(byteCount: Int) throws {
        self.byteCount = byteCount
        base = .allocate(byteCount: max(byteCount, 64), alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 64))
        context = try ExecutionContext()
    }

    deinit { base.deallocate() }
}
