import XCTest
import CKernels
import Kernels
import ModelFormats
import ModelGraph
@testable import ModelRuntime
import TensorCore
import TestSupport
@testable import Quantization

/// Consecutive INT8 layers pass u8 codes (DESIGN §5): the session requantizes an INT8 layer's
/// accumulators straight to the next layer's `input_quant`, and the result is the same, integer
/// for integer, on every exact product this CPU has (oneDNN, the s16 AVX-512 / AVX2 products, the
/// C reference), and in a chain built by hand from `Int8Linear` layers on the C reference product.
final class Int8ChainTests: XCTestCase {
    private func fixture(_ name: String) -> String { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)").path }

    /// The golden model quantized with the default method on 256 training samples, and the test inputs.
    private func quantized(_ model: String, image: Bool, exclude: Set<String> = [], weightBits: Int = 8) throws -> (ModelPackage, Tensor) {
        let package = try ModelPackage.load(path: fixture("\(model).weights.npz"), graphPath: fixture("\(model).model.json"))
        let suffix = image ? "_img" : ""
        let train = try Dataset.load(path: fixture("digits.npz"), xKey: "x_train\(suffix)", yKey: "y_train")
        let test = try Dataset.load(path: fixture("digits.npz"), xKey: "x_test\(suffix)", yKey: "y_test")
        let stats = try Calibrator.collect(session: Session(package: package), values: Quantizer.calibratedValues(package.graph),
                                           data: train, samples: 256)
        let (q, _) = try Quantizer.quantize(package, statistics: stats, method: .default, scheme: QuantScheme(weightBits: weightBits), exclude: exclude)
        return (q, test.batch(0..<64))
    }

    /// A session whose INT8 layers all run on `product` (nil: each layer's default).
    private func session(_ package: ModelPackage, product: Int8Product?, maxBatch: Int = 64) throws -> Session {
        let saved = KernelRegistry.int8Product
        defer { KernelRegistry.int8Product = saved }
        KernelRegistry.int8Product = product
        return try Session(package: package, options: SessionOptions(maxBatch: maxBatch))
    }

    /// Every exact product this CPU has for the package's INT8 weights (the reference last).
    private func products(_ package: ModelPackage) -> [Int8Product] {
        let maxAbs = package.tensors.map(\.tensor).filter { $0.dtype == .i8 }
            .map { $0.withUnsafeBufferPointer(of: Int8.self) { $0.reduce(0) { max($0, abs(Int($1))) } } }.max() ?? 0
        let products = Int8Product.available(maxAbsWeight: maxAbs)
        XCTAssertTrue(products.count > 1 || ck_cpu_has(UInt32(CK_CPU_AVX2)) == 0, "a fast product besides the reference")
        print("INT8 products for |w| ≤ \(maxAbs): \(products)")
        return products
    }

    private func inputQuantization(_ package: ModelPackage, _ node: String) throws -> ActivationQuantization {
        try XCTUnwrap(KernelRegistry.int8Input(of: XCTUnwrap(package.graph.node(named: node)), tensors: package.tensors))
    }

    private func layer(_ package: ModelPackage, _ node: String) throws -> Int8Linear {
        try Int8Linear(weight: XCTUnwrap(package.tensors["\(node).weight"]), bias: package.tensors["\(node).bias"],
                       input: inputQuantization(package, node))
    }

    func testTeacherChainEqualsHandBuiltReferenceChainExactly() throws {
        let (q, x) = try quantized("teacher", image: false)
        let fast = try session(q, product: nil), portable = try session(q, product: .reference)
        XCTAssertEqual(fast.plan.slots["a1"]?.u8, try inputQuantization(q, "fc2"), "fc1 → fc2 passes u8")
        XCTAssertEqual(fast.plan.slots["a2"]?.u8, try inputQuantization(q, "fc3"), "fc2 → fc3 passes u8")
        XCTAssertNil(fast.plan.slots["logits"]?.u8, "graph outputs stay f32")

        // The chain by hand: quantize x, then u8 → u8 → f32 on the C product and the portable C
        // epilogues (the session may use the AVX-512 ones; they are tested equal in KernelsTests).
        ck_int8_force_portable(1)
        let (fc1, fc2, fc3) = (try layer(q, "fc1"), try layer(q, "fc2"), try layer(q, "fc3"))
        let m = x.shape[0]
        var x0 = [UInt8](repeating: 0, count: m * 64)
        x.withUnsafeBufferPointer(of: Float.self) { fc1.input.quantize($0.baseAddress!, count: m * 64, into: &x0) }
        var acc = [Int32](repeating: 0, count: m * 512)
        var a1 = [UInt8](repeating: 0, count: m * 512), a2 = a1
        var logits = [Float](repeating: 0, count: m * 10)
        try fc1.forward(x0, m: m, accumulators: &acc, output: &a1, mode: .u8(fc2.input, relu: true), reference: true)
        try fc2.forward(a1, m: m, accumulators: &acc, output: &a2, mode: .u8(fc3.input, relu: true), reference: true)
        try fc3.forward(a2, m: m, accumulators: &acc, output: &logits, mode: .f32(relu: false), reference: true)
        let portableLogits = try portable.run(["x": x])["logits"]!.floats
        ck_int8_force_portable(0)

        var tapped: [String: Tensor] = [:]
        let fastLogits = try fast.run(["x": x], taps: ["a1", "a2"]) { tapped[$0] = $1 }["logits"]!
        XCTAssertEqual(fastLogits.floats, logits, "default chain == hand-built reference chain, bit for bit")
        for product in products(q) {
            XCTAssertEqual(try session(q, product: product).run(["x": x])["logits"]!.floats, logits, "\(product) chain")
        }
        XCTAssertEqual(portableLogits, logits, "portable chain (C product, C epilogues) == hand-built reference chain")
        // Taps of u8 values deliver their dequantized codes.
        XCTAssertEqual(tapped["a1"]?.shape.dims, [m, 512])
        XCTAssertEqual(tapped["a1"]?.floats, a1.map { Float(Int32($0) - fc2.input.zeroPoint) * fc2.input.scale })
        XCTAssertEqual(tapped["a2"]?.floats, a2.map { Float(Int32($0) - fc3.input.zeroPoint) * fc3.input.scale })
    }

