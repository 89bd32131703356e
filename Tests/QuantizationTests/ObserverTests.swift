import XCTest
import TensorCore
@testable import Quantization

final class ObserverTests: XCTestCase {
    private func values(_ count: Int, seed: UInt64, _ make: (inout SeededRNG) -> Float) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in make(&rng) }
    }

    private func observed<O: Observer>(_ observer: O, _ data: [Float]) -> O {
        var o = observer
        data.withUnsafeBufferPointer { o.observe($0) }
        return o
    }

    /// N(0, 1) with 5 outliers at ±1000 in 200 000 values.
    private lazy var gaussianWithOutliers: [Float] =
        values(200_000, seed: 11) { $0.normal() } + [1000, -1000, 1000, 999, -998]

    func testMinMaxOnUniformIsExact() {
        let data = values(10_000, seed: 1) { $0.uniform(-2, 3) }
        let r = observed(MinMaxObserver(), data).range()
        XCTAssertEqual(r.min, data.min()!)
        XCTAssertEqual(r.max, data.max()!)
    }

    func testMinMaxKeepsTheOutlier() {
        let r = observed(MinMaxObserver(), gaussianWithOutliers).range()
        XCTAssertEqual(r.max, 1000)
        XCTAssertEqual(r.min, -1000)
    }

    /// Percentile of |x| on uniform [0, 1): the p-th percentile is p/100.
    func testPercentileOnUniform() {
        let data = values(200_000, seed: 2) { $0.uniform(0, 1) }
        XCTAssertEqual(observed(PercentileObserver(percentile: 99), data).range().max, 0.99, accuracy: 0.002)
        XCTAssertEqual(observed(PercentileObserver(percentile: 90), data).range().max, 0.90, accuracy: 0.003)
        XCTAssertEqual(observed(PercentileObserver(percentile: 99), data).range().min, data.min()!)
    }

    /// 99.99th percentile of |N(0,1)| is 3.89 (P(|x| > 3.89) = 1e-4); 5 outliers in 2·10^5 values
    /// (0.0025 %) are clipped. The histogram has ~2000 bins over ±1000, so one bin is ~1; allow it.
    func testPercentileClipsGaussianOutliers() {
        let t = observed(PercentileObserver(), gaussianWithOutliers).range().max
        XCTAssertEqual(t, 3.89, accuracy: 1.2)
    }

    /// Entropy clips the outliers as far as TensorRT's procedure can: its first candidate keeps
    /// 128 of the ~1000 magnitude bins (width 1 here), so the threshold is ≥ 127.5 and ≪ 1000.
    func testEntropyClipsGaussianOutliersDownToItsFirstCandidate() {
        let r = AnyRange(EntropyObserver()).range(of: gaussianWithOutliers)
        XCTAssertEqual(r.max, 127.5)
        XCTAssertEqual(r.min, -127.5)
    }

    /// MSE keeps them: clipping 5 values at ~1000 to a few σ costs 5·1000²/2·10^5 ≈ 25 per value,
    /// while a step of 1000/127 makes N(0,1) values round to 0 at a cost of E[x²] = 1.
    func testMSEKeepsGaussianOutliers() {
        let r = AnyRange(MSEObserver()).range(of: gaussianWithOutliers)
        XCTAssertGreaterThan(r.max, 900)
    }

    /// On a fine histogram of N(0,1) without outliers, MSE for 256 levels clips at a few σ
    /// (the Gaussian 8-bit MSE optimum is near 4σ), entropy stays above 2σ.
    func testGaussianWithoutOutliers() {
        let data = values(100_000, seed: 5) { $0.normal() }
        let mse = AnyRange(MSEObserver()).range(of: data).max
        XCTAssertGreaterThan(mse, 3)
        XCTAssertLessThanOrEqual(mse, data.max()!)
        XCTAssertGreaterThan(AnyRange(EntropyObserver()).range(of: data).max, 2)
    }

    /// Uniform data has nothing worth clipping: entropy keeps (almost) the whole range.
    func testEntropyOnUniformKeepsRange() {
        let r = AnyRange(EntropyObserver()).range(of: values(100_000, seed: 6) { $0.uniform(0, 1) })
        XCTAssertGreaterThan(r.max, 0.9)
    }

    func testDegenerateRanges() {
        let zeros = [Float](repeating: 0, count: 1000)
        let fives = [Float](repeating: 5, count: 1000)
        for method in [CalibrationMethod.minmax, .percentile(99.99), .entropy, .mse] {
            var h = Histogram(); h.observe(zeros)
            XCTAssertTrue(method.range(from: h) == (0, 0), "\(method) on zeros")
            var c = Histogram(); c.observe(fives)
            let r = method.range(from: c)
            XCTAssertEqual(r.max, 5, accuracy: 0.01, "\(method) on a constant")
            XCTAssertEqual(r.min, 5, accuracy: 0.01, "\(method) on a constant")
        }
        XCTAssertTrue(PercentileObserver().range() == (0, 0), "empty")
    }

    /// Observers merge like their histograms: shards merged equal one pass.
    func testObserverMergeEqualsOnePass() {
        let a = values(3000, seed: 7) { $0.normal() }, b = values(3000, seed: 8) { $0.uniform(-9, 2) }
        var merged = observed(EntropyObserver(), a)
        merged.merge(observed(EntropyObserver(), b))
        let onePass = observed(observed(EntropyObserver(), a), b)
        XCTAssertEqual(merged.histogram, onePass.histogram)
        XCTAssertTrue(merged.range() == onePass.range())
        var mm = observed(MinMaxObserver(), a); mm.merge(observed(MinMaxObserver(), b))
        XCTAssertTrue(mm.range() == observed(observed(MinMaxObserver(), a), b).range())
    }

    func testMethodNamesAndValidation() throws {
        XCTAssertEqual(try CalibrationMethod(name: "percentile", percentile: 99.9), .percentile(99.9))
        XCTAssertThrowsError(try CalibrationMethod(name: "kl")) {
            XCTAssertEqual("\($0)", "unknown calibration method 'kl' (expected minmax, percentile, entropy or mse)")
        }
        XCTAssertThrowsError(try CalibrationMethod(name: "percentile", percentile: 120)) {
            XCTAssertEqual("\($0)", "percentile 120.0 is outside (0, 100]")
        }
    }
}

/// Runs any histogram observer over a value list.
private struct AnyRange {
    let name: String
    let compute: ([Float]) -> (min: Float, max: Float)
    init<O: HistogramObserver>(_ observer: O) {
        name = "\(O.self)"
        compute = { data in
            var o = observer
            data.withUnsafeBufferPointer { o.observe($0) }
            return o.range()
        }
    }
    func range(of data: [Float]) -> (min: Float, max: Float) { compute(data) }
}
