import Foundation
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore

/// A teacher's outputs for a set of input rows, keyed by each row's digest (`Dataset.rowDigests`),
/// so the teacher's forward passes can run apart from training — one Kubernetes Job index per
/// shard — and `distill --teacher-outputs` matches them to its samples whatever the file order
/// (docs/scale-out.md, "Teacher outputs").
///
/// On disk: an `.npz` with `row_digest` (u8 `[n, 64]`, the hex digest as ASCII), `logits` (f32
/// `[n, classes]`), `hidden.<value>` (f32 `[n, …]`, one per `--hidden` value) and
/// `teacher_digest` (u8 `[64]`, `ModelPackage.contentDigest` of the teacher).
public struct TeacherOutputs: Sendable {
    public var teacherDigest: String
    public var rowDigests: [String]
    public var logits: Tensor
    public var hidden: [String: Tensor]

    static let digestKey = "row_digest", logitsKey = "logits", teacherKey = "teacher_digest", hiddenPrefix = "hidden."

    /// Runs the teacher over `rows` of `data` (all rows by default) and keeps its first output and the `hidden` values.
    public static func compute(teacher: ModelPackage, data: Dataset, rows: Range<Int>? = nil, hidden: [String] = [],
                               options: SessionOptions = SessionOptions(maxBatch: 256)) throws -> TeacherOutputs {
        let session = try Session(package: teacher, options: options)
        guard let input = session.inputNames.first, session.inputNames.count == 1 else {
            throw RuntimeError.badOption("teacher outputs need a graph with exactly one input, this one has \(session.inputNames.count)")
        }
        let selected = rows ?? 0..<data.count
        guard !selected.isEmpty, selected.upperBound <= data.count else {
            throw TrainingError.badInput(name: input, reason: "rows \(selected) are not within the data's \(data.count) samples")
        }
        try data.checkShape(against: session.graph.inputs[0], source: "data")
        var logits: [Float] = [], states: [String: [Float]] = [:]
        var shapes: [String: [Int]] = [:]
        var start = selected.lowerBound
        while start < selected.upperBound {
            let range = start..<Swift.min(start + session.options.maxBatch, selected.upperBound)
            let outputs = try session.run([input: data.batch(range)], taps: Set(hidden)) { name, tensor in
                states[name, default: []] += tensor.floats
                shapes[name] = Array(tensor.shape.dims.dropFirst())
            }
            let first = outputs[session.outputNames[0]]!
            logits += first.floats
            shapes[logitsKey] = Array(first.shape.dims.dropFirst())
            start = range.upperBound
        }
        let n = selected.count
        return TeacherOutputs(teacherDigest: teacher.contentDigest, rowDigests: data.rowDigests(selected),
                              logits: Tensor(logits, shape: Shape([n] + shapes[logitsKey]!)),
                              hidden: states.reduce(into: [:]) { $0[$1.key] = Tensor($1.value, shape: Shape([n] + shapes[$1.key]!)) })
    }

    /// Writes the `.npz` (refusing to overwrite without `force`).
    public func write(to path: String, force: Bool = false) throws {
        var tensors = TensorMap()
        tensors[Self.teacherKey] = Self.ascii([teacherDigest])
        tensors[Self.digestKey] = Self.ascii(rowDigests)
        tensors[Self.logitsKey] = logits
        for (name, value) in hidden { tensors[Self.hiddenPrefix + name] = value }
        try PackageExporter.export(PackageContents(tensors: tensors), to: path, force: force)
    }

    /// Reads one or more parts (shards) and joins them: all from one teacher, with the same outputs.
    /// A row present in several parts keeps its first occurrence.
    public static func load(paths: [String], limits: ReadLimits = .default) throws -> TeacherOutputs {
        guard !paths.isEmpty else { throw TrainingError.badTeacherOutputs(path: "(none)", reason: "no file given") }
        var parts: [(path: String, outputs: TeacherOutputs)] = []
        for path in paths { parts.append((path, try read(path, limits: limits))) }
        let (firstPath, first) = parts[0]
        var seen = Set<String>()
        var keep: [(part: Int, row: Int)] = []
        for (index, (path, part)) in parts.enumerated() {
            if part.teacherDigest != first.teacherDigest {
                throw TrainingError.badTeacherOutputs(path: path, reason: "made by another teacher (digest \(part.teacherDigest.prefix(16))…) than \(firstPath) (\(first.teacherDigest.prefix(16))…)")
            }
            for (name, tensor) in [(logitsKey, part.logits)] + part.hidden.sorted(by: { $0.key < $1.key }).map({ (hiddenPrefix + $0.key, $0.value) }) {
                let reference = name == logitsKey ? first.logits : first.hidden[String(name.dropFirst(hiddenPrefix.count))]
                guard let reference, reference.shape.dims.dropFirst() == tensor.shape.dims.dropFirst() else {
                    throw TrainingError.badTeacherOutputs(path: path, reason: "'\(name)' has shape \(tensor.shape) unlike \(firstPath)")
                }
            }
            if part.hidden.count != first.hidden.count {
                throw TrainingError.badTeacherOutputs(path: path, reason: "holds other hidden values than \(firstPath)")
            }
            for (row, digest) in part.rowDigests.enumerated() where seen.insert(digest).inserted { keep.append((index, row)) }
        }
        func join(_ pick: (TeacherOutputs) -> Tensor) -> Tensor {
            let tensors = parts.map { pick($0.outputs) }
            let rowShape = Array(tensors[0].shape.dims.dropFirst())
            let floats = tensors.map(\.floats)
            let width = rowShape.reduce(1, *)
            var values = [Float]()
            values.reserveCapacity(keep.count * width)
            for (part, row) in keep { values += floats[part][(row * width)..<((row + 1) * width)] }
            return Tensor(values, shape: Shape([keep.count] + rowShape))
        }
        return TeacherOutputs(teacherDigest: first.teacherDigest, rowDigests: keep.map { parts[$0.part].outputs.rowDigests[$0.row] },
                              logits: join(\.logits),
                              hidden: first.hidden.keys.reduce(into: [:]) { out, name in out[name] = join { $0.hidden[name]! } })
    }

