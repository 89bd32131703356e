import XCTest
import Kernels
import ModelGraph
@testable import ModelRuntime
import Pruning
import TensorCore
import TestSupport
@testable import Quantization

/// Pruned, then quantized models through the Session: the sparse INT8 kernels are bound exactly
/// where `SparseBreakEven` says they win, and the sparse path gives the dense INT8 session's
/// logits bit for bit (integer products are exact); a pruned FP32 CNN runs its convs on the
/// sparse conv kernel and agrees with the dense session within float rounding.
final class SparseInt8SessionTests: XCTestCase {
    private func fixture(_ name: String) -> String { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)").path }

    /// The golden model pruned (global L1, `amount`) over its weight layers, and the test inputs.
    private func pruned(_ model: String, image: Bool, amount: Double) throws -> (ModelPackage, Dataset, Dataset) {
        let package = try ModelPackage.load(path: fixture("\(model).weights.npz"), graphPath: fixture("\(model).model.json"))
        let weights = package.graph.nodes.filter { $0.op.hasWeightMatrix }.compactMap { $0.params["weight"] }
        let p = try package.pruned(weights, by: L1Unstructured(amount: .fraction(amount)), scope: .global)
        let suffix = image ? "_img" : ""
        let train = try Dataset.load(path: fixture("digits.npz"), xKey: "x_train\(suffix)", yKey: "y_train")
        let test = try Dataset.load(path: fixture("digits.npz"), xKey: "x_test\(suffix)", yKey: "y_test")
        return (p, train, test)
    }

    /// `package` quantized with the default method on 256 training samples.
    private func quantized(_ package: ModelPackage, _ train: Dataset) throws -> ModelPackage {
        let stats = try Calibrator.collect(session: Session(package: package), values: Quantizer.calibratedValues(package.graph),
                                           data: train, samples: 256)
        return try Quantizer.quantize(package, statistics: stats, method: .default, scheme: QuantScheme()).package
    }

    private func session(_ package: ModelPackage, _ policy: KernelRegistry.SparsePolicy) throws -> Session {
        let saved = KernelRegistry.sparsePolicy
        defer { KernelRegistry.sparsePolicy = saved }
        KernelRegistry.sparsePolicy = policy
        return try Session(package: package, options: SessionOptions(maxBatch: 64))
    }

    private func logits(_ session: Session, _ data: Dataset, rows: Range<Int>) throws -> [Float] {
        try XCTUnwrap(session.run(["x": data.batch(rows)])["logits"]).floats
    }

    func testPrunedQuantizedTeacherBindsByBreakEvenAndMatchesDenseExactly() throws {
        let (p, train, x) = try pruned("teacher", image: false, amount: 0.9)
        let q = try quantized(p, train)
        let chosen = try session(q, .breakEven), dense = try session(q, .never), sparse = try session(q, .always)

        // Bound where the break-even says so: for the teacher's 512×64, 512×512 and 10×512 layers
        // the sparse INT8 product never won (docs/benchmarks.md), so none is.
        let kernels = chosen.plan.steps.compactMap { $0.kernel as? Int8LinearKernel }
        XCTAssertEqual(kernels.count, 3)
        for k in kernels {
            let zeros = k.layer.matmul.weights.filter { $0 == 0 }.count
            let sparsity = Double(zeros) / Double(k.layer.matmul.weights.count)
            let wins = [1, 16, 64].contains { SparseBreakEven.prefersSparseInt8(sparsity: sparsity, rows: k.layer.n, cols: k.layer.k, m: $0) }
            XCTAssertEqual(k.sparse != nil, wins, "\(k.layer.n)x\(k.layer.k) at sparsity \(sparsity)")
        }
        // Forced onto every layer, the sparse path runs and gives the dense logits bit for bit.
        let forced = sparse.plan.steps.compactMap { $0.kernel as? Int8LinearKernel }
        XCTAssertEqual(forced.count, 3)
        XCTAssertTrue(forced.allSatisfy { $0.sparse != nil && $0.usesSparse(batch: 1) && $0.usesSparse(batch: 64) })
        XCTAssertGreaterThan(try XCTUnwrap(forced.first { $0.layer.n == 512 && $0.layer.k == 512 }?.sparse).sparsity, 0.9)
        for rows in [0..<1, 0..<64, 3..<20] {
            let expected = try logits(dense, x, rows: rows)
            XCTAssertEqual(try logits(sparse, x, rows: rows).map(\.bitPattern), expected.map(\.bitPattern), "rows \(rows)")
            XCTAssertEqual(try logits(chosen, x, rows: rows).map(\.bitPattern), expected.map(\.bitPattern), "rows \(rows)")
        }
    }

