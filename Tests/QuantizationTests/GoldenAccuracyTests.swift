import XCTest
import ModelGraph
import ModelRuntime
import TensorCore
@testable import Quantization

/// INT8 accuracy on the golden digits models (PyTorch-trained, copied into Fixtures), run through
/// the runtime's INT8 kernels; calibration on the first 256 training samples (as the ONNX Runtime
/// peer measurement in docs/quantization.md).
final class GoldenAccuracyTests: XCTestCase {
    static let calibrationSamples = 256
    /// Allowed INT8 accuracy loss (issue 4): half a percentage point.
    static let maxDrop = 0.005

    private func fixture(_ name: String) -> String { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)").path }

    private func load(_ model: String) throws -> ModelPackage {
        try ModelPackage.load(path: fixture("\(model).weights.npz"), graphPath: fixture("\(model).model.json"))
    }

    private func data(image: Bool) throws -> (train: Dataset, test: Dataset) {
        let suffix = image ? "_img" : ""
        return (try Dataset.load(path: fixture("digits.npz"), xKey: "x_train\(suffix)", yKey: "y_train"),
                try Dataset.load(path: fixture("digits.npz"), xKey: "x_test\(suffix)", yKey: "y_test"))
    }

    private func accuracies(_ package: ModelPackage, image: Bool, methods: [CalibrationMethod])
        throws -> (fp32: Double, int8: [CalibrationMethod: Double]) {
        let (train, test) = try data(image: image)
        let session = try Session(package: package)
        let fp32 = try Evaluation.accuracy(session: session, dataset: test)
        let stats = try Calibrator.collect(session: session, values: Quantizer.calibratedValues(package.graph),
                                           data: train, samples: Self.calibrationSamples)
        var int8: [CalibrationMethod: Double] = [:]
        for method in methods {
            let (q, _) = try Quantizer.quantize(package, statistics: stats, method: method, scheme: QuantScheme())
            int8[method] = try Evaluation.accuracy(session: Session(package: q), dataset: test)
        }
        return (fp32, int8)
    }

    static let allMethods: [CalibrationMethod] = [.minmax, .percentile(99.99), .entropy, .mse]

    func testTeacherINT8WithinHalfPointForEveryMethod() throws {
        let (fp32, int8) = try accuracies(load("teacher"), image: false, methods: Self.allMethods)
        XCTAssertEqual(fp32, 0.975, accuracy: 1e-9)  // golden PyTorch accuracy
        for (method, accuracy) in int8 { XCTAssertGreaterThanOrEqual(accuracy, fp32 - Self.maxDrop, "\(method)") }
        print("teacher fp32 \(fp32) int8 \(int8.map { "\($0.key.name)=\($0.value)" }.sorted())")
    }

    func testCNNINT8WithinHalfPointForEveryMethod() throws {
        let (fp32, int8) = try accuracies(load("cnn"), image: true, methods: Self.allMethods)
        XCTAssertEqual(fp32, 0.9778, accuracy: 1e-4)
        for (method, accuracy) in int8 { XCTAssertGreaterThanOrEqual(accuracy, fp32 - Self.maxDrop, "\(method)") }
        print("cnn fp32 \(fp32) int8 \(int8.map { "\($0.key.name)=\($0.value)" }.sorted())")
    }

    /// The teacher with hidden unit 0 of fc1 turned into a rare detector (gain 1000 on one pixel,
    /// firing on the fewest calibration samples that any pixel above half the maximum does) whose outgoing fc2 weights are zero: the FP32 function is
    /// unchanged, but `a1` (fc2's input) now has rare values in the thousands. The default method
    /// must keep FP32 accuracy; min/max, which spends the 8-bit range on the outlier, must not.
    func testDefaultMethodKeepsAccuracyOnOutlierModel() throws {
        let package = try outlierTeacher()
        let (fp32, int8) = try accuracies(package, image: false, methods: Self.allMethods)
        print("outlier model fp32 \(fp32) int8 \(int8.map { "\($0.key.name)=\($0.value)" }.sorted())")
        XCTAssertEqual(fp32, 0.975, accuracy: 1e-9, "the detector does not change the FP32 function")
        XCTAssertGreaterThanOrEqual(int8[.default]!, fp32 - Self.maxDrop, "default \(CalibrationMethod.default)")
        XCTAssertLessThan(int8[.minmax]!, fp32 - 0.02, "min/max should lose accuracy here")
    }

    /// The fixture ONNX Runtime is measured on (`Fixtures/make_outlier_teacher.py`) is this model, bit for bit.
    func testOutlierFixtureIsTheOutlierModel() throws {
        let built = try outlierTeacher()
        let fixture = try ModelPackage.load(path: fixture("outlier_teacher.weights.npz"), graphPath: fixture("teacher.model.json"))
        for (name, tensor) in built.tensors {
            XCTAssertEqual(fixture.tensors[name]?.floats.map(\.bitPattern), tensor.floats.map(\.bitPattern), name)
        }
    }

    private func outlierTeacher() throws -> ModelPackage {
        var package = try load("teacher")
        let (train, _) = try data(image: false)
        let x = train.x.floats, features = 64
        // The pixel whose value exceeds half the data's maximum in the fewest (but ≥ 1) calibration samples.
        let threshold = x.max()! / 2
        let firing = (0..<features).map { p in (0..<Self.calibrationSamples).filter { x[$0 * features + p] > threshold }.count }
        let pixel = (0..<features).filter { firing[$0] > 0 }.min { firing[$0] < firing[$1] }!
        var w1 = package.tensors["fc1.weight"]!.floats, b1 = package.tensors["fc1.bias"]!.floats
        var w2 = package.tensors["fc2.weight"]!.floats
        for i in 0..<features { w1[i] = i == pixel ? 1000 : 0 }
        b1[0] = -1000 * threshold
        for row in 0..<512 { w2[row * 512] = 0 }
        package.tensors["fc1.weight"] = Tensor(w1, shape: [512, 64])
        package.tensors["fc1.bias"] = Tensor(b1, shape: [512])
        package.tensors["fc2.weight"] = Tensor(w2, shape: [512, 512])
        return package
    }

    func testCalibrationRefusesBadData() throws {
        let package = try load("teacher")
        let session = try Session(package: package)
        let (train, _) = try data(image: false)
        XCTAssertThrowsError(try Calibrator.collect(session: session, values: ["x"], data: train, samples: 5000)) {
            XCTAssertEqual("\($0)", "--samples 5000 asked, calibration data has only 1437")
        }
        let image = try data(image: true).train
        XCTAssertThrowsError(try Calibrator.collect(session: session, values: ["x"], data: image, samples: 10)) {
            XCTAssertEqual("\($0)", "calibration data for input 'x' has shape [1437, 1, 8, 8], the model expects [-1, 64] (-1 = any batch)")
        }
        var values = train.x.floats
        values[3 * 64 + 5] = .nan
        let bad = try Dataset(x: Tensor(values, shape: train.x.shape))
        XCTAssertThrowsError(try Calibrator.collect(session: session, values: ["x"], data: bad, samples: 10)) {
            XCTAssertEqual("\($0)", "calibration data 'x': sample 3 contains NaN or Inf")
        }
    }
}