    /// The teacher logits of `digests`' rows, in that order; refuses a row with no recorded output.
    public func logits(forRows digests: [String], source: String) throws -> FloatArray {
        let index = Dictionary(rowDigests.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let width = logits.elementCount / Swift.max(rowDigests.count, 1)
        let all = logits.floats
        var values = [Float]()
        values.reserveCapacity(digests.count * width)
        for (row, digest) in digests.enumerated() {
            guard let i = index[digest] else { throw TrainingError.missingTeacherOutput(row: row, digest: digest, source: source) }
            values += all[(i * width)..<((i + 1) * width)]
        }
        return FloatArray(shape: [digests.count] + logits.shape.dims.dropFirst(), values: values)
    }

    private static func read(_ path: String, limits: ReadLimits) throws -> TeacherOutputs {
        let tensors = try WeightReaders.read(path, limits: limits).tensors
        func bad(_ reason: String) -> TrainingError { .badTeacherOutputs(path: path, reason: reason) }
        guard let digests = tensors[digestKey], let teacher = tensors[teacherKey], let logits = tensors[logitsKey] else {
            throw bad("needs '\(digestKey)', '\(teacherKey)' and '\(logitsKey)' (written by `modelsmith teacher-outputs`)")
        }
        guard let rows = strings(digests), let teacherDigest = strings(teacher.reshaped(Shape([1, teacher.elementCount])))?.first else {
            throw bad("'\(digestKey)'/'\(teacherKey)' are not u8 [n, 64] hex digests")
        }
        guard logits.dtype.isFloatingPoint, logits.shape.rank >= 2, logits.shape[0] == rows.count else {
            throw bad("'\(logitsKey)' has shape \(logits.shape), expected [\(rows.count), classes]")
        }
        var hidden: [String: Tensor] = [:]
        for (name, tensor) in tensors where name.hasPrefix(hiddenPrefix) {
            guard tensor.dtype.isFloatingPoint, tensor.shape.rank >= 1, tensor.shape[0] == rows.count else {
                throw bad("'\(name)' has shape \(tensor.shape), expected \(rows.count) rows")
            }
            hidden[String(name.dropFirst(hiddenPrefix.count))] = tensor
        }
        guard logits.floats.allSatisfy(\.isFinite) else { throw bad("'\(logitsKey)' holds NaN or Inf") }
        return TeacherOutputs(teacherDigest: teacherDigest, rowDigests: rows, logits: logits, hidden: hidden)
    }

    /// Hex digests as a u8 `[n, 64]` array of ASCII characters.
    private static func ascii(_ digests: [String]) -> Tensor {
        var out = Tensor(zeros: .u8, Shape([digests.count, 64]))
        out.withUnsafeMutableBufferPointer(of: UInt8.self) { bytes in
            for (i, digest) in digests.enumerated() { for (j, c) in digest.utf8.prefix(64).enumerated() { bytes[i * 64 + j] = c } }
        }
        return out
    }

    private static func strings(_ tensor: Tensor) -> [String]? {
        guard tensor.dtype == .u8, tensor.shape.rank == 2, tensor.shape[1] == 64 else { return nil }
        let hex = Set("0123456789abcdef".utf8)
        return tensor.withUnsafeBufferPointer(of: UInt8.self) { bytes in
            let rows = (0..<tensor.shape[0]).map { i in Array(bytes[(i * 64)..<((i + 1) * 64)]) }
            guard rows.allSatisfy({ $0.allSatisfy(hex.contains) }) else { return nil }
            return rows.map { String(decoding: $0, as: UTF8.self) }
        }
    }
}
