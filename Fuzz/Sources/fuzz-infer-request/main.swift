import FuzzSupport
import Serving

/// The digits MLP's signature (x: [batch, 64] → logits: [batch, 10]), batches up to 8.
let decoder = RequestDecoder(signature: ModelSignature(inputs: [.init(name: "x", sampleShape: [64])],
                                                       outputs: [.init(name: "logits", sampleShape: [10])], maxBatch: 8))

// An infer request body (KServe v2 JSON, and the binary-tensor extension): the first byte says
// whether an Inference-Header-Content-Length is sent and the next two give its value, so lying
// lengths and tensors of every size are tried as well as the JSON itself.
runFuzzer { bytes in
    guard let flags = bytes.first else { return }
    if flags & 1 == 1, bytes.count >= 3 {
        let body = Array(bytes[3...])
        _ = try? decoder.decode(body: body, jsonLength: Int(bytes[1]) << 8 | Int(bytes[2]))
    } else {
        _ = try? decoder.decode(body: Array(bytes.dropFirst()), jsonLength: nil)
    }
}
