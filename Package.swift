// swift-tools-version:6.0
// One-way target graph (DESIGN §7):
// TensorCore ← ModelFormats ← ModelGraph ← ModelRuntime ← {Quantization, Pruning, Training} ← Benchmarking ← ModelSmithCLI.
// Kernels depends only on TensorCore and the C shims and plugs into ModelRuntime.
import PackageDescription

let package = Package(
    name: "ModelSmith",
    products: [
        .executable(name: "modelsmith", targets: ["modelsmith"]),
        // The libraries, for the Benchmarks package (a path dependency on "..").
        .library(name: "ModelSmithKit", targets: [
            "TensorCore", "ModelFormats", "ModelGraph", "Kernels", "ModelRuntime",
            "Quantization", "Pruning", "Training", "Benchmarking",
        ]),
        // The CLI library (recipe parsing, option groups), for the Fuzz package.
        .library(name: "ModelSmithCLIKit", targets: ["ModelSmithCLI"]),
        // The server library (the request decoder), for the Fuzz package.
        .library(name: "ModelSmithServingKit", targets: ["Serving"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // System libraries (apt: libarchive-dev, libzstd-dev, libdnnl-dev; oneDNN ships no .pc file).
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // Scalar reference kernels + AVX-512/AVX2 variants, dispatched on CPU features at run time.
        // libmvec: glibc's vector expf/erff for the gelu and softmax variants.
        .target(name: "CKernels", linkerSettings: [.linkedLibrary("mvec")]),

        .target(name: "TensorCore"),
        .target(name: "ModelFormats", dependencies: ["TensorCore", "CArchive", "CZstd", "CKernels"]),
        // Swift generated from Protos/onnx-subset.proto by scripts/gen-onnx-proto.sh (committed).
        .target(name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "ModelGraph", dependencies: [
            "TensorCore", "ModelFormats", "ONNXProto",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "HeapModule", package: "swift-collections"),
        ]),
        .target(name: "Kernels", dependencies: ["TensorCore", "CKernels", "CDNNL"]),
        .target(name: "ModelRuntime", dependencies: [
            "TensorCore", "ModelFormats", "ModelGraph", "Kernels",
            .product(name: "HeapModule", package: "swift-collections"),
        ]),
        .target(name: "Quantization", dependencies: ["TensorCore", "ModelGraph", "ModelRuntime", "Kernels"]),
        .target(name: "Pruning", dependencies: ["TensorCore", "ModelGraph", "ModelRuntime", "Kernels"]),
        .target(name: "Training", dependencies: ["TensorCore", "ModelFormats", "ModelGraph", "ModelRuntime", "Kernels"]),
        .target(name: "Benchmarking", dependencies: [
            "TensorCore", "ModelFormats", "ModelGraph", "ModelRuntime",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        // The inference server (docs/serving.md): HTTP, batching, cache, metrics, and the load generator.
        .target(name: "Serving", dependencies: [
            "TensorCore", "ModelFormats", "ModelGraph", "ModelRuntime", "Benchmarking",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        .target(name: "ModelSmithCLI", dependencies: [
            "TensorCore", "ModelFormats", "ModelGraph", "ModelRuntime", "Kernels",
            "Quantization", "Pruning", "Training", "Benchmarking", "Serving",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "modelsmith", dependencies: ["ModelSmithCLI"]),
        .target(name: "TestSupport", dependencies: ["TensorCore"]),

        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelGraphTests", dependencies: ["ModelGraph", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "ModelRuntimeTests", dependencies: ["ModelRuntime", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "Pruning", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PruningTests", dependencies: ["Pruning", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "BenchmarkingTests", dependencies: ["Benchmarking", "TestSupport"]),
        .testTarget(name: "ServingTests", dependencies: [
            "Serving", "ModelRuntime", "ModelGraph", "ModelFormats", "TensorCore", "TestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "ONNXTests", dependencies: [
            "Kernels", "ModelGraph", "ModelRuntime", "ModelFormats", "ONNXProto", "Quantization", "TestSupport",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "CLITests", dependencies: ["ModelSmithCLI", "ModelFormats", "Serving", "TestSupport"], resources: [.copy("Fixtures")]),
    ]
)
