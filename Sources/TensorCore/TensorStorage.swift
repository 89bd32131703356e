#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of one or more tensors (copy on write in `Tensor`): either owned — 64-byte aligned,
/// zero-initialised heap memory — or borrowed from a read-only memory-mapped file that `owner`
/// keeps mapped (docs/formats.md §8, "Memory"). Borrowed bytes are aligned to their element size
/// and never written: `Tensor` copies them into owned storage before any mutation.
public final class TensorStorage: @unchecked Sendable {
    public static let alignment = 64
    /// Borrowed storage at least this large hands its resident pages back after each read access
    /// (`Tensor.withUnsafeBytes`); smaller tensors stay resident, their pages cost less than re-reading.
    public static let releaseThreshold = 1 << 20
    public let byteCount: Int
    public let pointer: UnsafeMutableRawPointer
    /// What keeps borrowed bytes valid (a file mapping); nil for owned storage.
    private let owner: AnyObject?

    public init(byteCount: Int) {
        self.byteCount = byteCount
        pointer = .allocate(byteCount: max(byteCount, 1), alignment: Self.alignment)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
        owner = nil
    }

    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(byteCount: bytes.count)
        if let base = bytes.baseAddress, bytes.count > 0 { pointer.copyMemory(from: base, byteCount: bytes.count) }
    }

    /// Borrows read-only mapped bytes (no copy) for as long as this storage lives; `owner` keeps
    /// the mapping alive. `bytes` must not be empty.
    public init(borrowing bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        precondition(bytes.count > 0, "borrowed storage needs bytes")
        byteCount = bytes.count
        pointer = UnsafeMutableRawPointer(mutating: bytes.baseAddress!)
        self.owner = owner
    }

    /// True when the bytes are borrowed from a mapping (and so must not be written).
    public var isBorrowed: Bool { owner != nil }

    /// Owned bytes equal to these; a large borrowed source hands its pages back after the copy
    /// (a write to a mapped tensor — pruning, masking — must not keep the mapped copy resident too).
    public func copy() -> TensorStorage {
        defer { releaseResidentPages() }
        return TensorStorage(copying: UnsafeRawBufferPointer(start: pointer, count: byteCount))
    }

    /// For large borrowed storage: drops this process's resident copy of the pages wholly inside
    /// the bytes (`MADV_DONTNEED` on a read-only file mapping — the next read faults them back in
    /// from the page cache), so a pass over every tensor of a mapped model stays bounded in memory.
    func releaseResidentPages() {
        guard owner != nil, byteCount >= Self.releaseThreshold else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: pointer) + page - 1) / page * page
        let end = (Int(bitPattern: pointer) + byteCount) / page * page
        guard end > start, let base = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(base, end - start, Int32(MADV_DONTNEED))
    }

    deinit { if owner == nil { pointer.deallocate() } }
}