    /// A layer large enough for the sparse INT8 product to win at batch 1 (4096×4096, 1/64 kept): the
    /// session binds it, runs it at batch 1 and the dense product at 64, with equal outputs.
    func testLargeSparseInt8LayerRunsSparseAtBatchOne() throws {
        let (n, k) = (4096, 4096)
        var rng = SeededRNG(seed: 1)
        let w = (0..<n * k).map { _ -> UInt8 in rng.next() % 64 == 0 ? UInt8(bitPattern: Int8(Int(rng.next() % 255) - 127)) : 0 }
        var weight = try Tensor(dtype: .i8, shape: [n, k], bytes: w)
        weight.quant = QuantParams(scales: [Float](repeating: 1e-3, count: n), zeroPoints: [Int32](repeating: 0, count: n), axis: 0)
        let graph = Graph(name: "big", inputs: [ValueInfo(name: "x", shape: [-1, k])], outputs: ["y"], nodes: [
            Node(name: "fc", op: .linear, inputs: ["x"], output: "y", params: ["weight": "fc.weight", "bias": "fc.bias"],
                 attrs: ["input_quant": ["scale": .float(0.01), "zero_point": .number(3), "dtype": .string("u8")]]),
        ])
        var tensors = TensorMap()
        tensors["fc.weight"] = weight
        tensors["fc.bias"] = randomTensor([n], seed: 2)
        let package = ModelPackage(graph: graph, tensors: tensors)
        let chosen = try session(package, .breakEven), dense = try session(package, .never)
        let kernel = try XCTUnwrap(chosen.plan.steps.compactMap { $0.kernel as? Int8LinearKernel }.first)
        XCTAssertNotNil(kernel.sparse)
        XCTAssertTrue(kernel.usesSparse(batch: 1))
        XCTAssertFalse(kernel.usesSparse(batch: 64))
        for batch in [1, 2] {
            let x = randomTensor([batch, k], seed: 3, lower: 0, upper: 2)
            let a = try XCTUnwrap(chosen.run(["x": x])["y"]).floats
            let b = try XCTUnwrap(dense.run(["x": x])["y"]).floats
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "batch \(batch)")
        }
    }

    func testPrunedCNNRunsSparseConvs() throws {
        let (p, train, x) = try pruned("cnn", image: true, amount: 0.9)
        let chosen = try session(p, .breakEven), dense = try session(p, .never)
        // Each conv is bound to the sparse kernel iff its pruned weight passes its break-even at
        // some batch size (global pruning leaves conv1 denser than conv2).
        for conv in ["conv1", "conv2"] {
            let w = try XCTUnwrap(p.tensors["\(conv).weight"])
            let sparsity = Double(w.floats.filter { $0 == 0 }.count) / Double(w.elementCount)
            let g = Conv2dGeometry(inChannels: w.shape[1], inHeight: 8, inWidth: 8, outChannels: w.shape[0], kernel: (3, 3), padding: (1, 1))
            let step = try XCTUnwrap(chosen.plan.steps.first { $0.node == conv })
            let wins = [1, 16, 64].map { SparseBreakEven.prefersSparseConv(sparsity: sparsity, geometry: g, batch: $0) }
            let kernel = step.kernel as? SparseConv2dKernel
            XCTAssertEqual(kernel != nil, wins.contains(true), "\(conv) at sparsity \(sparsity)")
            if let kernel { XCTAssertEqual([1, 16, 64].map(kernel.usesSparse), wins, conv) }
        }
        XCTAssertTrue(chosen.plan.steps.contains { $0.kernel is SparseConv2dKernel }, "the 90%-pruned CNN runs a sparse conv")

        // Agreement with the dense session: per layer within SparseLinear.tolerance of Σ|w·x|
        // (SparseConv2dTests); through the network, within 1e-4 of the logits' magnitude.
        for rows in [0..<1, 0..<64] {
            let a = try logits(chosen, x, rows: rows), b = try logits(dense, x, rows: rows)
            let scale = b.map(abs).max() ?? 1
            for i in a.indices where !(abs(a[i] - b[i]) <= 1e-4 * (scale + 1)) {
                return XCTFail("rows \(rows) logit \(i): sparse \(a[i]) vs dense \(b[i])")
            }
        }

        // Quantized after pruning: the INT8 conv and linear layers forced onto the sparse product
        // give the dense INT8 session's logits bit for bit.
        let q = try quantized(p, train)
        let int8Sparse = try session(q, .always), int8Dense = try session(q, .never)
        let sparseConvs = int8Sparse.plan.steps.compactMap { $0.kernel as? Int8Conv2dKernel }
        XCTAssertEqual(sparseConvs.count, 2)
        XCTAssertTrue(sparseConvs.allSatisfy { $0.sparse != nil && $0.usesSparse(samples: 1) })
        for rows in [0..<1, 0..<64] {
            XCTAssertEqual(try logits(int8Sparse, x, rows: rows).map(\.bitPattern), try logits(int8Dense, x, rows: rows).map(\.bitPattern))
        }
    }
}
