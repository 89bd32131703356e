import Foundation
import Yams

/// A YAML recipe: an input model, data, an accuracy budget and ordered steps, each step being one
/// ModelSmith command with the same options it takes on the command line.
///
/// ```yaml
/// model: teacher.msa          # paths are relative to the recipe file
/// output: out/digits          # every intermediate artifact is kept here
/// data: {train: train.npz, eval: test.npz}
/// budget: {max_accuracy_drop: 1.0}   # points, against the input model on data.eval
/// steps:
///   - prune: {amount: 0.8, scope: global}
///   - distill: {epochs: 10, temperature: 4, alpha: 0.9}
///   - quantize: {method: percentile, samples: 256}
///   - verify: {min-agreement: 0.95}
///   - bench: {batch: "1,64"}
/// ```
public struct Recipe: Equatable {
    public enum StepKind: String, CaseIterable, Sendable {
        case prune, distill, quantize, verify, bench
        /// Steps that write a new model (the others check or measure the current one).
        public var producesModel: Bool {
            switch self {
            case .prune, .distill, .quantize: return true
            case .verify, .bench: return false
            }
        }
    }

    public struct Step: Equatable {
        public var kind: StepKind
        /// Options as `--name value` pairs, in the recipe's order (`nil` value: a flag).
        public var options: [(name: String, value: String?)]

        public static func == (a: Step, b: Step) -> Bool {
            a.kind == b.kind && a.options.map(\.name) == b.options.map(\.name) && a.options.map(\.value) == b.options.map(\.value)
        }
    }

    public var model: String
    public var graph: String?
    public var output: String
    public var trainData: String?
    public var evalData: String?
    public var calibData: String?
    public var maxAccuracyDrop: Double?
    public var steps: [Step]

    /// Parses recipe YAML; relative paths are resolved against `baseDirectory`.
    public init(yaml text: String, file: String, baseDirectory: String) throws {
        let root = try RecipeYAML.load(text, file: file)
        guard let document = root as? [String: Any] else { throw RecipeError.malformed(file: file, reason: "the top level must be a mapping") }
        let known: Set<String> = ["name", "model", "graph", "output", "data", "budget", "steps"]
        if let unknown = document.keys.sorted().first(where: { !known.contains($0) }) {
            throw RecipeError.malformed(file: file, reason: "unknown key '\(unknown)' (expected \(known.sorted().joined(separator: ", ")))")
        }
        func path(_ value: Any?, _ key: String) throws -> String? {
            guard let value else { return nil }
            guard let text = value as? String, !text.isEmpty else { throw RecipeError.malformed(file: file, reason: "'\(key)' must be a path") }
            return text.hasPrefix("/") ? text : URL(fileURLWithPath: baseDirectory).appendingPathComponent(text).standardized.path
        }
        guard let model = try path(document["model"], "model") else { throw RecipeError.malformed(file: file, reason: "missing 'model'") }
        self.model = model
        graph = try path(document["graph"], "graph")
        output = try path(document["output"] ?? "out", "output")!
        let data = document["data"] as? [String: Any] ?? [:]
        trainData = try path(data["train"], "data.train")
        evalData = try path(data["eval"], "data.eval")
        calibData = try path(data["calib"], "data.calib") ?? trainData
        if let budget = document["budget"] {
            guard let drop = (budget as? [String: Any])?["max_accuracy_drop"], let value = Recipe.number(drop) else {
                throw RecipeError.malformed(file: file, reason: "'budget' must be {max_accuracy_drop: <points>}")
            }
            maxAccuracyDrop = value
        }
        guard let rawSteps = document["steps"] as? [Any], !rawSteps.isEmpty else {
            throw RecipeError.malformed(file: file, reason: "'steps' must be a non-empty list")
        }
        steps = try rawSteps.enumerated().map { index, raw in try Recipe.step(raw, number: index + 1, file: file) }
    }

    private static func step(_ raw: Any, number: Int, file: String) throws -> Step {
        let entry: (String, Any?)
        if let name = raw as? String { entry = (name, nil) }
        else if let map = raw as? [String: Any], map.count == 1, let only = map.first { entry = (only.key, only.value) }
        else { throw RecipeError.badStep(file: file, step: number, name: "?", reason: "must be a mapping with one key: the command") }
        guard let kind = StepKind(rawValue: entry.0) else {
            throw RecipeError.badStep(file: file, step: number, name: entry.0,
                                      reason: "unknown step (expected \(StepKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var options: [(String, String?)] = []
        if let body = entry.1 {
            guard let map = body as? [String: Any] else {
                throw RecipeError.badStep(file: file, step: number, name: kind.rawValue, reason: "options must be a mapping")
            }
            for key in map.keys.sorted() {
                let name = key.replacingOccurrences(of: "_", with: "-")
                switch map[key] {
                case let flag as Bool: if flag { options.append((name, nil)) }
                case let list as [Any]: options.append((name, list.map { "\($0)" }.joined(separator: ",")))
                case let value?: options.append((name, "\(value)"))
                case nil: break
                }
            }
        }
        return Step(kind: kind, options: options)
    }

    static func number(_ value: Any) -> Double? {
        if let d = value as? Double { return d }
        if let i = value as? Int { return Double(i) }
        return (value as? String).flatMap(Double.init)
    }
}

/// Broken recipes. Messages are one line naming the file and the step.
public enum RecipeError: Error, CustomStringConvertible, Equatable {
    case malformed(file: String, reason: String)
    case badStep(file: String, step: Int, name: String, reason: String)
    case missingData(file: String, step: Int, name: String, key: String)
    case outputNotEmpty(path: String)

    public var description: String {
        switch self {
        case .malformed(let file, let reason): return "\(file): \(reason)"
        case .badStep(let file, let step, let name, let reason): return "\(file): step \(step) (\(name)): \(reason)"
        case .missingData(let file, let step, let name, let key): return "\(file): step \(step) (\(name)) needs 'data.\(key)'"
        case .outputNotEmpty(let path): return "\(path): output folder is not empty; pass --force to reuse it"
        }
    }
}
