#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's allowance for memory sized from what an input declares — activation arenas,
/// benchmark inputs, training state — checked before it is allocated (docs/robustness.md,
/// "Memory budget"). The CLI's `--max-memory` sets it; the default is half of physical memory.
public enum MemoryBudget {
    /// Bytes one allocation (or one plan's arena) may take.
    nonisolated(unsafe) public static var limit: Int = defaultLimit

    /// Half of the machine's physical memory (8 GiB when it cannot be read).
    public static var defaultLimit: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0, let bytes = checkedMultiply(pages, pageSize) else { return 8 << 30 }
        return bytes / 2
    }

    /// Throws unless `bytes` (nil: the size overflowed) fits the budget; `owner` names what wants it
    /// ("node 'conv1'", "input 'x'").
    public static func admit(_ bytes: Int?, for owner: String) throws {
        guard let bytes, bytes <= limit else { throw TensorCoreError.overBudget(owner: owner, bytes: bytes, limit: limit) }
    }
}
