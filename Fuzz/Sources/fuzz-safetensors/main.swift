import FuzzSupport
import ModelFormats

// .safetensors: header length, the JSON header (depth, keys, dtypes, shapes, offsets), coverage
// of the data section, and the tensors.
runFuzzer { bytes in
    _ = try? Safetensors.decode(bytes, path: "fuzz.safetensors", entry: nil, limits: fuzzLimits)
}
