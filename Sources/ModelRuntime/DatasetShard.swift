/// Shard `index` of `count` equal contiguous slices of a dataset (`--shard K/N`, docs/scale-out.md):
/// rows `⌊K·n/N⌋ ..< ⌊(K+1)·n/N⌋`, so the N shards cover every row exactly once. A Kubernetes
/// Indexed Job passes `JOB_COMPLETION_INDEX` as K.
public struct DatasetShard: Codable, Hashable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// Nil unless 0 ≤ index < count.
    public init?(index: Int, count: Int) {
        guard count >= 1, (0..<count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// Parses `K/N`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(index: k, count: n)
    }

    /// The rows of this shard in a dataset of `rows` samples.
    public func rows(of rows: Int) -> Range<Int> { (index * rows / count)..<((index + 1) * rows / count) }

    public var description: String { "\(index)/\(count)" }
}
