import Yams

/// Loads recipe YAML within bounds: Yams composes and constructs recursively and expands aliases
/// by copying, so a deeply nested document overflows the stack and a "billion laughs" of nested
/// aliases exhausts memory (both found by `Fuzz/fuzz-recipe`). Recipes are small and shallow, so
/// the text, its nesting and its expanded size are capped before anything is constructed.
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
        guard expandedNodeCount(root, limit: maxNodes) <= maxNodes else {
            throw refuse("expands to more than \(maxNodes) values (aliases nested in aliases?)")
        }
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

    /// Nodes in the tree with every alias expanded, counting at most up to `limit + 1` (so the
    /// walk itself is bounded, however large the expansion would be).
    static func expandedNodeCount(_ root: Node, limit: Int) -> Int {
        var count = 0
        var stack = [root]
        while let node = stack.popLast(), count <= limit {
            count += 1
            switch node {
            case .scalar: break
            case .sequence(let items): stack.append(contentsOf: items)
            case .mapping(let pairs): for pair in pairs { stack.append(pair.key); stack.append(pair.value) }
            }
        }
        return count
    }
}
