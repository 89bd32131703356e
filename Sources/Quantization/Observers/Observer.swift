/// Collects statistics of one activation tensor during calibration and turns them into the
/// clipping range `[min, max]` its quantization parameters are computed from (DESIGN §6).
///
/// `observe` may be called once per batch; `merge` combines observers that saw disjoint data
/// (batches, shards, threads) and must give the same state as one observer seeing all of it.
/// Each conformer lives in its own file; `CalibrationMethod` lists them once.
public protocol Observer: Sendable {
    mutating func observe(_ values: UnsafeBufferPointer<Float>)
    mutating func merge(_ other: Self)
    /// The clipping range; `(0, 0)` before any value was seen.
    func range() -> (min: Float, max: Float)
}

/// An observer whose whole state is a `Histogram`, so that a calibration cache (which stores the
/// histogram) can re-derive its range without running the model again.
public protocol HistogramObserver: Observer {
    var histogram: Histogram { get set }
}

extension HistogramObserver {
    public mutating func observe(_ values: UnsafeBufferPointer<Float>) { histogram.observe(values) }
    public mutating func merge(_ other: Self) { histogram.merge(other.histogram) }
}
