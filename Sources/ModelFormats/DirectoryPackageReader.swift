import Foundation
import TensorCore

/// A model package in a plain directory: `model.json` plus `.npy`/`.safetensors` tensors at its
/// top level or under one folder, or a sharded Hugging Face checkpoint (`ShardedCheckpoint`).
/// Regular files count, and so do symbolic links to regular files (a Hugging Face or DVC cache is
/// made of them; the directory is the user's own); the same entry-count and decoded-size limits
/// as for archives apply.
public struct DirectoryPackageReader: WeightArchiveReader {
    public init() {}
    public var formatName: String { "directory" }

    public func canRead(_ url: URL) -> Bool { isDirectory(url) }

    public func read(_ url: URL, limits: ReadLimits) throws -> PackageContents {
        let path = displayPath(url)
        let base = url.standardizedFileURL.resolvingSymlinksInPath()
        if let index = ShardedCheckpoint.index(in: base) {
            return try ShardedCheckpoint.read(index: index, directory: base, path: path, limits: limits)
        }
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw FormatError.unreadable(path: path, reason: "cannot list the directory")
        }
        var files: [(relative: String, url: URL)] = []
        var totalBytes = 0
        for case let file as URL in walker {
            guard file.path.hasPrefix(base.path), isRegularFile(followingLinks: file) else { continue }
            let relative = String(file.path.dropFirst(base.path.count).drop { $0 == "/" })
            guard PackageAssembler.isPackageFile(relative) else { continue }
            files.append((relative, file))
            totalBytes += inputFileSize(file) ?? 0
            guard files.count <= limits.maxEntries else {
                throw FormatError.limitExceeded(path: path, entry: nil, limit: "the limit of \(limits.maxEntries) files")
            }
            guard totalBytes <= limits.maxDecodedBytes else {
                throw FormatError.limitExceeded(path: path, entry: relative, limit: "the decoded-size cap of \(limits.maxDecodedBytes) bytes")
            }
        }
        // Directory listing order is arbitrary; sort so names and messages are reproducible.
        files.sort { $0.relative < $1.relative }
        var package = PackageAssembler(path: path, limits: limits)
        for (relative, file) in files {
            try withMappedFile(file, limits: limits) { try package.add(relative, raw: $0, entry: relative) }
        }
        return try package.contents()
    }
}

/// Whether `url` is a regular file, or a symbolic link that leads to one.
private func isRegularFile(followingLinks url: URL) -> Bool {
    (try? url.resolvingSymlinksInPath().resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true
}
