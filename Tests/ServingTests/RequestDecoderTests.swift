import Foundation
@testable import Serving
import TensorCore
import XCTest

/// The protocol decoder refuses every malformed request with a 400 naming the field or input,
/// and reads JSON and binary tensors to the same values.
final class RequestDecoderTests: XCTestCase {
    let decoder = RequestDecoder(signature: ServingFixtures.signature(maxBatch: 4))

    private func json(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func failure(_ body: [UInt8], jsonLength: Int? = nil, _ decoder: RequestDecoder? = nil) -> ServingError? {
        do {
            _ = try (decoder ?? self.decoder).decode(body: body, jsonLength: jsonLength)
            return nil
        } catch let error as ServingError {
            return error
        } catch {
            XCTFail("not a ServingError: \(error)")
            return nil
        }
    }

    private func assertRefused(_ body: String, mentions: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let error = failure(json(body)) else { return XCTFail("accepted: \(body)", file: file, line: line) }
        XCTAssertEqual(error.status, 400, file: file, line: line)
        XCTAssertTrue(error.message.contains(mentions), "'\(error.message)' does not mention '\(mentions)'", file: file, line: line)
        let object = try? JSONSerialization.jsonObject(with: error.jsonBody) as? [String: String]
        XCTAssertEqual(object?["error"], error.message, file: file, line: line)
    }

    private func input(shape: [Int], datatype: String = "FP32", data: String) -> String {
        "{\"inputs\":[{\"name\":\"x\",\"shape\":\(shape),\"datatype\":\"\(datatype)\",\"data\":\(data)}]}"
    }

    private func values(_ count: Int, offset: Float = 0) -> [Float] { (0..<count).map { Float($0) * 0.25 - 3 + offset } }

    func testJSONTensorsDecodeFlatOrNestedToTheSameValues() throws {
        let v = values(128)
        let flat = try decoder.decode(body: json(input(shape: [2, 64], data: "\(v)")), jsonLength: nil)
        let nested = try decoder.decode(body: json(input(shape: [2, 64], data: "[\(Array(v[..<64])),\(Array(v[64...]))]")), jsonLength: nil)
        XCTAssertEqual(flat.batch, 2)
        XCTAssertEqual(flat.inputs["x"]!.floats, v)
        XCTAssertEqual(nested.inputs["x"]!.floats, v)
        XCTAssertEqual(flat.outputs, ["logits"])
        XCTAssertTrue(flat.binaryOutputs.isEmpty)
    }

    func testBinaryTensorsDecodeBitExactly() throws {
        let v = values(64, offset: 0.1)
        let header = json("{\"id\":\"r1\",\"inputs\":[{\"name\":\"x\",\"shape\":[1,64],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":256}}],\"outputs\":[{\"name\":\"logits\",\"parameters\":{\"binary_data\":true}}]}")
        let body = header + v.withUnsafeBytes { Array($0) }
        let request = try decoder.decode(body: body, jsonLength: header.count)
        XCTAssertEqual(request.id, "r1")
        XCTAssertTrue(request.inputs["x"]!.bitwiseEqual(Tensor(v, shape: [1, 64])))
        XCTAssertEqual(request.binaryOutputs, ["logits"])
    }

    func testMalformedRequestsNameTheField() {
        assertRefused("{\"inputs\": [", mentions: "not valid JSON")
        assertRefused("[1, 2]", mentions: "the body")
        assertRefused("{}", mentions: "inputs: missing")
        assertRefused("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"data\":[1]}]}", mentions: "inputs[0].shape: missing")
        assertRefused("{\"inputs\":[{\"name\":\"x\",\"shape\":\"64\",\"datatype\":\"FP32\",\"data\":[1]}]}", mentions: "inputs[0].shape")
        assertRefused(input(shape: [1, 64], data: "[\"a\"]"), mentions: "inputs[0].data")
        assertRefused("{\"inputs\":[{\"name\":\"y\",\"shape\":[1,64],\"datatype\":\"FP32\",\"data\":[]}]}", mentions: "no input 'y'")
        assertRefused("{\"inputs\":[]}", mentions: "input 'x' is missing")
        assertRefused(input(shape: [1, 64], data: "\(values(64))").replacingOccurrences(of: "]}]}", with: "]}],\"outputs\":[{\"name\":\"probs\"}]}"),
                      mentions: "outputs[0].name")
    }

    func testWrongDatatypeShapeAndCountNameTheInput() {
        assertRefused(input(shape: [1, 64], datatype: "FP64", data: "\(values(64))"), mentions: "input 'x': datatype FP64")
        assertRefused(input(shape: [64], data: "\(values(64))"), mentions: "input 'x': shape [64] has rank 1")
        assertRefused(input(shape: [1, 63], data: "\(values(63))"), mentions: "input 'x': shape [1, 63]")
        assertRefused(input(shape: [1, 64], data: "\(values(60))"), mentions: "input 'x': 60 values, shape [1, 64] takes 64")
        assertRefused(input(shape: [5, 64], data: "\(values(320))"), mentions: "batch 5 is outside 1…4")
        assertRefused(input(shape: [0, 64], data: "[]"), mentions: "batch 0")
        assertRefused(input(shape: [-1, 64], data: "[]"), mentions: "batch -1")
    }

    func testNonFiniteInputsAreRefusedUnlessAllowed() throws {
        var v = values(64)
        v[7] = .nan
        let header = json("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,64],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":256}}]}")
        let body = header + v.withUnsafeBytes { Array($0) }
        let error = failure(body, jsonLength: header.count)
        XCTAssertEqual(error?.status, 400)
        XCTAssertTrue(error?.message.contains("input 'x': element 7 is nan") ?? false, error?.message ?? "")
        let lenient = RequestDecoder(signature: ServingFixtures.signature(maxBatch: 4), allowNonFinite: true)
        XCTAssertTrue(try lenient.decode(body: body, jsonLength: header.count).inputs["x"]!.floats[7].isNaN)
        // 1e39 is beyond Float: it becomes +Inf and is refused the same way.
        XCTAssertTrue(failure(json(input(shape: [1, 64], data: "[1e39" + String(repeating: ",0", count: 63) + "]")))?.message.contains("element 0 is inf") ?? false)
    }

    func testBinaryHeadersThatLieAboutSizesAreRefused() {
        let header = json("{\"inputs\":[{\"name\":\"x\",\"shape\":[1,64],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":256}}]}")
        let tensor = [UInt8](repeating: 0, count: 256)
        let cases: [(body: [UInt8], jsonLength: Int, mentions: String)] = [
            (header + tensor, header.count + 300, "Inference-Header-Content-Length is"),
            (header + tensor, -1, "Inference-Header-Content-Length is -1"),
            (header + tensor.prefix(100), header.count, "runs past the end of the body"),
            (header + tensor + [1, 2, 3], header.count, "3 bytes after the tensors"),
            (json(String(decoding: header, as: UTF8.self).replacingOccurrences(of: "256", with: "252")) + tensor.prefix(252),
             header.count, "binary_data_size 252, shape [1, 64] of FP32 takes 256 bytes"),
            (json(String(decoding: header, as: UTF8.self).replacingOccurrences(of: "256", with: "-4")), header.count - 1, "non-negative integer"),
        ]
        for c in cases {
            let error = failure(c.body, jsonLength: c.jsonLength)
            XCTAssertEqual(error?.status, 400)
            XCTAssertTrue(error?.message.contains(c.mentions) ?? false, "'\(error?.message ?? "accepted")' lacks '\(c.mentions)'")
        }
    }

    func testResponsesRoundTripEveryFloatExactly() throws {
        let values: [Float] = [0, 1, 2.5e-3, -1.5, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e-7, 3.4028e38, 0.1, 123456.79]
        let tensor = Tensor(values, shape: [1, 10])
        let (body, jsonLength) = ResponseEncoder.encode(model: "m", version: "1", id: "a\"b", outputs: [("logits", tensor)], binary: [])
        XCTAssertNil(jsonLength)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        XCTAssertEqual(object["id"] as? String, "a\"b")
        let output = try XCTUnwrap((object["outputs"] as? [[String: Any]])?.first)
        let decoded = try XCTUnwrap(output["data"] as? [NSNumber]).map { Float($0.doubleValue) }
        XCTAssertEqual(decoded.map(\.bitPattern), values.map(\.bitPattern))

        let binary = ResponseEncoder.encode(model: "m", version: "1", id: nil, outputs: [("logits", tensor)], binary: ["logits"])
        let headerLength = try XCTUnwrap(binary.jsonLength)
        XCTAssertEqual(Array(binary.body[headerLength...]), tensor.withUnsafeBytes { Array($0) })
    }
}
