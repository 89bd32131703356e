import Foundation
import TensorCore

/// One tensor in an artifact's index (`model.json` → `"tensors"`), docs/formats.md §3.
public struct ArtifactTensorEntry: Sendable, Equatable {
    /// Whether the entry is a model parameter or the pruning mask of the parameter with the same name.
    public enum Role: String, Sendable { case param, mask }

    public var name: String
    public var role: Role
    public var dtype: DType
    public var shape: Shape
    public var encoding: TensorEncoding
    public var transform: ByteTransform
    public var quant: QuantParams?
    /// The tar member holding the payload; nil for `param_nonzero` masks.
    public var member: String?
    /// Bytes of the zstd-decoded payload (bitmap + values for `sparse`).
    public var encodedBytes: Int
    /// Bytes of the member (the zstd frame); 0 without a member.
    public var storedBytes: Int
    /// SHA-256 (hex) of the tensor's decoded little-endian element bytes.
    public var sha256: String

    /// Bytes of the tensor in memory.
    public var decodedBytes: Int { shape.elementCount * dtype.byteSize }
}

/// The index of an artifact: every tensor entry plus provenance.
public struct ArtifactIndex: Sendable {
    public var formatVersion: Int
    public var tensors: [ArtifactTensorEntry]
    public var provenance: Provenance
    /// The artifact's size on disk.
    public var fileBytes: Int

    public var params: [ArtifactTensorEntry] { tensors.filter { $0.role == .param } }
    public var masks: [ArtifactTensorEntry] { tensors.filter { $0.role == .mask } }
}

/// `model.json` inside an artifact: the graph document plus the `artifact`, `tensors` and
/// `provenance` keys. Builds it for the writer and parses + validates it for the reader.
enum ArtifactManifest {
    static let keys: Set<String> = ["artifact", "tensors", "provenance"]
    static let formatName = "modelsmith-msa"

