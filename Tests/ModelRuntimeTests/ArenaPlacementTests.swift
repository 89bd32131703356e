import XCTest
import TensorCore
@testable import ModelRuntime

/// The arena placement: no two buffers alive at once share a byte, and the fast greedy places
/// exactly as the quadratic one it replaced (every placed buffer compared with the new one).
final class ArenaPlacementTests: XCTestCase {
    typealias Lifetime = ArenaPlacement.Lifetime

    /// The placement before the segment tree: for each buffer (largest first), every placed one.
    func quadraticPlacement(_ buffers: [Lifetime]) -> [Int] {
        var offsets = [Int](repeating: 0, count: buffers.count)
        var placed: [Int] = []
        for b in buffers.indices.sorted(by: { (buffers[$0].bytes, $1) > (buffers[$1].bytes, $0) }) {
            let conflicts = placed.filter { buffers[$0].defined <= buffers[b].lastUse && buffers[b].defined <= buffers[$0].lastUse }
                .map { (offsets[$0], offsets[$0] + buffers[$0].bytes) }.sorted { $0.0 < $1.0 }
            var candidate = 0
            for (start, end) in conflicts where candidate + buffers[b].bytes > start { candidate = max(candidate, end) }
            offsets[b] = candidate
            placed.append(b)
        }
        return offsets
    }

    func arenaBytes(_ buffers: [Lifetime], _ offsets: [Int]) -> Int {
        zip(buffers, offsets).map { $0.bytes + $1 }.max() ?? 0
    }

    func assertNoLiveOverlap(_ buffers: [Lifetime], _ offsets: [Int], file: StaticString = #filePath, line: UInt = #line) {
        for a in buffers.indices {
            for b in buffers.indices where b > a && buffers[a].defined <= buffers[b].lastUse && buffers[b].defined <= buffers[a].lastUse {
                let ra = offsets[a]..<(offsets[a] + buffers[a].bytes), rb = offsets[b]..<(offsets[b] + buffers[b].bytes)
                XCTAssertFalse(ra.overlaps(rb), "buffers \(a) and \(b) are alive together and overlap", file: file, line: line)
            }
        }
    }

    /// Random graphs as their lifetimes: each value is written at its step and read by up to
    /// `maxReach` later steps, as a DAG's values are.
    func randomLifetimes(count: Int, maxReach: Int, seed: UInt64) -> [Lifetime] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { step in
            let reach = Int(rng.next() % UInt64(maxReach + 1))
            let bytes = 64 * Int(1 + rng.next() % 64)
            return Lifetime(bytes: bytes, defined: step, lastUse: min(count, step + reach))
        }
    }

    func testGreedyPlacesAsTheQuadraticPlacementDidOnRandomGraphs() {
        for seed in UInt64(1)...30 {
            let buffers = randomLifetimes(count: 40 + Int(seed) * 7, maxReach: Int(seed % 9) + 1, seed: seed)
            let placement = ArenaPlacement(buffers)
            XCTAssertEqual(placement.offsets, quadraticPlacement(buffers), "seed \(seed)")
            assertNoLiveOverlap(buffers, placement.offsets)
        }
    }

    /// Past the pair budget (values that live long) the sweep places them: still no overlap, and
    /// the arena holds at most every buffer side by side.
    func testTheSweepFallbackNeverOverlapsLiveBuffers() {
        for seed in UInt64(1)...20 {
            let buffers = randomLifetimes(count: 200, maxReach: 150, seed: seed)
            XCTAssertNil(ArenaPlacement.greedyBySize(buffers, order: Array(buffers.indices), pairBudget: 100))
            let offsets = ArenaPlacement.sweep(buffers)
            assertNoLiveOverlap(buffers, offsets)
            XCTAssertLessThanOrEqual(arenaBytes(buffers, offsets), buffers.map(\.bytes).reduce(0, +))
        }
    }

    /// A long chain: each value dies as the next is written, so two slots of the largest size
    /// suffice, as before.
    func testAChainNeedsTwoBuffers() {
        let buffers = (0..<50_000).map { Lifetime(bytes: 256, defined: $0, lastUse: $0 + 1) }
        let placement = ArenaPlacement(buffers)
        XCTAssertEqual(arenaBytes(buffers, placement.offsets), 512)
    }

}
