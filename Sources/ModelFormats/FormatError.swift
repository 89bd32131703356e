import TensorCore

/// Broken invariants of input files and artifacts. Each message is one line naming the file,
/// the entry (when inside an archive) and the reason.
public enum FormatError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case unknownFormat(path: String)
    case malformed(path: String, entry: String?, reason: String)
    case unsafeEntryPath(path: String, entry: String)
    case duplicateTensor(path: String, name: String)
    case unsupportedDType(path: String, entry: String?, dtype: String)
    /// A tensor that would be converted to a compute dtype, refused by `--strict-dtypes`.
    case strictDType(path: String, tensor: String, dtype: String, target: DType)
    case limitExceeded(path: String, entry: String?, limit: String)
    case checksumMismatch(path: String, tensor: String)
    case missingGraph(path: String)
    case outputExists(path: String)
    /// A tensor holds NaN or ±Inf where the command refuses them; `hint` says how to proceed.
    case nonFiniteValues(path: String, tensor: String, count: NonFiniteCount, hint: String?)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path): return "\(path): no such file or directory"
        case .unreadable(let path, let reason): return "\(path): cannot read: \(reason)"
        case .unknownFormat(let path): return "\(path): unrecognised format (expected .onnx, .npz, .npy, .safetensors, .pt, .msa, .tar[.gz|.xz|.zst], .zip or a directory)"
        case .malformed(let path, let entry, let reason): return "\(Self.locate(path, entry)): \(reason)"
        case .unsafeEntryPath(let path, let entry): return "\(path): entry '\(entry)' has an absolute or '..' path; refused"
        case .duplicateTensor(let path, let name): return "\(path): tensor '\(name)' appears twice"
        case .unsupportedDType(let path, let entry, let dtype): return "\(Self.locate(path, entry)): unsupported dtype '\(dtype)'"
        case .strictDType(let path, let tensor, let dtype, let target):
            return "\(path): tensor '\(tensor)' is \(dtype), not a compute dtype; refused by --strict-dtypes (without it, it is converted to \(target.rawValue))"
        case .limitExceeded(let path, let entry, let limit): return "\(Self.locate(path, entry)): exceeds \(limit)"
        case .checksumMismatch(let path, let tensor): return "\(path): tensor '\(tensor)' is corrupted (checksum mismatch)"
        case .missingGraph(let path): return "\(path): no model.json inside; pass the graph with --graph model.json"
        case .outputExists(let path): return "\(path): already exists; pass --force to overwrite"
        case .nonFiniteValues(let path, let tensor, let count, let hint):
            return "\(path): tensor '\(tensor)' holds \(count.summary); refused" + (hint.map { " (\($0))" } ?? "")
        case .writeFailed(let path, let reason): return "\(path): cannot write: \(reason)"
        }
    }

    static func locate(_ path: String, _ entry: String?) -> String {
        entry.map { "\(path): entry '\($0)'" } ?? path
    }
}
