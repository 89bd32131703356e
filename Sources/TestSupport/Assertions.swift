import TensorCore

/// Returns a description of the first element where `actual` and `expected` differ by more than
/// `atol + rtol·|expected|`, or nil when they are all close (NaN never compares close).
public func closenessFailure(_ actual: [Float], _ expected: [Float], rtol: Float, atol: Float) -> String? {
    guard actual.count == expected.count else { return "count \(actual.count) != \(expected.count)" }
    for i in actual.indices {
        let a = actual[i], e = expected[i]
        if !(abs(a - e) <= atol + rtol * abs(e)) {
            return "element \(i): \(a) vs expected \(e) (atol \(atol), rtol \(rtol))"
        }
    }
    return nil
}

/// Random f32 tensor with values uniform in [lower, upper), reproducible by seed.
public func randomTensor(_ shape: Shape, seed: UInt64, lower: Float = -1, upper: Float = 1) -> Tensor {
    var rng = SeededRNG(seed: seed)
    return Tensor((0..<shape.elementCount).map { _ in rng.uniform(lower, upper) }, shape: shape)
}
