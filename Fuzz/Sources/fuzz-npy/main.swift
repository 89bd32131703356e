import FuzzSupport
import ModelFormats

// .npy: magic, version, the Python-literal header, dtype/shape checks, the data (C and Fortran order).
runFuzzer { bytes in
    _ = try? Npy.decode(bytes, path: "fuzz.npy", entry: nil, limits: fuzzLimits)
}
