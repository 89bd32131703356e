import Foundation
import TensorCore

/// How the learning rate moves over training, evaluated once per optimizer step.
public enum LearningRateSchedule: Sendable, Equatable {
    /// The base rate throughout.
    case constant
    /// `StepLR`: multiply by `gamma` every `everyEpochs` epochs.
    case step(everyEpochs: Int, gamma: Float)
    /// `CosineAnnealingLR` over the steps after warm-up, from the base rate down to `minimum`.
    case cosine(minimum: Float)
}

/// A base rate, a schedule and an optional linear warm-up (from base/warmup up to base over the first
/// `warmupSteps` steps, then the schedule runs over the remaining steps).
public struct LearningRatePlan: Sendable, Equatable {
    public var base: Float
    public var schedule: LearningRateSchedule
    public var warmupSteps: Int

    public init(base: Float, schedule: LearningRateSchedule = .constant, warmupSteps: Int = 0) throws {
        guard base > 0, base.isFinite else { throw TrainingError.badHyperparameter(name: "--lr", reason: "must be a positive number, got \(base)") }
        guard warmupSteps >= 0 else { throw TrainingError.badHyperparameter(name: "--warmup", reason: "must be ≥ 0") }
        if case .step(let every, let gamma) = schedule, every <= 0 || gamma <= 0 {
            throw TrainingError.badHyperparameter(name: "--lr-step", reason: "needs a positive epoch count and gamma")
        }
        self.base = base
        self.schedule = schedule
        self.warmupSteps = warmupSteps
    }

    /// The rate for optimizer step `step` (0-based) in epoch `epoch` (0-based) of a run of `totalSteps`.
    public func rate(step: Int, epoch: Int, totalSteps: Int) -> Float {
        if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
        switch schedule {
        case .constant:
            return base
        case .step(let every, let gamma):
            return base * powf(gamma, Float(epoch / every))
        case .cosine(let minimum):
            let span = max(totalSteps - warmupSteps, 1)
            let t = Double(step - warmupSteps) / Double(span)
            return minimum + (base - minimum) * Float((1 + cos(Double.pi * t)) / 2)
        }
    }

    public var summary: [String: JSONValue] {
        var out: [String: JSONValue] = ["lr": .float(base), "warmup_steps": .number(Double(warmupSteps))]
        switch schedule {
        case .constant: out["schedule"] = "constant"
        case .step(let every, let gamma):
            out["schedule"] = "step"; out["step_epochs"] = .number(Double(every)); out["gamma"] = .float(gamma)
        case .cosine(let minimum): out["schedule"] = "cosine"; out["min_lr"] = .float(minimum)
        }
        return out
    }
}
