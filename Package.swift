// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "NeuroMaskSwift",
    products: [
        .library(name: "NMTensor", targets: ["NMTensor"]),
        .library(name: "NMNets", targets: ["NMNets"]),
        .library(name: "NMExplain", targets: ["NMExplain"]),
        .executable(name: "neuromask", targets: ["neuromask"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Public API
        // Layering: CBLASShim, CImageCodecs, CVectorAccess → NMTensor → NMNets → NMExplain → neuromask.
        .target(name: "NMTensor", dependencies: ["CBLASShim", "CImageCodecs", "CVectorAccess"]),
        .target(name: "NMNets", dependencies: ["NMTensor"], resources: [.copy("Resources/imagenet_classes.txt")]),
        .target(name: "NMExplain", dependencies: ["NMNets", "NMTensor"], resources: [.copy("Resources/Samples")]),
        .executableTarget(
            name: "neuromask",
            dependencies: [
                "NMExplain", "NMNets", "NMTensor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // MARK: - Implementation details
        // The only place that includes BLAS/LAPACK headers; no stable Swift API.
        .target(
            name: "CBLASShim",
            linkerSettings: [.linkedLibrary("openblas"), .linkedLibrary("lapacke")]),
        // Always-inlined unaligned SIMD loads and stores for the register kernels.
        .target(name: "CVectorAccess"),
        // libpng and libjpeg behind error-code C functions (libjpeg's longjmp stays in C).
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),
        .target(name: "NMTestSupport", dependencies: ["NMTensor", "NMNets"], path: "Tests/NMTestSupport"),

        // MARK: - Benchmarks (executables; never built by dependents)
        .executableTarget(
            name: "nmtensor-bench", dependencies: ["NMTensor", "CBLASShim"],
            path: "Benchmarks/TensorBench"),
        .executableTarget(
            name: "neuromask-bench", dependencies: ["NMExplain", "NMNets", "NMTensor"],
            path: "Benchmarks/NeuroMaskBench"),
        .executableTarget(
            name: "neuromask-gridgame", dependencies: ["NMExplain", "NMNets", "NMTensor"],
            path: "Benchmarks/GridPointingGame"),

        // MARK: - Tests
        .testTarget(
            name: "NMTensorTests", dependencies: ["NMTensor", "NMTestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "NMNetsTests", dependencies: ["NMNets", "NMTensor", "NMTestSupport"],
            resources: [.copy("Fixtures"), .copy("References")]),
        .testTarget(
            name: "NMExplainTests", dependencies: ["NMExplain", "NMNets", "NMTensor", "NMTestSupport"],
            resources: [.copy("References")]),
        // Runs the built `neuromask` binary end to end; the dependency makes `swift test` build it.
        .testTarget(name: "NeuroMaskCLITests", dependencies: ["neuromask", "NMTensor"], resources: [.copy("Fixtures")]),
    ]
)
