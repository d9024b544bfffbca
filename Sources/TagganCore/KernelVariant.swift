import _BLASLoader
import Foundation

/// Which build of the conv net's hand-written kernels runs: the same Swift source is
/// compiled three times (Package.swift: `_ConvKernels`, `_ConvKernelsAVX2`,
/// `_ConvKernelsAVX512`), and the variant is chosen when the program starts, so one
/// binary runs fast on an AVX2-only CPU and on an AVX-512 one, and the tests check every
/// variant the machine running them can execute.
///
/// The choice: `TAGGAN_KERNELS=generic|avx2|avx512` when set (a variant this CPU cannot
/// run is refused with the reason, never executed), else the widest variant the CPU runs
/// (CPUID, with the OS's saved register state from XGETBV, as for OpenBLAS's core type).
public enum KernelVariant: String, CaseIterable, Sendable, CustomStringConvertible {
    /// No target CPU: SSE2 only, multiply-add as a multiply and an add.
    case generic
    /// LLVM's `haswell`: AVX2 + FMA, 16 ymm registers.
    case avx2
    /// LLVM's `skylake-avx512`: AVX-512 F/CD/BW/DQ/VL, 32 zmm registers.
    case avx512

    public var description: String { rawValue }

    /// Why this CPU cannot run the variant, or nil when it can.
    public var unsupportedReason: String? {
        let level: Int32
        switch self {
        case .generic: return nil
        case .avx2: level = 1
        case .avx512: level = 2
        }
        let missing = String(cString: taggan_cpu_kernel_missing(level))
        return missing.isEmpty ? nil : "this CPU lacks \(missing)"
    }

    public var isSupported: Bool { unsupportedReason == nil }

    /// The widest variant this CPU runs.
    public static var widestSupported: KernelVariant {
        allCases.last { $0.isSupported } ?? .generic
    }

    /// A variant and why it was chosen, for `taggan doctor` and logs.
    public struct Choice: Sendable, Equatable {
        public let variant: KernelVariant
        public let reason: String
        /// Set when TAGGAN_KERNELS asked for something that could not be honoured.
        public let warning: String?

        public init(variant: KernelVariant, reason: String, warning: String?) {
            self.variant = variant
            self.reason = reason
            self.warning = warning
        }
    }

    /// The variant the process uses (decided once, from TAGGAN_KERNELS and the CPU).
    public static let chosen: Choice = {
        let choice = choose(requested: ProcessInfo.processInfo.environment["TAGGAN_KERNELS"])
        if let warning = choice.warning { FileHandle.standardError.write(Data("taggan: \(warning)\n".utf8)) }
        return choice
    }()

    /// The rule behind `chosen`, for a given value of TAGGAN_KERNELS (nil: unset).
    public static func choose(requested: String?) -> Choice {
        let best = widestSupported
        let auto = "the widest this CPU runs (\(MachineInfo.cpuVectorFeatures))"
        guard let requested = requested?.trimmingCharacters(in: .whitespaces).lowercased(), !requested.isEmpty,
              requested != "auto" else {
            return Choice(variant: best, reason: auto, warning: nil)
        }
        guard let variant = KernelVariant(rawValue: requested) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            return Choice(variant: best, reason: auto,
                          warning: "TAGGAN_KERNELS=\(requested) is not one of \(names), auto; using \(best)")
        }
        if let why = variant.unsupportedReason {
            return Choice(variant: best, reason: auto,
                          warning: "TAGGAN_KERNELS=\(requested) cannot run here (\(why)); using \(best)")
        }
        return Choice(variant: variant, reason: "TAGGAN_KERNELS=\(requested) set by the user", warning: nil)
    }
}
