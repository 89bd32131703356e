import Foundation
import Kernels

/// The derivatives of the element-wise activations (their forward is the runtime's kernel, run
/// through `NodeForward`).
enum ActivationMath {
    static let sqrt2OverPi: Float = 0.7978845608028654
    static let geluCubic: Float = 0.044715

    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// ReLU's gradient from its output y (y > 0 exactly where x > 0; NaN passes no gradient).
    static func reluBackward(dy: [Float], y: [Float]) -> [Float] {
        var dx = [Float](repeating: 0, count: dy.count)
        dy.withUnsafeBufferPointer { g in
            y.withUnsafeBufferPointer { y in
                dx.withUnsafeMutableBufferPointer { dx in
                    guard let base = dx.baseAddress else { return }
                    TrainingKernels.reluBackward(dy: g.baseAddress!, y: y.baseAddress!, dx: base, count: dx.count)
                }
            }
        }
        return dx
    }

    static func geluBackward(dy: [Float], x: [Float], tanhApproximation: Bool) -> [Float] {
        zip(dy, x).map { g, v in
            if tanhApproximation {
                let t = tanhf(sqrt2OverPi * (v + geluCubic * v * v * v))
                return g * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * sqrt2OverPi * (1 + 3 * geluCubic * v * v))
            }
            let cdf = 0.5 * (1 + erff(v * Float(0.7071067811865476)))
            let pdf = expf(-0.5 * v * v) * Float(0.3989422804014327)
            return g * (cdf + v * pdf)
        }
    }

    static func sigmoidBackward(dy: [Float], y: [Float]) -> [Float] { zip(dy, y).map { $0 * $1 * (1 - $1) } }

    static func tanhBackward(dy: [Float], y: [Float]) -> [Float] { zip(dy, y).map { $0 * (1 - $1 * $1) } }

    static func siluBackward(dy: [Float], x: [Float]) -> [Float] {
        zip(dy, x).map { g, v in let s = sigmoid(v); return g * s * (1 + v * (1 - s)) }
    }
}

/// softmax / log_softmax along one axis of a row-major array, and their gradients.
enum SoftmaxMath {
    /// Splits a shape around `axis` into (outer, length, inner).
    static func split(_ shape: [Int], axis: Int) -> (outer: Int, length: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    static func backward(dy: [Float], y: [Float], shape: [Int], axis: Int, log: Bool) -> [Float] {
        let (outer, length, inner) = split(shape, axis: axis)
        var dx = [Float](repeating: 0, count: y.count)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * length * inner + i
                var dot: Float = 0
                for k in 0..<length {
                    let j = base + k * inner
                    dot += log ? dy[j] : dy[j] * y[j]
                }
                for k in 0..<length {
                    let j = base + k * inner
                    dx[j] = log ? dy[j] - expf(y[j]) * dot : y[j] * (dy[j] - dot)
                }
            }
        }
        return dx
    }
}
