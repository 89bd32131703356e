import Foundation
import TensorCore

/// A model package in an archive (`.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`, `.tar.zst`/`.tzst`,
/// `.zip`): `model.json` plus `.npy`/`.safetensors` tensors at the root or under one top-level folder.
public struct ArchivePackageReader: WeightArchiveReader {
    public init() {}
    public var formatName: String { "archive" }

    static let extensions = ["tar", "tar.gz", "tgz", "tar.xz", "txz", "tar.zst", "tzst", "zip"]

    public func canRead(_ url: URL) -> Bool { hasExtension(url, Self.extensions) && !isDirectory(url) }

    public func read(_ url: URL, limits: ReadLimits) throws -> PackageContents {
        var package = PackageAssembler(path: displayPath(url), limits: limits)
        try ArchiveEntries.forEach(url: url, limits: limits, skipped: { package.skipped.append(.skippedEntry(entry: $0, reason: $1)) }) { entry in
            try package.add(entry.path, data: entry.data, entry: entry.path)
        }
        return try package.contents()
    }
}
