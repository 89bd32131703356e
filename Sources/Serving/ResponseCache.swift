import Foundation
import ModelFormats
import TensorCore

/// An LRU of model outputs bounded in bytes (`--cache-bytes`; docs/serving.md, "Cache"), keyed by
/// the model's digest and a SHA-256 of the request's tensors, so a hit never runs the model and a
/// reloaded model (a new digest) never answers from its predecessor's entries.
final class ResponseCache: @unchecked Sendable {
    typealias Outputs = [String: Tensor]

    private struct Entry {
        var outputs: Outputs
        var bytes: Int
        var older: String?
        var newer: String?
    }

    let capacityBytes: Int
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var newest: String?
    private var oldest: String?
    private(set) var storedBytes = 0

    init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    /// The key of a request: the digest, then each input's name, shape and bytes in name order.
    static func key(modelDigest: String, inputs: [String: Tensor]) -> String {
        var hasher = SHA256.Hasher()
        func add(_ text: String) { Array(text.utf8).withUnsafeBytes { hasher.update($0) } }
        add(modelDigest)
        for name in inputs.keys.sorted() {
            let tensor = inputs[name]!
            add("\u{0}\(name)\u{0}\(tensor.dtype.rawValue)\(tensor.shape)\u{0}")
            tensor.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalizeHex()
    }

    func lookup(_ key: String) -> Outputs? {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = entries[key] else { return nil }
        unlink(key)
        link(key, entry)
        return entry.outputs
    }

    /// Stores `outputs` (an answer larger than the whole cache is not kept), evicting the least
    /// recently used entries until it fits.
    func store(_ key: String, _ outputs: Outputs) {
        let bytes = outputs.values.reduce(key.utf8.count) { $0 + $1.byteCount }
        guard bytes <= capacityBytes else { return }
        lock.lock()
        defer { lock.unlock() }
        if entries[key] != nil { unlink(key) }
        while storedBytes + bytes > capacityBytes, let victim = oldest { unlink(victim) }
        link(key, Entry(outputs: outputs, bytes: bytes))
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }

    /// Inserts `entry` as the newest.
    private func link(_ key: String, _ entry: Entry) {
        var entry = entry
        entry.older = newest
        entry.newer = nil
        if let newest { entries[newest]!.newer = key }
        newest = key
        if oldest == nil { oldest = key }
        entries[key] = entry
        storedBytes += entry.bytes
    }

    /// Removes `key` from the list and the table.
    private func unlink(_ key: String) {
        guard let entry = entries.removeValue(forKey: key) else { return }
        if let older = entry.older { entries[older]!.newer = entry.newer } else { oldest = entry.newer }
        if let newer = entry.newer { entries[newer]!.older = entry.older } else { newest = entry.older }
        storedBytes -= entry.bytes
    }
}
