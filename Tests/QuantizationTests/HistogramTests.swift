import XCTest
import TensorCore
@testable import Quantization

final class HistogramTests: XCTestCase {
    private func values(_ count: Int, seed: UInt64, _ make: (inout SeededRNG) -> Float) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in make(&rng) }
    }

    /// Shards observed separately and merged (in two different orders) equal one pass, bit for bit,
    /// even when later shards widen the range by many powers of two and the first shard is all zeros.
    func testShardMergeEqualsOnePass() {
        let shards: [[Float]] = [
            [Float](repeating: 0, count: 100),
            values(5000, seed: 1) { $0.uniform(-0.01, 0.02) },
            values(5000, seed: 2) { $0.normal() },
            values(300, seed: 3) { $0.uniform(-900, 1500) },
            [3.5, -7.25, 1e-7],
        ]
        var onePass = Histogram()
        for shard in shards { onePass.observe(shard) }  // batch by batch
        var forward = Histogram(), backward = Histogram()
        for shard in shards {
            var h = Histogram(); h.observe(shard); forward.merge(h)
        }
        for shard in shards.reversed() {
            var h = Histogram(); h.observe(shard); backward.merge(h)
        }
        var all = Histogram()
        all.observe(shards.flatMap { $0 })
        XCTAssertEqual(forward, onePass)
        XCTAssertEqual(backward, onePass)
        XCTAssertEqual(all, onePass)
        XCTAssertEqual(onePass.total, UInt64(shards.map(\.count).reduce(0, +)))
        XCTAssertEqual(onePass.min, -900, accuracy: 1)
        XCTAssertEqual(onePass.counts.reduce(0, +), onePass.total)
    }

    /// Memory stays `capacity` counters whatever the number of values, and at least half the
    /// bins span [min, max].
    func testFixedMemoryAndResolution() {
        var h = Histogram()
        for seed in 0..<20 { h.observe(values(10_000, seed: UInt64(seed)) { $0.uniform(-3, 5) }) }
        XCTAssertEqual(h.counts.count, Histogram.defaultCapacity)
        let usedBins = (Double(h.max) - Double(h.min)) / h.binWidth
        XCTAssertGreaterThanOrEqual(usedBins, Double(Histogram.defaultCapacity / 2))
        XCTAssertLessThanOrEqual(usedBins, Double(Histogram.defaultCapacity))
    }

    func testNonFiniteValuesAreCountedNotBinned() {
        var h = Histogram()
        h.observe([1, .nan, 2, .infinity, -.infinity])
        XCTAssertEqual(h.total, 2)
        XCTAssertEqual(h.nonFiniteCount, 3)
        XCTAssertEqual(h.max, 2)
    }

    func testRebuildFromStoredFieldsRoundTripsAndRejectsNonsense() throws {
        var h = Histogram()
        h.observe(values(1000, seed: 9) { $0.normal() })
        let rebuilt = try Histogram(capacity: h.capacity, exponent: h.exponent, firstBin: h.firstBin,
                                    counts: h.counts, min: h.min, max: h.max)
        XCTAssertEqual(rebuilt, h)
        XCTAssertThrowsError(try Histogram(capacity: h.capacity, exponent: h.exponent, firstBin: h.firstBin + 5,
                                           counts: h.counts, min: h.min, max: h.max))
    }

    /// A cache declares each histogram's capacity; a rebuilt one allocates that many bins, so the
    /// declared capacity meets the memory budget first.
    func testADeclaredCapacityPastTheBudgetIsRefused() {
        let capacity = 1 << 50
        XCTAssertThrowsError(try Histogram(capacity: capacity, exponent: 0, firstBin: 0, counts: [1], min: 0, max: 0)) { error in
            XCTAssertEqual("\(error)", "a histogram of \(capacity) bins needs \(capacity * 8) bytes, "
                           + "over the memory budget of \(MemoryBudget.limit) bytes (raise it with --max-memory)")
        }
    }

    /// Clipped fraction of uniform [0, 1) at 0.75 is 1/4.
    func testFractionOutside() {
        var h = Histogram()
        h.observe(values(100_000, seed: 4) { $0.uniform(0, 1) })
        XCTAssertEqual(h.fractionOutside(min: 0, max: 0.75), 0.25, accuracy: 0.01)
        XCTAssertEqual(h.fractionOutside(min: h.min, max: h.max), 0, accuracy: 1e-9)
    }
}
