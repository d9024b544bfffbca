import ArgumentParsing
import Features
import Foundation
import Ingest
import TagGAN
import TagganCore
import Workspace

/// `taggan bench kernels`: are the element-wise kernels really vectorised?
struct KernelsBenchCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["bench", "kernels"], summary: "Measure the vectorised element-wise kernels against scalar loops.")

    @Option(help: "vector length", check: .atLeast(16)) var length = 4096
    var common = CommonOptions()

    func run() throws -> Int32 {
        let results = KernelBenchmark.run(length: length)
        // The conv net's kernels, every variant this CPU runs (best of short runs, one thread).
        let conv = ConvKernelBenchmark.run()
        let variants = KernelVariant.allCases.filter(\.isSupported)
        if common.json {
            JSONSummary.print([
                "command": "bench kernels", "length": length,
                "kernels": results.map {
                    ["kernel": $0.kernel, "vector_gops": $0.vectorRate, "scalar_gops": $0.scalarRate,
                     "speedup": $0.speedup] as [String: Any]
                },
                "conv_kernels": conv.map {
                    ["variant": $0.variant.rawValue, "shape": $0.shape, "gflops": ($0.gflops * 10).rounded() / 10] as [String: Any]
                },
                "conv_kernels_in_use": KernelVariant.chosen.variant.rawValue,
            ])
        } else {
            print("kernel   vector Gop/s   scalar Gop/s   speed-up   (length \(length), one thread)")
            for r in results {
                print(String(format: "%-8@ %12.2f   %12.2f   %7.1fx", r.kernel as NSString, r.vectorRate, r.scalarRate, r.speedup))
            }
            print("\nconv kernels, GFLOP/s, one thread, best of short runs in cache (in use: \(KernelVariant.chosen.variant))")
            print("shape" + String(repeating: " ", count: 19) + variants.map { $0.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
            for shape in conv.map(\.shape).reduce(into: [String](), { if !$0.contains($1) { $0.append($1) } }) {
                let row = variants.map { v in conv.first { $0.variant == v && $0.shape == shape }.map { String(format: "%-10.1f", $0.gflops) } ?? "-         " }
                print(shape.padding(toLength: 24, withPad: " ", startingAt: 0) + row.joined())
            }
            let unsupported = KernelVariant.allCases.compactMap { v in v.unsupportedReason.map { "\(v): \($0)" } }
            print("(unsupported here: " + (unsupported.isEmpty ? "none" : unsupported.joined(separator: "; ")) + ")")
        }
        return 0
    }
}

/// `taggan bench gemm`: the GAN training step's matrix products (TagGAN's
/// `StepProducts`, shape and transposition as the step calls them), each timed through
/// BLAS at 1 and 2 threads, split over two one-thread calls, and with the conv net's 1x1
/// kernel (`GEMMBenchmark`), with each product's share of the step.
struct GEMMBenchCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["bench", "gemm"], summary: "Measure the GAN training step's matrix products, shape by shape.")

    @Option(help: "batch size", check: .positive) var batch = 100
    @Option(help: "feature size", check: .positive) var features = 1280
    @Option(help: "word vector size", check: .positive) var words = 200
    @Flag(help: "the products of a step with mismatched pairs (D sees 3 blocks of the batch)") var mismatch: Bool
    @Option(help: "milliseconds per measurement", check: .positive) var milliseconds = 150
    var common = CommonOptions()

    func run() throws -> Int32 {
        let shapes = StepProducts.paperStep(sizes: NetworkSizes(featureSize: features, wordSize: words), batch: batch,
                                            blocks: mismatch ? 3 : 2)
        let results = try GEMMBenchmark.run(shapes, seconds: Double(milliseconds) / 1000, restoreThreads: Parallel.defaultThreads)
        let methods = GEMMBenchmark.methods
        // Milliseconds per step if every product went one way, and taking each shape's best.
        func perStep(_ r: GEMMBenchmark.Result, _ method: String) -> Double {
            r.shape.operations / (r.gflops.first { $0.method == method }!.gflops * 1e9) * 1000
        }
        let totals = methods.map { method in results.reduce(0) { $0 + perStep($1, method) } }
        let total = shapes.reduce(0) { $0 + $1.operations }
        if common.json {
            JSONSummary.print([
                "command": "bench gemm", "batch": batch, "features": features, "words": words, "mismatch": mismatch,
                "kernels_in_use": KernelProducts.variant.rawValue, "step_gflop": total / 1e9,
                "products": results.map { r in
                    var row: [String: Any] = ["name": r.shape.name, "kind": r.shape.kind, "m": r.shape.m, "n": r.shape.n,
                                              "k": r.shape.k, "largest_difference": r.largestDifference]
                    for (method, rate) in r.gflops { row[method + "_gflops"] = rate }
                    return row
                },
                "step_milliseconds": Dictionary(uniqueKeysWithValues: zip(methods, totals.map { ($0 * 100).rounded() / 100 })),
            ])
            return 0
        }
        print(String(format: "GAN step products, batch %d, features %d, words %d%@: %.2f GFLOP per step; GFLOP/s (own kernels: %@)",
                     batch, features, words, mismatch ? ", mismatched pairs" : "", total / 1e9,
                     KernelProducts.variant.rawValue))
        print("product".padding(toLength: 30, withPad: " ", startingAt: 0) + "kind  " + "m x n x k".padding(toLength: 17, withPad: " ", startingAt: 0)
              + methods.map { $0.padding(toLength: 11, withPad: " ", startingAt: 0) }.joined() + "share")
        let blas2Total = totals[methods.firstIndex(of: "blas2")!]
        for r in results {
            let size = "\(r.shape.m)x\(r.shape.n)x\(r.shape.k)"
            print(r.shape.name.padding(toLength: 30, withPad: " ", startingAt: 0) + r.shape.kind + "    "
                  + size.padding(toLength: 17, withPad: " ", startingAt: 0)
                  + r.gflops.map { String(format: "%-11.1f", $0.gflops) }.joined()
                  + String(format: "%4.1f%%", 100 * perStep(r, "blas2") / blas2Total))
        }
        print("ms per step".padding(toLength: 53, withPad: " ", startingAt: 0) + totals.map { String(format: "%-11.2f", $0) }.joined())
        return 0
    }
}

