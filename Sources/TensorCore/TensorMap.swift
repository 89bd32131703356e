/// Named tensors in a stable order (insertion order), as a model package holds them.
public struct TensorMap: Sendable, Sequence {
    public private(set) var names: [String] = []
    private var byName: [String: Tensor] = [:]

    public init() {}

    public var count: Int { names.count }
    public var isEmpty: Bool { names.isEmpty }

    public subscript(name: String) -> Tensor? {
        get { byName[name] }
        set {
            if let t = newValue {
                if byName.updateValue(t, forKey: name) == nil { names.append(name) }
            } else if byName.removeValue(forKey: name) != nil {
                names.removeAll { $0 == name }
            }
        }
    }

    public func contains(_ name: String) -> Bool { byName[name] != nil }

    public func makeIterator() -> AnyIterator<(name: String, tensor: Tensor)> {
        var i = 0
        return AnyIterator {
            guard i < names.count else { return nil }
            defer { i += 1 }
            return (names[i], byName[names[i]]!)
        }
    }
}
