// swift-tools-version:6.0
// libFuzzer targets for every parser of untrusted input (issue 8). Never built by `make test`.
// Build and run one: scripts/fuzz.sh TARGET SECONDS (see docs/robustness.md).
//   swift build -c release --package-path Fuzz --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -enable-testing
// (-enable-testing: `msa-manifest` reaches the internal manifest decoder and tar writer.)
import PackageDescription

/// One executable per fuzz target; each `main.swift` hands one parser to `runFuzzer`.
let fuzzTargets = ["npy", "npz", "tar", "safetensors", "graph", "msa", "msa-manifest", "pytorch", "recipe", "onnx", "infer-request"]

let package = Package(
    name: "ModelSmithFuzz",
    dependencies: [
        .package(name: "ModelSmith", path: ".."),
    ],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "ModelSmithKit", package: "ModelSmith")]),
    ] + fuzzTargets.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: [
                "FuzzSupport",
                .product(name: "ModelSmithKit", package: "ModelSmith"),
                .product(name: "ModelSmithCLIKit", package: "ModelSmith"),
                .product(name: "ModelSmithServingKit", package: "ModelSmith"),
            ],
            path: "Sources/fuzz-\(name)"
        )
    }
)
