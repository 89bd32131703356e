import HeapModule

/// Where each activation buffer lies in the one arena of a plan (docs/robustness.md, "Linear time").
///
/// Greedy by size: largest first, each at the lowest offset that overlaps no buffer placed before
/// it and alive at the same time. The buffers alive at the same time are found with a segment tree
/// over the steps (those alive when the new one is written) and the list of buffers by start (those
/// written while it is alive), so the work is O(n log n) plus the number of overlapping pairs. A
/// graph whose values mostly live long (a concat of 100,000 values) has a quadratic number of
/// pairs; past `pairBudget` the placement falls back to a sweep over time that reuses freed regions
/// (O(n log n), possibly a larger arena).
struct ArenaPlacement {
    struct Lifetime {
        let bytes: Int
        /// Written at this step, read until `lastUse` (inclusive).
        let defined: Int
        let lastUse: Int
    }

    /// Offset of each buffer, in the order given.
    let offsets: [Int]
    /// The order the buffers were placed in (largest first), for the budget check's messages.
    let order: [Int]

    init(_ buffers: [Lifetime]) {
        let order = buffers.indices.sorted { (buffers[$0].bytes, $1) > (buffers[$1].bytes, $0) }
        self.order = order
        offsets = Self.greedyBySize(buffers, order: order, pairBudget: 64 * buffers.count + 1_000_000)
            ?? Self.sweep(buffers)
    }

    /// The greedy placement, or nil when it would enumerate more than `pairBudget` overlapping pairs.
    static func greedyBySize(_ buffers: [Lifetime], order: [Int], pairBudget: Int) -> [Int]? {
        let steps = (buffers.map(\.lastUse).max() ?? 0) + 1
        var leaves = 1
        while leaves < steps { leaves *= 2 }
        // tree[node]: placed buffers whose lifetime covers the node's whole range of steps.
        var tree = [[Int32]](repeating: [], count: 2 * leaves)
        let byStart = buffers.indices.sorted { (buffers[$0].defined, $0) < (buffers[$1].defined, $1) }
        var placed = [Bool](repeating: false, count: buffers.count)
        var offsets = [Int](repeating: 0, count: buffers.count)
        var pairs = 0
        var conflicts: [(start: Int, end: Int)] = []
        for b in order {
            let life = buffers[b]
            conflicts.removeAll(keepingCapacity: true)
            // Alive when b is written: on the path from the leaf of `defined` to the root.
            var node = life.defined + leaves
            while node >= 1 {
                for other in tree[node] { conflicts.append((offsets[Int(other)], offsets[Int(other)] + buffers[Int(other)].bytes)) }
                node /= 2
            }
            // Written while b is alive, after it is.
            var i = lowerBound(byStart, buffers) { $0.defined > life.defined }
            while i < byStart.count, buffers[byStart[i]].defined <= life.lastUse {
                let other = byStart[i]
                if placed[other] { conflicts.append((offsets[other], offsets[other] + buffers[other].bytes)) }
                i += 1
                pairs += 1
            }
            pairs += conflicts.count
            if pairs > pairBudget { return nil }
            conflicts.sort { $0.start < $1.start }
            var candidate = 0
            for (start, end) in conflicts where candidate + life.bytes > start {
                candidate = max(candidate, end)
            }
            offsets[b] = candidate
            placed[b] = true
            var low = life.defined + leaves, high = life.lastUse + leaves + 1
            while low < high {
                if low & 1 == 1 { tree[low].append(Int32(b)); low += 1 }
                if high & 1 == 1 { high -= 1; tree[high].append(Int32(b)) }
                low /= 2
                high /= 2
            }
        }
        return offsets
    }

    /// Steps in order; a buffer takes the largest free region (grown to fit) or a new one, and gives
    /// it back after its last use. Regions are laid end to end once their final sizes are known.
    static func sweep(_ buffers: [Lifetime]) -> [Int] {
        let byStart = buffers.indices.sorted { (buffers[$0].defined, $0) < (buffers[$1].defined, $1) }
        let byEnd = buffers.indices.sorted { (buffers[$0].lastUse, $0) < (buffers[$1].lastUse, $1) }
        var regionSize: [Int] = []
        var regionOf = [Int](repeating: -1, count: buffers.count)
        var free = Heap<FreeRegion>()
        var released = 0
        for b in byStart {
            while released < byEnd.count, buffers[byEnd[released]].lastUse < buffers[b].defined {
                let region = regionOf[byEnd[released]]
                free.insert(FreeRegion(size: regionSize[region], index: region))
                released += 1
            }
            if let region = free.popMax() {
                regionSize[region.index] = max(region.size, buffers[b].bytes)
                regionOf[b] = region.index
            } else {
                regionOf[b] = regionSize.count
                regionSize.append(buffers[b].bytes)
            }
        }
        var start = [Int](repeating: 0, count: regionSize.count)
        for r in regionSize.indices.dropFirst() { start[r] = start[r - 1] + regionSize[r - 1] }
        return regionOf.map { start[$0] }
    }

    private struct FreeRegion: Comparable {
        let size: Int
        let index: Int
        static func < (a: Self, b: Self) -> Bool { (a.size, a.index) < (b.size, b.index) }
    }

    /// First position in `sorted` whose buffer satisfies `isAfter` (which holds for a suffix).
    private static func lowerBound(_ sorted: [Int], _ buffers: [Lifetime], _ isAfter: (Lifetime) -> Bool) -> Int {
        var low = 0, high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if isAfter(buffers[sorted[mid]]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
