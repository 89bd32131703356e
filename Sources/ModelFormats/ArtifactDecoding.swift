import CArchive
import Dispatch
import Foundation
import TensorCore

/// Reading `.msa` files: the manifest first (checksummed), then every tensor member streamed from
/// the tar straight through zstd into the tensor's storage, on several threads at once (each with
/// its own archive handle), so memory stays near the decoded model size.
enum ArtifactDecoding {
    /// Opens the artifact and returns the verified manifest bytes and the handle positioned after them.
    private static func openManifest(_ path: String, limits: ReadLimits) throws -> (TarStream, [UInt8]) {
        guard FileManager.default.fileExists(atPath: path) else { throw FormatError.fileNotFound(path: path) }
        let tar = try TarStream(path: path)
        guard let first = try tar.nextMember(), first.path == Artifact.manifestMember else {
            throw FormatError.malformed(path: path, entry: nil, reason: "not an artifact: the first member must be \(Artifact.manifestMember)")
        }
        guard first.size <= limits.maxHeaderBytes else {
            throw FormatError.limitExceeded(path: path, entry: Artifact.manifestMember, limit: "\(limits.maxHeaderBytes) header bytes")
        }
        let manifest = try tar.readAll(expected: first.size)
        guard let second = try tar.nextMember(), second.path == Artifact.manifestDigestMember, second.size <= 1024 else {
            throw FormatError.malformed(path: path, entry: nil, reason: "the second member must be \(Artifact.manifestDigestMember)")
        }
        let digestLine = String(decoding: try tar.readAll(expected: second.size), as: UTF8.self)
        guard digestLine.split(separator: " ").first.map(String.init) == SHA256.hex(manifest) else {
            throw FormatError.malformed(path: path, entry: Artifact.manifestMember, reason: "manifest checksum mismatch (the manifest is corrupted)")
        }
        return (tar, manifest)
    }

    static func readIndex(_ path: String, limits: ReadLimits) throws -> ArtifactIndex {
        let (_, manifest) = try openManifest(path, limits: limits)
        let parsed = try ArtifactManifest.decode(manifest, path: path, limits: limits)
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        return ArtifactIndex(formatVersion: Artifact.formatVersion, tensors: parsed.entries, provenance: parsed.provenance, fileBytes: size)
    }

