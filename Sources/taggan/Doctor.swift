import Features
import Foundation
import Ingest
import TagganCore

/// `taggan doctor`: what taggan runs on, and how fast its BLAS is here.
enum Doctor {
    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let size = try arguments.integer("--size", default: 1024)
        guard size > 0 else { throw TagganError.usage("taggan doctor: --size must be positive") }
        let backend: BLAS.Backend
        do {
            backend = try BLAS.backend()
        } catch {
            throw TagganError.failure("\(error)")
        }
        let gflops = try BLAS.measureGFLOPS(size: size)
        let environment = ProcessInfo.processInfo.environment
        // The conv net's kernel build (TAGGAN_KERNELS or the CPU's widest) and why.
        let kernels = KernelVariant.chosen
        let variants = KernelVariant.allCases.map { v in v.unsupportedReason.map { "\(v) no: \($0)" } ?? "\(v) yes" }
            .joined(separator: ", ")
        let kernelNote: String
        switch backend.kernelChosenBy {
        case "user": kernelNote = "OPENBLAS_CORETYPE=\(environment["OPENBLAS_CORETYPE"] ?? "") set by the user"
        case "taggan": kernelNote = "OPENBLAS_CORETYPE=\(environment["OPENBLAS_CORETYPE"] ?? "") set by taggan from CPU features"
        default: kernelNote = "the library's own detection"
        }
        let rows: [(String, String)] = [
            ("taggan", Commands.version),
            ("swift", MachineInfo.swiftVersion),
            ("cpu", "\(MachineInfo.cpuModel)\(MachineInfo.cpuFamilyModel.map { ", \($0)" } ?? "") (\(backend.cpuFeatures))"),
            ("cores", "\(MachineInfo.cores), memory \(String(format: "%.1f", MachineInfo.memoryGiB)) GiB"),
            ("threads", "\(Parallel.defaultThreads) (TAGGAN_THREADS \(environment["TAGGAN_THREADS"] ?? "unset"))"),
            ("blas library", backend.library),
            ("blas config", backend.config ?? "(not OpenBLAS)"),
            ("blas kernel", "\(backend.kernel ?? "unknown") (\(kernelNote))"),
            ("blas threads", backend.threads > 0 ? String(backend.threads) : "unknown"),
            ("sgemm \(size)^3", String(format: "%.1f GFLOP/s (best of 5)", gflops)),
            ("conv kernels", "\(kernels.variant) (\(kernels.reason))"),
            ("kernel variants", variants),
            ("caches", MachineInfo.caches.description),
            ("conv blocking", "lite0: \(EfficientNet.blocking(for: .lite0))"),
        ] + LibraryVersions.all.map { ($0.name, $0.version) }
        if arguments.json {
            var libraries: [String: String] = [:]
            for entry in LibraryVersions.all { libraries[entry.name] = entry.version }
            JSONSummary.print([
                "command": "doctor",
                "version": Commands.version,
                "cpu": MachineInfo.cpuModel,
                "cpu_features": backend.cpuFeatures,
                "cpu_family_model": MachineInfo.cpuFamilyModel ?? "",
                "cores": MachineInfo.cores,
                "threads": Parallel.defaultThreads,
                "blas": [
                    "library": backend.library,
                    "config": backend.config ?? "",
                    "kernel": backend.kernel ?? "",
                    "kernel_chosen_by": backend.kernelChosenBy,
                    "threads": backend.threads,
                ] as [String: Any],
                "sgemm": ["size": size, "gflops": (gflops * 10).rounded() / 10] as [String: Any],
                "conv_kernels": [
                    "variant": kernels.variant.rawValue,
                    "reason": kernels.reason,
                    "supported": KernelVariant.allCases.filter(\.isSupported).map(\.rawValue),
                    "unsupported": Dictionary(uniqueKeysWithValues: KernelVariant.allCases.compactMap { v in
                        v.unsupportedReason.map { (v.rawValue, $0) } }),
                ] as [String: Any],
                "caches": ["l1d": MachineInfo.caches.level1Data, "l2": MachineInfo.caches.level2,
                           "l3": MachineInfo.caches.level3, "source": MachineInfo.caches.source] as [String: Any],
                "libraries": libraries,
            ])
        } else {
            let width = (rows.map { $0.0.count }.max() ?? 0) + 2
            for (name, value) in rows {
                print(name + ":" + String(repeating: " ", count: width - name.count) + value)
            }
        }
        return 0
    }
}

/// `taggan bench kernels`: are the element-wise kernels really vectorised?
enum KernelBench {
    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let length = try arguments.integer("--length", default: 4096)
        guard length >= 16 else { throw TagganError.usage("taggan bench kernels: --length must be at least 16") }
        let results = KernelBenchmark.run(length: length)
        // The conv net's kernels, every variant this CPU runs (best of short runs, one thread).
        let conv = ConvKernelBenchmark.run()
        let variants = KernelVariant.allCases.filter(\.isSupported)
        if arguments.json {
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
            print("")
            print("conv kernels, GFLOP/s, one thread, best of short runs in cache (in use: \(KernelVariant.chosen.variant))")
            print("shape" + String(repeating: " ", count: 19) + variants.map { $0.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
            for shape in conv.map(\.shape).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } } {
                let row = variants.map { v in conv.first { $0.variant == v && $0.shape == shape }.map { String(format: "%-10.1f", $0.gflops) } ?? "-         " }
                print(shape.padding(toLength: 24, withPad: " ", startingAt: 0) + row.joined())
            }
            print("(unsupported here: " + (KernelVariant.allCases.compactMap { v in v.unsupportedReason.map { "\(v): \($0)" } }.joined(separator: "; ")).ifEmpty("none") + ")")
        }
        return 0
    }
}

private extension String {
    func ifEmpty(_ other: String) -> String { isEmpty ? other : self }
}
