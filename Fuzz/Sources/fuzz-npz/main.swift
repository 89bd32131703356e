import FuzzSupport
import ModelFormats

// .npz / .zip through libarchive: entry names, stored and deflated members, CRCs, sizes, the
// decode budget, then every .npy member and the package assembly (duplicates, model.json).
runFuzzer { bytes in
    let url = scratchFile(bytes, extension: "npz")
    _ = try? NpzReader().read(url, limits: fuzzLimits)
}
