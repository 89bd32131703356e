import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe output files: the content is written to a temporary file beside the target, flushed
/// to disk and renamed over the target in one step, so a reader (or a crash) never sees a partial file.
public enum AtomicFile {
    /// Runs `body` with the URL of a fresh temporary file in the target's directory, then fsyncs it
    /// and renames it to `path` (and fsyncs the directory). Without `force` an existing target is
    /// refused before anything is written. On any error the temporary file is removed and the target
    /// is left as it was.
    public static func write(to path: String, force: Bool, _ body: (URL) throws -> Void) throws {
        let target = URL(fileURLWithPath: path)
        if !force && FileManager.default.fileExists(atPath: path) { throw FormatError.outputExists(path: path) }
        let directory = target.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FormatError.writeFailed(path: path, reason: "directory \(directory.path) does not exist")
        }
        let temporary = directory.appendingPathComponent(".\(target.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        do {
            try body(temporary)
            try sync(temporary.path, reportingAs: path)
            // Re-check just before the rename so a target created meanwhile is not clobbered.
            if !force && FileManager.default.fileExists(atPath: path) { throw FormatError.outputExists(path: path) }
            guard rename(temporary.path, target.path) == 0 else {
                throw FormatError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
        } catch {
            unlink(temporary.path)
            throw error
        }
        try? sync(directory.path, reportingAs: path)
    }

    /// Writes `bytes` atomically.
    public static func write(_ bytes: [UInt8], to path: String, force: Bool) throws {
        try write(to: path, force: force) { url in
            guard FileManager.default.createFile(atPath: url.path, contents: Data(bytes)) else {
                throw FormatError.writeFailed(path: path, reason: "cannot create \(url.lastPathComponent)")
            }
        }
    }

    private static func sync(_ path: String, reportingAs target: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FormatError.writeFailed(path: target, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FormatError.writeFailed(path: target, reason: "fsync: " + String(cString: strerror(errno))) }
    }
}
