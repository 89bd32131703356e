/// How a `Session` is planned.
public struct SessionOptions: Sendable, Equatable {
    /// The largest batch a run may have; buffers are sized for it.
    public var maxBatch: Int
    /// Threads the kernel library uses for each run (OpenMP); results are bit-identical for a fixed count.
    public var threads: Int
    /// Fold batchnorm into the preceding conv, fuse ReLU/ReLU6/hardswish into linear/conv, keep
    /// convolution activations channel-blocked (docs/runtime.md, "Layouts") and pass u8 codes
    /// between consecutive INT8 layers. Values removed this way cannot be tapped; `fuse: false`
    /// runs every op on its own in NCHW: the reference the fused plan is tested against.
    public var fuse: Bool
    /// Reject inputs holding NaN or ±Inf (the error names the input and the index).
    public var rejectNonFinite: Bool

    public init(maxBatch: Int = 64, threads: Int = 1, fuse: Bool = true, rejectNonFinite: Bool = true) {
        self.maxBatch = maxBatch
        self.threads = threads
        self.fuse = fuse
        self.rejectNonFinite = rejectNonFinite
    }
}
