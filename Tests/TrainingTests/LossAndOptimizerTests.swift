import TensorCore
import TestSupport
import XCTest
@testable import Training

/// Losses, optimizers, schedules and initialisation against numbers computed independently
/// (numpy: `Fixtures/loss_reference.py`, or by hand in the comments).
final class LossAndOptimizerTests: XCTestCase {
    let student = FloatArray(shape: [2, 3], values: [1, 2, 3, 0.5, -1, 2])
    let teacher = FloatArray(shape: [2, 3], values: [3, 2, 1, 0, 0, 1])
    let labels = [0, 2]
    /// Losses are computed in Double and rounded to f32 once.
    let lossTolerance: (rtol: Float, atol: Float) = (1e-6, 1e-7)

    func assertClose(_ a: [Float], _ e: [Double], file: StaticString = #filePath, line: UInt = #line) {
        if let f = closenessFailure(a, e.map { Float($0) }, rtol: lossTolerance.rtol, atol: lossTolerance.atol) { XCTFail(f, file: file, line: line) }
    }

    func testCrossEntropy() throws {
        let r = try Losses.crossEntropy(logits: student, labels: labels)
        assertClose([Float(r.value)], [1.3244586305507688])
        assertClose(r.gradient.values, [-0.4549847134, 0.1223642355, 0.3326204779, 0.0876451961, 0.0195562866, -0.1072014827])
    }

    func testHintonDistillation() throws {
        let r = try Losses.distillation(student: student, teacher: teacher, labels: labels, temperature: 2, alpha: 0.7)
        assertClose([Float(r.value)], [0.9522155716967877])
        assertClose(r.gradient.values, [-0.3606050815, 0.0367092707, 0.3238958108, 0.0294660079, -0.0938599943, 0.0643939864])
    }

    func testDistillationWithoutLabelsIsPureKL() throws {
        let r = try Losses.distillation(student: student, teacher: teacher, labels: nil, temperature: 2, alpha: 0.7)
        assertClose([Float(r.value)], [0.7926828321879388])
    }

    func testDistillationGradientMatchesFiniteDifferences() throws {
        let r = try Losses.distillation(student: student, teacher: teacher, labels: labels, temperature: 4, alpha: 0.9)
        for i in 0..<student.count {
            var plus = student, minus = student
            plus.values[i] += 1e-3; minus.values[i] -= 1e-3
            let numeric = (try Losses.distillation(student: plus, teacher: teacher, labels: labels, temperature: 4, alpha: 0.9).value
                - Losses.distillation(student: minus, teacher: teacher, labels: labels, temperature: 4, alpha: 0.9).value) / 2e-3
            XCTAssertEqual(Double(r.gradient.values[i]), numeric, accuracy: 1e-4)
        }
    }

    func testMSE() throws {
        let r = try Losses.mse(student: student, target: teacher)
        assertClose([Float(r.value)], [1.7083333333333333])
        assertClose(r.gradient.values, [-0.6666666667, 0, 0.6666666667, 0.1666666667, -0.3333333333, 0.3333333333])
    }

    func testBadLossInputs() {
        XCTAssertThrowsError(try Losses.crossEntropy(logits: student, labels: [0, 3])) {
            XCTAssertEqual("\($0)", "label 3 at sample 1 is outside 0..<3 (the model has 3 outputs)")
        }
        XCTAssertThrowsError(try Losses.distillation(student: student, teacher: FloatArray(zeros: [2, 4]), labels: nil, temperature: 1, alpha: 1)) {
            XCTAssertEqual("\($0)", "teacher has 4 outputs per sample but the student has 3")
        }
    }

    func twoSteps(_ optimizer: Optimizer) -> Float {
        var p: [Float] = [1]
        var state = optimizer.newState(count: 1)
        optimizer.step(parameter: &p, gradient: [0.5], state: &state, learningRate: 0.1)
        optimizer.step(parameter: &p, gradient: [-0.2], state: &state, learningRate: 0.1)
        XCTAssertEqual(state.step, 2)
        return p[0]
    }