    static func read(_ path: String, limits: ReadLimits) throws -> PackageContents {
        let (firstHandle, manifest) = try openManifest(path, limits: limits)
        let (graph, entries, provenance) = try ArtifactManifest.decode(manifest, path: path, limits: limits)

        var total = 0
        for e in entries {
            total += e.decodedBytes
            guard total <= limits.maxDecodedBytes else {
                throw FormatError.limitExceeded(path: path, entry: nil, limit: "\(limits.maxDecodedBytes) decoded bytes")
            }
        }
        // Each worker allocates the tensors it decodes, so first-touch page faults run in parallel too.
        let decoded = LockedArray<Tensor?>(repeating: nil, count: entries.count)
        let byMember = Dictionary(entries.enumerated().compactMap { i, e in e.member.map { ($0, i) } },
                                  uniquingKeysWith: { first, _ in first })

        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, byMember.count, 4))
        let failures = LockedArray<(Int, Error)?>(repeating: nil, count: workers)
        let claims = LockedCounter.Claims()
        let handles = LockedArray<TarStream?>(repeating: nil, count: workers)
        handles.set(0, firstHandle)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            do {
                let tar = try handles.values[worker] ?? TarStream(path: path, skippingManifest: true)
                try decodeMembers(tar, worker: worker, claims: claims, entries: entries, byMember: byMember,
                                  decoded: decoded, path: path)
            } catch let failure as MemberFailure {
                failures.set(worker, (failure.position, failure.error))
            } catch {
                failures.set(worker, (Int.max, error))
            }
        }
        // Report the failure of the earliest member, whichever worker met it.
        if let first = failures.values.compactMap({ $0 }).min(by: { $0.0 < $1.0 }) { throw first.1 }

        let tensors = decoded.values.enumerated().map { i, t in t ?? Tensor(zeros: entries[i].dtype, entries[i].shape) }
        var contents = PackageContents(graphJSON: graph, provenance: provenance, source: path)
        for (i, e) in entries.enumerated() where e.role == .param {
            contents.tensors[e.name] = tensorWithQuant(tensors[i], e.quant)
        }
        for (i, e) in entries.enumerated() where e.role == .mask {
            var mask = tensors[i]
            if e.encoding == .paramNonzero || e.encoding == .paramNonzeroXor, let p = contents.tensors[e.name] {
                let derived = ElementBits.nonzeroMask(of: p)
                mask = e.encoding == .paramNonzero ? derived : ElementBits.difference(mask, derived)
                guard mask.withUnsafeBytes({ SHA256.hex($0) }) == e.sha256 else {
                    throw FormatError.checksumMismatch(path: path, tensor: e.name + " (mask)")
                }
            }
            if let param = contents.tensors[e.name], let problem = ElementBits.maskProblem(mask, of: param) {
                throw FormatError.malformed(path: path, entry: "model.json", reason: "mask '\(e.name)': \(problem)")
            }
            contents.masks[e.name] = mask
        }
        for (i, e) in entries.enumerated() where e.role == .param && e.dtype == .bool {
            guard tensors[i].withUnsafeBytes({ $0.allSatisfy { $0 <= 1 } }) else {
                throw corruptedTensor(path: path, entry: e, "a bool element is neither 0 nor 1")
            }
        }
        return contents
    }

    private static func corruptedTensor(path: String, entry: ArtifactTensorEntry, _ reason: String) -> FormatError {
        .malformed(path: path, entry: entry.member ?? "model.json", reason: "tensor '\(entry.name)' is corrupted: \(reason)")
    }

    private static func tensorWithQuant(_ t: Tensor, _ q: QuantParams?) -> Tensor {
        var t = t
        t.quant = q
        return t
    }

    /// An error met while handling the member at `position` (archive order), for deterministic reports.
    private struct MemberFailure: Error { let position: Int; let error: Error }

    /// Walks every member header and decodes each member no other worker has claimed yet (so a
    /// worker busy with a large tensor leaves the following ones to the others). Worker 0 also
    /// checks the member list (no extra, duplicate or missing members).
    private static func decodeMembers(_ tar: TarStream, worker: Int, claims: LockedCounter.Claims, entries: [ArtifactTensorEntry],
                                      byMember: [String: Int], decoded: LockedArray<Tensor?>, path: String) throws {
        var seen = Set<String>()
        var position = 0
        while let header = try wrap(position, { try tar.nextMember() }) {
            defer { position += 1 }
            guard let i = byMember[header.path] else {
                throw MemberFailure(position: position, error: FormatError.malformed(path: path, entry: header.path, reason: "member is not listed in model.json"))
            }
            guard seen.insert(header.path).inserted else {
                throw MemberFailure(position: position, error: FormatError.malformed(path: path, entry: header.path, reason: "member appears twice"))
            }
            let entry = entries[i]
            guard header.size == entry.storedBytes else {
                throw MemberFailure(position: position, error: FormatError.malformed(
                    path: path, entry: header.path, reason: "tensor '\(entry.name)': member holds \(header.size) bytes, model.json declares \(entry.storedBytes)"))
            }
            guard claims.claim(position) else { continue }
            let tensor = Tensor(zeros: entry.dtype, entry.shape)
            try wrap(position) { try decode(tar, entry: entry, into: tensor, path: path, member: header.path) }
            decoded.set(i, tensor)
        }
        if worker == 0, let missing = byMember.keys.sorted().first(where: { !seen.contains($0) }) {
            let name = entries[byMember[missing]!].name
            throw MemberFailure(position: Int.max - 1, error: FormatError.malformed(
                path: path, entry: missing, reason: "tensor '\(name)': member is missing (truncated artifact?)"))
        }
    }

    private static func wrap<T>(_ position: Int, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as MemberFailure { throw e } catch { throw MemberFailure(position: position, error: error) }
    }

    /// Streams one member through zstd and the payload decoder into the tensor, then checks its SHA-256.
    private static func decode(_ tar: TarStream, entry: ArtifactTensorEntry, into tensor: Tensor, path: String, member: String) throws {
        func corrupted(_ reason: String) -> FormatError {
            .malformed(path: path, entry: member, reason: "tensor '\(entry.name)' is corrupted: \(reason)")
        }
        let destination = tensor.storage.pointer
        let payload = PayloadDecoder(destination: destination, count: tensor.elementCount, width: entry.dtype.byteSize,
                                     encoding: entry.encoding, transform: entry.transform, encodedBytes: entry.encodedBytes)
        do {
            let zstd = try ZstdDecompressor()
            try tar.readChunks { chunk in
                try zstd.decode(chunk, declaredSize: entry.encodedBytes, window: payload.window, commit: payload.commit)
            }
            try zstd.finish(declaredSize: entry.encodedBytes)
            try payload.finish()
        } catch let e as ZstdError {
            throw corrupted(e.reason)
        } catch let e as PayloadError {
            throw corrupted(e.reason)
        }
        // A mask stored relative to its parameter is checked once rebuilt (zstd's checksum covers the member).
        guard entry.encoding != .paramNonzeroXor else { return }
        let digest = SHA256.hex(UnsafeRawBufferPointer(start: destination, count: tensor.byteCount))
        guard digest == entry.sha256 else { throw FormatError.checksumMismatch(path: path, tensor: entry.name) }
    }
}

