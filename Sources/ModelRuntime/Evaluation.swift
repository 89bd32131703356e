import TensorCore

/// Runs a session over a dataset and scores or compares its outputs.
public enum Evaluation {
    /// The first graph output for every sample, concatenated (`[count] + sampleShape`).
    public static func logits(session: Session, dataset: Dataset, batch: Int = 64) throws -> Tensor {
        try outputs(session: session, dataset: dataset, batch: batch)[session.outputNames[0]]!
    }

    /// Every graph output for every sample, concatenated along the batch.
    public static func outputs(session: Session, dataset: Dataset, batch: Int = 64) throws -> [String: Tensor] {
        let size = min(max(batch, 1), session.options.maxBatch)
        var parts: [String: [Float]] = [:]
        var shapes: [String: [Int]] = [:]
        for range in dataset.batchRanges(size: size) {
            for (name, tensor) in try session.run(dataset.feeds(range, inputNames: session.inputNames)) {
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
        /// The cosine similarity of each sample's output (row of the batch dimension): the worst
        /// and the mean, the agreement measure for outputs that are not class scores.
        public var minSampleCosine: Double = 1
        public var meanSampleCosine: Double = 1
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
        var comparison = Comparison(maxAbsError: maxError, meanAbsError: x.isEmpty ? 0 : sumError / Double(x.count),
                                    cosine: cosine, top1Agreement: agreement)
        let rows = a.shape.dims.first ?? 0
        if rows > 0, x.count % rows == 0 {
            let width = x.count / rows
            let cosines = (0..<rows).map { r in Self.cosine(x[(r * width)..<((r + 1) * width)], y[(r * width)..<((r + 1) * width)]) }
            comparison.minSampleCosine = cosines.min() ?? 1
            comparison.meanSampleCosine = cosines.reduce(0, +) / Double(rows)
        }
        return comparison
    }

    private static func cosine(_ x: ArraySlice<Float>, _ y: ArraySlice<Float>) -> Double {
        var dot = 0.0, nx = 0.0, ny = 0.0
        for (a, b) in zip(x, y) {
            dot += Double(a) * Double(b)
            nx += Double(a) * Double(a)
            ny += Double(b) * Double(b)
        }
        return nx == 0 && ny == 0 ? 1 : dot / max((nx * ny).squareRoot(), .leastNormalMagnitude)
    }
}
