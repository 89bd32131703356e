/// Broken invariants of quantization inputs. Each message is one line naming what is wrong.
public enum QuantizationError: Error, CustomStringConvertible, Equatable {
    case unknownMethod(String)
    case badPercentile(Double)
    case inconsistentHistogram(String)
    case malformedCache(path: String, reason: String)
    case cacheModelMismatch(path: String, expected: String, found: String)
    case cacheMissingTensor(path: String, tensor: String)
    case cacheGraphMismatch(path: String, expected: String, found: String)
    case cacheMismatch(path: String, other: String, field: String, value: String, otherValue: String)
    case overlappingShards(path: String, other: String, rows: Int, example: String)
    case duplicateShard(shard: String, path: String, other: String)
    case missingShards(missing: [Int], count: Int)
    case noCalibrationCaches
    case badBinCount(Int)
    case alreadyQuantized(tensor: String)
    case unknownExclude(String)
    case nothingToQuantize
    case missingRange(node: String, value: String)
    /// Tied weights: two nodes share one weight tensor, and only one of them is quantized.
    case sharedWeight(tensor: String, quantizedNode: String, keptNode: String)
    case badWeight(node: String, reason: String)
    case nonFiniteCalibration(sample: Int, input: String)
    case tooFewSamples(requested: Int, available: Int)
    case calibrationShape(expected: [Int], actual: [Int])
    case badWeightBits(Int)

    public var description: String {
        switch self {
        case .unknownMethod(let name):
            return "unknown calibration method '\(name)' (expected minmax, percentile, entropy or mse)"
        case .badPercentile(let p): return "percentile \(p) is outside (0, 100]"
        case .inconsistentHistogram(let reason): return "histogram is inconsistent: \(reason)"
        case .malformedCache(let path, let reason): return "\(path): not a valid calibration cache: \(reason)"
        case .cacheModelMismatch(let path, let expected, let found):
            return "\(path): calibration cache belongs to another model (model digest \(found.prefix(16))…, this model is \(expected.prefix(16))…); recalibrate with --calib"
        case .cacheMissingTensor(let path, let tensor): return "\(path): calibration cache has no statistics for '\(tensor)'"
        case .cacheGraphMismatch(let path, let expected, let found):
            return "\(path): calibration cache was made for another graph (graph digest \(found.prefix(16))…, this model's is \(expected.prefix(16))…); recalibrate"
        case .cacheMismatch(let path, let other, let field, let value, let otherValue):
            return "\(path): \(field) \(value) differs from \(other)'s \(otherValue); only caches made alike merge"
        case .overlappingShards(let path, let other, let rows, let example):
            return "\(path) and \(other) share \(rows) sample(s) (e.g. row digest \(example.prefix(16))…); each sample must be in one shard"
        case .duplicateShard(let shard, let path, let other): return "\(path) and \(other) are both shard \(shard)"
        case .missingShards(let missing, let count):
            return "shard(s) \(missing.map(String.init).joined(separator: ", ")) of 0..<\(count) missing among the calibration caches"
        case .noCalibrationCaches: return "no calibration cache given"
        case .badBinCount(let bins): return "--bins \(bins): a histogram needs at least 16 bins"
        case .alreadyQuantized(let tensor): return "model is already quantized (tensor '\(tensor)' is int8)"
        case .unknownExclude(let name): return "--exclude '\(name)': no linear or conv2d node has that name"
        case .nothingToQuantize: return "no linear or conv2d node is left to quantize"
        case .missingRange(let node, let value): return "node '\(node)': no calibration range for its input '\(value)'"
        case .sharedWeight(let tensor, let quantized, let kept):
            return "tensor '\(tensor)' is the weight of nodes '\(quantized)' and '\(kept)' (tied weights), but only '\(quantized)' would be quantized; exclude both or neither"
        case .badWeight(let node, let reason): return "node '\(node)': \(reason)"
        case .nonFiniteCalibration(let sample, let input): return "calibration data '\(input)': sample \(sample) contains NaN or Inf"
        case .tooFewSamples(let requested, let available): return "--samples \(requested) asked, calibration data has only \(available)"
        case .calibrationShape(let expected, let actual):
            return "calibration data has shape \(actual), the model input expects \(expected) (-1 = any batch)"
        case .badWeightBits(let bits): return "--weight-bits must be 8 or 7, got \(bits)"
        }
    }
}
