import Yams

/// Loads recipe YAML within bounds. Yams composes and constructs recursively, expands aliases by
/// copying, force-unwraps mapping keys as strings and multiplies base-60 integers without overflow
/// checks, so a deeply nested document overflowed the stack, a "billion laughs" of nested aliases
/// exhausted memory, and a complex key (`? [a]: b`) or a long sexagesimal integer
/// (`701117110771007711:0`) trapped (all found with `Fuzz/fuzz-recipe`). Recipes are small,
/// shallow, string-keyed mappings, so the text, its nesting, its expanded size, its keys and its
/// integers are checked before anything is constructed.
enum RecipeYAML {
    static let maxBytes = 1 << 20
    static let maxDepth = 64
    /// Nodes after expanding aliases.
    static let maxNodes = 100_000

    /// The document as Yams's plain values (`[String: Any]`, `[Any]`, scalars), or nil if empty.
    /// Throws `RecipeError.malformed` naming `file`.
    static func load(_ text: String, file: String) throws -> Any? {
        func refuse(_ reason: String) -> RecipeError { .malformed(file: file, reason: reason) }
        guard text.utf8.count <= maxBytes else { throw refuse("larger than \(maxBytes) bytes; a recipe is a short list of steps") }
        guard nestingBound(text) <= maxDepth else { throw refuse("nested deeper than \(maxDepth) levels") }
        let root: Node?
        do { root = try Parser(yaml: text).singleRoot() } catch {
            throw refuse(String(describing: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "invalid YAML")
        }
        guard let root else { return nil }
        try checkTree(root, file: file)
        return root.any
    }

    /// An upper bound on the nesting depth, from the text alone (so it is safe to compute on any
    /// input): unclosed flow brackets plus, per line, its indentation and its leading "- "/"? "
    /// indicators (each block level needs at least one of those). Brackets inside quoted strings
    /// and comments count too; that only overestimates.
    static func nestingBound(_ text: String) -> Int {
        var bound = 0, flow = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var block = 0, leading = true
            for byte in line.utf8 {
                switch byte {
                case UInt8(ascii: "["), UInt8(ascii: "{"): flow += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(0, flow - 1)
                case UInt8(ascii: " "), UInt8(ascii: "\t"): if leading { block += 1 }
                case UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":"): if leading { block += 1 }
                default: leading = false
                }
                bound = max(bound, flow + block)
            }
        }
        return bound
    }

    /// Walks the tree with every alias expanded (at most `maxNodes` nodes, so the walk itself is
    /// bounded however large the expansion would be) and refuses what Yams cannot construct
    /// safely: keys that are not plain scalars, merge keys (`<<`, which expand further), and
    /// unquoted YAML 1.1 sexagesimal integers (`1:30`), which Yams may overflow.
    static func checkTree(_ root: Node, file: String) throws {
        var count = 0
        var stack = [root]
        while let node = stack.popLast() {
            count += 1
            guard count <= maxNodes else {
                throw RecipeError.malformed(file: file, reason: "expands to more than \(maxNodes) values (aliases nested in aliases?)")
            }
            switch node {
            case .scalar(let scalar):
                if scalar.style == .plain, isSexagesimalInteger(scalar.string) {
                    throw RecipeError.malformed(file: file, reason: "'\(scalar.string.prefix(40))' reads as a base-60 integer; quote it")
                }
            case .sequence(let items): stack.append(contentsOf: items)
            case .mapping(let pairs):
                for pair in pairs {
                    if case .scalar(let key) = pair.key { stack.append(.scalar(key)) }
                    guard case .scalar = pair.key, ![Tag.Name.merge, .value].map(\.rawValue).contains(pair.key.tag.description) else {
                        throw RecipeError.malformed(file: file, reason: "mapping keys must be plain strings (no complex, merge or value keys)")
                    }
                    stack.append(pair.value)
                }
            }
        }
    }

    /// Digits (and `_`) in groups separated by `:`, with an optional sign: YAML 1.1's base-60 ints.
    static func isSexagesimalInteger(_ text: String) -> Bool {
        let body = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        let groups = body.split(separator: ":", omittingEmptySubsequences: false)
        return groups.count > 1 && groups.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "_") } }
    }
}
