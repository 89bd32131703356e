import Foundation
import TensorCore

/// A single `.npy` file: one tensor named after the file's stem (`fc1.weight.npy` → `fc1.weight`).
public struct NpyReader: WeightArchiveReader {
    public init() {}
    public var formatName: String { "npy" }

    public func canRead(_ url: URL) -> Bool { hasExtension(url, ["npy"]) && !isDirectory(url) }

    public func read(_ url: URL, limits: ReadLimits) throws -> PackageContents {
        let path = displayPath(url)
        let tensor = try withMappedFile(url, limits: limits) { try Npy.decode(raw: $0, path: path, limits: limits) }
        var tensors = TensorMap()
        tensors[url.deletingPathExtension().lastPathComponent] = tensor
        return PackageContents(tensors: tensors, source: path)
    }
}