/// A header of one tar member.
struct TarMember {
    var path: String
    var size: Int
}

/// Sequential reading of an uncompressed tar with libarchive, member data delivered in the
/// library's own blocks (no copy). Only regular files are accepted.
final class TarStream: @unchecked Sendable {
    private let archive: OpaquePointer
    private let path: String
    private var current: String?

    init(path: String, skippingManifest: Bool = false) throws {
        guard let a = archive_read_new() else { throw FormatError.unreadable(path: path, reason: "libarchive: out of memory") }
        archive = a
        self.path = path
        archive_read_support_format_tar(a)
        guard archive_read_open_filename(a, path, 1 << 20) == ARCHIVE_OK else {
            let reason = archive_error_string(a).map { String(cString: $0) } ?? "cannot open"
            throw FormatError.unreadable(path: path, reason: reason)
        }
        if skippingManifest {
            _ = try nextMember()
            _ = try nextMember()
        }
    }

    deinit { archive_read_free(archive) }

    /// The next member's header, or nil at the end of the archive.
    func nextMember() throws -> TarMember? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(archive, &entry)
        if status == ARCHIVE_EOF { return nil }
        guard status >= ARCHIVE_WARN, let entry else { throw failure(entry: current, "damaged or truncated tar") }
        guard let name = archive_entry_pathname(entry).map({ String(cString: $0) }) else {
            throw FormatError.malformed(path: path, entry: nil, reason: "member without a name")
        }
        current = name
        guard archive_entry_filetype(entry) == 0o100000 else {
            throw FormatError.malformed(path: path, entry: name, reason: "not a regular file")
        }
        guard MemberPath.isSafe(name) else { throw FormatError.unsafeEntryPath(path: path, entry: name) }
        return TarMember(path: name, size: Int(archive_entry_size(entry)))
    }

    /// Calls `body` with each block of the current member's data.
    func readChunks(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: Int64 = 0
        while true {
            let status = archive_read_data_block(archive, &buffer, &size, &offset)
            if status == ARCHIVE_EOF { return }
            guard status >= ARCHIVE_WARN else { throw failure(entry: current, "damaged or truncated member") }
            try body(UnsafeRawBufferPointer(start: buffer, count: size))
        }
    }

    /// The current member's data (for small members), which must be exactly `expected` bytes.
    func readAll(expected: Int) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(expected)
        try readChunks { chunk in
            guard out.count + chunk.count <= expected else { throw failure(entry: current, "member is longer than its header says") }
            out.append(contentsOf: chunk)
        }
        guard out.count == expected else { throw failure(entry: current, "member is truncated") }
        return out
    }

    private func failure(entry: String?, _ what: String) -> FormatError {
        let detail = archive_error_string(archive).map { String(cString: $0) } ?? what
        return FormatError.malformed(path: path, entry: entry, reason: "\(what): \(detail)")
    }
}
