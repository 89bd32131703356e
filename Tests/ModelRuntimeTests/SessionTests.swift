import XCTest
import ModelGraph
import TensorCore
import TestSupport
@testable import ModelRuntime

/// Session behaviour: batches, bad input, taps, fusion, arena planning, concurrency, determinism.
final class SessionTests: XCTestCase {
    func teacher() throws -> ModelPackage { try GoldenModelTests.load("teacher").0 }
    func cnn() throws -> ModelPackage { try GoldenModelTests.load("cnn").0 }

    func testEveryBatchSizeUpToTheMaximumGivesTheSameRows() throws {
        let package = try teacher()
        let session = try Session(package: package, options: SessionOptions(maxBatch: 16))
        let x = randomTensor([16, 64], seed: 3)
        let full = try session.run(["x": x])["logits"]!.floats
        for batch in [1, 2, 5, 15, 16] {
            let part = Tensor(Array(x.floats[0..<(batch * 64)]), shape: [batch, 64])
            let rows = try session.run(["x": part])["logits"]!
            XCTAssertEqual(rows.shape, [batch, 10])
            XCTAssertNil(closenessFailure(rows.floats, Array(full[0..<(batch * 10)]), rtol: 1e-5, atol: 1e-5), "batch \(batch)")
        }
    }

    func testBadInputsAreNamed() throws {
        let session = try Session(package: try teacher(), options: SessionOptions(maxBatch: 8))
        func message(_ inputs: [String: Tensor]) -> String {
            do { _ = try session.run(inputs); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message([:]), "input 'x' is missing")
        XCTAssertEqual(message(["x": randomTensor([2, 64], seed: 1), "z": randomTensor([1], seed: 1)]), "input 'z' is not a graph input")
        XCTAssertEqual(message(["x": randomTensor([2, 63], seed: 1)]), "input 'x' has shape [2, 63]: dim 1 is 63, expected 64")
        XCTAssertEqual(message(["x": randomTensor([2, 8, 8], seed: 1)]), "input 'x' has shape [2, 8, 8], expected rank 2 [batch, 64]")
        XCTAssertEqual(message(["x": Tensor(zeros: .i64, [2, 64])]), "input 'x' has dtype i64, expected f32")
        XCTAssertEqual(message(["x": randomTensor([9, 64], seed: 1)]),
                       "input 'x' has batch 9, larger than the planned maximum 8 (raise maxBatch / --batch)")
        var bad = randomTensor([2, 64], seed: 1).floats
        bad[70] = .nan
        XCTAssertEqual(message(["x": Tensor(bad, shape: [2, 64])]), "input 'x' holds nan at flat index 70")
        bad[70] = -.infinity
        XCTAssertEqual(message(["x": Tensor(bad, shape: [2, 64])]), "input 'x' holds -inf at flat index 70")
    }

    func testTapsSeeIntermediateValues() throws {
        let package = try teacher()
        let x = randomTensor([3, 64], seed: 9)
        // Unfused, the pre-activation h1 exists; relu of it must equal the tapped a1.
        let session = try Session(package: package, options: SessionOptions(maxBatch: 4, fuse: false))
        var seen: [String: Tensor] = [:]
        let out = try session.run(["x": x], taps: ["x", "h1", "a1", "logits"]) { seen[$0] = $1 }
        XCTAssertEqual(Set(seen.keys), ["x", "h1", "a1", "logits"])
        XCTAssertEqual(seen["h1"]!.shape, [3, 512])
        XCTAssertEqual(seen["a1"]!.floats, seen["h1"]!.floats.map { max($0, 0) })
        XCTAssertTrue(seen["logits"]!.bitwiseEqual(out["logits"]!))
        XCTAssertTrue(seen["x"]!.bitwiseEqual(x))

        // Fused, a1 still exists (it is the fused node's output) but h1 does not.
        let fused = try Session(package: package, options: SessionOptions(maxBatch: 4))
        var a1: Tensor?
        _ = try fused.run(["x": x], taps: ["a1"]) { a1 = $1 }
        XCTAssertNil(closenessFailure(a1!.floats, seen["a1"]!.floats, rtol: 1e-5, atol: 1e-5))
        XCTAssertThrowsError(try fused.run(["x": x], taps: ["h1"]) { _, _ in }) {
            XCTAssertEqual("\($0)", "value 'h1' was fused into node 'fc1' at plan time; plan with SessionOptions(fuse: false) to observe it")
        }
        XCTAssertThrowsError(try fused.run(["x": x], taps: ["nope"]) { _, _ in }) {
            XCTAssertEqual("\($0)", "tap 'nope' is not a value of the graph")
        }
    }

    func testFusionRemovesReluNodesAndFoldsBatchnorm() throws {
        let teacherPlan = try Session(package: try teacher()).plan
        XCTAssertEqual(teacherPlan.steps.map(\.node), ["fc1", "fc2", "fc3"])
        let bn = try OpFixture.named("conv_bn_relu")
        XCTAssertEqual(try Session(package: bn.package).plan.steps.map(\.node), ["conv"])
        XCTAssertEqual(try Session(package: bn.package, options: SessionOptions(fuse: false)).plan.steps.map(\.node), ["conv", "bn", "act"])
    }

    /// Liveness lets values share bytes: the arena is smaller than all values side by side, and no
    /// two values alive at once overlap (checked on the unfused cnn, which has the most values).
    func testArenaIsSharedByLiveness() throws {
        let session = try Session(package: try cnn(), options: SessionOptions(maxBatch: 4, fuse: false))
        let plan = session.plan
        let bytes = plan.slots.mapValues { $0.elementsPerSample * 4 * 4 }
        let distinct = Set(plan.slots.values.map(\.offset)).count
        XCTAssertLessThan(plan.arenaBytes, bytes.values.reduce(0, +))
        XCTAssertLessThan(distinct, plan.slots.count)
        // Each step's output never overlaps its inputs.
        func range(_ value: String) -> Range<Int> {
            let slot = plan.slots[value]!
            return slot.offset..<(slot.offset + slot.elementsPerSample * 4 * plan.maxBatch)
        }
        for step in plan.steps {
            for input in step.inputs { XCTAssertFalse(range(input).overlaps(range(step.output)), "step \(step.node) input \(input)") }
        }
    }

    func testRunsAreBitIdenticalAndConcurrentRunsAgree() throws {
        let session = try Session(package: try cnn(), options: SessionOptions(maxBatch: 32, threads: 1))
        let inputs = (0..<4).map { randomTensor([32, 1, 8, 8], seed: UInt64(100 + $0)) }
        let expected = try inputs.map { try session.run(["x": $0])["logits"]! }
        for (i, x) in inputs.enumerated() { XCTAssertTrue(try session.run(["x": x])["logits"]!.bitwiseEqual(expected[i])) }
        let results = ResultBox(count: 16)
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            results.set(i, try? session.run(["x": inputs[i % 4]])["logits"])
        }
        for i in 0..<16 { XCTAssertTrue(results.get(i)?.bitwiseEqual(expected[i % 4]) ?? false, "run \(i)") }
    }

