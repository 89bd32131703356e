import Foundation
import TensorCore

/// Human formatting of sizes and counts for tables.
enum Formatting {
    /// Bytes with binary units: `512 B`, `1.5 KiB`, `117.6 KiB`, `3.2 MiB`, `1.1 GiB`.
    static func bytes(_ count: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while abs(value) >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    /// An integer with thousands separators: `301,066`.
    static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var grouped = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(ch)
        }
        return (n < 0 ? "-" : "") + grouped
    }

    /// A fraction as a percentage with one decimal: `0.9012` → `90.1%`.
    static func percent(_ fraction: Double) -> String { String(format: "%.1f%%", fraction * 100) }

    /// A ratio with two decimals: `3.42x`.
    static func ratio(_ value: Double) -> String { String(format: "%.2fx", value) }

    /// A shape with some dimensions written by name (`N` for the batch, `sequence`): `[N, sequence, 64]`.
    static func shape(_ dims: [Int], labels: [String?]) -> String {
        "[" + dims.indices.map { labels[$0] ?? String(dims[$0]) }.joined(separator: ", ") + "]"
    }

    /// A path shown relative to the working directory when it lies below it.
    static func relativePath(_ path: String) -> String {
        let here = FileManager.default.currentDirectoryPath + "/"
        return path.hasPrefix(here) ? String(path.dropFirst(here.count)) : path
    }
}
