import Foundation
import TensorCore

/// A single `.safetensors` file (weights only; the graph comes from `--graph`).
public struct SafetensorsReader: WeightArchiveReader {
    public init() {}
    public var formatName: String { "safetensors" }

    public func canRead(_ url: URL) -> Bool { hasExtension(url, ["safetensors"]) && !isDirectory(url) }

    public func read(_ url: URL, limits: ReadLimits) throws -> PackageContents {
        let path = displayPath(url)
        let file = try withMappedFile(url, limits: limits) { try Safetensors.decodeReporting(raw: $0, path: path, limits: limits) }
        return PackageContents(tensors: file.tensors, source: path, notes: file.conversions.map { .converted($0) })
    }
}
