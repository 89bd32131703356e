import Foundation
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore

/// Runs the FP32 model over calibration samples and collects one `Histogram` per activation value
/// through `Session` taps: fixed memory per tensor, nothing stored per batch.
public enum Calibrator {
    /// Histograms of `values` over the first `samples` rows of `data`, in batches of `batch`.
    /// Refuses data of the wrong shape, fewer samples than asked, and NaN/Inf (naming the sample).
    public static func collect(session: Session, values: [String], data: Dataset, samples: Int,
                               batch: Int = 64) throws -> [String: Histogram] {
        guard let input = session.graph.inputs.first else { throw QuantizationError.nothingToQuantize }
        let expected = Array(input.shape.dropFirst())
        let actual = data.x.shape.dims
        guard Array(actual.dropFirst()) == expected else {
            throw QuantizationError.calibrationShape(expected: input.shape, actual: actual)
        }
        guard samples <= data.count, samples > 0 else { throw QuantizationError.tooFewSamples(requested: samples, available: data.count) }
        try checkFinite(data.x, samples: samples, input: input.name)
        var histograms = Dictionary(uniqueKeysWithValues: values.map { ($0, Histogram()) })
        let wanted = Set(values)
        var start = 0
        while start < samples {
            let range = start..<Swift.min(start + Swift.min(batch, session.options.maxBatch), samples)
            _ = try session.run([input.name: data.batch(range)], taps: wanted) { name, tensor in
                tensor.withUnsafeBufferPointer(of: Float.self) { histograms[name]!.observe($0) }
            }
            start = range.upperBound
        }
        return histograms
    }

    static func checkFinite(_ x: Tensor, samples: Int, input: String) throws {
        let perSample = x.elementCount / Swift.max(x.shape[0], 1)
        try x.toF32().withUnsafeBufferPointer(of: Float.self) { values in
            for s in 0..<samples where !values[(s * perSample)..<((s + 1) * perSample)].allSatisfy(\.isFinite) {
                throw QuantizationError.nonFiniteCalibration(sample: s, input: input)
            }
        }
    }

    /// SHA-256 of the graph document and every tensor (name, dtype, shape, bytes): what a cache is valid for.
    public static func modelDigest(_ package: ModelPackage) -> String {
        var hasher = SHA256.Hasher()
        package.graph.jsonData(pretty: false).withUnsafeBytes { hasher.update($0) }
        for (name, tensor) in package.tensors {
            Data("\(name)|\(tensor.dtype.rawValue)|\(tensor.shape.dims)".utf8).withUnsafeBytes { hasher.update($0) }
            tensor.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalizeHex()
    }

    /// SHA-256 of the calibration samples actually used.
    public static func dataDigest(_ data: Dataset, samples: Int) -> String {
        let x = data.batch(0..<Swift.min(samples, data.count))
        var hasher = SHA256.Hasher()
        Data("\(x.dtype.rawValue)|\(x.shape.dims)".utf8).withUnsafeBytes { hasher.update($0) }
        x.withUnsafeBytes { hasher.update($0) }
        return hasher.finalizeHex()
    }
}
