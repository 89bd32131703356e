import FuzzSupport
import ModelFormats

// .msa artifacts: the tar members, the manifest checksum, the manifest (tensor index, quant
// params, provenance), every zstd frame, the payload decoders (dense, shuffled, sparse, int8) and
// every tensor checksum; and the index-only path `inspect` uses.
runFuzzer { bytes in
    let url = scratchFile(bytes, extension: "msa")
    _ = try? Artifact.index(at: url.path, limits: fuzzLimits)
    _ = try? Artifact.read(url.path, limits: fuzzLimits)
}
