import FuzzSupport
import ModelFormats

/// Storages the pickle may refer to by persistent id ("0" … "15"), 4 KiB each, so tensor
/// rebuilding (dtype, shape, strides, offsets, views) runs on mutated pickles too.
let storages: [ArchiveEntry] = (0..<16).map { key in
    ArchiveEntry(path: "archive/data/\(key)", data: (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ key) })
}

// The restricted unpickler on `archive/data.pkl`, then state_dict selection and tensor materialisation.
runFuzzer { bytes in
    let entries = [ArchiveEntry(path: "archive/data.pkl", data: bytes)] + storages
    guard let checkpoint = try? PyTorchCheckpoint(entries: entries, path: "fuzz.pt") else { return }
    _ = try? checkpoint.stateDict(PyTorchLoadOptions(), limits: fuzzLimits)
    _ = try? checkpoint.stateDict(PyTorchLoadOptions(key: "state_dict", stripPrefix: "module."), limits: fuzzLimits)
}
