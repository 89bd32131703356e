import Foundation
import FuzzSupport
@testable import ModelFormats

// The manifest of an `.msa` as an attacker writes it: the input is `model.json` itself, and the
// artifact built around it gets a *correct* digest, so every mutation reaches the semantic checks
// (quant params, provenance, encodings, sizes, masks) instead of stopping at the checksum. The
// members are those of the seed artifacts (Fuzz/Corpus/msa) whose names the manifest mentions,
// so mutated entries meet real payloads. Also drives `ArtifactManifest.decode` alone.

/// Every member (after the manifest and its digest) of the seed artifacts.
let pool: [(name: String, data: [UInt8])] = {
    let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Corpus/msa").standardized
    let files = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path))?.sorted() ?? []
    var members: [(String, [UInt8])] = []
    for file in files where file.hasSuffix(".msa") {
        guard let tar = try? TarStream(path: corpus.appendingPathComponent(file).path) else { continue }
        var position = 0
        while let member = try? tar.nextMember(), let data = try? tar.readAll(expected: member.size) {
            if position >= 2 { members.append((member.path, data)) }
            position += 1
        }
    }
    precondition(!members.isEmpty, "no seed artifacts in \(corpus.path)")
    return members
}()

let artifact = URL(fileURLWithPath: (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
    + "/modelsmith-fuzz-\(getpid())-manifest.msa")

runFuzzer { manifest in
    _ = try? ArtifactManifest.decode(manifest, path: "fuzz/model.json", limits: fuzzLimits)
    let text = Data(manifest)
    do {
        try? FileManager.default.removeItem(at: artifact)
        let writer = try ArchiveWriter(url: artifact, format: .tar, reportPath: artifact.path)
        try writer.add(path: Artifact.manifestMember, bytes: manifest)
        try writer.add(path: Artifact.manifestDigestMember, bytes: Array("\(SHA256.hex(manifest))  model.json\n".utf8))
        var added = Set<String>()
        for (name, data) in pool where added.insert(name).inserted && text.range(of: Data(name.utf8)) != nil {
            try writer.add(path: name, bytes: data)
        }
        try writer.close()
    } catch { return }
    _ = try? Artifact.index(at: artifact.path, limits: fuzzLimits)
    _ = try? Artifact.read(artifact.path, limits: fuzzLimits)
}
