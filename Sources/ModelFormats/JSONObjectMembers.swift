import Foundation

/// The top-level members of a JSON object as byte ranges, found in one linear scan without
/// building the values. The artifact manifest is a graph document plus three keys
/// (docs/formats.md §3): the writer appends them to the graph's bytes and the reader cuts them out,
/// so a 100,000-node graph is never turned into Foundation objects and back (docs/robustness.md,
/// "Linear time"). Values are only delimited here; whoever reads one parses it in full.
struct JSONObjectMembers {
    struct Member {
        let key: String
        /// The key's bytes as written, quotes included.
        let keyBytes: Range<Int>
        /// The value's bytes, without surrounding whitespace.
        let value: Range<Int>
    }

    let members: [Member]

    enum ScanError: Error, CustomStringConvertible {
        case notAnObject(String)
        case duplicateKey(String)
        var description: String {
            switch self {
            case .notAnObject(let reason): return "not a JSON object (\(reason))"
            case .duplicateKey(let key): return "the key \"\(key)\" appears twice at the top level"
            }
        }
    }

    /// Refuses anything but one object (whitespace around it), and a key that appears twice (two
    /// parsers could pick different ones).
    init(_ bytes: UnsafeRawBufferPointer) throws {
        var i = 0
        func skipSpace() { while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 } }
        func fail(_ reason: String) -> ScanError { .notAnObject("\(reason) at byte \(i)") }
        func expect(_ c: Unicode.Scalar) throws {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: c) else { throw fail("expected '\(c)'") }
            i += 1
        }
        /// Moves past the string starting at `i`; returns whether it held an escape.
        func skipString() throws -> Bool {
            var escapes = false
            i += 1
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\\"): escapes = true; i += 2
                case UInt8(ascii: "\""): i += 1; return escapes
                default: i += 1
                }
            }
            throw fail("unterminated string")
        }
        func skipValue() throws {
            var depth = 0
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\""):
                    _ = try skipString()
                    if depth == 0 { return }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return }  // the object's own '}' after a scalar
                    depth -= 1
                    if depth == 0 { i += 1; return }
                case UInt8(ascii: ","), 0x20, 0x0A, 0x0D, 0x09: if depth == 0 { return }
                default: break
                }
                i += 1
            }
            if depth > 0 { throw fail("unterminated value") }
        }

        try expect("{")
        var members: [Member] = []
        var seen = Set<String>()
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let keyStart = i
                let escaped = try skipString()
                let keyBytes = Data(UnsafeRawBufferPointer(rebasing: bytes[keyStart..<i]))
                // An escaped key ("t\u0065nsors") is the same key to every JSON parser: decode it.
                guard let key = escaped ? (try? JSONSerialization.jsonObject(with: keyBytes, options: .fragmentsAllowed)) as? String
                                        : String(data: keyBytes.dropFirst().dropLast(), encoding: .utf8) else {
                    throw fail("a key that is not a valid string")
                }
                guard seen.insert(key).inserted else { throw ScanError.duplicateKey(key) }
                try expect(":")
                skipSpace()
                let start = i
                try skipValue()
                guard i > start else { throw fail("missing value") }
                members.append(Member(key: key, keyBytes: keyStart..<(keyStart + keyBytes.count), value: start..<i))
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated object") }
                if bytes[i] == UInt8(ascii: "}") { i += 1; break }
                guard bytes[i] == UInt8(ascii: ",") else { throw fail("expected ',' or '}'") }
                i += 1
            }
        }
        skipSpace()
        guard i == bytes.count else { throw fail("content after the object") }
        self.members = members
    }

    func member(_ key: String) -> Member? { members.first { $0.key == key } }

    /// An object of the members not in `excluded` (their bytes as they were), one per line, followed
    /// by `extra` members (plain ASCII keys) whose values are already JSON text.
    static func object(_ bytes: UnsafeRawBufferPointer, members: [Member], excluding excluded: Set<String>,
                       appending extra: [(key: String, json: [UInt8])] = []) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        func add(_ key: some Collection<UInt8>, _ value: some Collection<UInt8>) {
            out += first ? [0x0A, 0x20, 0x20] : [UInt8(ascii: ","), 0x0A, 0x20, 0x20]
            first = false
            out += key
            out += [UInt8(ascii: ":"), 0x20]
            out += value
        }
        for m in members where !excluded.contains(m.key) { add(bytes[m.keyBytes], bytes[m.value]) }
        for (key, json) in extra { add(Array("\"\(key)\"".utf8), json) }
        out += [0x0A, UInt8(ascii: "}")]
        return out
    }
}
