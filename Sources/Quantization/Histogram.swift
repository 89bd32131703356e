import Foundation
import TensorCore

/// A fixed-memory histogram of one tensor's values whose merge is exact.
///
/// Bins lie on a grid aligned at zero whose width is a power of two: grid bin `g` holds the values
/// in `[g·2^e, (g+1)·2^e)`. At most `capacity` consecutive grid bins are stored, starting at
/// `firstBin = ⌊min / 2^e⌋`. The exponent `e` is always the *smallest* one for which
/// `[min, max]` fits in `capacity` bins (and grid indices stay below 2^52), so the whole state is a
/// function of the multiset of values seen: when the range grows, the grid coarsens by whole
/// powers of two (bin `g` → `g >> d`, which adds fine counts into coarse ones exactly), and two
/// histograms merge by coarsening both to the common exponent. Hence observing shards and merging
/// gives bit-for-bit the histogram of one pass, in any order, with `capacity` counters per tensor
/// whatever the data size. At least `capacity / 2` bins span `[min, max]`.
///
/// Non-finite values are not binned; they are counted in `nonFiniteCount`.
public struct Histogram: Codable, Hashable, Sendable {
    /// Stored bins (TensorRT's entropy calibration uses a 2048-bin histogram).
    public static let defaultCapacity = 2048
    /// The finest bin width is 2^minimumExponent (below every normal Float spacing that matters).
    static let minimumExponent = -126

    public private(set) var capacity: Int
    /// Bin width is 2^exponent.
    public private(set) var exponent: Int
    /// Grid index of `counts[0]`.
    public private(set) var firstBin: Int
    public private(set) var counts: [UInt64]
    /// Exact extrema of the finite values seen (0 when empty).
    public private(set) var min: Float
    public private(set) var max: Float
    /// Number of finite values binned.
    public private(set) var total: UInt64
    public private(set) var nonFiniteCount: UInt64

    public init(capacity: Int = Histogram.defaultCapacity) {
        precondition(capacity >= 16, "a histogram needs at least 16 bins")
        self.capacity = capacity
        exponent = Histogram.minimumExponent
        firstBin = 0
        counts = []
        min = 0
        max = 0
        total = 0
        nonFiniteCount = 0
    }

    /// Rebuilds a histogram from stored fields (the calibration cache); throws if they are inconsistent.
    public init(capacity: Int, exponent: Int, firstBin: Int, counts: [UInt64], min: Float, max: Float,
                nonFiniteCount: UInt64 = 0) throws {
        let total = counts.reduce(0, &+)
        guard capacity >= 16, counts.count <= capacity, min <= max, min.isFinite, max.isFinite,
              (Histogram.minimumExponent...1024).contains(exponent), total > 0 || counts.isEmpty else {
            throw QuantizationError.inconsistentHistogram("fields do not describe a histogram")
        }
        // `capacity` is declared by the file: the bins are allocated below only within the budget.
        try MemoryBudget.admit(checkedMultiply(capacity, MemoryLayout<UInt64>.size), for: "a histogram of \(capacity) bins")
        self.capacity = capacity
        self.exponent = exponent
        self.firstBin = firstBin
        self.counts = counts
        self.min = min
        self.max = max
        self.total = total
        self.nonFiniteCount = nonFiniteCount
        if total > 0 {
            guard Histogram.fits(min: min, max: max, exponent: exponent, capacity: capacity),
                  firstBin == Histogram.gridIndex(min, exponent: exponent),
                  Histogram.gridIndex(max, exponent: exponent) - firstBin < counts.count else {
                throw QuantizationError.inconsistentHistogram("min/max do not fit the stored bins")
            }
            self.counts += [UInt64](repeating: 0, count: capacity - counts.count)
        }
    }

    public var isEmpty: Bool { total == 0 }
    public var binWidth: Double { scalbn(1.0, exponent) }

    /// Adds finite values; skips (and counts) NaN and ±Inf.
    public mutating func observe(_ values: UnsafeBufferPointer<Float>) {
        var lo = Float.infinity, hi = -Float.infinity
        var finite: UInt64 = 0
        for v in values where v.isFinite {
            lo = Swift.min(lo, v)
            hi = Swift.max(hi, v)
            finite += 1
        }
        nonFiniteCount += UInt64(values.count) - finite
        guard finite > 0 else { return }
        if total > 0 {
            lo = Swift.min(lo, min)
            hi = Swift.max(hi, max)
        }
        regrid(min: lo, max: hi)
        let scale = scalbn(1.0, -exponent)
        counts.withUnsafeMutableBufferPointer { bins in
            for v in values where v.isFinite {
                bins[Int((Double(v) * scale).rounded(.down)) - firstBin] += 1
            }
        }
        total += finite
    }

