import TensorCore

/// A dense row-major f32 array with a shape: the currency of the training engine.
///
/// Values are a Swift array (copy on write), so keeping an activation for the backward pass is free
/// until something mutates it.
public struct FloatArray: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }

    public init(zeros shape: [Int]) {
        self.shape = shape
        self.values = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// The values of any tensor as f32 (quantized tensors are dequantized).
    public init(_ tensor: Tensor) {
        self.shape = tensor.shape.dims
        self.values = tensor.floats
    }

    public var count: Int { values.count }

    /// An f32 tensor with the same shape and values.
    public var tensor: Tensor { Tensor(values, shape: Shape(shape)) }

    /// The same values seen with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> FloatArray { FloatArray(shape: newShape, values: values) }
}

/// `count` floats for a kernel that writes every one of them before any is read (skips zero-filling).
func uninitializedFloats(_ count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}
