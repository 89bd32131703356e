import Foundation

/// Reads the `state_dict` of a `torch.save` zip checkpoint (`.pt`, `.pth`, or a zip `.bin`) without
/// executing its pickle. The graph is given separately (`--graph`).
public struct PyTorchCheckpointReader: WeightArchiveReader {
    public var options: PyTorchLoadOptions

    public init(options: PyTorchLoadOptions = PyTorchLoadOptions()) {
        self.options = options
    }

    public var formatName: String { "PyTorch checkpoint" }

    /// `.pt`/`.pth` always (so legacy formats get a clear refusal); `.bin` only when it is a zip.
    public func canRead(_ url: URL) -> Bool {
        guard !isDirectory(url) else { return false }
        return hasExtension(url, ["pt", "pth"]) || (hasExtension(url, ["bin"]) && Self.hasZipSignature(url))
    }

    public func read(_ url: URL, limits: ReadLimits) throws -> PackageContents {
        let checkpoint = try PyTorchCheckpoint.load(url, limits: limits)
        let tensors = try checkpoint.stateDict(options, limits: limits)
        return PackageContents(tensors: tensors, source: displayPath(url))
    }

    static func hasZipSignature(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)).map { [UInt8]($0) } == [0x50, 0x4B, 0x03, 0x04]
    }
}
