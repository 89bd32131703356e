import Kernels

/// Where a step's operands live during a run: byte offsets into the run's arena.
public struct KernelBuffers {
    public let base: UnsafeMutableRawPointer
    public let inputOffsets: [Int]
    public let outputOffset: Int
    /// The offsets of a node's outputs after the first (`topk`'s indices), in `Node.outputs` order.
    public let laterOutputOffsets: [Int]

    public init(base: UnsafeMutableRawPointer, inputOffsets: [Int], outputOffset: Int, laterOutputOffsets: [Int] = []) {
        self.base = base
        self.inputOffsets = inputOffsets
        self.outputOffset = outputOffset
        self.laterOutputOffsets = laterOutputOffsets
    }

    /// Input `i` as f32.
    @inline(__always) public func input(_ i: Int) -> UnsafePointer<Float> {
        UnsafePointer((base + inputOffsets[i]).assumingMemoryBound(to: Float.self))
    }

    /// The output as f32.
    @inline(__always) public var output: UnsafeMutablePointer<Float> {
        (base + outputOffset).assumingMemoryBound(to: Float.self)
    }

    /// Output `i` (0 is `output`) as f32.
    @inline(__always) public func output(_ i: Int) -> UnsafeMutablePointer<Float> {
        (base + (i == 0 ? outputOffset : laterOutputOffsets[i - 1])).assumingMemoryBound(to: Float.self)
    }
}

/// A node compiled for execution: sizes fixed per sample at plan time, weights prepared.
///
/// Conformers are immutable after planning and may be run from several threads at once (each
/// run brings its own arena and `ExecutionContext`).
public protocol NodeKernel: AnyObject, Sendable {
    /// Runs on `batch` samples (1 … maxBatch).
    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws

    /// Called once per planned batch size before the first run at that size (create primitives).
    func prepare(batch: Int) throws
}

extension NodeKernel {
    public func prepare(batch: Int) throws {}
}
