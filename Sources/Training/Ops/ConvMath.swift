import Kernels

/// 2-D convolution (PyTorch `conv2d`: NCHW input, weight [O, I/groups, kh, kw]) by im2col + `Gemm.sgemm`,
/// and its gradients (col2im for the input).
struct ConvGeometry {
    var batch, inChannels, height, width: Int
    var outChannels, kernelH, kernelW: Int
    var spec: ConvSpec
    var outH: Int { (height + 2 * spec.padding.0 - spec.dilation.0 * (kernelH - 1) - 1) / spec.stride.0 + 1 }
    var outW: Int { (width + 2 * spec.padding.1 - spec.dilation.1 * (kernelW - 1) - 1) / spec.stride.1 + 1 }
    var groupIn: Int { inChannels / spec.groups }
    var groupOut: Int { outChannels / spec.groups }
    /// Rows of one group's column matrix: (I/g)·kh·kw.
    var patch: Int { groupIn * kernelH * kernelW }
    var spatial: Int { outH * outW }

    /// Unfolds one sample's group `g` into cols [patch, outH·outW].
    func im2col(_ x: UnsafePointer<Float>, sample n: Int, group g: Int, into cols: UnsafeMutablePointer<Float>) {
        let plane = height * width
        for c in 0..<groupIn {
            let src = x + (n * inChannels + g * groupIn + c) * plane
            for ki in 0..<kernelH {
                for kj in 0..<kernelW {
                    let row = (c * kernelH + ki) * kernelW + kj
                    let dst = cols + row * spatial
                    for oy in 0..<outH {
                        let iy = oy * spec.stride.0 - spec.padding.0 + ki * spec.dilation.0
                        for ox in 0..<outW {
                            let ix = ox * spec.stride.1 - spec.padding.1 + kj * spec.dilation.1
                            dst[oy * outW + ox] = (iy >= 0 && iy < height && ix >= 0 && ix < width) ? src[iy * width + ix] : 0
                        }
                    }
                }
            }
        }
    }

    /// Adds cols [patch, outH·outW] back into one sample's group `g` of dx (the adjoint of im2col).
    func col2im(_ cols: UnsafePointer<Float>, sample n: Int, group g: Int, into dx: UnsafeMutablePointer<Float>) {
        let plane = height * width
        for c in 0..<groupIn {
            let dst = dx + (n * inChannels + g * groupIn + c) * plane
            for ki in 0..<kernelH {
                for kj in 0..<kernelW {
                    let src = cols + ((c * kernelH + ki) * kernelW + kj) * spatial
                    for oy in 0..<outH {
                        let iy = oy * spec.stride.0 - spec.padding.0 + ki * spec.dilation.0
                        guard iy >= 0 && iy < height else { continue }
                        for ox in 0..<outW {
                            let ix = ox * spec.stride.1 - spec.padding.1 + kj * spec.dilation.1
                            if ix >= 0 && ix < width { dst[iy * width + ix] += src[oy * outW + ox] }
                        }
                    }
                }
            }
        }
    }
}

enum ConvMath {
    static func forward(x: [Float], w: [Float], bias: [Float]?, geometry geo: ConvGeometry) -> [Float] {
        var y = [Float](repeating: 0, count: geo.batch * geo.outChannels * geo.spatial)
        var cols = [Float](repeating: 0, count: geo.patch * geo.spatial)
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    cols.withUnsafeMutableBufferPointer { cp in
                        for n in 0..<geo.batch {
                            for g in 0..<geo.spec.groups {
                                geo.im2col(xp.baseAddress!, sample: n, group: g, into: cp.baseAddress!)
                                Gemm.sgemm(transA: false, transB: false, m: geo.groupOut, n: geo.spatial, k: geo.patch,
                                           a: wp.baseAddress! + g * geo.groupOut * geo.patch, lda: geo.patch,
                                           b: cp.baseAddress!, ldb: geo.spatial,
                                           c: yp.baseAddress! + (n * geo.outChannels + g * geo.groupOut) * geo.spatial,
                                           ldc: geo.spatial)
                            }
                            if let bias {
                                for o in 0..<geo.outChannels {
                                    let base = (n * geo.outChannels + o) * geo.spatial
                                    for s in 0..<geo.spatial { yp[base + s] += bias[o] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    static func backward(dy: [Float], x: [Float], w: [Float], geometry geo: ConvGeometry,
                         needsBias: Bool) -> (dx: [Float], dw: [Float], db: [Float]?) {
        var dx = [Float](repeating: 0, count: x.count)
        var dw = [Float](repeating: 0, count: w.count)
        var cols = [Float](repeating: 0, count: geo.patch * geo.spatial)
        var dcols = [Float](repeating: 0, count: geo.patch * geo.spatial)
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                dy.withUnsafeBufferPointer { dyp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        dw.withUnsafeMutableBufferPointer { dwp in
                            cols.withUnsafeMutableBufferPointer { cp in
                                dcols.withUnsafeMutableBufferPointer { dcp in
                                    for n in 0..<geo.batch {
                                        for g in 0..<geo.spec.groups {
                                            let dyg = dyp.baseAddress! + (n * geo.outChannels + g * geo.groupOut) * geo.spatial
                                            geo.im2col(xp.baseAddress!, sample: n, group: g, into: cp.baseAddress!)
                                            // dW_g += dY_g · colsᵀ
                                            Gemm.sgemm(transA: false, transB: true, m: geo.groupOut, n: geo.patch, k: geo.spatial,
                                                       a: dyg, lda: geo.spatial, b: cp.baseAddress!, ldb: geo.spatial,
                                                       beta: 1, c: dwp.baseAddress! + g * geo.groupOut * geo.patch, ldc: geo.patch)
                                            // dcols = W_gᵀ · dY_g
                                            Gemm.sgemm(transA: true, transB: false, m: geo.patch, n: geo.spatial, k: geo.groupOut,
                                                       a: wp.baseAddress! + g * geo.groupOut * geo.patch, lda: geo.patch,
                                                       b: dyg, ldb: geo.spatial, c: dcp.baseAddress!, ldc: geo.spatial)
                                            geo.col2im(dcp.baseAddress!, sample: n, group: g, into: dxp.baseAddress!)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var db: [Float]? = nil
        if needsBias {
            var sums = [Float](repeating: 0, count: geo.outChannels)
            for n in 0..<geo.batch {
                for o in 0..<geo.outChannels {
                    let base = (n * geo.outChannels + o) * geo.spatial
                    var s: Float = 0
                    for i in 0..<geo.spatial { s += dy[base + i] }
                    sums[o] += s
                }
            }
            db = sums
        }
        return (dx, dw, db)
    }
}
