/// A tensor shape: the extent of each dimension, row-major (C order).
public struct Shape: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }
    public init(arrayLiteral elements: Int...) { self.dims = elements }
    public init(from decoder: Decoder) throws { dims = try [Int](from: decoder) }
    public func encode(to encoder: Encoder) throws { try dims.encode(to: encoder) }

    public var rank: Int { dims.count }
    public subscript(i: Int) -> Int { dims[i] }

    /// Number of elements; traps on overflow — validate untrusted shapes with `checkedElementCount` first.
    public var elementCount: Int { dims.reduce(1, *) }

    /// Number of elements, or nil if a dimension is negative or the product overflows.
    public var checkedElementCount: Int? { checkedProduct(dims) }

    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}

/// Product of non-negative integers, or nil on a negative factor or overflow.
public func checkedProduct(_ values: [Int]) -> Int? {
    var result = 1
    for v in values {
        guard v >= 0 else { return nil }
        let (p, overflow) = result.multipliedReportingOverflow(by: v)
        if overflow { return nil }
        result = p
    }
    return result
}

/// `a * b`, or nil on overflow or a negative factor.
public func checkedMultiply(_ a: Int, _ b: Int) -> Int? { checkedProduct([a, b]) }

/// Sum of non-negative integers, or nil on a negative term or overflow.
public func checkedSum(_ values: [Int]) -> Int? {
    var result = 0
    for v in values {
        guard v >= 0 else { return nil }
        let (s, overflow) = result.addingReportingOverflow(v)
        if overflow { return nil }
        result = s
    }
    return result
}

/// How many windows of `span` elements, `stride` apart, fit an axis of `size` with `padding` before
/// and after (PyTorch's and ONNX's convolution and pooling rule): rounded down, or with `ceilMode`
/// rounded up less a last window that would start in the end padding. The padded size must be at
/// least `span`.
public func slidingWindowCount(size: Int, padding: (begin: Int, end: Int), span: Int, stride: Int, ceilMode: Bool = false) -> Int {
    let room = size + padding.begin + padding.end - span
    guard ceilMode else { return room / stride + 1 }
    var count = (room + stride - 1) / stride + 1
    if (count - 1) * stride >= size + padding.begin { count -= 1 }
    return count
}
