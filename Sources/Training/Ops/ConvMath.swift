import Kernels

/// 2-D convolution (PyTorch `conv2d`: NCHW input, weight [O, I/groups, kh, kw]) by im2col + `Gemm.sgemm`,
/// and its gradients (col2im for the input).
///
/// Samples are unfolded side by side into one `[patch, samples·outH·outW]` column matrix, so each
/// group is one matrix product per chunk of samples rather than one per sample (chunks keep the
/// column matrix under `maxColumnFloats`).
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

    /// One group of one sample, as the C im2col kernel sees it.
    var im2col: Im2colGeometry {
        Im2colGeometry(channels: groupIn, height: height, width: width, kernel: (kernelH, kernelW), stride: spec.stride,
                       padding: spec.padding, dilation: spec.dilation, outHeight: outH, outWidth: outW)
    }

    /// Column matrices stay below this many floats (16 MB); at least one sample per chunk.
    static let maxColumnFloats = 4 << 20
    var samplesPerChunk: Int { max(1, min(batch, Self.maxColumnFloats / max(patch * spatial, 1))) }
    /// Whether the whole batch's column matrices (every group) fit in `maxColumnFloats`: then the
    /// forward pass keeps them and the backward pass reuses them instead of unfolding again.
    var keepsColumns: Bool { spec.groups * patch * batch * spatial <= Self.maxColumnFloats }
    /// Floats of one group's column matrix for `samples` samples.
    func columnFloats(samples: Int) -> Int { patch * samples * spatial }

    /// Offset of sample `n`, group `g` in an NCHW input.
    func inputOffset(sample n: Int, group g: Int) -> Int { (n * inChannels + g * groupIn) * height * width }
    /// Offset of sample `n`, output channel `o` in the NCHW output.
    func outputOffset(sample n: Int, channel o: Int) -> Int { (n * outChannels + o) * spatial }
}

