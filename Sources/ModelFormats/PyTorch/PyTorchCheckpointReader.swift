import Foundation

/// Reads the `state_dict` of a `torch.save` checkpoint (`.pt`, `.pth`, or a `.bin` in any of
/// torch.save's formats) without executing its pickle. The graph is given separately (`--graph`).
public struct PyTorchCheckpointReader: WeightArchiveReader {
    public var options: PyTorchLoadOptions

    public init(options: PyTorchLoadOptions = PyTorchLoadOptions()) {
        self.options = options
    }

    public var formatName: String { "PyTorch checkpoint" }

    /// `.pt`/`.pth` always; `.bin` when it starts like a checkpoint of one of the three formats.
    public func canRead(_ url: URL) -> Bool {
        guard !isDirectory(url) else { return false }
        return hasExtension(url, ["pt", "pth"]) || (hasExtension(url, ["bin"]) && (Self.hasZipSignature(url) || PyTorchCheckpoint.legacyFormat(url) != nil))
    }

    public func read(_ url: URL, limits: ReadLimits) throws -> PackageContents {
        let checkpoint = try PyTorchCheckpoint.load(url, limits: limits)
        let (tensors, conversions) = try checkpoint.stateDictReporting(options, limits: limits)
        return PackageContents(tensors: tensors, source: displayPath(url), notes: conversions.map { .converted($0) })
    }

    static func hasZipSignature(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)).map { [UInt8]($0) } == [0x50, 0x4B, 0x03, 0x04]
    }
}