    public mutating func observe(_ values: [Float]) {
        values.withUnsafeBufferPointer { observe($0) }
    }

    /// Adds another histogram's counts; the result equals observing both inputs' values in one pass.
    public mutating func merge(_ other: Histogram) {
        precondition(capacity == other.capacity, "histograms of different capacity do not merge")
        let nonFinite = nonFiniteCount + other.nonFiniteCount
        defer { nonFiniteCount = nonFinite }
        guard other.total > 0 else { return }
        guard total > 0 else {
            self = other
            return
        }
        var coarse = other
        regrid(min: Swift.min(min, other.min), max: Swift.max(max, other.max))
        coarse.regrid(min: min, max: max)
        for i in counts.indices { counts[i] += coarse.counts[i] }
        total += other.total
    }

    /// Moves to the smallest exponent that holds `[lo, hi]` (a superset of the current range).
    private mutating func regrid(min lo: Float, max hi: Float) {
        let newExponent = Histogram.requiredExponent(min: lo, max: hi, capacity: capacity, atLeast: exponent)
        let newFirst = Histogram.gridIndex(lo, exponent: newExponent)
        if total > 0, newExponent != exponent || newFirst != firstBin {
            let shift = newExponent - exponent
            var moved = [UInt64](repeating: 0, count: capacity)
            for (i, c) in counts.enumerated() where c > 0 {
                moved[((firstBin + i) >> shift) - newFirst] += c
            }
            counts = moved
        } else if counts.isEmpty {
            counts = [UInt64](repeating: 0, count: capacity)
        }
        exponent = newExponent
        firstBin = newFirst
        min = lo
        max = hi
    }

    static func gridIndex(_ v: Float, exponent: Int) -> Int {
        Int((Double(v) * scalbn(1.0, -exponent)).rounded(.down))
    }

    static func fits(min lo: Float, max hi: Float, exponent: Int, capacity: Int) -> Bool {
        let scale = scalbn(1.0, -exponent)
        guard Swift.max(abs(Double(lo)), abs(Double(hi))) * scale < 0x1p52 else { return false }
        return gridIndex(hi, exponent: exponent) - gridIndex(lo, exponent: exponent) <= capacity - 1
    }

    /// Smallest exponent ≥ `atLeast` for which `[lo, hi]` fits. Fitting is monotone in the
    /// exponent, and a width ≤ (hi − lo)/capacity never fits, so start there and count up.
    static func requiredExponent(min lo: Float, max hi: Float, capacity: Int, atLeast: Int) -> Int {
        let width = Double(hi) - Double(lo)
        var e = width > 0 ? Int(log2(width / Double(capacity)).rounded(.down)) : minimumExponent
        e = Swift.max(e, atLeast, minimumExponent)
        while !fits(min: lo, max: hi, exponent: e, capacity: capacity) { e += 1 }
        return e
    }

    // MARK: derived views

    /// Counts of |x| on bins `[j·w, (j+1)·w)` from zero up to the bin holding max|x|, with the
    /// bin width `w`. The grid is first coarsened so that it spans `[min(min, 0), max(max, 0)]` in
    /// `capacity` bins (data far from zero would otherwise need a huge magnitude array). A negative
    /// grid bin `g` covers |x| in `(−(g+1)·w, −g·w]` and folds onto magnitude bin `−g−1`.
    public func magnitudeCounts() -> (counts: [Double], width: Double) {
        guard total > 0 else { return ([], binWidth) }
        var h = self
        h.regrid(min: Swift.min(min, 0), max: Swift.max(max, 0))
        let size = Swift.max(h.firstBin + h.counts.count, -h.firstBin, 1)
        var out = [Double](repeating: 0, count: size)
        for (i, c) in h.counts.enumerated() where c > 0 {
            let g = h.firstBin + i
            out[g >= 0 ? g : -g - 1] += Double(c)
        }
        while out.count > 1, out.last == 0 { out.removeLast() }
        return (out, h.binWidth)
    }

