// swift-tools-version:6.0
// Benchmarks live in their own package so their dependencies stay out of the product.
// Build and run: swift build -c release --package-path Benchmarks && Benchmarks/.build/release/modelsmith-bench <name>
import PackageDescription

let package = Package(
    name: "ModelSmithBenchmarks",
    dependencies: [
        .package(name: "ModelSmith", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "modelsmith-bench",
            dependencies: [.product(name: "ModelSmithKit", package: "ModelSmith")]
        ),
    ]
)
