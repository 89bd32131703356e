import Foundation
import TensorCore

/// A model package in a plain directory: `model.json` plus `.npy`/`.safetensors` tensors at its
/// top level or under one folder. Only regular files count (symbolic links are not followed), and
/// the same entry-count and decoded-size limits as for archives apply.
public struct DirectoryPackageReader: WeightArchiveReader {
    public init() {}
    public var formatName: String { "directory" }

    public func canRead(_ url: URL) -> Bool { isDirectory(url) }

    public func read(_ url: URL, limits: ReadLimits) throws -> PackageContents {
        let path = displayPath(url)
        let base = url.standardizedFileURL.resolvingSymlinksInPath()
        let keys: [URLResourceKey] = [.isRegularFileKey, .isSymbolicLinkKey, .fileSizeKey]
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: keys) else {
            throw FormatError.unreadable(path: path, reason: "cannot list the directory")
        }
        var files: [(relative: String, url: URL)] = []
        var totalBytes = 0
        for case let file as URL in walker {
            let values = try? file.resourceValues(forKeys: Set(keys))
            guard values?.isRegularFile == true, values?.isSymbolicLink != true, file.path.hasPrefix(base.path) else { continue }
            let relative = String(file.path.dropFirst(base.path.count).drop { $0 == "/" })
            guard PackageAssembler.isPackageFile(relative) else { continue }
            files.append((relative, file))
            totalBytes += values?.fileSize ?? 0
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
