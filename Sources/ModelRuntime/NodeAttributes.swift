import ModelGraph
import TensorCore

// Reading op attributes for planning. (When the graph branch's typed attributes land, these
// helpers become thin adapters over them.)
extension Node {
    /// A spatial pair attribute: `[a, b]` or a single integer meaning both.
    func pairAttribute(_ key: String, default value: (Int, Int)) throws -> (Int, Int) {
        guard let raw = attrs[key] else { return value }
        if let n = raw.intValue { return (n, n) }
        if let list = raw.arrayValue, list.count == 2, let a = list[0].intValue, let b = list[1].intValue { return (a, b) }
        throw GraphError.badAttribute(node: name, attr: key, reason: "must be an integer or a list of 2 integers")
    }

    func intAttribute(_ key: String, default value: Int) throws -> Int {
        guard let raw = attrs[key] else { return value }
        guard let n = raw.intValue else { throw GraphError.badAttribute(node: name, attr: key, reason: "must be an integer") }
        return n
    }

    func doubleAttribute(_ key: String, default value: Double) throws -> Double {
        guard let raw = attrs[key] else { return value }
        guard let n = raw.doubleValue else { throw GraphError.badAttribute(node: name, attr: key, reason: "must be a number") }
        return n
    }

    func stringAttribute(_ key: String, default value: String) throws -> String {
        guard let raw = attrs[key] else { return value }
        guard let s = raw.stringValue else { throw GraphError.badAttribute(node: name, attr: key, reason: "must be a string") }
        return s
    }

    func intListAttribute(_ key: String) throws -> [Int]? {
        guard let raw = attrs[key] else { return nil }
        guard let list = raw.arrayValue, let ints = Optional(list.compactMap(\.intValue)), ints.count == list.count else {
            throw GraphError.badAttribute(node: name, attr: key, reason: "must be a list of integers")
        }
        return ints
    }

    /// An axis of the full (batched) shape of rank `rank`, negative counting from the end, that is
    /// not the batch axis; returned as an index into the per-sample shape.
    func sampleAxis(_ key: String, default value: Int, rank: Int) throws -> Int {
        let axis = try intAttribute(key, default: value)
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0, resolved < rank else {
            throw GraphError.badAttribute(node: name, attr: key, reason: "is \(axis), outside rank \(rank)")
        }
        guard resolved >= 1 else {
            throw RuntimeError.unsupported(node: name, reason: "\(op.rawValue) over the batch axis is not supported")
        }
        return resolved - 1
    }
}
