/// A dense, contiguous, little-endian tensor: dtype + shape + storage.
///
/// Value semantics: copies share storage until one of them is mutated. An `i8`/`u8`/`i32` tensor may
/// carry `quant` parameters, in which case it stands for `scale · (q − zeroPoint)`.
public struct Tensor: @unchecked Sendable {
    public let dtype: DType
    public let shape: Shape
    public var quant: QuantParams?
    public private(set) var storage: TensorStorage

    /// A zero-filled tensor.
    public init(zeros dtype: DType, _ shape: Shape) {
        self.dtype = dtype
        self.shape = shape
        self.storage = TensorStorage(byteCount: shape.elementCount * dtype.byteSize)
    }

    /// Wraps existing storage; its size must match `shape` and `dtype`.
    public init(dtype: DType, shape: Shape, storage: TensorStorage, quant: QuantParams? = nil) {
        precondition(storage.byteCount == shape.elementCount * dtype.byteSize, "storage size does not match shape")
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
        self.quant = quant
    }

    /// Copies raw little-endian bytes; throws if their count does not match shape × itemsize.
    public init(dtype: DType, shape: Shape, bytes: UnsafeRawBufferPointer, quant: QuantParams? = nil) throws {
        guard let n = shape.checkedElementCount, let expected = checkedMultiply(n, dtype.byteSize) else {
            throw TensorCoreError.shapeOverflow(shape.dims)
        }
        guard expected == bytes.count else {
            throw TensorCoreError.byteCountMismatch(shape: shape.dims, dtype: dtype, expected: expected, actual: bytes.count)
        }
        self.init(dtype: dtype, shape: shape, storage: TensorStorage(copying: bytes), quant: quant)
    }

    public init(dtype: DType, shape: Shape, bytes: [UInt8], quant: QuantParams? = nil) throws {
        try self = bytes.withUnsafeBytes { try Tensor(dtype: dtype, shape: shape, bytes: $0, quant: quant) }
    }

    /// An f32 tensor from values (count must equal the shape's element count).
    public init(_ values: [Float], shape: Shape) {
        precondition(values.count == shape.elementCount, "\(values.count) values for shape \(shape)")
        self.init(zeros: .f32, shape)
        values.withUnsafeBytes { storage.pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    public var elementCount: Int { shape.elementCount }
    public var byteCount: Int { storage.byteCount }

    /// Read access; for a large tensor borrowed from a mapped file the pages read are handed back
    /// afterwards (`TensorStorage.releaseResidentPages`), so reading every tensor once needs memory
    /// for one at a time.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        defer { storage.releaseResidentPages() }
        return try body(UnsafeRawBufferPointer(start: storage.pointer, count: storage.byteCount))
    }

    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) || storage.isBorrowed { storage = storage.copy() }
        return try body(UnsafeMutableRawBufferPointer(start: storage.pointer, count: storage.byteCount))
    }

    /// Typed read access; `T` must match the dtype's element size.
    public func withUnsafeBufferPointer<T, R>(of type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(MemoryLayout<T>.stride == dtype.byteSize, "\(T.self) does not match \(dtype)")
        defer { storage.releaseResidentPages() }
        return try body(UnsafeBufferPointer(start: storage.pointer.assumingMemoryBound(to: T.self), count: elementCount))
    }

    public mutating func withUnsafeMutableBufferPointer<T, R>(of type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(MemoryLayout<T>.stride == dtype.byteSize, "\(T.self) does not match \(dtype)")
        if !isKnownUniquelyReferenced(&storage) || storage.isBorrowed { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer.assumingMemoryBound(to: T.self), count: elementCount))
    }

    /// The same storage viewed with another shape of equal element count.
    public func reshaped(_ newShape: Shape) -> Tensor {
        precondition(newShape.elementCount == elementCount, "cannot reshape \(shape) to \(newShape)")
        return Tensor(dtype: dtype, shape: newShape, storage: storage, quant: quant)
    }

    /// True when both tensors have the same dtype, shape, quantization and bytes.
    public func bitwiseEqual(_ other: Tensor) -> Bool {
        guard dtype == other.dtype, shape == other.shape, quant == other.quant else { return false }
        return memcmpEqual(storage.pointer, other.storage.pointer, byteCount)
    }
}

private func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    UnsafeRawBufferPointer(start: a, count: n).elementsEqual(UnsafeRawBufferPointer(start: b, count: n))
}
