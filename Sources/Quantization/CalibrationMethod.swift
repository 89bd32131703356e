/// How a clipping range is derived from an activation's statistics: the list of observers.
///
/// Every method works from a `Histogram`, so any of them can be applied to a calibration cache.
public enum CalibrationMethod: Hashable, Sendable, CustomStringConvertible {
    case minmax
    /// Percentile of |x| in (0, 100].
    case percentile(Double)
    /// TensorRT entropy calibration, `EntropyObserver.variant`.
    case entropy
    /// Minimum expected squared error.
    case mse

    /// The method used when none is given; chosen on the outlier evidence in docs/quantization.md.
    public static let `default` = CalibrationMethod.percentile(PercentileObserver.defaultPercentile)

    /// Parses a CLI/cache name (`minmax`, `percentile`, `entropy`, `mse`).
    public init(name: String, percentile: Double = PercentileObserver.defaultPercentile) throws {
        switch name {
        case "minmax": self = .minmax
        case "percentile":
            guard percentile > 0, percentile <= 100 else { throw QuantizationError.badPercentile(percentile) }
            self = .percentile(percentile)
        case "entropy": self = .entropy
        case "mse": self = .mse
        default: throw QuantizationError.unknownMethod(name)
        }
    }

    public var name: String {
        switch self {
        case .minmax: return "minmax"
        case .percentile: return "percentile"
        case .entropy: return "entropy"
        case .mse: return "mse"
        }
    }

    /// The method's parameters, as recorded in caches and provenance.
    public var parameters: [String: Double] {
        switch self {
        case .minmax: return [:]
        case .percentile(let p): return ["percentile": p]
        case .entropy: return ["start_bin": 128, "quantized_bins": 127]
        case .mse: return [:]
        }
    }

    public var description: String {
        switch self {
        case .percentile(let p): return "percentile \(p)"
        case .entropy: return "entropy (\(EntropyObserver.variant))"
        case .minmax, .mse: return name
        }
    }

    /// The clipping range this method derives from `histogram`, for `levels` quantization levels.
    public func range(from histogram: Histogram, levels: Int = 256) -> (min: Float, max: Float) {
        switch self {
        case .minmax: return MinMaxObserver(histogram: histogram).range()
        case .percentile(let p): return PercentileObserver(percentile: p, histogram: histogram).range()
        case .entropy: return EntropyObserver(histogram: histogram).range()
        case .mse: return MSEObserver(levels: levels, histogram: histogram).range()
        }
    }
}
