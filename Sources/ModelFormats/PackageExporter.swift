import Foundation
import TensorCore

/// Writes a package in the format its path's extension names, so optimized weights go back to
/// NumPy / PyTorch users: `.msa` (the artifact), `.npz`, `.safetensors`, or a package archive
/// (`.tar`, `.tar.zst`, `.tar.gz`, `.zip`) holding `model.json` + one `.npy` per tensor.
///
/// Only `.msa` keeps masks and provenance (`.safetensors` carries provenance in its metadata).
/// Quantized tensors are exported dequantized to f32 unless `keepInt8`; then the integer tensor is
/// written as is, plus `<name>.scale` (f32) and `<name>.zero_point` (i32) shaped to broadcast
/// against it (per channel: every dimension 1 except the channel axis), so `(q - zp) * scale`
/// in NumPy gives the real values.
public enum PackageExporter {
    /// The extensions `export` understands, longest first.
    public static let supportedExtensions = [".tar.zst", ".tar.gz", ".safetensors", ".msa", ".npz", ".tar", ".zip"]

    public static func export(_ contents: PackageContents, to path: String, keepInt8: Bool = false, force: Bool = false,
                              level: Int = Zstd.defaultLevel) throws {
        let lower = path.lowercased()
        guard let ext = supportedExtensions.first(where: { lower.hasSuffix($0) }) else {
            throw FormatError.writeFailed(path: path, reason: "unknown output format; use one of \(supportedExtensions.joined(separator: ", "))")
        }
        if ext == ".msa" {
            _ = try Artifact.write(contents, to: path, options: ArtifactWriteOptions(level: level, force: force))
            return
        }
        if !force && FileManager.default.fileExists(atPath: path) { throw FormatError.outputExists(path: path) }
        let tensors = try exportedTensors(contents.tensors, keepInt8: keepInt8, path: path)
        switch ext {
        case ".safetensors":
            // Sorted keys: the same model exports to the same bytes in every process.
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let provenance = String(decoding: try encoder.encode(contents.provenance), as: UTF8.self)
            let bytes = try Safetensors.encode(tensors, metadata: ["format": "pt", "modelsmith.provenance": provenance])
            try AtomicFile.write(bytes, to: path, force: force)
        case ".npz":
            try writeArchive(tensors, graph: nil, format: .zip(stored: true), path: path, force: force)
        case ".zip":
            try writeArchive(tensors, graph: contents.graphJSON, format: .zip(stored: false), path: path, force: force)
        case ".tar.zst":
            try writeArchive(tensors, graph: contents.graphJSON, format: .tarZstd(level: level), path: path, force: force)
        case ".tar.gz":
            try writeArchive(tensors, graph: contents.graphJSON, format: .tarGzip, path: path, force: force)
        default:
            try writeArchive(tensors, graph: contents.graphJSON, format: .tar, path: path, force: force)
        }
    }

    /// The tensors as exported: dequantized, or integer + scale + zero point with `keepInt8`.
    static func exportedTensors(_ tensors: TensorMap, keepInt8: Bool, path: String) throws -> TensorMap {
        var out = TensorMap()
        func add(_ name: String, _ t: Tensor) throws {
            guard !out.contains(name) else { throw FormatError.duplicateTensor(path: path, name: name) }
            out[name] = t
        }
        for (name, tensor) in tensors {
            guard let q = tensor.quant else { try add(name, tensor); continue }
            guard keepInt8 else { try add(name, tensor.toF32()); continue }
            var raw = tensor
            raw.quant = nil
            try add(name, raw)
            var paramShape = [Int](repeating: 1, count: tensor.shape.rank)
            if let axis = q.axis { paramShape[axis] = q.scales.count } else { paramShape = [] }
            try add(name + ".scale", Tensor(q.scales, shape: Shape(paramShape)))
            var zeros = Tensor(zeros: .i32, Shape(paramShape))
            zeros.withUnsafeMutableBufferPointer(of: Int32.self) { for i in $0.indices { $0[i] = q.zeroPoints[i] } }
            try add(name + ".zero_point", zeros)
        }
        return out
    }

    private static func writeArchive(_ tensors: TensorMap, graph: Data?, format: ArchiveFormat, path: String, force: Bool) throws {
        for (name, _) in tensors where !MemberPath.isSafe(name + ".npy") {
            throw FormatError.writeFailed(path: path, reason: "tensor name '\(name)' cannot be a file name in an archive")
        }
        try AtomicFile.write(to: path, force: force) { url in
            let writer = try ArchiveWriter(url: url, format: format, reportPath: path)
            if let graph { try writer.add(path: "model.json", bytes: Array(graph)) }
            for (name, tensor) in tensors { try writer.add(path: name + ".npy", bytes: Npy.encode(tensor)) }
            try writer.close()
        }
    }
}
