import CArchive
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One regular file inside an archive: its normalised relative path and its decoded bytes.
public struct ArchiveEntry: Sendable {
    /// Relative path inside the archive, with leading `./` components removed.
    public var path: String
    public var data: [UInt8]

    public init(path: String, data: [UInt8]) {
        self.path = path
        self.data = data
    }
}

/// The libarchive read loop shared by every archive reader (tar, tar.gz, tar.xz, tar.zst, zip, npz).
///
/// Defensive by construction: entries with absolute or `..` paths are refused, only regular files
/// are passed to `body` (directories are skipped; links and devices too, each reported to
/// `skipped` with the reason, so the caller can say so), declared sizes are never
/// used for allocation, and `ReadLimits` bounds the entry count, the total decoded bytes and the
/// expansion of the archive (decoded bytes against the file's size on disk).
public enum ArchiveEntries {
    /// Calls `body` for each regular file of the archive at `url`, in archive order.
    ///
    /// - Throws: `FormatError` naming the file, the entry and the reason; errors thrown by `body`
    ///   are passed through unchanged.
    public static func forEach(url: URL, limits: ReadLimits = .default, skipped: ((_ entry: String, _ reason: String) -> Void)? = nil,
                               _ body: (ArchiveEntry) throws -> Void) throws {
        let path = displayPath(url)
        guard let archive = archive_read_new() else { throw FormatError.unreadable(path: path, reason: "libarchive could not allocate a reader") }
        defer { archive_read_free(archive) }
        // Names are UTF-8 in zip and pax; libarchive converts them with the thread's locale, and in
        // the "C" locale non-ASCII names come back as NULL (platform.md §2, pitfall 2).
        let utf8Locale = UTF8Locale()
        defer { utf8Locale.restore() }

        // Only the containers and filters we document; no external-program filters.
        archive_read_support_format_tar(archive)
        archive_read_support_format_zip(archive)
        archive_read_support_filter_gzip(archive)
        archive_read_support_filter_xz(archive)
        archive_read_support_filter_zstd(archive)
        archive_read_support_filter_bzip2(archive)

        guard archive_read_open_filename(archive, url.path, 1 << 16) == ARCHIVE_OK else {
            // libarchive reports an unrecognised container as a file-format errno (EILSEQ on Linux).
            if archive_errno(archive) == EILSEQ {
                throw FormatError.malformed(path: path, entry: nil, reason: "not a tar or zip archive (\(libarchiveMessage(archive)))")
            }
            throw FormatError.unreadable(path: path, reason: libarchiveMessage(archive))
        }
        var budget = DecodeBudget(path: path, limits: limits, compressedBytes: inputFileSize(url) ?? 0)
        var entryCount = 0
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else {
                throw FormatError.malformed(path: path, entry: nil, reason: libarchiveMessage(archive))
            }
            entryCount += 1
            guard entryCount <= limits.maxEntries else {
                throw FormatError.limitExceeded(path: path, entry: nil, limit: "the limit of \(limits.maxEntries) archive entries")
            }
            guard let rawName = archive_entry_pathname_utf8(entry) ?? archive_entry_pathname(entry) else {
                throw FormatError.malformed(path: path, entry: nil, reason: "entry \(entryCount) has a name that is not valid UTF-8")
            }
            let name = String(cString: rawName)
            guard let relative = EntryPath.normalised(name) else { throw FormatError.unsafeEntryPath(path: path, entry: name) }
            guard archive_entry_filetype(entry) == regularFileType, archive_entry_hardlink(entry) == nil, !relative.isEmpty else {
                if let reason = skipReason(entry) { skipped?(relative, reason) }
                archive_read_data_skip(archive)
                continue
            }
            let declared: Int? = archive_entry_size_is_set(entry) != 0 ? Int(archive_entry_size(entry)) : nil
            let data = try readData(archive, entry: relative, declared: declared, budget: &budget)
            try body(ArchiveEntry(path: relative, data: data))
        }
    }

    /// Reads the current entry to its end. The declared size only checks: the buffer grows as bytes
    /// arrive, so a header that declares 5 GiB over a few megabytes of data allocates a few megabytes.
    private static func readData(_ archive: OpaquePointer, entry: String, declared: Int?, budget: inout DecodeBudget) throws -> [UInt8] {
        var data: [UInt8] = []
        if let declared { try budget.admit(declared: declared, entry: entry) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress, $0.count) }
            if n == 0 { break }
            // A negative count is an error; zip reports a bad CRC as ARCHIVE_WARN, which we refuse.
            guard n > 0 else { throw FormatError.malformed(path: budget.path, entry: entry, reason: libarchiveMessage(archive)) }
            try budget.consume(n, entry: entry)
            data.append(contentsOf: chunk[0..<n])
        }
        if let declared, declared != data.count {
            throw FormatError.malformed(path: budget.path, entry: entry, reason: "declares \(declared) bytes but holds \(data.count)")
        }
        return data
    }

    private static let regularFileType = mode_t(0o100000)
    private static let directoryType = mode_t(0o040000)
    private static let symbolicLinkType = mode_t(0o120000)

    /// Why a non-regular entry is not read, or nil for a directory (which holds nothing to read).
    private static func skipReason(_ entry: OpaquePointer) -> String? {
        let only = "archives are read for regular files only"
        if let target = archive_entry_hardlink(entry) { return "a hard link (to '\(String(cString: target))'); \(only)" }
        switch archive_entry_filetype(entry) {
        case directoryType: return nil
        case symbolicLinkType:
            let target = archive_entry_symlink(entry).map { String(cString: $0) } ?? "?"
            return "a symbolic link (to '\(target)'); \(only)"
        default: return "not a regular file; \(only)"
        }
    }

    private static func libarchiveMessage(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error \(archive_errno(archive))"
    }
}

