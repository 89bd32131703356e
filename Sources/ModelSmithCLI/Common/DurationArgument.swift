import ArgumentParser

/// Durations on the command line: "500us", "2ms", "1.5s", "2m", "1h", or a bare number of seconds.
enum DurationArgument {
    static func seconds(_ text: String, option: String) throws -> Double {
        let units: [(String, Double)] = [("us", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        let unit = units.first { text.hasSuffix($0.0) }
        guard let value = Double(unit.map { String(text.dropLast($0.0.count)) } ?? text), value >= 0, value.isFinite else {
            throw ValidationError("\(option) expects a duration such as 500ms, 90s or 2m, got '\(text)'")
        }
        return value * (unit?.1 ?? 1)
    }
}
