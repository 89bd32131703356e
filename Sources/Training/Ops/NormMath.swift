import Foundation

/// Batch normalisation over NCHW in training mode and layer normalisation over trailing dimensions,
/// with their gradients. Statistics are accumulated in Double for stability.
enum NormMath {
    struct Normalized: Sendable {
        var y: [Float]
        /// x̂ = (x − μ)/σ per element, kept for the backward pass.
        var xhat: [Float]
        /// 1/σ per group (channel for batchnorm, row for layernorm).
        var invStd: [Float]
        var mean: [Float]
        /// Biased variance per group.
        var variance: [Float]
    }

    /// Batchnorm, training mode: per-channel statistics over (N, H, W).
    static func batchNormTrain(_ x: [Float], batch: Int, channels: Int, planeSize: Int,
                               gamma: [Float], beta: [Float], eps: Float) -> Normalized {
        var out = Normalized(y: x, xhat: x, invStd: [], mean: [], variance: [])
        let m = Double(batch * planeSize)
        for c in 0..<channels {
            var sum = 0.0, sumSq = 0.0
            for n in 0..<batch {
                let base = (n * channels + c) * planeSize
                for i in 0..<planeSize { let v = Double(x[base + i]); sum += v; sumSq += v * v }
            }
            let mean = sum / m
            let variance = max(sumSq / m - mean * mean, 0)
            let invStd = Float(1 / (variance + Double(eps)).squareRoot())
            out.mean.append(Float(mean)); out.variance.append(Float(variance)); out.invStd.append(invStd)
            for n in 0..<batch {
                let base = (n * channels + c) * planeSize
                for i in 0..<planeSize {
                    let h = (x[base + i] - Float(mean)) * invStd
                    out.xhat[base + i] = h
                    out.y[base + i] = h * gamma[c] + beta[c]
                }
            }
        }
        return out
    }

    /// Batchnorm, inference mode (running statistics).
    static func batchNormEval(_ x: [Float], batch: Int, channels: Int, planeSize: Int, gamma: [Float], beta: [Float],
                              runningMean: [Float], runningVar: [Float], eps: Float) -> [Float] {
        var y = x
        for n in 0..<batch {
            for c in 0..<channels {
                let scale = gamma[c] / (runningVar[c] + eps).squareRoot()
                let base = (n * channels + c) * planeSize
                for i in 0..<planeSize { y[base + i] = (x[base + i] - runningMean[c]) * scale + beta[c] }
            }
        }
        return y
    }

    /// dx = (1/M)·σ⁻¹·(M·ĝ − Σĝ − x̂·Σ(ĝ·x̂)) with ĝ = dy·γ; dγ = Σ dy·x̂; dβ = Σ dy.
    static func batchNormBackward(dy: [Float], saved: Normalized, batch: Int, channels: Int, planeSize: Int,
                                  gamma: [Float]) -> (dx: [Float], dgamma: [Float], dbeta: [Float]) {
        var dx = dy
        var dgamma = [Float](repeating: 0, count: channels)
        var dbeta = [Float](repeating: 0, count: channels)
        let m = Float(batch * planeSize)
        for c in 0..<channels {
            var sumDy = 0.0, sumDyXhat = 0.0
            for n in 0..<batch {
                let base = (n * channels + c) * planeSize
                for i in 0..<planeSize { sumDy += Double(dy[base + i]); sumDyXhat += Double(dy[base + i] * saved.xhat[base + i]) }
            }
            dgamma[c] = Float(sumDyXhat); dbeta[c] = Float(sumDy)
            let k = gamma[c] * saved.invStd[c] / m
            for n in 0..<batch {
                let base = (n * channels + c) * planeSize
                for i in 0..<planeSize {
                    dx[base + i] = k * (m * dy[base + i] - Float(sumDy) - saved.xhat[base + i] * Float(sumDyXhat))
                }
            }
        }
        return (dx, dgamma, dbeta)
    }

    /// Layernorm over the last `size` elements of each row.
    static func layerNorm(_ x: [Float], size: Int, gamma: [Float]?, beta: [Float]?, eps: Float) -> Normalized {
        let rows = x.count / size
        var out = Normalized(y: x, xhat: x, invStd: [], mean: [], variance: [])
        for r in 0..<rows {
            var sum = 0.0, sumSq = 0.0
            for i in 0..<size { let v = Double(x[r * size + i]); sum += v; sumSq += v * v }
            let mean = sum / Double(size)
            let variance = max(sumSq / Double(size) - mean * mean, 0)
            let invStd = Float(1 / (variance + Double(eps)).squareRoot())
            out.invStd.append(invStd)
            for i in 0..<size {
                let h = (x[r * size + i] - Float(mean)) * invStd
                out.xhat[r * size + i] = h
                out.y[r * size + i] = h * (gamma?[i] ?? 1) + (beta?[i] ?? 0)
            }
        }
        return out
    }

    static func layerNormBackward(dy: [Float], saved: Normalized, size: Int, gamma: [Float]?) -> (dx: [Float], dgamma: [Float], dbeta: [Float]) {
        let rows = dy.count / size
        var dx = dy
        var dgamma = [Float](repeating: 0, count: size)
        var dbeta = [Float](repeating: 0, count: size)
        let n = Float(size)
        for r in 0..<rows {
            var sumG = 0.0, sumGXhat = 0.0
            for i in 0..<size {
                let j = r * size + i
                let g = dy[j] * (gamma?[i] ?? 1)
                sumG += Double(g); sumGXhat += Double(g * saved.xhat[j])
                dgamma[i] += dy[j] * saved.xhat[j]; dbeta[i] += dy[j]
            }
            let k = saved.invStd[r] / n
            for i in 0..<size {
                let j = r * size + i
                let g = dy[j] * (gamma?[i] ?? 1)
                dx[j] = k * (n * g - Float(sumG) - saved.xhat[j] * Float(sumGXhat))
            }
        }
        return (dx, dgamma, dbeta)
    }
}
