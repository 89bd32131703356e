import Foundation
import TensorCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file mapped read-only into memory for as long as this object lives. Tensors read from
/// it borrow their bytes (`TensorStorage(borrowing:owner:)`) and keep it mapped, so a model's
/// weights are never copied and a page is read from disk only when touched (docs/formats.md §8, "Memory").
final class MappedFile: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer

    /// Maps `url` (through any symbolic link), refusing a file larger than the decoded-size cap first.
    init(_ url: URL, limits: ReadLimits) throws {
        let path = displayPath(url)
        guard let size = inputFileSize(url) else { throw FormatError.fileNotFound(path: path) }
        guard size <= limits.maxDecodedBytes else {
            throw FormatError.limitExceeded(path: path, entry: nil, limit: "the decoded-size cap of \(limits.maxDecodedBytes) bytes")
        }
        guard size > 0 else { bytes = UnsafeRawBufferPointer(start: nil, count: 0); return }
        let fd = open(url.resolvingSymlinksInPath().path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FormatError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw FormatError.unreadable(path: path, reason: "mmap: " + String(cString: strerror(errno)))
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    /// Storage for `span` (a part of `bytes`) without copying, when it is aligned to `width`-byte
    /// elements; otherwise nil and the caller copies.
    func storage(borrowing span: UnsafeRawBufferPointer, width: Int) -> TensorStorage? {
        guard let base = span.baseAddress, span.count > 0, Int(bitPattern: base) % max(width, 1) == 0 else { return nil }
        return TensorStorage(borrowing: span, owner: self)
    }

    deinit { if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) } }
}

/// Calls `body` with a regular file's bytes (through any symbolic link) memory-mapped, refusing one
/// larger than the decoded-size cap first. Nothing is copied, and a page is read from disk only when
/// touched, so the decoders' header checks run before the rest of the file is read; tensors that
/// borrow from `file` keep it mapped after `body` returns.
func withMappedFile<T>(_ url: URL, limits: ReadLimits, _ body: (_ file: MappedFile) throws -> T) throws -> T {
    try body(MappedFile(url, limits: limits))
}

/// A whole regular file's bytes (through any symbolic link), refusing one larger than the
/// decoded-size cap before reading it.
func readWholeFile(_ url: URL, limits: ReadLimits) throws -> [UInt8] {
    try withMappedFile(url, limits: limits) { [UInt8]($0.bytes) }
}
