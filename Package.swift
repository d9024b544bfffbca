// swift-tools-version:6.0
// taggan: image tagging with conditional GANs over word vectors.
// See README.md for the module picture; imports run
//   taggan (executable) -> stage modules -> TagganCore / C bindings.
import Foundation
import PackageDescription

/// taggan builds from source on the machine that runs it, so a release build may use
/// the host's vector extensions: AVX2 + FMA doubles the element-wise kernels' speed
/// here (`taggan bench kernels`). `TAGGAN_TARGET_CPU=x86-64` (or any LLVM CPU name)
/// overrides the choice, e.g. to build a binary for older machines. (The conv net's
/// kernels are built for every variant regardless: `convKernelSettings`.)
func releaseTargetCPU() -> [String] {
    if let chosen = ProcessInfo.processInfo.environment["TAGGAN_TARGET_CPU"], !chosen.isEmpty {
        return ["-target-cpu", chosen]
    }
    #if arch(x86_64)
    if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
       let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) {
        let set = Set(flags.split(separator: " ").map(String.init))
        if set.isSuperset(of: ["avx2", "fma", "bmi2", "f16c", "movbe"]) {
            // TAGGAN_VECTOR_FMA: kernels may use SIMD fused multiply-add and min/max,
            // which are single instructions on such a CPU (library calls without one).
            return ["-target-cpu", "haswell", "-DTAGGAN_VECTOR_FMA"]
        }
    }
    #endif
    return []
}

/// Release builds drop overflow and bounds checks in the hot numeric loops; debug
/// builds keep every check so tests catch indexing mistakes.
let releaseOnly: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"] + releaseTargetCPU(), .when(configuration: .release)),
]

/// Every product target is optimised in debug builds too (`-O` keeps Swift's bounds and
/// overflow checks, so tests still catch indexing mistakes; only release builds drop them).
/// The tests run whole pipelines through the debug `taggan` (OpenClipart's ingest, eval's
/// TagProp and bootstrap, annotate, training): unoptimised, the stages whose hot loops are
/// Swift code run 10-100x slower, and the test run spent most of its time there. Debug
/// builds get the release target CPU so that tests run the kernels release builds run.
let optimisedInDebug: [SwiftSetting] = releaseOnly + [.unsafeFlags(["-O"] + releaseTargetCPU(), .when(configuration: .debug))]

/// The conv net's hot kernels (`Sources/_ConvKernels`) are one Swift source built three
/// times, each for one target CPU, and Features picks one at run time (TagganCore's
/// `KernelVariant`: CPUID, or TAGGAN_KERNELS=generic|avx2|avx512), so one binary is fast
/// on AVX2-only and AVX-512 machines and the tests run every variant the CPU can.
/// `_ConvKernelsAVX2` and `_ConvKernelsAVX512` hold symbolic links to `_ConvKernels`'s
/// files (SwiftPM does not let targets share a folder). Optimised in debug builds too.
///   generic: no target CPU (x86-64's SSE2)
///   avx2:    `haswell` (AVX2 + FMA, 16 ymm registers)
///   avx512:  `skylake-avx512` (AVX-512 F/CD/BW/DQ/VL, 32 zmm registers): with 32
///            registers the depthwise kernel ran 10-20% faster than the AVX2 build and
///            the thin 1x1 convolutions up to 10% (AMD EPYC Zen 4, built then with
///            `-target-cpu znver4`; skylake-avx512 asks only for the extensions used)
func convKernelSettings(_ variant: String) -> [SwiftSetting] {
    var flags: [String] = []
    #if arch(x86_64)
    switch variant {
    case "avx2": flags = ["-target-cpu", "haswell", "-DTAGGAN_VECTOR_FMA"]
    case "avx512": flags = ["-target-cpu", "skylake-avx512", "-DTAGGAN_VECTOR_FMA", "-DTAGGAN_VECTOR_512"]
    default: flags = []
    }
    #endif
    return [
        .unsafeFlags(["-Ounchecked", "-wmo"] + flags, .when(configuration: .release)),
        .unsafeFlags(["-O"] + flags, .when(configuration: .debug)),
    ]
}

