import FuzzSupport
import ModelFormats

// The tar family (.tar, .tar.gz, .tar.xz, .tar.zst, .zip; libarchive detects the filter from the
// bytes) holding model.json + .npy/.safetensors, as ArchivePackageReader reads a model package.
runFuzzer { bytes in
    let url = scratchFile(bytes, extension: "tar")
    _ = try? ArchivePackageReader().read(url, limits: fuzzLimits)
}