    /// The graph document's bytes with the three keys appended (any of its own replaced): the
    /// graph's members are copied, not re-serialized (docs/robustness.md, "Linear time").
    static func encode(graph: Data, entries: [ArtifactTensorEntry], provenance: Provenance) throws -> [UInt8] {
        func json(_ value: Any) throws -> [UInt8] {
            Array(try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let extra: [(key: String, json: [UInt8])] = [
            ("artifact", try json(["format": formatName, "version": Artifact.formatVersion])),
            ("tensors", try json(entries.map(object(for:)))),
            ("provenance", Array(try encoder.encode(provenance))),
        ]
        return try graph.withUnsafeBytes { bytes in
            JSONObjectMembers.object(bytes, members: try JSONObjectMembers(bytes).members, excluding: keys, appending: extra)
        } + [0x0A]
    }

    private static func object(for entry: ArtifactTensorEntry) -> [String: Any] {
        var o: [String: Any] = [
            "name": entry.name, "role": entry.role.rawValue, "dtype": entry.dtype.rawValue, "shape": entry.shape.dims,
            "encoding": entry.encoding.rawValue, "transform": entry.transform.rawValue,
            "encoded_bytes": entry.encodedBytes, "stored_bytes": entry.storedBytes, "sha256": entry.sha256,
        ]
        if let member = entry.member { o["member"] = member }
        if let q = entry.quant {
            o["quant"] = ["scales": q.scales.map { Double($0) }, "zero_points": q.zeroPoints.map { Int($0) },
                          "axis": q.axis.map { $0 as Any } ?? NSNull()] as [String: Any]
        }
        return o
    }

    /// Parses and validates a manifest. Returns the graph document (manifest minus the artifact keys),
    /// the entries and the provenance. Every error names the file, the member and the tensor.
    static func decode(_ bytes: [UInt8], path: String, limits: ReadLimits) throws
        -> (graph: Data, entries: [ArtifactTensorEntry], provenance: Provenance) {
        func bad(_ reason: String) -> FormatError { .malformed(path: path, entry: "model.json", reason: reason) }
        if JSONDepth.exceeds(bytes, limit: limits.maxJSONDepth) {
            throw FormatError.limitExceeded(path: path, entry: "model.json", limit: "JSON nesting depth \(limits.maxJSONDepth)")
        }
        // Only the three keys are parsed here; the graph's members are cut out as they are and
        // parsed once, by the graph's decoder.
        let document: JSONObjectMembers
        do { document = try bytes.withUnsafeBytes { try JSONObjectMembers($0) } } catch { throw bad("\(error)") }
        func value(_ key: String) throws -> Any? {
            guard let member = document.member(key) else { return nil }
            guard let value = try? JSONSerialization.jsonObject(with: Data(bytes[member.value]), options: .fragmentsAllowed) else {
                throw bad("\"\(key)\" is not valid JSON")
            }
            return value
        }
        guard let artifact = try value("artifact") as? [String: Any], artifact["format"] as? String == formatName else {
            throw bad("missing \"artifact\": {\"format\": \"\(formatName)\"}")
        }
        guard let version = artifact["version"] as? Int else { throw bad("missing artifact version") }
        guard version == Artifact.formatVersion else {
            throw bad("artifact format version \(version) is not supported (this build reads version \(Artifact.formatVersion))")
        }
        guard let list = try value("tensors") as? [Any] else { throw bad("missing \"tensors\" list") }
        guard list.count <= limits.maxTensors * 2 else {
            throw FormatError.limitExceeded(path: path, entry: "model.json", limit: "\(limits.maxTensors) tensors")
        }
        var entries: [ArtifactTensorEntry] = []
        for (i, item) in list.enumerated() {
            guard let o = item as? [String: Any] else { throw bad("tensors[\(i)] is not an object") }
            entries.append(try entry(o, index: i, path: path, limits: limits))
        }
        try checkConsistency(entries, path: path)
        let provenance = try document.member("provenance").map { try self.provenance(Data(bytes[$0.value]), path: path) } ?? Provenance()
        let graph = bytes.withUnsafeBytes { Data(JSONObjectMembers.object($0, members: document.members, excluding: keys)) }
        return (graph, entries, provenance)
    }

    private static func entry(_ o: [String: Any], index: Int, path: String, limits: ReadLimits) throws -> ArtifactTensorEntry {
        guard let name = o["name"] as? String, !name.isEmpty else {
            throw FormatError.malformed(path: path, entry: "model.json", reason: "tensors[\(index)] has no name")
        }
        func bad(_ reason: String) -> FormatError { .malformed(path: path, entry: "model.json", reason: "tensor '\(name)': \(reason)") }
        func int(_ key: String) throws -> Int {
            guard let v = o[key] as? Int, v >= 0 else { throw bad("\"\(key)\" must be a non-negative integer") }
            return v
        }
        guard let roleName = o["role"] as? String, let role = ArtifactTensorEntry.Role(rawValue: roleName) else {
            throw bad("\"role\" must be \"param\" or \"mask\"")
        }
        guard let dtypeName = o["dtype"] as? String else { throw bad("missing \"dtype\"") }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw FormatError.unsupportedDType(path: path, entry: "model.json", dtype: dtypeName)
        }
        guard let dims = o["shape"] as? [Int] else { throw bad("\"shape\" must be a list of integers") }
        guard dims.count <= limits.maxRank else { throw bad("rank \(dims.count) exceeds the limit \(limits.maxRank)") }
        guard let elements = checkedProduct(dims), let decoded = checkedMultiply(elements, dtype.byteSize) else {
            throw bad("shape \(dims) has a negative dimension or too many elements")
        }
        guard let encodingName = o["encoding"] as? String, let encoding = TensorEncoding(rawValue: encodingName) else {
            throw bad("unknown encoding \(String(describing: o["encoding"] ?? "none"))")
        }
        guard let transformName = o["transform"] as? String, let transform = ByteTransform(rawValue: transformName) else {
            throw bad("unknown transform \(String(describing: o["transform"] ?? "none"))")
        }
        let encodedBytes = try int("encoded_bytes")
        let storedBytes = try int("stored_bytes")
        guard let sha = o["sha256"] as? String, isLowerHexDigest(sha) else {
            throw bad("\"sha256\" must be 64 lower-case hex digits")
        }
        let member = o["member"] as? String
        let quant = try o["quant"].map { try quantParams($0, dtype: dtype, dims: dims, bad: bad) }
        // The encoding must fit the dtype and the declared sizes must fit the shape.
        switch encoding {
        case .dense, .int8:
            guard encodedBytes == decoded else { throw bad("encoded_bytes \(encodedBytes) != \(decoded) (shape × itemsize)") }
            if encoding == .int8 { guard dtype == .i8, quant != nil else { throw bad("int8 encoding needs dtype i8 and quant") } }
        case .sparse:
            guard encodedBytes >= (elements + 7) / 8, encodedBytes <= (elements + 7) / 8 + decoded,
                  (encodedBytes - (elements + 7) / 8) % dtype.byteSize == 0 else {
                throw bad("encoded_bytes \(encodedBytes) does not fit a sparse payload of shape \(dims)")
            }
        case .paramNonzero:
            guard role == .mask, dtype == .bool, member == nil, encodedBytes == 0, storedBytes == 0, transform == .none else {
                throw bad("param_nonzero is only for bool masks without a member")
            }
        case .paramNonzeroXor:
            guard role == .mask, dtype == .bool, encodedBytes == decoded, transform == .none else {
                throw bad("param_nonzero_xor is only for bool masks, one byte per element, no transform")
            }
        }
        if encoding != .paramNonzero {
            guard let member, MemberPath.isSafe(member) else { throw bad("missing or unsafe \"member\" path") }
        }
        if role == .mask { guard dtype == .bool else { throw bad("a mask must be bool") } }
        return ArtifactTensorEntry(name: name, role: role, dtype: dtype, shape: Shape(dims), encoding: encoding, transform: transform,
                                   quant: quant, member: member, encodedBytes: encodedBytes, storedBytes: storedBytes, sha256: sha)
    }

    /// `"provenance"`: an object of the documented shape (docs/formats.md §3), decoded into `Provenance`.
    private static func provenance(_ data: Data, path: String) throws -> Provenance {
        func bad(_ reason: String) -> FormatError { .malformed(path: path, entry: "model.json", reason: "provenance \(reason)") }
        guard data.first == UInt8(ascii: "{") else { throw bad("must be an object") }
        do {
            let provenance = try JSONDecoder().decode(Provenance.self, from: data)
            if let digest = provenance.sourceDigest, !isLowerHexDigest(digest) {
                throw bad("\"source_digest\" must be 64 lower-case hex digits")
            }
            return provenance
        } catch let error as FormatError {
            throw error
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
                let DecodingError.keyNotFound(_, context), let DecodingError.dataCorrupted(context) {
            let at = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            throw bad("is malformed at \(at.isEmpty ? "the top level" : at): \(context.debugDescription)")
        } catch {
            throw bad("is malformed")
        }
    }

    static func isLowerHexDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// `"quant"`: `scales` (numbers), `zero_points` (32-bit integers) and `axis` (absent, null or an
    /// integer), then the invariants of `QuantParams.invalidity(dtype:dims:)`.
    private static func quantParams(_ value: Any, dtype: DType, dims: [Int], bad: (String) -> FormatError) throws -> QuantParams {
        guard let q = value as? [String: Any] else { throw bad("\"quant\" must be an object") }
        guard let scales = q["scales"] as? [Double], let zeros = q["zero_points"] as? [Int] else {
            throw bad("quant needs \"scales\" (numbers) and \"zero_points\" (integers)")
        }
        guard scales.count == zeros.count else {
            throw bad("quant needs one zero point per scale (\(scales.count) scales, \(zeros.count) zero points)")
        }
        if let i = zeros.firstIndex(where: { Int32(exactly: $0) == nil }) {
            throw bad("quant zero point \(zeros[i]) (index \(i)) is outside the range of \(dtype)")
        }
        var axis: Int?
        switch q["axis"] {
        case nil, is NSNull: axis = nil
        case let number as Int: axis = number
        default: throw bad("quant \"axis\" must be null or an integer")
        }
        let params = QuantParams(scales: scales.map { Float($0) }, zeroPoints: zeros.map { Int32($0) }, axis: axis)
        if let reason = params.invalidity(dtype: dtype, dims: dims) { throw bad("quant: \(reason)") }
        return params
    }

    /// Unique names per role, unique members, masks that match a parameter's shape.
    private static func checkConsistency(_ entries: [ArtifactTensorEntry], path: String) throws {
        var params: [String: ArtifactTensorEntry] = [:]
        var masks = Set<String>()
        var members = Set<String>()
        for e in entries {
            if e.role == .param {
                guard params.updateValue(e, forKey: e.name) == nil else { throw FormatError.duplicateTensor(path: path, name: e.name) }
            } else {
                guard masks.insert(e.name).inserted else { throw FormatError.duplicateTensor(path: path, name: e.name + " (mask)") }
            }
            if let m = e.member, !members.insert(m).inserted {
                throw FormatError.malformed(path: path, entry: "model.json", reason: "member '\(m)' is used by two tensors")
            }
        }
        for e in entries where e.role == .mask {
            guard let p = params[e.name], p.shape == e.shape else {
                throw FormatError.malformed(path: path, entry: "model.json", reason: "mask '\(e.name)' has no parameter of the same shape")
            }
        }
    }
}

/// Member names that are safe to write and to accept: relative, no `..`, no empty components.
enum MemberPath {
    static func isSafe(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.contains("\0") else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0 != ".." && $0 != "." }
    }

    /// `prefix/NNNNN-name.zst` with the name reduced to `[A-Za-z0-9._-]` and at most 60 characters.
    static func member(prefix: String, index: Int, name: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        let cleaned = String(name.map { allowed.contains($0) ? $0 : "_" }.prefix(60))
        let number = String(index)
        return "\(prefix)/\(String(repeating: "0", count: max(0, 5 - number.count)))\(number)-\(cleaned).zst"
    }
}

/// Rejects JSON nested deeper than a limit before handing it to a recursive parser.
enum JSONDepth {
    static func exceeds(_ bytes: [UInt8], limit: Int) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return false
    }
}
