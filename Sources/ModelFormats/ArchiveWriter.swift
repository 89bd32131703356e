import CArchive
import Foundation

/// The container formats ModelSmith writes with libarchive.
public enum ArchiveFormat: Sendable, Equatable {
    /// POSIX ustar (pax extensions only when a name or size needs them), no compression filter.
    case tar
    case tarZstd(level: Int)
    case tarGzip
    /// Zip with deflate (`stored == true`: no compression, as `np.savez` writes .npz).
    case zip(stored: Bool)
}

/// Writes regular-file members to a new archive with libarchive. Members get mode 0644, mtime 0
/// and uid/gid 0, so the same content always gives the same bytes.
final class ArchiveWriter {
    private let archive: OpaquePointer
    private let path: String
    private var closed = false

    /// Opens `url` for writing; `reportPath` is the name used in error messages.
    init(url: URL, format: ArchiveFormat, reportPath: String) throws {
        guard let a = archive_write_new() else { throw FormatError.writeFailed(path: reportPath, reason: "libarchive: out of memory") }
        archive = a
        path = reportPath
        switch format {
        case .tar:
            try check(archive_write_set_format_pax_restricted(a))
        case .tarZstd(let level):
            try check(archive_write_set_format_pax_restricted(a))
            try check(archive_write_add_filter_zstd(a))
            try check(archive_write_set_filter_option(a, "zstd", "compression-level", String(level)))
        case .tarGzip:
            try check(archive_write_set_format_pax_restricted(a))
            try check(archive_write_add_filter_gzip(a))
        case .zip(let stored):
            try check(archive_write_set_format_zip(a))
            try check(archive_write_set_format_option(a, "zip", "compression", stored ? "store" : "deflate"))
        }
        // No padding of the last block beyond what tar needs (10240-byte records are the default).
        try check(archive_write_set_bytes_in_last_block(a, 1))
        try check(archive_write_open_filename(a, url.path))
    }

    deinit {
        if !closed { archive_write_close(archive) }
        archive_write_free(archive)
    }

    /// Appends one regular-file member.
    func add(path member: String, bytes: UnsafeRawBufferPointer) throws {
        try add(path: member, size: bytes.count) { write in write(bytes) }
    }

    func add(path member: String, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try add(path: member, bytes: $0) }
    }

    /// Appends one regular-file member of `size` bytes whose content `produce` hands to `write`
    /// piece by piece (streamed to the file, never held whole); a different total is refused.
    func add(path member: String, size: Int, _ produce: (_ write: (UnsafeRawBufferPointer) -> Void) -> Void) throws {
        guard let entry = archive_entry_new() else { throw FormatError.writeFailed(path: path, reason: "libarchive: out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, member)
        archive_entry_set_size(entry, Int64(size))
        archive_entry_set_filetype(entry, 0o100000)  // AE_IFREG (a macro Swift cannot import)
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_mtime(entry, 0, 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        try check(archive_write_header(archive, entry))
        var written = 0
        var failure: FormatError?
        produce { piece in
            guard failure == nil, piece.count > 0 else { return }
            guard written + piece.count <= size else { failure = sizeMismatch(member, size); return }
            var offset = 0
            while offset < piece.count {
                let n = archive_write_data(archive, piece.baseAddress! + offset, piece.count - offset)
                guard n > 0 else { failure = self.failure(); return }
                offset += n
            }
            written += piece.count
        }
        if let failure { throw failure }
        guard written == size else { throw sizeMismatch(member, size) }
    }

    private func sizeMismatch(_ member: String, _ size: Int) -> FormatError {
        FormatError.writeFailed(path: path, reason: "member \(member) came out other than the \(size) bytes announced")
    }

    /// Flushes the archive trailer and closes the file.
    func close() throws {
        closed = true
        try check(archive_write_close(archive))
    }

    private func check(_ status: Int32) throws {
        if status < ARCHIVE_WARN { throw failure() }
    }

    private func failure() -> FormatError {
        let message = archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error"
        return FormatError.writeFailed(path: path, reason: message)
    }
}