    /// The CNN chains conv1 → conv2 and fc1 → fc2 (the pool between conv2 and fc1 reads f32), and
    /// every product agrees with the reference bit for bit, at every batch size (conv chunks included).
    func testCNNChainAgreesWithPortablePathExactly() throws {
        let (q, x) = try quantized("cnn", image: true)
        let fast = try session(q, product: nil), portable = try session(q, product: .reference)
        XCTAssertNotNil(fast.plan.slots["r1"]?.u8, "conv1 → conv2 passes u8")
        XCTAssertNil(fast.plan.slots["r2"]?.u8, "conv2 → maxpool stays f32")
        XCTAssertNotNil(fast.plan.slots["a1"]?.u8, "fc1 → fc2 passes u8")
        for product in products(q) {
            let session = try session(q, product: product)
            for batch in [1, 5, 64] {
                let xb = try Dataset(x: x).batch(0..<batch)
                XCTAssertEqual(try session.run(["x": xb])["logits"]!.floats, try portable.run(["x": xb])["logits"]!.floats,
                               "\(product) batch \(batch)")
            }
        }
    }

    /// One artifact, one answer: an `.msa` written once, with 8-bit or 7-bit weights, read back and
    /// run on each exact product this CPU has gives the same output bytes as on the reference
    /// (teacher and CNN, batch 1 and 64), and so do the default products (which, without VNNI, mix
    /// the s16 product at few rows with oneDNN for 7-bit weights). The products are what other CPUs run by default
    /// (VNNI: oneDNN; AVX-512 or AVX2 without VNNI: the s16 products, or oneDNN for 7-bit weights).
    func testSameArtifactGivesTheSameBytesOnEveryProduct() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("int8-portable-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (model, image) in [("teacher", false), ("cnn", true)] {
            for weightBits in [8, 7] {
                let (q, x) = try quantized(model, image: image, weightBits: weightBits)
                let path = directory.appendingPathComponent("\(model)-\(weightBits).msa").path
                _ = try Artifact.write(q.contents, to: path, options: ArtifactWriteOptions(force: false))
                let artifact = try ModelPackage(contents: Artifact.read(path))
                let products = products(artifact)
                if weightBits == 7 { XCTAssertEqual(products.first, .oneDNN, "7-bit weights run on oneDNN on every CPU") }
                for batch in [1, 64] {
                    let xb = try Dataset(x: x).batch(0..<batch)
                    let expected = try session(artifact, product: .reference).run(["x": xb])["logits"]!.floats.map(\.bitPattern)
                    for product in [nil] + products {
                        let got = try session(artifact, product: product).run(["x": xb])["logits"]!.floats.map(\.bitPattern)
                        XCTAssertEqual(got, expected, "\(model) \(weightBits)-bit on \(product.map(\.description) ?? "the default products"), batch \(batch)")
                    }
                }
            }
        }
    }

    /// A value read by an FP32 layer (here fc3, excluded) stays f32; unfused sessions never chain.
    func testChainStopsAtFP32ReadersAndWithoutFusion() throws {
        let (q, _) = try quantized("teacher", image: false, exclude: ["fc3"])
        let fused = try Session(package: q)
        XCTAssertNotNil(fused.plan.slots["a1"]?.u8)
        XCTAssertNil(fused.plan.slots["a2"]?.u8, "fc3 runs FP32 and reads f32")
        let unfused = try Session(package: q, options: SessionOptions(fuse: false))
        XCTAssertTrue(unfused.plan.slots.values.allSatisfy { $0.u8 == nil })
    }

    /// Requantizing accumulators directly (`(acc + offset) · (s_acc / s_next)`) and the float round
    /// trip (dequantize `(acc + offset) · s_acc`, ReLU, quantize `/ s_next`) round the same real value
    /// through different float operations: codes may differ by one at a rounding tie, never more.
    func testChainedCodesMatchTheFloatRoundTripWithinOneCode() throws {
        let (q, x) = try quantized("teacher", image: false)
        let (fc1, fc2) = (try layer(q, "fc1"), try layer(q, "fc2"))
        let m = x.shape[0]
        var x0 = [UInt8](repeating: 0, count: m * 64)
        x.withUnsafeBufferPointer(of: Float.self) { fc1.input.quantize($0.baseAddress!, count: m * 64, into: &x0) }
        var acc = [Int32](repeating: 0, count: m * 512)
        var chained = [UInt8](repeating: 0, count: m * 512), roundTrip = chained
        var h1 = [Float](repeating: 0, count: m * 512)
        try fc1.forward(x0, m: m, accumulators: &acc, output: &chained, mode: .u8(fc2.input, relu: true), reference: true)
        try fc1.forward(x0, m: m, accumulators: &acc, output: &h1, mode: .f32(relu: true), reference: true)
        fc2.input.quantize(h1, count: h1.count, into: &roundTrip)
        let differences = zip(chained, roundTrip).map { abs(Int($0) - Int($1)) }
        XCTAssertLessThanOrEqual(differences.max()!, 1)
        XCTAssertLessThan(Double(differences.filter { $0 != 0 }.count) / Double(differences.count), 0.01, "ties are rare")
    }

    /// The INT8 conv gives the same bytes whether a run's samples go through one product or one per
    /// chunk (here one sample per chunk, with a remainder), for u8 and f32 outputs, u8 and f32 inputs.
    func testConvChunksGiveTheSameBytes() throws {
        let g = Conv2dGeometry(inChannels: 3, inHeight: 6, inWidth: 5, outChannels: 4, kernel: (3, 3), stride: (1, 2),
                               padding: (1, 1), dilation: (1, 1), groups: 1)
        let weight = QuantScheme().quantizeWeight(randomTensor([4, 3, 3, 3], seed: 31))
        let layer = try Int8Linear(weight: weight, bias: randomTensor([4], seed: 32),
                                   input: ActivationQuantization(scale: 0.02, zeroPoint: 100))
        let batch = 5, inCount = 3 * 6 * 5, outCount = 4 * g.outHeight * g.outWidth
        let x = randomTensor([batch * inCount], seed: 33, lower: -2, upper: 2).floats
        var codes = [UInt8](repeating: 0, count: x.count)
        layer.input.quantize(x, count: x.count, into: &codes)
        let context = try ExecutionContext()
        for output in [Int8Output.u8(ActivationQuantization(scale: 0.05, zeroPoint: 3), relu: true), .f32(relu: false)] {
            for inputIsU8 in [false, true] {
                var results: [[UInt8]] = []
                for rowsPerChunk in [4096, 1] {
                    let kernel = Int8Conv2dKernel(layer: layer, geometry: g, inputIsU8: inputIsU8, output: output,
                                                  rowsPerChunk: rowsPerChunk)
                    let arena = UnsafeMutableRawPointer.allocate(byteCount: 8192, alignment: 64)
                    defer { arena.deallocate() }
                    arena.initializeMemory(as: UInt8.self, repeating: 0, count: 8192)
                    if inputIsU8 { arena.copyMemory(from: codes, byteCount: codes.count) } else { arena.copyMemory(from: x, byteCount: x.count * 4) }
                    try kernel.run(batch: batch, buffers: KernelBuffers(base: arena, inputOffsets: [0], outputOffset: 4096), context: context)
                    let bytes = batch * outCount * (output == .f32(relu: false) ? 4 : 1)
                    results.append(Array(UnsafeBufferPointer(start: (arena + 4096).assumingMemoryBound(to: UInt8.self), count: bytes)))
                }
                XCTAssertEqual(results[0], results[1], "\(output) input u8 \(inputIsU8)")
                XCTAssertGreaterThan(Set(results[0]).count, 10, "a non-trivial output")
            }
        }
    }

    /// INT8 runs take their working memory and oneDNN objects from their own arena's context:
    /// concurrent runs (several arenas at once) give the same bits as serial ones.
    func testConcurrentINT8RunsAgreeWithSerialRuns() throws {
        let (q, x) = try quantized("cnn", image: true)
        let session = try session(q, product: nil)
        let batches = [1, 3, 16, 64].map { try! Dataset(x: x).batch(0..<$0) }
        let serial = try batches.map { try session.run(["x": $0])["logits"]!.floats }
        let results = ConcurrentResults(count: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            results.set(i, (try? session.run(["x": batches[i % 4]])["logits"]!.floats) ?? [])
        }
        for i in 0..<8 { XCTAssertEqual(results.get(i), serial[i % 4], "run \(i)") }
    }
}

/// Results written from several threads.
private final class ConcurrentResults: @unchecked Sendable {
    private var values: [[Float]]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ value: [Float]) { lock.lock(); values[i] = value; lock.unlock() }
    func get(_ i: Int) -> [Float] { lock.lock(); defer { lock.unlock() }; return values[i] }
}
