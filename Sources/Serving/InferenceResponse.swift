import Foundation
import TensorCore

/// An infer response body: JSON tensors, or the binary-tensor extension for the outputs asked in
/// binary (the JSON header, then each binary output's little-endian bytes in order).
public struct ResponseEncoder {
    /// The body and, with binary outputs, the value of `Inference-Header-Content-Length`.
    public static func encode(model: String, version: String, id: String?, outputs: [(name: String, tensor: Tensor)],
                              binary: Set<String>) -> (body: [UInt8], jsonLength: Int?) {
        var json = "{\"model_name\":\(quoted(model)),\"model_version\":\(quoted(version))"
        if let id { json += ",\"id\":\(quoted(id))" }
        json += ",\"outputs\":["
        var tail: [UInt8] = []
        for (index, output) in outputs.enumerated() {
            if index > 0 { json += "," }
            let shape = output.tensor.shape.dims.map(String.init).joined(separator: ",")
            json += "{\"name\":\(quoted(output.name)),\"datatype\":\"FP32\",\"shape\":[\(shape)]"
            if binary.contains(output.name) {
                json += ",\"parameters\":{\"binary_data_size\":\(output.tensor.byteCount)}}"
                output.tensor.withUnsafeBytes { tail.append(contentsOf: $0) }
            } else {
                json += ",\"data\":["
                output.tensor.withUnsafeBufferPointer(of: Float.self) { values in
                    for (i, value) in values.enumerated() {
                        if i > 0 { json += "," }
                        json += number(value)
                    }
                }
                json += "]}"
            }
        }
        json += "]}"
        var body = Array(json.utf8)
        guard !tail.isEmpty || !binary.isEmpty else { return (body, nil) }
        let jsonLength = body.count
        body += tail
        return (body, jsonLength)
    }

    /// The shortest decimal that reads back as the same Float (Swift's description); JSON has no
    /// NaN or infinity, so those are written as `null`.
    static func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }

    static func quoted(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
