/// A value from a tensor-file header: the JSON of safetensors or the Python dict literal of `.npy`.
///
/// Objects keep their keys in order and keep duplicates, so callers can refuse them by name.
enum HeaderLiteral: Equatable {
    case object([(key: String, value: HeaderLiteral)])
    case array([HeaderLiteral])
    case string(String)
    case integer(Int)
    case number(Double)
    case bool(Bool)
    case null

    static func == (a: HeaderLiteral, b: HeaderLiteral) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)): return x.map(\.key) == y.map(\.key) && x.map(\.value) == y.map(\.value)
        case (.array(let x), .array(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.integer(let x), .integer(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    var objectPairs: [(key: String, value: HeaderLiteral)]? { if case .object(let p) = self { return p }; return nil }
    var arrayValue: [HeaderLiteral]? { if case .array(let a) = self { return a }; return nil }
    var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    var intValue: Int? { if case .integer(let i) = self { return i }; return nil }
    var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }

    /// The first value under `key` in an object.
    subscript(key: String) -> HeaderLiteral? { objectPairs?.first(where: { $0.key == key })?.value }

    /// The syntax accepted.
    enum Dialect {
        /// Strict JSON (RFC 8259).
        case json
        /// Python literals as numpy writes them: quotes `'` or `"`, `True`/`False`/`None`, tuples,
        /// trailing commas, and the `L` suffix of Python 2 integers.
        case python
    }

    /// Parses one value spanning the whole input (surrounding whitespace allowed).
    /// - Throws: `HeaderSyntaxError` with the byte offset and what was expected.
    static func parse(_ bytes: ArraySlice<UInt8>, dialect: Dialect, maxDepth: Int) throws(HeaderSyntaxError) -> HeaderLiteral {
        var parser = Parser(bytes: bytes, position: bytes.startIndex, dialect: dialect, maxDepth: maxDepth)
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.endIndex else { throw parser.error("unexpected text after the value") }
        return value
    }
}

/// Why a header failed to parse; the caller wraps it in a `FormatError` naming the file.
struct HeaderSyntaxError: Error, Equatable {
    var reason: String
}

private struct Parser {
    let bytes: ArraySlice<UInt8>
    var position: Int
    let dialect: HeaderLiteral.Dialect
    let maxDepth: Int

    func error(_ reason: String) -> HeaderSyntaxError {
        HeaderSyntaxError(reason: "\(reason) at byte \(position - bytes.startIndex)")
    }

    var current: UInt8? { position < bytes.endIndex ? bytes[position] : nil }

    mutating func skipWhitespace() {
        while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { position += 1 }
    }

    mutating func value(depth: Int) throws(HeaderSyntaxError) -> HeaderLiteral {
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth)") }
        skipWhitespace()
        guard let c = current else { throw error("unexpected end of header") }
        switch c {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return .array(try sequence(close: UInt8(ascii: "]"), depth: depth))
        case UInt8(ascii: "(") where dialect == .python: return .array(try sequence(close: UInt8(ascii: ")"), depth: depth))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "'") where dialect == .python: return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: return try keyword()
        }
    }

    mutating func expect(_ c: UInt8) throws(HeaderSyntaxError) {
        skipWhitespace()
        guard current != nil else { throw error("unexpected end of header") }
        guard current == c else { throw error("expected '\(Character(Unicode.Scalar(c)))'") }
        position += 1
    }

    /// After a comma: true when the closing bracket follows (a trailing comma, Python only).
    mutating func closesAfterComma(_ close: UInt8) throws(HeaderSyntaxError) -> Bool {
        skipWhitespace()
        guard current == close else { return false }
        guard dialect == .python else { throw error("trailing comma") }
        position += 1
        return true
    }

    mutating func object(depth: Int) throws(HeaderSyntaxError) -> HeaderLiteral {
        position += 1
        var pairs: [(key: String, value: HeaderLiteral)] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") { position += 1; return .object(pairs) }
        while true {
            skipWhitespace()
            guard let c = current, c == UInt8(ascii: "\"") || (dialect == .python && c == UInt8(ascii: "'")) else {
                throw error("expected a quoted key")
            }
            let key = try string()
            try expect(UInt8(ascii: ":"))
            pairs.append((key, try value(depth: depth + 1)))
            skipWhitespace()
            if current == UInt8(ascii: "}") { position += 1; return .object(pairs) }
            try expect(UInt8(ascii: ","))
            if try closesAfterComma(UInt8(ascii: "}")) { return .object(pairs) }
        }
    }

    mutating func sequence(close: UInt8, depth: Int) throws(HeaderSyntaxError) -> [HeaderLiteral] {
        position += 1
        var items: [HeaderLiteral] = []
        skipWhitespace()
        if current == close { position += 1; return items }
        while true {
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            if current == close { position += 1; return items }
            try expect(UInt8(ascii: ","))
            if try closesAfterComma(close) { return items }
        }
    }

    mutating func string() throws(HeaderSyntaxError) -> String {
        let quote = bytes[position]
        position += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []  // undecoded UTF-8 run
        func flush() throws(HeaderSyntaxError) {
            guard !raw.isEmpty else { return }
            guard let s = String(validating: raw, as: UTF8.self) else { throw error("string is not valid UTF-8") }
            scalars.append(contentsOf: s.unicodeScalars)
            raw.removeAll()
        }
        while true {
            guard let c = current else { throw error("unterminated string") }
            position += 1
            if c == quote { try flush(); return String(scalars) }
            guard c >= 0x20 else { throw error("control character in string") }
            guard c == UInt8(ascii: "\\") else { raw.append(c); continue }
            try flush()
            guard let e = current else { throw error("unterminated string") }
            position += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "'"): scalars.append(Unicode.Scalar(e))
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "u"): scalars.append(try unicodeEscape())
            default: throw error("unknown escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
    }

    /// `\uXXXX`, joining UTF-16 surrogate pairs.
    mutating func unicodeEscape() throws(HeaderSyntaxError) -> Unicode.Scalar {
        let high = try hex4()
        if (0xD800..<0xDC00).contains(high) {
            guard current == UInt8(ascii: "\\") else { throw error("unpaired surrogate") }
            position += 1
            guard current == UInt8(ascii: "u") else { throw error("unpaired surrogate") }
            position += 1
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low), let s = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) else {
                throw error("invalid surrogate pair")
            }
            return s
        }
        guard let s = Unicode.Scalar(high) else { throw error("invalid \\u escape") }
        return s
    }

    mutating func hex4() throws(HeaderSyntaxError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let c = current, let d = Character(Unicode.Scalar(c)).hexDigitValue else { throw error("invalid \\u escape") }
            v = v * 16 + UInt32(d)
            position += 1
        }
        return v
    }

    mutating func number() throws(HeaderSyntaxError) -> HeaderLiteral {
        let start = position
        var isInteger = true
        while let c = current {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"): position += 1
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"): isInteger = false; position += 1
            default:
                let text = String(decoding: bytes[start..<position], as: UTF8.self)
                if dialect == .python, isInteger, c == UInt8(ascii: "L") { position += 1 }
                return try numberValue(text, isInteger: isInteger)
            }
        }
        return try numberValue(String(decoding: bytes[start..<position], as: UTF8.self), isInteger: isInteger)
    }

    func numberValue(_ text: String, isInteger: Bool) throws(HeaderSyntaxError) -> HeaderLiteral {
        if isInteger {
            guard let i = Int(text) else {
                throw error(text.count > 18 ? "integer \(text) is out of range" : "invalid number '\(text)'")
            }
            return .integer(i)
        }
        guard let d = Double(text), d.isFinite else { throw error("invalid number '\(text)'") }
        return .number(d)
    }

    mutating func keyword() throws(HeaderSyntaxError) -> HeaderLiteral {
        let words: [(String, HeaderLiteral)] = dialect == .json
            ? [("true", .bool(true)), ("false", .bool(false)), ("null", .null)]
            : [("True", .bool(true)), ("False", .bool(false)), ("None", .null)]
        for (word, value) in words where bytes[position...].starts(with: word.utf8) {
            position += word.utf8.count
            return value
        }
        throw error("unexpected character")
    }
}