enum ConvMath {
    /// Returns the output and, when `geometry.keepsColumns`, the column matrices of every group
    /// (`[groups][patch, batch·spatial]`) for the backward pass.
    static func forward(x: [Float], w: [Float], bias: [Float]?, geometry geo: ConvGeometry) -> (y: [Float], columns: [Float]?) {
        var y = uninitializedFloats(geo.batch * geo.outChannels * geo.spatial)
        let chunk = geo.samplesPerChunk
        let keeps = geo.keepsColumns
        // Kept: one column matrix per group side by side (chunk == batch). Else one reused per chunk and group.
        var cols = uninitializedFloats(geo.columnFloats(samples: chunk) * (keeps ? geo.spec.groups : 1))
        var product = geo.patch > 0 ? uninitializedFloats(geo.groupOut * chunk * geo.spatial)
                                    : [Float](repeating: 0, count: geo.groupOut * chunk * geo.spatial)
        let unfold = geo.im2col
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    cols.withUnsafeMutableBufferPointer { cp in
                        product.withUnsafeMutableBufferPointer { pp in
                            let (x, w, y, prod) = (xp.baseAddress!, wp.baseAddress!, yp.baseAddress!, pp.baseAddress!)
                            for start in stride(from: 0, to: geo.batch, by: chunk) {
                                let count = min(chunk, geo.batch - start), ld = count * geo.spatial
                                for g in 0..<geo.spec.groups {
                                    let cols = cp.baseAddress! + (keeps ? g * geo.columnFloats(samples: chunk) : 0)
                                    for n in 0..<count {
                                        TrainingKernels.im2col(x + geo.inputOffset(sample: start + n, group: g), into: cols + n * geo.spatial,
                                                               leadingDimension: ld, unfold)
                                    }
                                    // product [O/g, count·spatial] = bias (row-wise) + W_g · cols
                                    if let bias {
                                        for o in 0..<geo.groupOut { (prod + o * ld).update(repeating: bias[g * geo.groupOut + o], count: ld) }
                                    }
                                    Gemm.sgemm(transA: false, transB: false, m: geo.groupOut, n: ld, k: geo.patch,
                                               a: w + g * geo.groupOut * geo.patch, lda: geo.patch, b: cols, ldb: ld,
                                               beta: bias == nil ? 0 : 1, c: prod, ldc: ld)
                                    for n in 0..<count {
                                        for o in 0..<geo.groupOut {
                                            (y + geo.outputOffset(sample: start + n, channel: g * geo.groupOut + o))
                                                .update(from: prod + o * ld + n * geo.spatial, count: geo.spatial)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, keeps ? cols : nil)
    }

    /// Gradients of the input (when `needsInput`), weight and bias (when `needsBias`). `columns`: the
    /// forward pass's kept column matrices (nil: unfold `x` again).
    static func backward(dy: [Float], x: [Float], w: [Float], geometry geo: ConvGeometry, needsBias: Bool, needsInput: Bool = true,
                         columns: [Float]? = nil) -> (dx: [Float]?, dw: [Float], db: [Float]?) {
        var dx = [Float](repeating: 0, count: needsInput ? x.count : 0)
        var dw = [Float](repeating: 0, count: w.count)
        var db = [Float](repeating: 0, count: needsBias ? geo.outChannels : 0)
        let chunk = geo.samplesPerChunk
        let saved = columns.flatMap { $0.count == geo.columnFloats(samples: geo.batch) * geo.spec.groups ? $0 : nil }
        var cols = uninitializedFloats(saved == nil ? geo.columnFloats(samples: chunk) : 0)
        var dcols = uninitializedFloats(needsInput ? geo.columnFloats(samples: chunk) : 0)
        var dyGroup = uninitializedFloats(geo.groupOut * chunk * geo.spatial)
        let ones = [Float](repeating: 1, count: needsBias ? chunk * geo.spatial : 0)
        let unfold = geo.im2col
        x.withUnsafeBufferPointer { xp in
        w.withUnsafeBufferPointer { wp in
        dy.withUnsafeBufferPointer { dyp in
        dx.withUnsafeMutableBufferPointer { dxp in
        dw.withUnsafeMutableBufferPointer { dwp in
        db.withUnsafeMutableBufferPointer { dbp in
        cols.withUnsafeMutableBufferPointer { cp in
        dcols.withUnsafeMutableBufferPointer { dcp in
        dyGroup.withUnsafeMutableBufferPointer { gp in
        ones.withUnsafeBufferPointer { onesp in
        (saved ?? []).withUnsafeBufferPointer { sp in
            let (x, w, dy, dw, dyg) = (xp.baseAddress!, wp.baseAddress!, dyp.baseAddress!, dwp.baseAddress!, gp.baseAddress!)
            for start in stride(from: 0, to: geo.batch, by: chunk) {
                let count = min(chunk, geo.batch - start), ld = count * geo.spatial
                for g in 0..<geo.spec.groups {
                    // dY_g as [O/g, count·spatial], the layout of the forward product
                    for n in 0..<count {
                        for o in 0..<geo.groupOut {
                            (dyg + o * ld + n * geo.spatial).update(from: dy + geo.outputOffset(sample: start + n, channel: g * geo.groupOut + o),
                                                                     count: geo.spatial)
                        }
                    }
                    let cols: UnsafePointer<Float>
                    if let kept = sp.baseAddress, saved != nil {
                        cols = kept + g * geo.columnFloats(samples: geo.batch)
                    } else {
                        for n in 0..<count {
                            TrainingKernels.im2col(x + geo.inputOffset(sample: start + n, group: g), into: cp.baseAddress! + n * geo.spatial,
                                                   leadingDimension: ld, unfold)
                        }
                        cols = UnsafePointer(cp.baseAddress!)
                    }
                    // dW_g += dY_g · colsᵀ;  db_g += dY_g · 1
                    Gemm.sgemm(transA: false, transB: true, m: geo.groupOut, n: geo.patch, k: ld,
                               a: dyg, lda: ld, b: cols, ldb: ld, beta: 1, c: dw + g * geo.groupOut * geo.patch, ldc: geo.patch)
                    if needsBias {
                        Gemm.sgemm(transA: false, transB: false, m: geo.groupOut, n: 1, k: ld, a: dyg, lda: ld,
                                   b: onesp.baseAddress!, ldb: 1, beta: 1, c: dbp.baseAddress! + g * geo.groupOut, ldc: 1)
                    }
                    guard needsInput, let dx = dxp.baseAddress, let dcols = dcp.baseAddress else { continue }
                    // dcols = W_gᵀ · dY_g, folded back into dx
                    Gemm.sgemm(transA: true, transB: false, m: geo.patch, n: ld, k: geo.groupOut,
                               a: w + g * geo.groupOut * geo.patch, lda: geo.patch, b: dyg, ldb: ld, c: dcols, ldc: ld)
                    for n in 0..<count {
                        TrainingKernels.col2imAdd(dcols + n * geo.spatial, into: dx + geo.inputOffset(sample: start + n, group: g),
                                                  leadingDimension: ld, unfold)
                    }
                }
            }
        }}}}}}}}}}}
        return (needsInput ? dx : nil, dw, needsBias ? db : nil)
    }
}
