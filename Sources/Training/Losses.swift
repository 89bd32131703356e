import Foundation

/// A loss value (mean over the batch) and its gradient with respect to the student's logits.
public struct LossResult: Sendable {
    public var value: Double
    public var gradient: FloatArray
}

/// Losses over logits `[N, C]` (class axis last), each with its gradient. Reductions follow PyTorch:
/// cross-entropy `mean`, KL `batchmean`, MSE `mean` over all elements.
public enum Losses {
    /// Row-wise log-softmax of `logits / temperature`, in Double.
    static func logSoftmax(_ logits: [Float], rows: Int, classes: Int, temperature: Double = 1) -> [Double] {
        var out = [Double](repeating: 0, count: logits.count)
        for r in 0..<rows {
            var peak = -Double.infinity
            for c in 0..<classes { peak = max(peak, Double(logits[r * classes + c]) / temperature) }
            var sum = 0.0
            for c in 0..<classes { sum += exp(Double(logits[r * classes + c]) / temperature - peak) }
            let logSum = log(sum) + peak
            for c in 0..<classes { out[r * classes + c] = Double(logits[r * classes + c]) / temperature - logSum }
        }
        return out
    }

    static func rowsAndClasses(_ logits: FloatArray) -> (Int, Int) {
        let classes = logits.shape.last ?? 1
        return (classes > 0 ? logits.count / classes : 0, classes)
    }

    static func checkLabels(_ labels: [Int], rows: Int, classes: Int) throws {
        guard labels.count == rows else { throw TrainingError.missingLabels(reason: "\(labels.count) labels for \(rows) samples") }
        for (i, y) in labels.enumerated() where y < 0 || y >= classes {
            throw TrainingError.labelOutOfRange(index: i, label: y, classes: classes)
        }
    }

    /// `mean_i −log softmax(s_i)[y_i]`; gradient `(softmax(s) − onehot(y)) / N`.
    public static func crossEntropy(logits: FloatArray, labels: [Int]) throws -> LossResult {
        try distillation(student: logits, teacher: nil, labels: labels, temperature: 1, alpha: 0)
    }

    /// Hinton knowledge distillation:
    /// `α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1−α)·CE(s, y)`, KL with `batchmean` reduction.
    /// Without labels, α is taken as 1. Gradient: `α·T·(softmax(s/T) − softmax(t/T))/N + (1−α)·(softmax(s) − onehot(y))/N`.
    public static func distillation(student: FloatArray, teacher: FloatArray?, labels: [Int]?,
                                    temperature: Float, alpha: Float) throws -> LossResult {
        try distillation(student: student, teacher: teacher, labels: labels, temperature: temperature, alpha: alpha, batchRows: nil)
    }

    /// `batchRows`: the rows of the whole batch when `student` is a share of it (the mean divides by
    /// the whole batch, so the shares' values and gradients add up to the whole batch's).
    static func distillation(student: FloatArray, teacher: FloatArray?, labels: [Int]?,
                             temperature: Float, alpha: Float, batchRows: Int?) throws -> LossResult {
        let (rows, classes) = rowsAndClasses(student)
        let divisor = Double(batchRows ?? rows)
        let alpha = Double(labels == nil ? 1 : alpha)
        let t = Double(temperature)
        if let teacher, teacher.shape.last != classes {
            throw TrainingError.outputSizeMismatch(teacher: teacher.shape.last ?? 0, student: classes)
        }
        if let labels { try checkLabels(labels, rows: rows, classes: classes) }
        guard rows > 0 else { return LossResult(value: 0, gradient: student) }
        var grad = [Double](repeating: 0, count: student.count)
        var total = 0.0
        if let teacher, alpha > 0 {
            let logQ = logSoftmax(student.values, rows: rows, classes: classes, temperature: t)
            let logP = logSoftmax(teacher.values, rows: rows, classes: classes, temperature: t)
            var kl = 0.0
            for i in 0..<student.count {
                let p = exp(logP[i])
                if p > 0 { kl += p * (logP[i] - logQ[i]) }  // 0·log 0 = 0, as xlogy
                grad[i] += alpha * t * (exp(logQ[i]) - p) / divisor
            }
            total += alpha * t * t * kl / divisor
        }
        if let labels, alpha < 1 {
            let logQ = logSoftmax(student.values, rows: rows, classes: classes)
            var ce = 0.0
            for r in 0..<rows {
                ce -= logQ[r * classes + labels[r]]
                for c in 0..<classes {
                    let onehot: Double = c == labels[r] ? 1 : 0
                    grad[r * classes + c] += (1 - alpha) * (exp(logQ[r * classes + c]) - onehot) / divisor
                }
            }
            total += (1 - alpha) * ce / divisor
        }
        return LossResult(value: total, gradient: FloatArray(shape: student.shape, values: grad.map { Float($0) }))
    }

    /// `mean((s − t)²)` over all elements; gradient `2(s − t)/(N·C)`.
    public static func mse(student: FloatArray, target: FloatArray) throws -> LossResult {
        try mse(student: student, target: target, batchRows: nil)
    }

    static func mse(student: FloatArray, target: FloatArray, batchRows: Int?) throws -> LossResult {
        guard student.shape == target.shape else {
            throw TrainingError.outputSizeMismatch(teacher: target.shape.last ?? 0, student: student.shape.last ?? 0)
        }
        let (rows, _) = rowsAndClasses(student)
        let n = Double(max(batchRows.map { $0 * student.count / max(rows, 1) } ?? student.count, 1))
        var total = 0.0
        var grad = [Float](repeating: 0, count: student.count)
        for i in 0..<student.count {
            let d = Double(student.values[i]) - Double(target.values[i])
            total += d * d
            grad[i] = Float(2 * d / n)
        }
        return LossResult(value: total / n, gradient: FloatArray(shape: student.shape, values: grad))
    }
}

/// What a training run minimises.
public enum TrainingObjective: Sendable, Equatable {
    /// Cross-entropy on labels (`train`).
    case crossEntropy
    /// Hinton KD against cached teacher logits (`distill`); labels optional.
    case distillation(temperature: Float, alpha: Float)
    /// Mean squared error between student and teacher logits.
    case mse

    public var needsTeacher: Bool { self != .crossEntropy }

    /// `batchRows`: the whole batch's rows when `student` is one share of it (see `Losses.distillation`).
    func evaluate(student: FloatArray, teacher: FloatArray?, labels: [Int]?, batchRows: Int? = nil) throws -> LossResult {
        switch self {
        case .crossEntropy:
            guard let labels else { throw TrainingError.missingLabels(reason: "cross-entropy training needs labels (the 'y' key)") }
            return try Losses.distillation(student: student, teacher: nil, labels: labels, temperature: 1, alpha: 0, batchRows: batchRows)
        case .distillation(let temperature, let alpha):
            return try Losses.distillation(student: student, teacher: teacher, labels: labels, temperature: temperature, alpha: alpha,
                                           batchRows: batchRows)
        case .mse:
            guard let teacher else { throw TrainingError.missingLabels(reason: "mse needs teacher logits") }
            return try Losses.mse(student: student, target: teacher, batchRows: batchRows)
        }
    }
}
