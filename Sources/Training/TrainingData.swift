import TensorCore

/// The samples a run trains or evaluates on: inputs for the graph's (single) input, optional labels and
/// optional cached teacher logits, all indexed by sample along the first axis.
public struct TrainingData: Sendable {
    public var x: FloatArray
    public var labels: [Int]?
    public var teacherLogits: FloatArray?

    public init(x: FloatArray, labels: [Int]? = nil, teacherLogits: FloatArray? = nil) throws {
        let n = x.shape.first ?? 0
        if let labels, labels.count != n {
            throw TrainingError.badInput(name: "y", reason: "\(labels.count) labels for \(n) samples")
        }
        if let t = teacherLogits, t.shape.first != n {
            throw TrainingError.badInput(name: "teacher logits", reason: "\(t.shape.first ?? 0) rows for \(n) samples")
        }
        self.x = x
        self.labels = labels
        self.teacherLogits = teacherLogits
    }

    public var count: Int { x.shape.first ?? 0 }

    /// Rows `indices` of an array whose first axis is the sample.
    static func gather(_ a: FloatArray, _ indices: ArraySlice<Int>) -> FloatArray {
        let row = a.shape.dropFirst().reduce(1, *)
        var values = [Float](repeating: 0, count: indices.count * row)
        a.values.withUnsafeBufferPointer { src in
            values.withUnsafeMutableBufferPointer { dst in
                for (k, i) in indices.enumerated() {
                    (dst.baseAddress! + k * row).update(from: src.baseAddress! + i * row, count: row)
                }
            }
        }
        return FloatArray(shape: [indices.count] + a.shape.dropFirst(), values: values)
    }

    func batch(_ indices: ArraySlice<Int>) -> (x: FloatArray, labels: [Int]?, teacher: FloatArray?) {
        (Self.gather(x, indices), labels.map { l in indices.map { l[$0] } }, teacherLogits.map { Self.gather($0, indices) })
    }
}
