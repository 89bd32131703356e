import Foundation
import TensorCore

/// A height/width pair of a spatial attribute (`stride`, `padding`, …). In model.json it is a
/// 2-element list `[h, w]` or a single integer meaning both.
public struct Spatial2D: Hashable, Sendable, CustomStringConvertible {
    public var h: Int
    public var w: Int

    public init(_ h: Int, _ w: Int) {
        self.h = h
        self.w = w
    }

    public init(both value: Int) { self.init(value, value) }

    public var description: String { "[\(h), \(w)]" }

    var jsonValue: JSONValue { .array([.number(Double(h)), .number(Double(w))]) }
}

/// Reads typed values out of `Node.attrs`; every failure is a `GraphError.badAttribute` naming
/// the node, the attribute and what was expected.
struct AttributeReader {
    let node: Node

    init(_ node: Node) { self.node = node }

    func bad(_ attr: String, _ reason: String) -> GraphError {
        .badAttribute(node: node.name, attr: attr, reason: reason)
    }

    private func found(_ value: JSONValue) -> String { "got \(value.compactJSON)" }

    /// An integer attribute, or `defaultValue` when absent (nil: the attribute is required).
    func int(_ key: String, default defaultValue: Int?, minimum: Int? = nil) throws -> Int {
        guard let value = node.attrs[key] else {
            guard let defaultValue else { throw bad(key, "is required") }
            return defaultValue
        }
        guard let n = value.intValue else { throw bad(key, "must be an integer, \(found(value))") }
        if let minimum, n < minimum { throw bad(key, "must be at least \(minimum), \(found(value))") }
        return n
    }

    /// A spatial attribute: `[h, w]` or one integer for both.
    func spatial(_ key: String, default defaultValue: Spatial2D?, minimum: Int) throws -> Spatial2D {
        guard let value = node.attrs[key] else {
            guard let defaultValue else { throw bad(key, "is required") }
            return defaultValue
        }
        let expectation = "must be an integer ≥ \(minimum) or a list of 2 such integers"
        let pair: Spatial2D
        if let n = value.intValue {
            pair = Spatial2D(both: n)
        } else if let list = value.arrayValue, list.count == 2, let h = list[0].intValue, let w = list[1].intValue {
            pair = Spatial2D(h, w)
        } else {
            throw bad(key, "\(expectation), \(found(value))")
        }
        guard pair.h >= minimum, pair.w >= minimum else { throw bad(key, "\(expectation), \(found(value))") }
        return pair
    }

    /// A floating-point attribute (integers accepted).
    func double(_ key: String, default defaultValue: Double) throws -> Double {
        guard let value = node.attrs[key] else { return defaultValue }
        guard let d = value.doubleValue, d.isFinite else { throw bad(key, "must be a finite number, \(found(value))") }
        return d
    }

    func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let value = node.attrs[key] else { return defaultValue }
        guard let b = value.boolValue else { throw bad(key, "must be true or false, \(found(value))") }
        return b
    }

    /// A string attribute restricted to `allowed`.
    func choice(_ key: String, default defaultValue: String, allowed: [String]) throws -> String {
        guard let value = node.attrs[key] else { return defaultValue }
        let list = allowed.map { "'\($0)'" }.joined(separator: " or ")
        guard let s = value.stringValue, allowed.contains(s) else { throw bad(key, "must be \(list), \(found(value))") }
        return s
    }

    /// A boolean written as true/false or as ONNX's 0/1.
    func flag(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let value = node.attrs[key] else { return defaultValue }
        if let b = value.boolValue { return b }
        guard let n = value.intValue, n == 0 || n == 1 else { throw bad(key, "must be true, false, 0 or 1, \(found(value))") }
        return n == 1
    }

    /// Spatial padding before and after the input: ONNX `pads` ([top, left, bottom, right], each
    /// ≥ 0) or `padding` (the same on both sides).
    func pads() throws -> (begin: Spatial2D, end: Spatial2D) {
        guard node.attrs["pads"] != nil else {
            let padding = try spatial("padding", default: Spatial2D(both: 0), minimum: 0)
            return (padding, padding)
        }
        guard node.attrs["padding"] == nil else { throw bad("pads", "and 'padding' cannot both be given") }
        guard let pads = try intList("pads", required: true), pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else {
            throw bad("pads", "must be 4 integers ≥ 0 [top, left, bottom, right], \(found(node.attrs["pads"]!))")
        }
        return (Spatial2D(pads[0], pads[1]), Spatial2D(pads[2], pads[3]))
    }

    /// Axes resolved against `rank` (negative counts from the end), sorted, distinct, never the batch axis 0.
    func resolveAxes(_ axes: [Int], rank: Int, attr: String) throws -> [Int] {
        var resolved: [Int] = []
        for axis in axes {
            let r = axis < 0 ? axis + rank : axis
            guard r >= 0, r < rank else { throw bad(attr, "has \(axis), out of range for an input of rank \(rank)") }
            guard r != 0 else { throw bad(attr, "names the batch axis, which cannot be changed") }
            guard !resolved.contains(r) else { throw bad(attr, "names axis \(r) twice") }
            resolved.append(r)
        }
        return resolved.sorted()
    }

    /// A list of integers, or nil when absent (or `required` and absent: an error).
    func intList(_ key: String, required: Bool) throws -> [Int]? {
        guard let value = node.attrs[key] else {
            if required { throw bad(key, "is required") }
            return nil
        }
        guard let list = value.arrayValue else { throw bad(key, "must be a list of integers, \(found(value))") }
        var result: [Int] = []
        for element in list {
            guard let n = element.intValue else { throw bad(key, "must be a list of integers, \(found(value))") }
            result.append(n)
        }
        return result
    }
}

extension JSONValue {
    /// One-line JSON text, for messages.
    var compactJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self), let text = String(data: data, encoding: .utf8) else { return "?" }
        return text
    }
}
