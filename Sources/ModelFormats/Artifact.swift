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

    /// Encodes every tensor with its smallest encoding and writes the artifact atomically, member by
    /// member (docs/formats.md §8, "Memory"): each tensor is hashed and every candidate encoding is
    /// compressed once, on `options.threads` threads, into a scratch file that keeps only the
    /// smallest frame; then the manifest (which comes first) is written and the frames are copied
    /// after it. Memory stays at the tensors being encoded, never the whole artifact. With
    /// `deriving`, the listed parameters are replaced as they are encoded (see `ArtifactDerivation`).
    public static func write(_ contents: PackageContents, to path: String,
                             options: ArtifactWriteOptions = ArtifactWriteOptions(),
                             deriving derivation: ArtifactDerivation? = nil) throws -> ArtifactSummary {
        guard let graph = contents.graphJSON, graph.withUnsafeBytes({ (try? JSONObjectMembers($0)) != nil }) else {
            throw FormatError.missingGraph(path: contents.source.isEmpty ? path : contents.source)
        }
        if !options.force && FileManager.default.fileExists(atPath: path) { throw FormatError.outputExists(path: path) }
        let (jobs, entryCount) = try plan(contents, derivation: derivation, path: path)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        let (stored, spills) = try storeConcurrently(jobs, entryCount: entryCount, derivation: derivation,
                                                     directory: directory, path: path, options: options)

        var entries: [ArtifactTensorEntry] = []
        for item in stored {
            let member = item.choice.map { _ in MemberPath.member(prefix: item.role == .param ? "tensors" : "masks", index: entries.count, name: item.name) }
            entries.append(ArtifactTensorEntry(
                name: item.name, role: item.role, dtype: item.dtype, shape: item.shape,
                encoding: item.choice?.encoding ?? .paramNonzero, transform: item.choice?.transform ?? .none, quant: item.quant,
                member: member, encodedBytes: item.choice?.encodedBytes ?? 0, storedBytes: item.choice?.storedBytes ?? 0,
                sha256: item.sha256))
        }
        let provenance = derivation?.provenance?() ?? contents.provenance
        let manifest = try ArtifactManifest.encode(graph: graph, entries: entries, provenance: provenance)
        let digest = Array("\(SHA256.hex(manifest))  \(manifestMember)\n".utf8)

        try AtomicFile.write(to: path, force: options.force) { url in
            let writer = try ArchiveWriter(url: url, format: .tar, reportPath: path)
            try writer.add(path: manifestMember, bytes: manifest)
            try writer.add(path: manifestDigestMember, bytes: digest)
            for (item, entry) in zip(stored, entries) {
                guard let choice = item.choice, let member = entry.member else { continue }
                let spill = spills[item.spill]
                try writer.add(path: member, size: choice.storedBytes) { write in
                    spill.read(offset: item.offset, count: choice.storedBytes, write)
                }
                try spill.check()
            }
            try writer.close()
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        return ArtifactSummary(index: ArtifactIndex(formatVersion: formatVersion, tensors: entries,
                                                    provenance: provenance, fileBytes: size))
    }

    /// Reads only the index of an artifact (manifest checksum verified, tensors not decoded).
    public static func index(at path: String, limits: ReadLimits = .default) throws -> ArtifactIndex {
        try ArtifactDecoding.readIndex(path, limits: limits)
    }

    /// Reads an artifact, verifying every checksum (also available through `WeightReaders.read`).
    public static func read(_ path: String, limits: ReadLimits = .default) throws -> PackageContents {
        try ArtifactDecoding.read(path, limits: limits)
    }

    /// One unit of work for a thread: a parameter, a mask, or a derived parameter with its new mask.
    /// A mask is stored by reference when it equals "parameter != 0", otherwise as itself or as its
    /// difference from that, whichever is smaller.
    struct Job {
        var name: String
        var role: ArtifactTensorEntry.Role
        var tensor: Tensor
        /// Where the result goes in the list of entries.
        var entry: Int
        /// For a mask: its parameter.
        var parameter: Tensor? = nil
        /// For a derived parameter: the entry of the mask it comes with.
        var derivedMaskEntry: Int? = nil
    }

    /// A tensor as stored: its entry's facts and where its frame waits (nil choice: a mask by reference).
    struct Stored {
        var name = "", role = ArtifactTensorEntry.Role.param
        var dtype = DType.f32, shape = Shape([]), quant: QuantParams? = nil
        var choice: PayloadChoice? = nil
        var sha256 = ""
        var spill = 0, offset = 0
    }

    private static func plan(_ contents: PackageContents, derivation: ArtifactDerivation?, path: String) throws -> (jobs: [Job], entries: Int) {
        func bad(_ reason: String) -> FormatError { .malformed(path: path, entry: nil, reason: reason) }
        let derived = Set(derivation?.names ?? [])
        for name in derivation?.names ?? [] where contents.tensors[name] == nil { throw bad("no tensor '\(name)' to derive") }
        // Entries: parameters in order, then masks in order, then the masks of derived parameters that had none.
        let maskNames = contents.masks.names + (derivation?.names ?? []).filter { contents.masks[$0] == nil }
        let maskEntry = Dictionary(uniqueKeysWithValues: maskNames.enumerated().map { ($1, contents.tensors.count + $0) })
        var jobs: [Job] = []
        for (name, tensor) in contents.tensors {
            guard !name.isEmpty else { throw bad("a tensor has an empty name") }
            if let reason = tensor.quant?.invalidity(dtype: tensor.dtype, dims: tensor.shape.dims) {
                throw bad("tensor '\(name)': quant \(reason)")
            }
            jobs.append(Job(name: name, role: .param, tensor: tensor, entry: jobs.count,
                            derivedMaskEntry: derived.contains(name) ? maskEntry[name] : nil))
        }
        for (name, mask) in contents.masks where !derived.contains(name) {
            guard let param = contents.tensors[name], param.shape == mask.shape, mask.dtype == .bool else {
                throw bad("mask '\(name)' must be bool and have the shape of a parameter of the same name")
            }
            if let problem = ElementBits.maskProblem(mask, of: param) { throw bad("mask '\(name)': \(problem)") }
            jobs.append(Job(name: name, role: .mask, tensor: mask, entry: maskEntry[name]!, parameter: param))
        }
        return (jobs, contents.tensors.count + maskNames.count)
    }

    /// Runs the jobs on `options.threads` threads, largest first, each thread compressing into its
    /// own scratch file; the first error stops them all.
    private static func storeConcurrently(_ jobs: [Job], entryCount: Int, derivation: ArtifactDerivation?, directory: URL,
                                          path: String, options: ArtifactWriteOptions) throws -> (stored: [Stored], spills: [SpillFile]) {
        let results = LockedArray<Stored>(repeating: Stored(), count: entryCount)
        let threads = min(options.threads, max(jobs.count, 1))
        let spills = try (0..<threads).map { _ in try SpillFile(directory: directory, reportPath: path) }
        let order = jobs.indices.sorted { jobs[$0].tensor.byteCount > jobs[$1].tensor.byteCount }
        let next = LockedCounter()
        let failure = LockedArray<Error?>(repeating: nil, count: 1)
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            let spill = spills[worker]
            while failure.values[0] == nil, let k = next.next(below: order.count) {
                let job = jobs[order[k]]
                do {
                    for (entry, item) in try run(job, derivation: derivation, path: path, level: options.level, spill: spill, worker: worker) {
                        results.set(entry, item)
                    }
                    try spill.check()
                } catch {
                    failure.set(0, error)
                }
            }
        }
        if let error = failure.values[0] { throw error }
        return (results.values, spills)
    }

    /// One job's entries, their frames compressed into `spill`.
    private static func run(_ job: Job, derivation: ArtifactDerivation?, path: String, level: Int,
                            spill: SpillFile, worker: Int) throws -> [(Int, Stored)] {
        func store(_ name: String, _ role: ArtifactTensorEntry.Role, _ tensor: Tensor, parameter: Tensor?) -> Stored {
            var item = Stored(name: name, role: role, dtype: tensor.dtype, shape: tensor.shape, quant: tensor.quant,
                              sha256: tensor.withUnsafeBytes { SHA256.hex($0) }, spill: worker)
            let nonzero = parameter.map { ElementBits.nonzeroMask(of: $0) }
            if let nonzero, nonzero.bitwiseEqual(tensor) { return item }  // by reference
            var candidates = PayloadEncoder.candidates(for: tensor).map { (source: tensor, encoding: $0.0, transform: $0.1) }
            if let nonzero { candidates.append((ElementBits.difference(tensor, nonzero), .paramNonzeroXor, .none)) }
            (item.choice, item.offset) = PayloadEncoder.storeSmallest(candidates, level: level, in: spill)
            return item
        }
        guard let maskEntry = job.derivedMaskEntry, let derivation else {
            return [(job.entry, store(job.name, job.role, job.tensor, parameter: job.parameter))]
        }
        let (tensor, mask) = try derivation.derive(job.name, job.tensor)
        func bad(_ reason: String) -> FormatError { .malformed(path: path, entry: nil, reason: "derived tensor '\(job.name)': \(reason)") }
        guard tensor.dtype == job.tensor.dtype, tensor.shape == job.tensor.shape, tensor.quant == job.tensor.quant else {
            throw bad("dtype, shape or quantization changed")
        }
        guard mask.dtype == .bool, mask.shape == tensor.shape else { throw bad("the mask must be bool and of the tensor's shape") }
        if let problem = ElementBits.maskProblem(mask, of: tensor) { throw bad("mask: \(problem)") }
        return [(job.entry, store(job.name, .param, tensor, parameter: nil)),
                (maskEntry, store(job.name, .mask, mask, parameter: tensor))]
    }
}

/// Parameters the artifact writer replaces as it encodes them, each with a new mask: a pass that
/// derives tensors (pruning) streams its result this way, so only the tensors in flight are in
/// memory (docs/formats.md §8, "Memory"). `derive` runs once per listed name, on some writer thread.
public struct ArtifactDerivation: Sendable {
    /// The parameters replaced; their masks follow the package's masks in this order.
    public var names: [String]
    /// The new tensor (same dtype, shape and quantization) and its `bool` mask.
    public var derive: @Sendable (_ name: String, _ tensor: Tensor) throws -> (tensor: Tensor, mask: Tensor)
    /// The provenance to record, asked for once every tensor is derived (it may summarise them); nil
    /// keeps the package's.
    public var provenance: (@Sendable () -> Provenance)?

    public init(names: [String], derive: @escaping @Sendable (String, Tensor) throws -> (tensor: Tensor, mask: Tensor),
                provenance: (@Sendable () -> Provenance)? = nil) {
        self.names = names
        self.derive = derive
        self.provenance = provenance
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
