/// 64-byte aligned, zero-initialised bytes owned by one or more tensors (copy on write in `Tensor`).
public final class TensorStorage: @unchecked Sendable {
    public static let alignment = 64
    public let byteCount: Int
    public let pointer: UnsafeMutableRawPointer

    public init(byteCount: Int) {
        self.byteCount = byteCount
        pointer = .allocate(byteCount: max(byteCount, 1), alignment: Self.alignment)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
    }

    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(byteCount: bytes.count)
        if let base = bytes.baseAddress, bytes.count > 0 { pointer.copyMemory(from: base, byteCount: bytes.count) }
    }

    public func copy() -> TensorStorage {
        TensorStorage(copying: UnsafeRawBufferPointer(start: pointer, count: byteCount))
    }

    deinit { pointer.deallocate() }
}
