import ArgumentParser
import ModelFormats

/// `--limit NAME=VALUE`: overrides one of the resource bounds used when reading untrusted input
/// (`ReadLimits`; docs/robustness.md lists them with their defaults). Sizes take a K/M/G/T suffix
/// (powers of 1024): `--limit decoded-bytes=512M --limit entries=1000`.
extension ReadLimits {
    /// Every overridable bound: its option name, what it bounds, and where it lives.
    static var overridable: [(name: String, help: String, keyPath: WritableKeyPath<ReadLimits, Int>)] { [
        ("decoded-bytes", "total decoded bytes of all tensors/entries", \.maxDecodedBytes),
        ("expansion-ratio", "decoded bytes per byte of the archive on disk (decompression-bomb guard)", \.maxExpansionRatio),
        ("expansion-floor-bytes", "decoded bytes always allowed before the expansion ratio applies", \.expansionRatioFloorBytes),
        ("entries", "archive entries (or files in a directory)", \.maxEntries),
        ("tensors", "tensors in one model", \.maxTensors),
        ("rank", "dimensions of one tensor", \.maxRank),
        ("header-bytes", "bytes of one .npy/.safetensors header or artifact manifest", \.maxHeaderBytes),
        ("json-depth", "nesting depth of a JSON or .npy header", \.maxJSONDepth),
    ] }

    /// Applies `NAME=VALUE` (see `overridable`); throws a `ValidationError` naming the problem.
    mutating func apply(override text: String) throws {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        let names = Self.overridable.map(\.name).joined(separator: ", ")
        guard parts.count == 2, let setting = Self.overridable.first(where: { $0.name == parts[0] }) else {
            throw ValidationError("--limit expects NAME=VALUE with NAME one of \(names); got '\(text)'")
        }
        guard let value = Self.parseSize(parts[1]), value > 0 else {
            throw ValidationError("--limit \(setting.name): '\(parts[1])' is not a positive integer (K/M/G/T suffixes allowed)")
        }
        self[keyPath: setting.keyPath] = value
    }

    /// "123", "64K", "512M", "8G", "1T" (binary multiples) → the value, or nil.
    static func parseSize(_ text: String) -> Int? {
        let multipliers: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text.uppercased())
        var multiplier = 1
        if let last = digits.last, let m = multipliers[last] {
            multiplier = m
            digits = digits.dropLast()
        }
        guard let base = Int(digits) else { return nil }
        let product = base.multipliedReportingOverflow(by: multiplier)
        return product.overflow ? nil : product.partialValue
    }
}