    func testTwoThreadsMatchOneWithinTolerance() throws {
        let package = try teacher()
        let x = randomTensor([64, 64], seed: 5)
        let one = try Session(package: package, options: SessionOptions(threads: 1)).run(["x": x])["logits"]!
        let two = try Session(package: package, options: SessionOptions(threads: 2))
        let a = try two.run(["x": x])["logits"]!, b = try two.run(["x": x])["logits"]!
        XCTAssertTrue(a.bitwiseEqual(b))
        XCTAssertNil(closenessFailure(a.floats, one.floats, rtol: 1e-5, atol: 1e-5))
    }

    func testBadOptions() {
        XCTAssertThrowsError(try Session(package: try teacher(), options: SessionOptions(maxBatch: 0))) {
            XCTAssertEqual("\($0)", "session option: maxBatch must be at least 1, got 0")
        }
        XCTAssertThrowsError(try Session(package: try teacher(), options: SessionOptions(threads: 0))) {
            XCTAssertEqual("\($0)", "session option: threads must be at least 1, got 0")
        }
    }

    func testQuantizedWeightsFallBackToDequantizedFP32() throws {
        var package = try teacher()
        // Symmetric per-channel int8 of fc2, as the quantized-graph convention stores it.
        let w = package.tensors["fc2.weight"]!
        let rows = w.shape[0], cols = w.shape[1]
        let values = w.floats
        var scales = [Float](), q = [Int8]()
        for r in 0..<rows {
            let row = values[(r * cols)..<((r + 1) * cols)]
            let scale = max(row.map(abs).max()!, 1e-8) / 127
            scales.append(scale)
            q += row.map { Int8(max(-127, min(127, ($0 / scale).rounded()))) }
        }
        let quantized = try q.withUnsafeBytes {
            try Tensor(dtype: .i8, shape: w.shape, bytes: $0, quant: QuantParams(scales: scales, zeroPoints: .init(repeating: 0, count: rows), axis: 0))
        }
        package.tensors["fc2.weight"] = quantized
        let data = try GoldenModelTests.load("teacher").1
        let accuracy = try Evaluation.accuracy(session: Session(package: package), dataset: data)
        XCTAssertGreaterThan(accuracy, 0.96)
    }
}

/// Collects results from concurrent runs.
final class ResultBox: @unchecked Sendable {
    private var values: [Tensor?]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ t: Tensor?) { lock.lock(); values[i] = t; lock.unlock() }
    func get(_ i: Int) -> Tensor? { lock.lock(); defer { lock.unlock() }; return values[i] }
}