    /// The magnitude `t` with `fraction` of the values having |x| ≤ t (linear within a bin).
    public func magnitudeQuantile(_ fraction: Double) -> Float {
        let (bins, width) = magnitudeCounts()
        let target = fraction * Double(total)
        var cumulative = 0.0
        for (j, c) in bins.enumerated() where c > 0 {
            if cumulative + c >= target {
                let t = (Double(j) + (target - cumulative) / c) * width
                return Float(Swift.min(t, Double(maxMagnitude)))
            }
            cumulative += c
        }
        return maxMagnitude
    }

    public var maxMagnitude: Float { Swift.max(abs(min), abs(max)) }

    /// The clipping range `[max(min, −t), min(max, t)]` for a magnitude threshold `t`.
    public func clipRange(magnitude t: Float) -> (min: Float, max: Float) {
        (Swift.max(min, -t), Swift.min(max, t))
    }

    /// The fraction of values outside `[lo, hi]`, assuming values spread uniformly within a bin.
    public func fractionOutside(min lo: Float, max hi: Float) -> Double {
        guard total > 0 else { return 0 }
        var outside = 0.0
        for (i, c) in counts.enumerated() where c > 0 {
            let (a, b) = extent(ofBin: i)
            let w = b - a
            if w == 0 {
                if a < Double(lo) || a > Double(hi) { outside += Double(c) }
                continue
            }
            let below = Swift.max(0, Swift.min(b, Double(lo)) - a) / w
            let above = Swift.max(0, b - Swift.max(a, Double(hi))) / w
            outside += Double(c) * Swift.min(1, below + above)
        }
        return outside / Double(total)
    }

    /// Expected squared error of quantizing these values to `levels` evenly spaced points over
    /// `[lo, hi]` (widened to contain 0, which is a level), values spread uniformly inside each bin: a clipped value costs its squared
    /// distance to the bound, an in-range one its squared distance to the nearest level, both
    /// integrated exactly over the bin (so a step much wider than the data costs ≈ E[x²], not step²/12).
    public func expectedSquaredError(min lo: Float, max hi: Float, levels: Int) -> Double {
        guard total > 0 else { return 0 }
        let l = Double(lo), h = Double(hi)
        // Levels are multiples of the step (zero is exact), over the range widened to contain 0.
        let step = (Swift.max(h, 0) - Swift.min(l, 0)) / Double(levels - 1)
        var error = 0.0
        for (i, c) in counts.enumerated() where c > 0 {
            var (a, b) = extent(ofBin: i)
            if b == a { b = a.nextUp }  // a point mass: a tiny uniform bin
            let density = Double(c) / (b - a)
            if a < l { error += density * Histogram.integratedSquare(from: l - Swift.min(b, l), to: l - a) }
            if b > h { error += density * Histogram.integratedSquare(from: Swift.max(a, h) - h, to: b - h) }
            let inA = Swift.max(a, l), inB = Swift.min(b, h)
            if inB > inA {
                error += density * (step > 0
                    ? step * step * step * (Histogram.roundingIntegral(inB / step) - Histogram.roundingIntegral(inA / step))
                    : Histogram.integratedSquare(from: inA, to: inB))
            }
        }
        return error / Double(total)
    }

    /// An antiderivative of `(u − round(u))²`: each whole cell `[n − ½, n + ½]` contributes 1/12.
    static func roundingIntegral(_ u: Double) -> Double {
        let n = (u + 0.5).rounded(.down)
        let d = u - n
        return n / 12 + (d * d * d + 0.125) / 3
    }

    /// E[x²] over the values (uniform within each bin).
    public func meanSquare() -> Double {
        guard total > 0 else { return 0 }
        var sum = 0.0
        for (i, c) in counts.enumerated() where c > 0 {
            let (a, b) = extent(ofBin: i)
            sum += b > a ? Double(c) / (b - a) * Histogram.integratedSquare(from: a, to: b) : Double(c) * a * a
        }
        return sum / Double(total)
    }

    /// The part of stored bin `i` inside `[min, max]` (values spread uniformly over it).
    private func extent(ofBin i: Int) -> (Double, Double) {
        let a = Double(firstBin + i) * binWidth
        return (Swift.max(a, Double(min)), Swift.min(a + binWidth, Double(max)))
    }

    /// ∫ d² over d in [p, q] (p ≤ q).
    private static func integratedSquare(from p: Double, to q: Double) -> Double { (q * q * q - p * p * p) / 3 }
}
