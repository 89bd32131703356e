import Kernels

/// max/avg pooling over NCHW (PyTorch: implicit −∞ padding for max, `count_include_pad` for avg,
/// floor mode), global average pooling, and their gradients.
struct PoolGeometry {
    var batch, channels, height, width: Int
    var spec: PoolSpec
    var outH: Int { (height + 2 * spec.padding.0 - spec.kernel.0) / spec.stride.0 + 1 }
    var outW: Int { (width + 2 * spec.padding.1 - spec.kernel.1) / spec.stride.1 + 1 }
    var outCount: Int { batch * channels * outH * outW }
}

enum PoolMath {
    /// Returns the output and, per output element, the flat input index of its maximum (first one wins).
    static func maxForward(_ x: [Float], _ geo: PoolGeometry) -> (y: [Float], argmax: [Int32]) {
        var y = [Float](repeating: 0, count: geo.outCount)
        var argmax = [Int32](repeating: 0, count: geo.outCount)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                argmax.withUnsafeMutableBufferPointer { argmax in
                    guard let xp = x.baseAddress, let yp = y.baseAddress else { return }
                    TrainingKernels.maxPoolWithArgmax(xp, into: yp, argmax: argmax.baseAddress!, planes: geo.batch * geo.channels,
                                                      height: geo.height, width: geo.width, kernel: geo.spec.kernel,
                                                      stride: geo.spec.stride, padding: geo.spec.padding, outHeight: geo.outH, outWidth: geo.outW)
                }
            }
        }
        return (y, argmax)
    }

    static func maxBackward(dy: [Float], argmax: [Int32], inputCount: Int) -> [Float] {
        var dx = [Float](repeating: 0, count: inputCount)
        dy.withUnsafeBufferPointer { g in
            argmax.withUnsafeBufferPointer { a in
                dx.withUnsafeMutableBufferPointer { d in
                    guard let gp = g.baseAddress, let ap = a.baseAddress, let dp = d.baseAddress else { return }
                    TrainingKernels.maxPoolBackward(dy: gp, argmax: ap, dx: dp, count: min(g.count, a.count))
                }
            }
        }
        return dx
    }

    /// Calls `body(outputIndex, inputIndex)` for every (output, input) pair of an average-pool window.
    private static func forEachWindow(_ geo: PoolGeometry, _ body: (Int, Int) -> Void) {
        var o = 0
        for plane in 0..<(geo.batch * geo.channels) {
            let base = plane * geo.height * geo.width
            for oy in 0..<geo.outH {
                for ox in 0..<geo.outW {
                    for ki in 0..<geo.spec.kernel.0 {
                        let iy = oy * geo.spec.stride.0 - geo.spec.padding.0 + ki
                        guard iy >= 0 && iy < geo.height else { continue }
                        for kj in 0..<geo.spec.kernel.1 {
                            let ix = ox * geo.spec.stride.1 - geo.spec.padding.1 + kj
                            if ix >= 0 && ix < geo.width { body(o, base + iy * geo.width + ix) }
                        }
                    }
                    o += 1
                }
            }
        }
    }

    /// 1/divisor per output: the window size, or with `count_include_pad` false the in-bounds count.
    private static func avgScales(_ geo: PoolGeometry) -> [Float] {
        guard !geo.spec.countIncludePad else {
            return [Float](repeating: 1 / Float(geo.spec.kernel.0 * geo.spec.kernel.1), count: geo.outCount)
        }
        var counts = [Float](repeating: 0, count: geo.outCount)
        forEachWindow(geo) { o, _ in counts[o] += 1 }
        return counts.map { 1 / $0 }
    }

    static func avgBackward(dy: [Float], _ geo: PoolGeometry) -> [Float] {
        var dx = [Float](repeating: 0, count: geo.batch * geo.channels * geo.height * geo.width)
        let scaled = zip(dy, avgScales(geo)).map(*)
        forEachWindow(geo) { o, i in dx[i] += scaled[o] }
        return dx
    }

    static func globalAvgBackward(dy: [Float], planeSize: Int) -> [Float] {
        var dx = [Float](repeating: 0, count: dy.count * planeSize)
        for (p, g) in dy.enumerated() { for i in 0..<planeSize { dx[p * planeSize + i] = g / Float(planeSize) } }
        return dx
    }
}
