/// The running minimum and maximum of every finite value (TensorRT's MinMax calibrator, ONNX
/// Runtime's and PyTorch's `MinMaxObserver` without moving average). Nothing is clipped, so a
/// single rare outlier sets the scale.
public struct MinMaxObserver: Observer {
    public private(set) var min: Float = .infinity
    public private(set) var max: Float = -.infinity

    public init() {}

    /// The extrema recorded in a histogram (which tracks them exactly).
    public init(histogram: Histogram) {
        if !histogram.isEmpty { (min, max) = (histogram.min, histogram.max) }
    }

    public mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        for v in values where v.isFinite {
            min = Swift.min(min, v)
            max = Swift.max(max, v)
        }
    }

    public mutating func merge(_ other: MinMaxObserver) {
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    public func range() -> (min: Float, max: Float) { min <= max ? (min, max) : (0, 0) }
}
