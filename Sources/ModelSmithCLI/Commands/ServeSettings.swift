import Foundation

/// `modelsmith serve`'s settings by option name, from `--config FILE` and the command line (which
/// overrides the file key by key). A config key is the long option's name without `--`
/// (`max-batch: 16`); the positional models are `paths`; a repeatable option takes a list, and
/// `model` also a mapping of names to paths (docs/serving.md, "Configuration file").
struct ServeSettings: Equatable {
    enum Kind { case value, list, flag }

    static let keys: [String: Kind] = [
        "paths": .list, "model": .list, "ab": .list, "dim": .list, "limit": .list,
        "shadow": .flag, "allow-nonfinite": .flag, "strict-dtypes": .flag,
        "host": .value, "port": .value, "threads": .value, "instances": .value, "max-batch": .value,
        "max-queue-delay": .value, "max-queue": .value, "cache-bytes": .value, "max-body": .value,
        "read-timeout": .value, "max-memory": .value,
    ]

    private(set) var values: [String: String] = [:]
    private(set) var lists: [String: [String]] = [:]
    private(set) var flags: [String: Bool] = [:]

    init() {}

    /// Reads a config file: a mapping of known keys (an unknown key is an error naming it).
    init(file: String) throws {
        func refuse(_ reason: String) -> RecipeError { .malformed(file: file, reason: reason) }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw FileManager.default.fileExists(atPath: file) ? refuse("cannot be read") : refuse("no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw refuse("is not UTF-8 text") }
        guard let document = try RecipeYAML.load(text, file: file) else { return }
        guard let mapping = document as? [String: Any] else { throw refuse("expected a mapping of serve options (port: 8080, …)") }
        for key in mapping.keys.sorted() {
            guard let kind = Self.keys[key] else {
                throw refuse("unknown key '\(key)' (known: \(Self.keys.keys.sorted().joined(separator: ", ")))")
            }
            let value = mapping[key]!
            switch kind {
            case .value:
                guard let scalar = Self.scalar(value) else { throw refuse("'\(key)' expects a single value") }
                values[key] = scalar
            case .flag:
                guard let flag = value as? Bool else { throw refuse("'\(key)' expects true or false") }
                flags[key] = flag
            case .list:
                if key == "model", let named = value as? [String: Any] {
                    lists[key] = try named.keys.sorted().map { name in
                        guard let path = Self.scalar(named[name]!) else { throw refuse("'model.\(name)' expects a path") }
                        return "\(name)=\(path)"
                    }
                } else if let items = value as? [Any] {
                    lists[key] = try items.map { item in
                        guard let scalar = Self.scalar(item) else { throw refuse("'\(key)' expects a list of values") }
                        return scalar
                    }
                } else if let scalar = Self.scalar(value) {
                    lists[key] = [scalar]
                } else {
                    throw refuse("'\(key)' expects a value or a list of values")
                }
            }
        }
    }

    /// The command line's options on top: each one given replaces the file's.
    mutating func override(values given: [String: String?], lists givenLists: [String: [String]], flags givenFlags: [String: Bool]) {
        for case let (key, value?) in given { values[key] = value }
        for (key, list) in givenLists where !list.isEmpty { lists[key] = list }
        for (key, flag) in givenFlags where flag { flags[key] = true }
    }

    func value(_ key: String) -> String? { values[key] }
    func list(_ key: String) -> [String] { lists[key] ?? [] }
    func flag(_ key: String) -> Bool { flags[key] ?? false }

    private static func scalar(_ value: Any) -> String? {
        switch value {
        case let text as String: return text
        case let flag as Bool: return String(flag)
        case let number as Int: return String(number)
        case let number as Double: return String(number)
        default: return nil
        }
    }
}