    func testAdamTwoSteps() throws {
        XCTAssertEqual(twoSteps(try Adam(weightDecay: 0.1)), 0.8475190629593703, accuracy: 1e-6)
    }

    func testAdamWTwoSteps() throws {
        XCTAssertEqual(twoSteps(try AdamW(weightDecay: 0.1)), 0.8465394180965108, accuracy: 1e-6)
    }

    func testSGDVariantsTwoSteps() throws {
        // Plain: 1 − 0.1·0.5 = 0.95; then 0.95 + 0.1·0.2 = 0.97.
        XCTAssertEqual(twoSteps(try SGD()), 0.97, accuracy: 1e-6)
        // Momentum 0.9: b=0.5 → 0.95; b = 0.45 − 0.2 = 0.25 → 0.925.
        XCTAssertEqual(twoSteps(try SGD(momentum: 0.9)), 0.925, accuracy: 1e-6)
        // Nesterov + weight decay 0.1: g=0.6, b=0.6, step 0.6+0.54=1.14 → 0.886;
        // g = −0.2+0.0886 = −0.1114, b = 0.54−0.1114 = 0.4286, step −0.1114+0.38574 = 0.27434 → 0.858566.
        XCTAssertEqual(twoSteps(try SGD(momentum: 0.9, nesterov: true, weightDecay: 0.1)), 0.858566, accuracy: 1e-6)
    }

    func testBadHyperparameters() {
        XCTAssertThrowsError(try SGD(momentum: 0, nesterov: true)) { XCTAssertEqual("\($0)", "--nesterov needs momentum > 0 and zero dampening") }
        XCTAssertThrowsError(try LearningRatePlan(base: 0)) { XCTAssertEqual("\($0)", "--lr must be a positive number, got 0.0") }
    }

    func testSchedules() throws {
        let constant = try LearningRatePlan(base: 0.1)
        XCTAssertEqual(constant.rate(step: 99, epoch: 9, totalSteps: 100), 0.1)
        let step = try LearningRatePlan(base: 0.1, schedule: .step(everyEpochs: 3, gamma: 0.5))
        XCTAssertEqual(step.rate(step: 0, epoch: 2, totalSteps: 100), 0.1, accuracy: 1e-7)
        XCTAssertEqual(step.rate(step: 0, epoch: 3, totalSteps: 100), 0.05, accuracy: 1e-7)
        XCTAssertEqual(step.rate(step: 0, epoch: 7, totalSteps: 100), 0.025, accuracy: 1e-7)
        // Warm-up over 10 steps, then cosine over the remaining 100 from 0.1 to 0.
        let cosine = try LearningRatePlan(base: 0.1, schedule: .cosine(minimum: 0), warmupSteps: 10)
        XCTAssertEqual(cosine.rate(step: 0, epoch: 0, totalSteps: 110), 0.01, accuracy: 1e-7)
        XCTAssertEqual(cosine.rate(step: 9, epoch: 0, totalSteps: 110), 0.1, accuracy: 1e-7)
        XCTAssertEqual(cosine.rate(step: 10, epoch: 0, totalSteps: 110), 0.1, accuracy: 1e-7)
        XCTAssertEqual(cosine.rate(step: 60, epoch: 0, totalSteps: 110), 0.05, accuracy: 1e-7)
        XCTAssertEqual(cosine.rate(step: 85, epoch: 0, totalSteps: 110), 0.1 * (1 + cos(.pi * 0.75)) / 2, accuracy: 1e-7)
    }

    /// nn.Linear(20, 5): weight and bias U(±1/√20); nn.Conv2d(3, 4, 3, groups=1): U(±1/√27).
    func testDefaultInitialisationBounds() throws {
        var rng = SeededRNG(seed: 0)
        let w = ParameterInit.uniform([5, 20], fanIn: 20, rng: &rng)
        let bound = 1 / Float(20).squareRoot()
        XCTAssertTrue(w.values.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(w.values.max()!, 0.8 * bound)
        XCTAssertLessThan(w.values.min()!, -0.8 * bound)
        var again = SeededRNG(seed: 0)
        XCTAssertEqual(ParameterInit.uniform([5, 20], fanIn: 20, rng: &again), w, "seeded")
    }
}
