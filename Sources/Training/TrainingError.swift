import ModelGraph
import TensorCore

/// Broken invariants met while training. Messages are one line and name the node, tensor, file or step.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// A node's inputs do not have the shapes its op needs.
    case shapeMismatch(node: String, reason: String)
    /// The op (or this use of it) has no gradient rule (docs/ops.md, status "infer").
    case notDifferentiable(node: String, op: String)
    /// An attribute is missing, has the wrong type or an impossible value.
    case badAttribute(node: String, attr: String, reason: String)
    /// A parameter the node names is not in the package and cannot be initialised.
    case missingParameter(node: String, role: String, tensor: String)
    /// A graph input was not supplied, or has the wrong trailing shape.
    case badInput(name: String, reason: String)
    /// A label lies outside `0..<classes`.
    case labelOutOfRange(index: Int, label: Int, classes: Int)
    /// The dataset has no labels where the loss needs them.
    case missingLabels(reason: String)
    /// Teacher and student disagree on the number of outputs.
    case outputSizeMismatch(teacher: Int, student: Int)
    /// The loss became NaN or infinite.
    case nonFiniteLoss(epoch: Int, step: Int, lastCheckpoint: String?)
    /// A checkpoint file is unreadable or belongs to another run.
    case badCheckpoint(path: String, reason: String)
    /// A hyperparameter is out of its valid range.
    case badHyperparameter(name: String, reason: String)
    /// Writing a file failed.
    case writeFailed(path: String, reason: String)
    /// A teacher-outputs file is malformed or does not go with the others.
    case badTeacherOutputs(path: String, reason: String)
    /// A training sample has no recorded teacher output (other data, or a shard missing).
    case missingTeacherOutput(row: Int, digest: String, source: String)

    public var description: String {
        switch self {
        case .shapeMismatch(let node, let reason): return "node '\(node)': \(reason)"
        case .notDifferentiable(let node, let op): return "node '\(node)': op \(op) has no gradient rule, so the graph cannot be trained"
        case .badAttribute(let node, let attr, let reason): return "node '\(node)': attribute '\(attr)' \(reason)"
        case .missingParameter(let node, let role, let tensor):
            return "node '\(node)': param '\(role)' (\(tensor)) is absent and its shape cannot be inferred (give the weights or the 'out_features'/'out_channels' attribute)"
        case .badInput(let name, let reason): return "input '\(name)': \(reason)"
        case .labelOutOfRange(let index, let label, let classes):
            return "label \(label) at sample \(index) is outside 0..<\(classes) (the model has \(classes) outputs)"
        case .missingLabels(let reason): return "dataset has no labels: \(reason)"
        case .outputSizeMismatch(let teacher, let student):
            return "teacher has \(teacher) outputs per sample but the student has \(student)"
        case .nonFiniteLoss(let epoch, let step, let checkpoint):
            let kept = checkpoint.map { "; last good checkpoint kept at \($0)" } ?? "; no checkpoint was written yet"
            return "loss became NaN or infinite at epoch \(epoch), step \(step) (try a lower learning rate)\(kept)"
        case .badCheckpoint(let path, let reason): return "checkpoint \(path): \(reason)"
        case .badHyperparameter(let name, let reason): return "\(name) \(reason)"
        case .writeFailed(let path, let reason): return "cannot write \(path): \(reason)"
        case .badTeacherOutputs(let path, let reason): return "teacher outputs \(path): \(reason)"
        case .missingTeacherOutput(let row, let digest, let source):
            return "sample \(row) (row digest \(digest.prefix(16))…) has no teacher output in \(source); run teacher-outputs on this data"
        }
    }
}
