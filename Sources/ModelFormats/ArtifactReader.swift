import Foundation

/// Reads `.msa` artifacts (recognised by the extension; the format is docs/formats.md). Every
/// checksum is verified; masks, quant params and provenance are restored.
public struct ArtifactReader: WeightArchiveReader {
    public init() {}

    public var formatName: String { "artifact (.msa)" }

    public func canRead(_ url: URL) -> Bool { url.pathExtension.lowercased() == "msa" }

    public func read(_ url: URL, limits: ReadLimits) throws -> PackageContents {
        try Artifact.read(displayPath(url), limits: limits)
    }
}
