import Dispatch
import Foundation
import TensorCore

/// Options for writing an artifact.
public struct ArtifactWriteOptions: Sendable {
    /// zstd level for every member (1…22).
    public var level: Int
    /// Replace an existing file at the target path.
    public var force: Bool
    /// Tensors encoded concurrently.
    public var threads: Int

    public init(level: Int = Zstd.defaultLevel, force: Bool = false, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.level = level
        self.force = force
        self.threads = max(1, threads)
    }
}

/// What was written: the index (as a reader would see it) and the file size.
public struct ArtifactSummary: Sendable {
    public var index: ArtifactIndex
    public var fileBytes: Int { index.fileBytes }
}

/// The `.msa` artifact (DESIGN §4, byte layout in docs/formats.md): a tar holding `model.json`
/// (graph + tensor index + provenance), `model.json.sha256`, and one zstd frame per tensor payload.
public enum Artifact {
    public static let formatVersion = 1
    public static let manifestMember = "model.json"
    public static let manifestDigestMember = "model.json.sha256"

    /// Encodes every tensor with its smallest encoding and writes the artifact atomically.
    public static func write(_ contents: PackageContents, to path: String,
                             options: ArtifactWriteOptions = ArtifactWriteOptions()) throws -> ArtifactSummary {
        guard let graph = contents.graphJSON, graph.withUnsafeBytes({ (try? JSONObjectMembers($0)) != nil }) else {
            throw FormatError.missingGraph(path: contents.source.isEmpty ? path : contents.source)
        }
        if !options.force && FileManager.default.fileExists(atPath: path) { throw FormatError.outputExists(path: path) }
        let jobs = try plan(contents, path: path)
        let encoded = encodeConcurrently(jobs, options: options)
        let payloads = encoded.map(\.payload)

        var entries: [ArtifactTensorEntry] = []
        for (job, (payload, digest)) in zip(jobs, encoded) {
            let member = payload.map { _ in MemberPath.member(prefix: job.role == .param ? "tensors" : "masks", index: entries.count, name: job.name) }
            entries.append(ArtifactTensorEntry(
                name: job.name, role: job.role, dtype: job.tensor.dtype, shape: job.tensor.shape,
                encoding: payload?.encoding ?? .paramNonzero, transform: payload?.transform ?? .none, quant: job.tensor.quant,
                member: member, encodedBytes: payload?.encodedBytes ?? 0, storedBytes: payload?.member.count ?? 0,
                sha256: digest))
        }
        let manifest = try ArtifactManifest.encode(graph: graph, entries: entries, provenance: contents.provenance)
        let digest = Array("\(SHA256.hex(manifest))  \(manifestMember)\n".utf8)

        try AtomicFile.write(to: path, force: options.force) { url in
            let writer = try ArchiveWriter(url: url, format: .tar, reportPath: path)
            try writer.add(path: manifestMember, bytes: manifest)
            try writer.add(path: manifestDigestMember, bytes: digest)
            for (entry, payload) in zip(entries, payloads) {
                if let payload, let member = entry.member { try writer.add(path: member, bytes: payload.member) }
            }
            try writer.close()
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        return ArtifactSummary(index: ArtifactIndex(formatVersion: formatVersion, tensors: entries,
                                                    provenance: contents.provenance, fileBytes: size))
    }

    /// Reads only the index of an artifact (manifest checksum verified, tensors not decoded).
    public static func index(at path: String, limits: ReadLimits = .default) throws -> ArtifactIndex {
        try ArtifactDecoding.readIndex(path, limits: limits)
    }

    /// Reads an artifact, verifying every checksum (also available through `WeightReaders.read`).
    public static func read(_ path: String, limits: ReadLimits = .default) throws -> PackageContents {
        try ArtifactDecoding.read(path, limits: limits)
    }

    /// One tensor to store: a parameter, or a mask (stored by reference when it equals
    /// "parameter != 0", otherwise as itself or as its difference from that, whichever is smaller).
    struct Job {
        var name: String
        var role: ArtifactTensorEntry.Role
        var tensor: Tensor
        var byReference: Bool
        /// mask XOR (parameter != 0), for masks that are not a pure reference.
        var difference: Tensor? = nil
    }

    private static func plan(_ contents: PackageContents, path: String) throws -> [Job] {
        func bad(_ reason: String) -> FormatError { .malformed(path: path, entry: nil, reason: reason) }
        var jobs: [Job] = []
        for (name, tensor) in contents.tensors {
            guard !name.isEmpty else { throw bad("a tensor has an empty name") }
            if let reason = tensor.quant?.invalidity(dtype: tensor.dtype, dims: tensor.shape.dims) {
                throw bad("tensor '\(name)': quant \(reason)")
            }
            jobs.append(Job(name: name, role: .param, tensor: tensor, byReference: false))
        }
        for (name, mask) in contents.masks {
            guard let param = contents.tensors[name], param.shape == mask.shape, mask.dtype == .bool else {
                throw bad("mask '\(name)' must be bool and have the shape of a parameter of the same name")
            }
            if let problem = ElementBits.maskProblem(mask, of: param) { throw bad("mask '\(name)': \(problem)") }
            let derived = ElementBits.nonzeroMask(of: param)
            let same = derived.bitwiseEqual(mask)
            jobs.append(Job(name: name, role: .mask, tensor: mask, byReference: same,
                            difference: same ? nil : ElementBits.difference(mask, derived)))
        }
        return jobs
    }

    /// Encodes and hashes the jobs on `options.threads` threads, largest first; the payload is nil
    /// for mask references.
    private static func encodeConcurrently(_ jobs: [Job], options: ArtifactWriteOptions) -> [(payload: EncodedPayload?, sha256: String)] {
        let results = LockedArray<(payload: EncodedPayload?, sha256: String)>(repeating: (nil, ""), count: jobs.count)
        let order = jobs.indices.sorted { jobs[$0].tensor.byteCount > jobs[$1].tensor.byteCount }
        let next = LockedCounter()
        DispatchQueue.concurrentPerform(iterations: min(options.threads, max(jobs.count, 1))) { _ in
            while let k = next.next(below: order.count) {
                let job = jobs[order[k]]
                let digest = job.tensor.withUnsafeBytes { SHA256.hex($0) }
                var payload = job.byReference ? nil : PayloadEncoder.smallest(job.tensor, level: options.level)
                if let difference = job.difference {
                    let relative = PayloadEncoder.encode(difference, encoding: .paramNonzeroXor, transform: .none, level: options.level)
                    if relative.member.count < payload!.member.count { payload = relative }
                }
                results.set(order[k], (payload, digest))
            }
        }
        return results.values
    }
}

/// A fixed-size array that several threads fill at distinct indices.
final class LockedArray<Element>: @unchecked Sendable {
    private var storage: [Element]
    private let lock = NSLock()
    init(repeating value: Element, count: Int) { storage = Array(repeating: value, count: count) }
    func set(_ i: Int, _ value: Element) { lock.lock(); storage[i] = value; lock.unlock() }
    var values: [Element] { lock.lock(); defer { lock.unlock() }; return storage }
}

/// Hands out 0, 1, 2, … to worker threads.
final class LockedCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next(below limit: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }

    /// Positions claimed by the first worker to ask.
    final class Claims: @unchecked Sendable {
        private var taken = Set<Int>()
        private let lock = NSLock()
        func claim(_ position: Int) -> Bool {
            lock.lock(); defer { lock.unlock() }
            return taken.insert(position).inserted
        }
    }
}
