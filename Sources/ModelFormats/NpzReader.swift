import Foundation
import TensorCore

/// A NumPy `.npz` (a zip of `.npy`, stored or deflated, as `np.savez`/`np.savez_compressed` write
/// it). Tensor names are the entry paths without `.npy`; a `model.json` entry, if present, is the graph.
public struct NpzReader: WeightArchiveReader {
    public init() {}
    public var formatName: String { "npz" }

    public func canRead(_ url: URL) -> Bool { hasExtension(url, ["npz"]) && !isDirectory(url) }

    public func read(_ url: URL, limits: ReadLimits) throws -> PackageContents {
        var package = PackageAssembler(path: displayPath(url), limits: limits, stripsSingleTopFolder: false)
        try ArchiveEntries.forEach(url: url, limits: limits, skipped: { package.skipped.append(.skippedEntry(entry: $0, reason: $1)) }) { entry in
            try package.add(entry.path, data: entry.data, entry: entry.path)
        }
        return try package.contents()
    }
}
