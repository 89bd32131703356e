import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A scratch file beside the artifact being written, unlinked as soon as it is opened (so nothing is
/// left behind, even after a crash), where each member's zstd frame is compressed once while the
/// encodings are compared and from which it is copied into the archive after the manifest
/// (docs/formats.md §8, "Memory"). Frames are appended; a losing candidate is cut off again.
final class SpillFile: @unchecked Sendable {
    private let fd: Int32
    private let reportPath: String
    /// Bytes in the file.
    private(set) var end = 0
    private var failure: FormatError?

    /// Opens an anonymous file in `directory`; `reportPath` names the artifact in messages.
    init(directory: URL, reportPath: String) throws {
        self.reportPath = reportPath
        var template = Array(directory.appendingPathComponent(".modelsmith-spill-XXXXXX").path.utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw FormatError.writeFailed(path: reportPath, reason: "cannot create a scratch file: \(Self.lastError())") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    }

    deinit { close(fd) }

    /// Appends `bytes` (a zstd sink: a failure is kept and thrown by `check()`).
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, base + done, bytes.count - done, off_t(end + done))
            guard n > 0 else { failure = error("write"); return }
            done += n
        }
        end += bytes.count
    }

    /// Cuts the file back to `offset` bytes (drops what was appended since).
    func truncate(to offset: Int) {
        guard failure == nil else { return }
        if ftruncate(fd, off_t(offset)) != 0 { failure = error("truncate") }
        end = offset
    }

    /// Moves the last `count` bytes down to `offset` (a smaller frame replacing the one there) and
    /// truncates after them.
    func moveTail(count: Int, to offset: Int) {
        let source = end - count
        if source != offset {
            forEachChunk(offset: source, count: count) { chunk, position in
                guard failure == nil else { return }
                var done = 0
                while done < chunk.count {
                    let n = pwrite(fd, chunk.baseAddress! + done, chunk.count - done, off_t(offset + position + done))
                    guard n > 0 else { failure = error("write"); return }
                    done += n
                }
            }
        }
        truncate(to: offset + count)
    }

    /// Hands `count` bytes from `offset` to `body` in pieces of at most 1 MiB.
    func read(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
        forEachChunk(offset: offset, count: count) { chunk, _ in body(chunk) }
    }

    /// Throws the first failure of a write, truncate or read.
    func check() throws { if let failure { throw failure } }

    private func forEachChunk(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer, Int) -> Void) {
        let size = min(count, 1 << 20)
        guard size > 0 else { return }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        var position = 0
        while position < count, failure == nil {
            let n = pread(fd, buffer, min(size, count - position), off_t(offset + position))
            guard n > 0 else { failure = error("read"); return }
            body(UnsafeRawBufferPointer(start: buffer, count: n), position)
            position += n
        }
    }

    private func error(_ what: String) -> FormatError {
        .writeFailed(path: reportPath, reason: "scratch file \(what): \(Self.lastError())")
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
