import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe output files: the content is written to a temporary file beside the target, flushed
/// to disk and renamed over the target in one step, so a reader (or a crash) never sees a partial file.
public enum AtomicFile {
    /// The one temporary file a write makes: `.<name>.tmp-<pid>-<random>` beside the target
    /// (docs/robustness.md, "Crash-safe outputs"). Nothing else is ever created.
    static func temporaryName(for target: URL) -> String {
        ".\(target.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    }

    /// Runs `body` with the URL of a fresh temporary file in the target's directory (created with
    /// `O_CREAT | O_EXCL`, empty; `body` writes it), then fsyncs it and moves it to `path` (and
    /// fsyncs the directory). Without `force` the move is `renameat2(RENAME_NOREPLACE)`, so of two
    /// writers racing for one path exactly one succeeds and the other gets `outputExists`; an
    /// existing target is also refused before anything is written. On any error the temporary
    /// file is removed and the target is left as it was.
    public static func write(to path: String, force: Bool, _ body: (URL) throws -> Void) throws {
        let target = URL(fileURLWithPath: path)
        if !force && FileManager.default.fileExists(atPath: path) { throw FormatError.outputExists(path: path) }
        let directory = target.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FormatError.writeFailed(path: path, reason: "directory \(directory.path) does not exist")
        }
        let temporary = directory.appendingPathComponent(temporaryName(for: target))
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FormatError.writeFailed(path: path, reason: "cannot create \(temporary.lastPathComponent): \(lastError())") }
        close(fd)
        do {
            try body(temporary)
            try sync(temporary.path, reportingAs: path)
            try move(temporary.path, to: target.path, replacing: force, reportingAs: path)
        } catch {
            unlink(temporary.path)
            throw error
        }
        try? sync(directory.path, reportingAs: path)
    }

    /// Writes `bytes` atomically.
    public static func write(_ bytes: [UInt8], to path: String, force: Bool) throws {
        try write(to: path, force: force) { url in
            do {
                let handle = try FileHandle(forWritingTo: url)
                defer { try? handle.close() }
                try handle.write(contentsOf: bytes)
            } catch {
                throw FormatError.writeFailed(path: path, reason: error.localizedDescription)
            }
        }
    }

    /// `rename`, or without `replacing` a move that fails when `destination` exists — atomically:
    /// `renameat2(RENAME_NOREPLACE)`, or `link` + `unlink` where the file system lacks it.
    private static func move(_ source: String, to destination: String, replacing: Bool, reportingAs target: String) throws {
        if replacing {
            guard rename(source, destination) == 0 else { throw FormatError.writeFailed(path: target, reason: lastError()) }
            return
        }
        if let renameat2 = renameNoReplace {
            if renameat2(AT_FDCWD, source, AT_FDCWD, destination, renameNoReplaceFlag) == 0 { return }
            if errno == EEXIST { throw FormatError.outputExists(path: target) }
            guard errno == EINVAL || errno == ENOSYS else { throw FormatError.writeFailed(path: target, reason: lastError()) }
        }
        guard link(source, destination) == 0 else {
            if errno == EEXIST { throw FormatError.outputExists(path: target) }
            throw FormatError.writeFailed(path: target, reason: lastError())
        }
        unlink(source)
    }

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    /// glibc's `renameat2` (Linux ≥ 3.15), looked up at run time: Swift's Glibc module does not
    /// declare it (it needs `_GNU_SOURCE`).
    private static let renameNoReplace: RenameAt2? =
        dlsym(nil, "renameat2").map { unsafeBitCast($0, to: RenameAt2.self) }
    /// `RENAME_NOREPLACE` from <linux/fs.h>.
    private static let renameNoReplaceFlag: UInt32 = 1

    private static func lastError() -> String { String(cString: strerror(errno)) }

    private static func sync(_ path: String, reportingAs target: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FormatError.writeFailed(path: target, reason: lastError()) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FormatError.writeFailed(path: target, reason: "fsync: " + lastError()) }
    }
}
