import Foundation
import ModelFormats

extension ModelPackage {
    /// SHA-256 of the graph document and every tensor (name, dtype, shape, bytes): what a
    /// calibration cache or a teacher-outputs file is valid for (docs/scale-out.md).
    public var contentDigest: String {
        var hasher = SHA256.Hasher()
        graph.jsonData(pretty: false).withUnsafeBytes { hasher.update($0) }
        for (name, tensor) in tensors {
            Data("\(name)|\(tensor.dtype.rawValue)|\(tensor.shape.dims)".utf8).withUnsafeBytes { hasher.update($0) }
            tensor.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalizeHex()
    }

    /// SHA-256 of the graph document alone: tells "another graph" from "the same graph, other weights".
    public var graphDigest: String {
        graph.jsonData(pretty: false).withUnsafeBytes { SHA256.hex($0) }
    }
}
