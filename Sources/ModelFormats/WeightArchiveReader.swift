import Foundation
import TensorCore

/// One input format. Conformers live one per file and are listed once in `WeightReaders.all`.
public protocol WeightArchiveReader: Sendable {
    /// A short name for messages ("npz", "safetensors", "tar archive", …).
    var formatName: String { get }
    /// Cheap check by extension and/or magic bytes.
    func canRead(_ url: URL) -> Bool
    func read(_ url: URL, limits: ReadLimits) throws -> PackageContents
}

/// Resource bounds for reading untrusted files. Every cap is overridable.
public struct ReadLimits: Sendable {
    /// Total decoded bytes across all entries.
    public var maxDecodedBytes: Int = 32 << 30
    /// Decoded bytes may be at most this many times the archive's size on disk (bomb guard; below
    /// deflate's own ceiling of about 1032×, so a bomb cannot pass by being slightly noisy) …
    public var maxExpansionRatio: Int = 256
    /// … unless it is smaller than this.
    public var expansionRatioFloorBytes: Int = 64 << 20
    public var maxEntries: Int = 100_000
    public var maxTensors: Int = 100_000
    public var maxRank: Int = 16
    /// npy / safetensors / JSON headers.
    public var maxHeaderBytes: Int = 100_000_000
    public var maxJSONDepth: Int = 64

    public init() {}
    public static let `default` = ReadLimits()
}