let package = Package(
    name: "taggan",
    products: [
        .executable(name: "taggan", targets: ["taggan"]),
        .library(name: "TagganCore", targets: ["TagganCore"]),
        .library(name: "Ingest", targets: ["Ingest"]),
        .library(name: "SkipGram", targets: ["SkipGram"]),
        .library(name: "Features", targets: ["Features"]),
        .library(name: "TagGAN", targets: ["TagGAN"]),
        .library(name: "Eval", targets: ["Eval"]),
        .library(name: "Workspace", targets: ["Workspace"]),
        .library(name: "ArgumentParsing", targets: ["ArgumentParsing"]),
    ],
    targets: [
        // MARK: - Public API: the stages and the executable

        .executableTarget(
            name: "taggan",
            dependencies: ["ArgumentParsing", "Workspace", "TagganCore", "Ingest", "SkipGram", "Features", "TagGAN", "Eval"],
            swiftSettings: optimisedInDebug),
        // Commands declare their options as typed properties; this parses and documents them.
        .target(name: "ArgumentParsing", swiftSettings: optimisedInDebug),
        // W's layout and formats (catalog, embedding files and shards, models, eval's choice,
        // annotation keys), joining the stages' data for the commands.
        .target(
            name: "Workspace",
            dependencies: ["TagganCore", "Ingest", "SkipGram", "Features", "TagGAN", "Eval"],
            swiftSettings: optimisedInDebug),
        .target(
            name: "Ingest",
            dependencies: ["TagganCore", "_JPEGShim", "CJPEG", "CPNG", "CLibXML2", "CSQLite", "CZlib", "CLibCrypto"],
            swiftSettings: optimisedInDebug),
        // (TagGAN optimised in debug: the class-conditional judge test trains the paper's
        // networks, 0.069 s a step against 1.32 s unoptimised.)
        .target(name: "SkipGram", dependencies: ["TagganCore"], swiftSettings: optimisedInDebug),
        .target(name: "Features", dependencies: ["TagganCore", "_ConvKernels", "_ConvKernelsAVX2", "_ConvKernelsAVX512"],
                swiftSettings: optimisedInDebug),
        // -fno-math-errno: Float.squareRoot() goes through a C shim (__builtin_sqrtf) that,
        // compiled with errno semantics, keeps a sqrtf call per lane beside vsqrtss, so
        // SIMD16's squareRoot in Adam's update ran as 16 scalar square roots with branches
        // (14% of the default step's cycles). Without errno it is vsqrtps: the same
        // correctly rounded values.
        .target(name: "TagGAN", dependencies: ["TagganCore"],
                swiftSettings: optimisedInDebug + [.unsafeFlags(["-Xcc", "-fno-math-errno"])]),
        .target(name: "Eval", dependencies: ["TagganCore"], swiftSettings: optimisedInDebug),

        // The numeric core every stage shares: tensors, BLAS, random numbers, parallel
        // loops, taggan's own matrix products, and the command-line conventions (progress,
        // JSON summaries, atomic files).
        .target(
            name: "TagganCore",
            dependencies: ["_BLASLoader", "_ConvKernels", "_ConvKernelsAVX2", "_ConvKernelsAVX512"],
            swiftSettings: optimisedInDebug),

        // MARK: - Implementation details: C libraries and shims

        // The conv net's kernels, one source for three target CPUs (`convKernelSettings`).
        .target(name: "_ConvKernels", swiftSettings: convKernelSettings("generic")),
        .target(name: "_ConvKernelsAVX2", swiftSettings: convKernelSettings("avx2")),
        .target(name: "_ConvKernelsAVX512", swiftSettings: convKernelSettings("avx512")),

        // BLAS is opened with dlopen, not linked: OpenBLAS picks its kernel in a library
        // constructor, so OPENBLAS_CORETYPE has to be set before the library loads.
        .target(
            name: "_BLASLoader",
            linkerSettings: [.linkedLibrary("dl")]),
        // libjpeg reports errors by longjmp from an error manager; Swift cannot setjmp,
        // so every libjpeg call that can fail goes through this C shim.
        .target(
            name: "_JPEGShim",
            dependencies: ["CJPEG"],
            // Optimised in debug builds too: its Huffman decoder decodes every baseline JPEG
            // the tests read (at -O0 it is several times slower than libjpeg's).
            cSettings: [.unsafeFlags(["-O2"], .when(configuration: .debug))],
            linkerSettings: [.linkedLibrary("jpeg")]),
        .systemLibrary(
            name: "CJPEG",
            providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(
            name: "CPNG",
            pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(
            name: "CSQLite",
            providers: [.apt(["libsqlite3-dev"])]),
        // OpenSSL's libcrypto: SHA-256, the catalog's content ids (SHA-NI / AVX2 code).
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        // zlib inflates compressed iTXt chunks (XMP embedded in PNG).
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"])]),

        // The 100k-image simulation behind BENCHMARKS' scale table (bench/scale.sh);
        // a benchmark, kept apart from the tests and from the taggan executable.
        .executableTarget(
            name: "ScaleBench",
            dependencies: ["TagganCore", "Ingest", "TagGAN", "Eval", "Workspace", "CSQLite"],
            path: "bench/scale",
            swiftSettings: releaseOnly),

        // MARK: - Tests

        // The libFuzzer target over Ingest's parsers, only with TAGGAN_FUZZ=1 (README).
    ] + (ProcessInfo.processInfo.environment["TAGGAN_FUZZ"] == nil ? [] : [
        .executableTarget(
            name: "IngestFuzz",
            dependencies: ["Ingest"],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]) + [

        // One-line helpers the tests share (running the built `taggan`); tests only.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(
            name: "TagganCoreTests",
            dependencies: ["TagganCore"]),
        .testTarget(
            name: "IngestTests",
            dependencies: ["Ingest", "TagganCore", "TestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "EvalTests",
            dependencies: ["Eval", "Ingest", "TagganCore"]),
        .testTarget(
            name: "SkipGramTests",
            dependencies: ["SkipGram", "Ingest", "TagganCore", "taggan", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "FeaturesTests",
            dependencies: ["Features", "TagganCore", "Ingest", "TestSupport"],  // Ingest: the decode + preprocess test only
            exclude: ["Fixtures"]),
        .testTarget(
            name: "TagGANTests",
            dependencies: ["TagGAN", "TagganCore", "taggan", "TestSupport"]),
        .testTarget(
            name: "CommandLineTests",
            dependencies: ["taggan", "Workspace", "TagganCore", "TestSupport"]),
        // The class-conditional image experiment (issue 15): layers, Parzen, idx/digits, training.
        .testTarget(
            name: "ClassConditionalTests",
            dependencies: ["TagGAN", "Eval", "Ingest", "TagganCore", "taggan", "TestSupport"]),
    ]
)