/// `taggan bench decode FOLDER`: JPEG decode-to-size throughput.
struct DecodeBenchCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["bench", "decode"], summary: "Measure JPEG decode-to-size throughput on a folder of JPEGs.")
    static let needsBLAS = false

    @Argument(value: "FOLDER") var folderPath: String
    @Option(help: "shorter side after DCT scaling and resizing (0: full size, no resize)", check: .notNegative) var size = 224
    @Option(help: "worker threads (1: as djpeg)", check: .positive) var threads = 1
    var common = CommonOptions()

    func run() throws -> Int32 {
        let folder = URL(fileURLWithPath: folderPath)
        let files = ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
            .filter { ["jpg", "jpeg"].contains($0.pathExtension.lowercased()) }
            .sorted { $0.path < $1.path }
        guard !files.isEmpty else { throw TagganError.file(folder.path, "no JPEG files") }
        let result = try DecodeBenchmark.run(files: files, size: size > 0 ? size : nil, threads: threads)
        if common.json {
            JSONSummary.print(["command": "bench decode", "images": result.images, "size": size, "threads": threads,
                               "seconds": result.seconds, "images_per_second": result.imagesPerSecond])
        } else {
            print(String(format: "decode%@: %d images in %.2f s, %.1f images/s (%d thread%@)",
                         size > 0 ? " to \(size) px" as NSString : " at full size" as NSString,
                         result.images, result.seconds, result.imagesPerSecond, threads, threads == 1 ? "" : "s"))
        }
        return 0
    }
}

/// `taggan bench features`: images/s of the network alone (batches of real or synthetic
/// crops) and of whole folders (decode + preprocess + network).
struct FeaturesBenchCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["bench", "features"], summary: "Measure conv-net images/s (inference alone, and a whole folder with decoding).")

    @Argument(value: "FOLDER") var folder: String?
    @Option(value: "M", help: "the network") var model = EfficientNetConfig.lite0
    @Option(value: "F", help: "weights file (default as for taggan features)") var weights: String?
    @Option(help: "images per forward pass", check: .positive) var batch = 32
    @Option(help: "timed batches", check: .positive) var repeats = 5
    @Option(help: "worker threads (default: all cores)", check: .positive) var threads: Int?
    @Flag(help: "time one batch per line read on stdin, printing its seconds, until end of input "
              + "(for bench/features.sh, which alternates batches with onnxruntime's)") var serve: Bool
    var common = CommonOptions()

    func run() throws -> Int32 {
        let config = model, threads = self.threads ?? Parallel.defaultThreads
        let net = try FeatureExtraction.loadNetwork(config, weights: weights)
        if serve {
            FeatureExtraction.serveBatches(net, batch: batch, threads: threads)
            return 0
        }
        let measured = try FeatureExtraction.benchmark(net, batch: batch, repeats: repeats, threads: threads,
                                                       folder: folder.map { URL(fileURLWithPath: $0) })
        var result: [String: Any] = [
            "command": "bench features", "model": config.name, "batch": batch, "threads": threads, "repeats": repeats,
            "inference_images_per_second_best": measured.bestRate, "inference_images_per_second_mean": measured.meanRate,
        ]
        if let folderRate = measured.folderRate {
            result["folder_images"] = measured.folderImages
            result["folder_images_per_second"] = folderRate
        }
        if common.json {
            JSONSummary.print(result)
        } else {
            print(String(format: "%@ inference, batch %d, %d threads: %.1f images/s (best of %d), %.1f mean",
                         config.name, batch, threads, result["inference_images_per_second_best"] as! Double, repeats,
                         result["inference_images_per_second_mean"] as! Double))
            if let rate = result["folder_images_per_second"] as? Double {
                print(String(format: "whole folder (decode + preprocess + network): %d images, %.1f images/s",
                             result["folder_images"] as! Int, rate))
            }
        }
        return 0
    }
}