/// Bounds the bytes decoded from one archive: an absolute cap, and a cap relative to the archive's
/// size on disk (the bomb guard) that applies once the output is larger than the ratio floor.
struct DecodeBudget {
    let path: String
    let limits: ReadLimits
    let compressedBytes: Int
    private(set) var decoded = 0

    init(path: String, limits: ReadLimits, compressedBytes: Int) {
        self.path = path
        self.limits = limits
        self.compressedBytes = compressedBytes
    }

    /// Refuses an entry whose declared size alone would break a limit, before reading it, so a
    /// lying size can reserve no more memory than the limits allow.
    func admit(declared: Int, entry: String) throws {
        guard declared >= 0 else { throw FormatError.malformed(path: path, entry: entry, reason: "declares a negative size") }
        try check(decoded.addingReportingOverflow(declared), entry: entry)
    }

    mutating func consume(_ count: Int, entry: String) throws {
        let total = decoded.addingReportingOverflow(count)
        try check(total, entry: entry)
        decoded = total.partialValue
    }

    private func check(_ total: (partialValue: Int, overflow: Bool), entry: String) throws {
        guard !total.overflow, total.partialValue <= limits.maxDecodedBytes else {
            throw FormatError.limitExceeded(path: path, entry: entry, limit: "the decoded-size cap of \(limits.maxDecodedBytes) bytes")
        }
        let allowed = compressedBytes.multipliedReportingOverflow(by: limits.maxExpansionRatio)
        if !allowed.overflow, total.partialValue > max(allowed.partialValue, limits.expansionRatioFloorBytes) {
            throw FormatError.limitExceeded(path: path, entry: entry,
                                            limit: "\(limits.maxExpansionRatio)× the archive's \(compressedBytes) bytes on disk (decompression bomb?)")
        }
    }
}

/// Validation of paths found inside archives and directories.
enum EntryPath {
    /// The path without leading `./` components, or nil when it is absolute, contains a `..`
    /// component, a NUL or a backslash-separated `..` (a Windows-made zip).
    static func normalised(_ path: String) -> String? {
        guard !path.hasPrefix("/"), !path.contains("\0") else { return nil }
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.contains(where: { $0 == ".." || $0.split(separator: "\\").contains("..") }) else { return nil }
        return components.filter { $0 != "." }.joined(separator: "/")
    }
}

/// Switches the calling thread to a UTF-8 character-type locale and back (thread-local, so it does
/// not disturb the rest of the process).
private struct UTF8Locale {
    private let previous: locale_t?
    private let utf8: locale_t?

    init() {
        utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", nil)
        previous = utf8.map { uselocale($0) }
    }

    func restore() {
        if let previous { uselocale(previous) }
        if let utf8 { freelocale(utf8) }
    }
}

/// The path as the user gave it, for messages.
func displayPath(_ url: URL) -> String { url.relativePath }
