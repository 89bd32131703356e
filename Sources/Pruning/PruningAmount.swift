import Foundation

/// How much to prune: a fraction of the entries or an absolute count, validated when made.
///
/// Mirrors `torch.nn.utils.prune`: the *type* decides (`1` is one entry, `1.0` is all of them).
/// A fraction becomes a count as Python's `round(amount * n)` does — the product in double
/// precision, rounded half to even — so 0.5 of 5 entries is 2 and 0.5 of 7 is 4.
///
/// ```swift
/// let half = try PruningAmount.fraction(0.5)
/// try half.count(of: 7)   // 4
/// ```
public struct PruningAmount: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case fraction(Double)
        case count(Int)
    }

    public let kind: Kind

    private init(_ kind: Kind) { self.kind = kind }

    /// A fraction in [0, 1]; NaN, negative values and values above 1 are refused.
    public static func fraction(_ value: Double) throws -> PruningAmount {
        guard value >= 0, value <= 1 else { throw PruningError.invalidFraction(value) }  // NaN fails both
        return PruningAmount(.fraction(value))
    }

    /// A count ≥ 0; whether it fits is checked against the tensor when the mask is made.
    public static func count(_ value: Int) throws -> PruningAmount {
        guard value >= 0 else { throw PruningError.negativeCount(value) }
        return PruningAmount(.count(value))
    }

    /// Parses the CLI form: digits only is a count (`1200`), anything else a fraction (`0.8`, `1.0`, `1e-1`).
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let n = Int(trimmed) {
            self = try .count(n)
        } else if let f = Double(trimmed) {
            self = try .fraction(f)
        } else {
            throw PruningError.unparsableAmount(text)
        }
    }

    /// The number of entries to prune among `available` (PyTorch's `_compute_nparams_toprune`).
    /// - Throws: `PruningError.countExceedsSize` when a count is larger than `available`.
    public func count(of available: Int, tensor: String = "the tensor") throws -> Int {
        switch kind {
        case .count(let n):
            guard n <= available else { throw PruningError.countExceedsSize(count: n, available: available, tensor: tensor) }
            return n
        case .fraction(let f):
            return Int((f * Double(available)).rounded(.toNearestOrEven))
        }
    }

    /// True for an absolute count, false for a fraction.
    public var isCount: Bool {
        if case .count = kind { return true }
        return false
    }

    public var description: String {
        switch kind {
        case .fraction(let f): return "\(f)"
        case .count(let n): return "\(n)"
        }
    }
}
