import TensorCore

/// Runs a session over a dataset and scores or compares its outputs.
public enum Evaluation {
    /// The first graph output for every sample, concatenated (`[count] + sampleShape`).
    public static func logits(session: Session, dataset: Dataset, batch: Int = 64) throws -> Tensor {
        try outputs(session: session, dataset: dataset, batch: batch)[session.outputNames[0]]!
    }

    /// Every graph output for every sample, concatenated along the batch.
    public static func outputs(session: Session, dataset: Dataset, batch: Int = 64) throws -> [String: Tensor] {
        guard let input = session.inputNames.first, session.inputNames.count == 1 else {
            throw RuntimeError.badOption("evaluation needs a graph with exactly one input, this one has \(session.inputNames.count)")
        }
        let size = min(max(batch, 1), session.options.maxBatch)
        var parts: [String: [Float]] = [:]
        var shapes: [String: [Int]] = [:]
        for range in dataset.batchRanges(size: size) {
            for (name, tensor) in try session.run([input: dataset.batch(range)]) {
                parts[name, default: []].append(contentsOf: tensor.floats)
                shapes[name] = Array(tensor.shape.dims.dropFirst())
            }
        }
        return parts.reduce(into: [:]) { result, entry in
            result[entry.key] = Tensor(entry.value, shape: Shape([dataset.count] + shapes[entry.key]!))
        }
    }

    /// Top-1 accuracy on the dataset's labels.
    public static func accuracy(session: Session, dataset: Dataset, batch: Int = 64) throws -> Double {
        guard let labels = dataset.labels else { throw RuntimeError.badOption("accuracy needs labels; the dataset has none") }
        return accuracy(logits: try logits(session: session, dataset: dataset, batch: batch), labels: labels)
    }

    /// Fraction of rows whose arg-max equals the label.
    public static func accuracy(logits: Tensor, labels: [Int]) -> Double {
        let predictions = argmax(logits)
        guard !predictions.isEmpty else { return 0 }
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(predictions.count)
    }

    /// Arg-max of each row of a `[rows, …]` tensor (first index on ties).
    public static func argmax(_ logits: Tensor) -> [Int] {
        let rows = logits.shape.dims.first ?? 0
        guard rows > 0 else { return [] }
        let width = logits.elementCount / rows
        let values = logits.floats
        return (0..<rows).map { r in
            var best = 0
            for j in 1..<max(width, 1) where values[r * width + j] > values[r * width + best] { best = j }
            return best
        }
    }

    /// How closely two models' outputs agree (same shape required).
    public struct Comparison: Sendable, Equatable {
        public var maxAbsError: Double
        public var meanAbsError: Double
        /// Cosine similarity of the two outputs as flat vectors.
        public var cosine: Double
        /// Fraction of rows with the same arg-max.
        public var top1Agreement: Double
    }

    public static func compare(_ a: Tensor, _ b: Tensor) -> Comparison {
        let x = a.floats, y = b.floats
        var maxError = 0.0, sumError = 0.0, dot = 0.0, nx = 0.0, ny = 0.0
        for i in x.indices {
            let d = abs(Double(x[i]) - Double(y[i]))
            maxError = max(maxError, d)
            sumError += d
            dot += Double(x[i]) * Double(y[i])
            nx += Double(x[i]) * Double(x[i])
            ny += Double(y[i]) * Double(y[i])
        }
        let cosine = nx == 0 && ny == 0 ? 1 : dot / max((nx * ny).squareRoot(), .leastNormalMagnitude)
        let pa = argmax(a), pb = argmax(b)
        let agreement = pa.isEmpty ? 1 : Double(zip(pa, pb).filter { $0 == $1 }.count) / Double(pa.count)
        return Comparison(maxAbsError: maxError, meanAbsError: x.isEmpty ? 0 : sumError / Double(x.count),
                          cosine: cosine, top1Agreement: agreement)
    }
}
