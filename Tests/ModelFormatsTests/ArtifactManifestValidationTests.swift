import CZstd
import Foundation
import TensorCore
import XCTest
@testable import ModelFormats

/// Manifests crafted the way an attacker would: every field rewritten *and* the manifest digest
/// recomputed, so only the semantic checks at decode stand between the lie and the runtime.
/// One test per invariant (docs/formats.md §3.2, §4, §5).
final class ArtifactManifestValidationTests: XCTestCase {
    private var dir: URL!
    private var path: String!
    override func setUp() {
        dir = ArtifactFixtures.temporaryDirectory()
        path = dir.appendingPathComponent("valid.msa").path
        var contents = PackageContents(graphJSON: ArtifactFixtures.graph)
        var weight = ArtifactFixtures.tensor(.f32, [8, 4], seed: 1, zeroFraction: 0.5)
        contents.tensors["fc.bias"] = ArtifactFixtures.tensor(.f32, [8], seed: 2)
        var codes = ArtifactFixtures.tensor(.u8, [4], seed: 3)
        codes.quant = QuantParams(scales: [0.5], zeroPoints: [3], axis: nil)
        contents.tensors["codes"] = codes
        var int8 = ArtifactFixtures.tensor(.i8, [2, 4], seed: 4)
        int8.quant = QuantParams(scales: [0.25, 0.125], zeroPoints: [0, 0], axis: 0)
        contents.tensors["int8"] = int8
        weight.withUnsafeMutableBufferPointer(of: Float.self) { $0[0] = 0 }
        contents.tensors["fc.weight"] = weight
        contents.masks["fc.weight"] = ElementBits.nonzeroMask(of: weight)
        contents.provenance = Provenance(steps: [ProvenanceStep(step: "convert")])
        _ = try! Artifact.write(contents, to: path)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// Reads the artifact after `edit` changed its manifest document and members (digest recomputed).
    private func error(_ edit: (inout [String: Any], inout [(name: String, data: [UInt8])]) throws -> Void) throws -> String {
        let members = try originalMembers()
        var document = try JSONSerialization.jsonObject(with: Data(members[0].data)) as! [String: Any]
        var rest = Array(members.dropFirst(2))
        try edit(&document, &rest)
        return try error(manifest: Array(try JSONSerialization.data(withJSONObject: document)), members: rest)
    }

    /// Reads an artifact whose manifest is `manifest` as given (digest recomputed) and whose other
    /// members are `rest` (the original ones by default).
    private func error(manifest: [UInt8], members rest: [(name: String, data: [UInt8])]? = nil) throws -> String {
        let rest = try rest ?? Array(originalMembers().dropFirst(2))
        let out = dir.appendingPathComponent("crafted.msa")
        try? FileManager.default.removeItem(at: out)
        let writer = try ArchiveWriter(url: out, format: .tar, reportPath: out.path)
        try writer.add(path: "model.json", bytes: manifest)
        try writer.add(path: "model.json.sha256", bytes: Array("\(SHA256.hex(manifest))  model.json\n".utf8))
        for (name, data) in rest { try writer.add(path: name, bytes: data) }
        try writer.close()
        do {
            _ = try Artifact.read(out.path)
            return "no error"
        } catch {
            let message = "\(error)"
            XCTAssertFalse(message.contains("\n"), message)
            XCTAssertTrue(message.hasPrefix(out.path + ": "), message)
            return message
        }
    }

    /// Edits the tensor entry named `name` (the parameter, or the mask with `role: "mask"`).
    private func entryError(_ name: String, role: String = "param", _ edit: @escaping (inout [String: Any]) -> Void) throws -> String {
        try error { document, _ in
            var tensors = document["tensors"] as! [[String: Any]]
            let i = try XCTUnwrap(tensors.firstIndex { $0["name"] as? String == name && $0["role"] as? String == role })
            edit(&tensors[i])
            document["tensors"] = tensors
        }
    }

    /// Sets one field of a tensor's `quant` object.
    private func quantError(_ name: String, _ key: String, _ value: Any) throws -> String {
        try entryError(name) { entry in
            var q = entry["quant"] as! [String: Any]
            q[key] = value
            entry["quant"] = q
        }
    }

    /// Replaces a tensor's payload by `payload` stored densely in a frame from `frame`, with a
    /// matching `sha256`, `encoded_bytes` and `stored_bytes` (so only the payload's content lies).
    private func payloadError(_ name: String, role: String = "param", encoding: String = "dense", payload: [UInt8], decoded: [UInt8]? = nil,
                              frame: ([UInt8]) -> [UInt8] = { bytes in bytes.withUnsafeBytes { Zstd.compress($0) } }) throws -> String {
        try error { document, members in
            var tensors = document["tensors"] as! [[String: Any]]
            let i = try XCTUnwrap(tensors.firstIndex { $0["name"] as? String == name && $0["role"] as? String == role })
            let member = "crafted/\(i).zst"
            let stored = frame(payload)
            tensors[i]["encoding"] = encoding
            tensors[i]["transform"] = "none"
            tensors[i]["member"] = member
            tensors[i]["encoded_bytes"] = payload.count
            tensors[i]["stored_bytes"] = stored.count
            tensors[i]["sha256"] = SHA256.hex(decoded ?? payload)
            if let old = (document["tensors"] as! [[String: Any]])[i]["member"] as? String { members.removeAll { $0.name == old } }
            members.append((member, stored))
            document["tensors"] = tensors
        }
    }

    func testTheUneditedArtifactReads() throws {
        XCTAssertEqual(try error { _, _ in }, "no error")
    }

    // MARK: provenance

    func testProvenanceThatIsNotAnObjectIsRefused() throws {
        for value: Any in [42, "text", [1, 2], NSNull()] {
            let message = try error { document, _ in document["provenance"] = value }
            XCTAssertTrue(message.hasSuffix("entry 'model.json': provenance must be an object"), message)
        }
    }

    func testProvenanceOfTheWrongShapeIsRefused() throws {
        let steps = try error { document, _ in document["provenance"] = ["tool": "modelsmith", "version": "1", "steps": 7] }
        XCTAssertTrue(steps.contains("provenance is malformed at .steps"), steps)
        let step = try error { document, _ in document["provenance"] = ["tool": "modelsmith", "version": "1", "steps": [["step": 1]]] }
        XCTAssertTrue(step.contains("provenance is malformed at .steps[0].step"), step)
        let digest = try error { document, _ in
            document["provenance"] = ["tool": "modelsmith", "version": "1", "steps": [], "source_digest": "xyz"]
        }
        XCTAssertTrue(digest.hasSuffix("provenance \"source_digest\" must be 64 lower-case hex digits"), digest)
    }

    // MARK: the document

    private func originalMembers() throws -> [(name: String, data: [UInt8])] {
        let tar = try TarStream(path: path)
        var members: [(name: String, data: [UInt8])] = []
        while let m = try tar.nextMember() { members.append((m.path, try tar.readAll(expected: m.size))) }
        return members
    }

    private func originalManifest() throws -> String { String(decoding: try originalMembers()[0].data, as: UTF8.self) }

    /// Two parsers could pick different values of a repeated key, so the manifest refuses one,
    /// also when it is spelled with an escape.
    func testATopLevelKeyTwiceIsRefused() throws {
        let manifest = try originalManifest()
        let end = try XCTUnwrap(manifest.range(of: "}", options: .backwards))
        for key in ["tensors", "t\\u0065nsors", "nodes"] {
            let crafted = manifest[..<end.lowerBound] + ", \"\(key)\": []\n}\n"
            let message = try error(manifest: Array(crafted.utf8))
            XCTAssertTrue(message.hasSuffix("appears twice at the top level"), message)
        }
    }

    func testAManifestThatIsNotOneObjectIsRefused() throws {
        let manifest = try originalManifest()
        for crafted in [manifest + "{}", "[" + manifest + "]", String(manifest.dropLast(3)), manifest.replacingOccurrences(of: "\"nodes\":", with: "\"nodes\"")] {
            let message = try error(manifest: Array(crafted.utf8))
            XCTAssertTrue(message.contains("entry 'model.json': not a JSON object ("), message)
        }
    }

    /// The reader's graph is the manifest without the three artifact keys, every other member as
    /// the writer had it.
    func testTheGraphReadBackIsTheDocumentWithoutTheArtifactKeys() throws {
        let read = try Artifact.read(path)
        let graph = try XCTUnwrap(JSONSerialization.jsonObject(with: try XCTUnwrap(read.graphJSON)) as? NSDictionary)
        let written = try XCTUnwrap(JSONSerialization.jsonObject(with: ArtifactFixtures.graph) as? NSDictionary)
        XCTAssertEqual(graph, written)
    }

    // MARK: quant

    func testQuantAxisOutOfRangeIsRefused() throws {
        for axis in [-1, 2, 1] {
            let message = try quantError("int8", "axis", axis)
            XCTAssertTrue(message.hasSuffix("tensor 'int8': quant: axis \(axis) does not fit shape [2, 4] with 2 scales"), message)
        }
        let text = try quantError("int8", "axis", "0")
        XCTAssertTrue(text.hasSuffix("tensor 'int8': quant \"axis\" must be null or an integer"), text)
    }

    func testQuantScaleThatIsNotAPositiveNormalF32IsRefused() throws {
        // 0 and negative scales, one that overflows f32 (→ inf) and one that underflows (→ 0 or subnormal).
        for (scale, shown) in [(0.0, "0.0"), (-0.5, "-0.5"), (1e300, "inf"), (1e-50, "0.0"), (1e-40, "1e-40")] {
            let message = try quantError("codes", "scales", [scale])
            XCTAssertTrue(message.hasSuffix("tensor 'codes': quant: scale \(shown) (index 0) is not a positive normal f32 value"), message)
        }
    }

    func testQuantZeroPointOutsideItsDTypeIsRefused() throws {
        let u8 = try quantError("codes", "zero_points", [300])
        XCTAssertTrue(u8.hasSuffix("tensor 'codes': quant: zero point 300 (index 0) is outside the range of u8 (0…255)"), u8)
        let int32 = try quantError("codes", "zero_points", [3_000_000_000])
        XCTAssertTrue(int32.hasSuffix("tensor 'codes': quant zero point 3000000000 (index 0) is outside the range of u8"), int32)
        let i8 = try quantError("int8", "zero_points", [0, -129])
        XCTAssertTrue(i8.hasSuffix("tensor 'int8': quant: zero point -129 (index 1) is outside the range of i8 (-128…127)"), i8)
    }

    func testQuantListsOfDifferentLengthsOrTypesAreRefused() throws {
        let lengths = try quantError("int8", "zero_points", [0])
        XCTAssertTrue(lengths.hasSuffix("quant needs one zero point per scale (2 scales, 1 zero points)"), lengths)
        let notObject = try entryError("int8") { $0["quant"] = [1, 2] }
        XCTAssertTrue(notObject.hasSuffix("tensor 'int8': \"quant\" must be an object"), notObject)
        let onFloat = try entryError("fc.bias") { $0["quant"] = ["scales": [1.0], "zero_points": [0], "axis": NSNull()] }
        XCTAssertTrue(onFloat.hasSuffix("tensor 'fc.bias': quant: a f32 tensor cannot be quantized"), onFloat)
    }

    // MARK: masks

    func testMaskBytesOtherThanZeroAndOneAreRefused() throws {
        var bytes = [UInt8](repeating: 1, count: 32)
        bytes[5] = 2
        let message = try payloadError("fc.weight", role: "mask", payload: bytes)
        XCTAssertTrue(message.hasSuffix("entry 'model.json': mask 'fc.weight': an element is neither 0 nor 1"), message)
    }

    func testAMaskThatDropsANonZeroWeightIsRefused() throws {
        let message = try payloadError("fc.weight", role: "mask", payload: [UInt8](repeating: 0, count: 32))
        let weight = try Artifact.read(path).tensors["fc.weight"]!.floats
        let first = try XCTUnwrap(weight.firstIndex { $0 != 0 })
        XCTAssertTrue(message.hasSuffix("mask 'fc.weight': element \(first) is 0 but the parameter's element \(first) is not zero"), message)
    }

    func testAMaskThatKeepsAZeroWeightIsAccepted() throws {
        // A kept weight may be zero (quantization can round it to 0): all-ones is a valid mask.
        XCTAssertEqual(try payloadError("fc.weight", role: "mask", payload: [UInt8](repeating: 1, count: 32)), "no error")
    }

    func testBoolParameterBytesOtherThanZeroAndOneAreRefused() throws {
        let message = try error { document, members in
            var tensors = document["tensors"] as! [[String: Any]]
            let payload: [UInt8] = [0, 1, 7, 1]
            let frame = payload.withUnsafeBytes { Zstd.compress($0) }
            tensors.append(["name": "flags", "role": "param", "dtype": "bool", "shape": [4], "encoding": "dense", "transform": "none",
                            "member": "crafted/flags.zst", "encoded_bytes": 4, "stored_bytes": frame.count, "sha256": SHA256.hex(payload)])
            members.append(("crafted/flags.zst", frame))
            document["tensors"] = tensors
        }
        XCTAssertTrue(message.hasSuffix("entry 'crafted/flags.zst': tensor 'flags' is corrupted: a bool element is neither 0 nor 1"), message)
    }

    // MARK: sparse payloads

    func testASparseSetBitWithAZeroValueIsRefused() throws {
        // Bias [8]: bitmap 0b0000_0011 (elements 0 and 1), values 1.0 and 0.0.
        let values: [Float] = [1, 0]
        let payload = [UInt8(0b11)] + values.withUnsafeBytes { Array($0) }
        let decoded = ([1, 0, 0, 0, 0, 0, 0, 0] as [Float]).withUnsafeBytes { Array($0) }
        let message = try payloadError("fc.bias", encoding: "sparse", payload: payload, decoded: decoded)
        XCTAssertTrue(message.hasSuffix("tensor 'fc.bias' is corrupted: sparse value 1 is zero although its bitmap bit is set"), message)
    }

    // MARK: zstd frames

    private func frame(_ bytes: [UInt8], checksum: Bool, contentSize: Bool) -> [UInt8] {
        let context = ZSTD_createCCtx()!
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum ? 1 : 0)
        ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, contentSize ? 1 : 0)
        if contentSize { ZSTD_CCtx_setPledgedSrcSize(context, UInt64(bytes.count)) }
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count) + 64)
        // Streaming: without a pledged size the frame carries no content size.
        let written = bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst -> Int in
                var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
                var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                let r = ZSTD_compressStream2(context, &output, &input, ZSTD_e_end)
                precondition(ZSTD_isError(r) == 0 && r == 0)
                return output.pos
            }
        }
        return Array(out.prefix(written))
    }

    func testAFrameWithoutItsContentChecksumIsRefused() throws {
        let bias = ([Float](repeating: 0.5, count: 8)).withUnsafeBytes { Array($0) }
        let message = try payloadError("fc.bias", payload: bias, frame: { self.frame($0, checksum: false, contentSize: true) })
        XCTAssertTrue(message.hasSuffix("tensor 'fc.bias' is corrupted: zstd frame has no content checksum"), message)
    }

    func testAFrameWithoutItsContentSizeIsRefused() throws {
        let bias = ([Float](repeating: 0.5, count: 8)).withUnsafeBytes { Array($0) }
        let message = try payloadError("fc.bias", payload: bias, frame: { self.frame($0, checksum: true, contentSize: false) })
        XCTAssertTrue(message.hasSuffix("tensor 'fc.bias' is corrupted: zstd frame does not declare its content size"), message)
        XCTAssertEqual(try payloadError("fc.bias", payload: bias, frame: { self.frame($0, checksum: true, contentSize: true) }), "no error")
    }

    func testAMemberThatIsNotAZstdFrameIsRefused() throws {
        let bias = ([Float](repeating: 0.5, count: 8)).withUnsafeBytes { Array($0) }
        let message = try payloadError("fc.bias", payload: bias, frame: { $0 })
        XCTAssertTrue(message.hasSuffix("tensor 'fc.bias' is corrupted: not a zstd frame (bad magic number)"), message)
        let short = try payloadError("fc.bias", payload: bias, frame: { _ in [0x28, 0xB5] })
        XCTAssertTrue(short.hasSuffix("tensor 'fc.bias' is corrupted: zstd frame header is truncated"), short)
    }
}
