import Foundation
import TensorCore

/// The registry of input formats: every conformer of `WeightArchiveReader` is listed here once.
public enum WeightReaders {
    public static let all: [any WeightArchiveReader] = [
        ArtifactReader(),
        NpyReader(),
        NpzReader(),
        SafetensorsReader(),
        PyTorchCheckpointReader(),
        ArchivePackageReader(),
        DirectoryPackageReader(),
    ]

    /// Reads any supported input (file or directory) into package contents.
    public static func read(_ path: String, limits: ReadLimits = .default) throws -> PackageContents {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: path) else { throw FormatError.fileNotFound(path: path) }
        guard let reader = all.first(where: { $0.canRead(url) }) else { throw FormatError.unknownFormat(path: path) }
        return try reader.read(url, limits: limits)
    }
}
