import ArgumentParsing
import Features
import Foundation
import Ingest
import TagganCore

/// `taggan doctor`: what taggan runs on, and how fast its BLAS is here.
struct DoctorCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["doctor"], summary: "Show versions, the BLAS backend and kernel, and measured sgemm GFLOP/s.")
    static let needsBLAS = false

    @Option(help: "matrix size for the sgemm measurement", check: .positive) var size = 1024
    var common = CommonOptions()

    func run() throws -> Int32 {
        let backend = try BLAS.backend()
        let before = MachineInfo.cpuTimes()
        let gflops = try BLAS.measureGFLOPS(size: size)
        // How much of the machine's time the hypervisor took while sgemm was measured.
        let steal = before.flatMap { b in MachineInfo.cpuTimes().map { $0.stolenShare(since: b) } }
        let environment = ProcessInfo.processInfo.environment
        // The conv net's kernel build (TAGGAN_KERNELS or the CPU's widest) and why.
        let kernels = KernelVariant.chosen
        let variants = KernelVariant.allCases.map { v in v.unsupportedReason.map { "\(v) no: \($0)" } ?? "\(v) yes" }
            .joined(separator: ", ")
        let kernelNote: String
        switch backend.kernelChosenBy {
        case "user":
            // A user's (or a machine image's) setting is honoured; say when it leaves the
            // CPU's widest vectors unused (sgemm at half speed: Haswell on an AVX-512 CPU).
            let set = environment["OPENBLAS_CORETYPE"] ?? ""
            let own = BLAS.coretypeForThisCPU
            kernelNote = "OPENBLAS_CORETYPE=\(set) set by the user"
                + (own.map { $0.lowercased() != set.lowercased() ? "; taggan would choose \($0) for this CPU" : "" } ?? "")
        case "taggan": kernelNote = "OPENBLAS_CORETYPE=\(environment["OPENBLAS_CORETYPE"] ?? "") set by taggan from CPU features"
        default: kernelNote = "the library's own detection"
        }
        // Found by computing with denormals on the threads that compute, not assumed.
        let probe = Denormals.probe()
        let flushing = probe.everywhere
        let denormals = flushing ? "flushed to zero (FTZ + DAZ) on every compute thread"
            : environment["TAGGAN_DENORMALS"] == "ieee" ? "IEEE gradual underflow (TAGGAN_DENORMALS=ieee)"
            : "IEEE gradual underflow on \([probe.caller ? nil : "the main thread", probe.workers ? nil : "workers", probe.blas ? nil : "BLAS threads"].compactMap { $0 }.joined(separator: ", "))"
        let rows: [(String, String)] = [
            ("taggan", Commands.version),
            ("swift", MachineInfo.swiftVersion),
            ("cpu", "\(MachineInfo.cpuModel)\(MachineInfo.cpuFamilyModel.map { ", \($0)" } ?? "") (\(backend.cpuFeatures))"),
            ("cores", "\(MachineInfo.cores), memory \(String(format: "%.1f", MachineInfo.memoryGiB)) GiB"),
            ("threads", "\(Parallel.defaultThreads) (TAGGAN_THREADS \(environment["TAGGAN_THREADS"] ?? "unset"))"),
            ("denormals", denormals),
            ("blas library", backend.library),
            ("blas config", backend.config ?? "(not OpenBLAS)"),
            ("blas kernel", "\(backend.kernel ?? "unknown") (\(kernelNote))"),
            ("blas threads", backend.threads > 0 ? String(backend.threads) : "unknown"),
            ("sgemm \(size)^3", String(format: "%.1f GFLOP/s (best of 5)", gflops)),
            ("cpu time stolen", steal.map(Self.describeSteal) ?? "unknown (no /proc/stat)"),
            ("conv kernels", "\(kernels.variant) (\(kernels.reason))"),
            ("kernel variants", variants),
            ("caches", MachineInfo.caches.description),
            ("conv blocking", "lite0: \(EfficientNet.blocking(for: .lite0))"),
        ] + LibraryVersions.all.map { ($0.name, $0.version) }
        if common.json {
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
                "denormals": ["flushed": flushing, "main_thread": probe.caller, "workers": probe.workers,
                              "blas_threads": probe.blas] as [String: Any],
                "blas": [
                    "library": backend.library,
                    "config": backend.config ?? "",
                    "kernel": backend.kernel ?? "",
                    "kernel_chosen_by": backend.kernelChosenBy,
                    "kernel_taggan_would_choose": BLAS.coretypeForThisCPU ?? "",
                    "threads": backend.threads,
                ] as [String: Any],
                "sgemm": ["size": size, "gflops": (gflops * 10).rounded() / 10,
                          // -1: not known (no /proc/stat).
                          "stolen_share": steal.map { ($0 * 1000).rounded() / 1000 } ?? -1] as [String: Any],
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

    /// The steal during the sgemm measurement, and what it means for speed figures.
    static func describeSteal(_ share: Double) -> String {
        let percent = String(format: "%.0f%%", share * 100)
        if share < 0.05 { return "\(percent) during the sgemm measurement (/proc/stat)" }
        return "\(percent) during the sgemm measurement (/proc/stat): the host runs other virtual machines "
            + "on these cores, so speed figures taken now are low and vary; compare only peers measured in the same run"
    }
}
