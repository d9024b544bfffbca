import _BLASLoader
import Foundation

/// Facts about the machine for `taggan doctor` and benchmark reports.
public enum MachineInfo {
    /// The CPU's model name from /proc/cpuinfo, or "unknown".
    public static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return "unknown"
    }

    /// "family 6 model 207" from /proc/cpuinfo (which CPU kind a figure came from: the
    /// model name of a virtual machine's CPU is often only "Intel(R) Xeon(R) Processor"),
    /// or nil.
    public static var cpuFamilyModel: String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        func field(_ name: String) -> String? {
            for line in text.split(separator: "\n") where line.hasPrefix(name) {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
        guard let family = field("cpu family"), let model = field("model") else { return nil }
        return "family \(family) model \(model)"
    }

    /// The CPU's vector extensions as CPUID and the OS report them, e.g. "avx512 avx2 fma avx".
    public static var cpuVectorFeatures: String {
        String(cString: taggan_cpu_vector_features()).trimmingCharacters(in: .whitespaces)
    }

    /// The data caches one core sees, in bytes, for sizing blocks of work.
    public struct Caches: Sendable, Equatable, CustomStringConvertible {
        public let level1Data: Int, level2: Int, level3: Int
        /// "sysfs" when read from the machine, else "assumed" (the defaults below).
        public let source: String

        public init(level1Data: Int, level2: Int, level3: Int, source: String) {
            self.level1Data = level1Data
            self.level2 = level2
            self.level3 = level3
            self.source = source
        }

        public var description: String {
            func kib(_ n: Int) -> String { n >= 1 << 20 && n % (1 << 20) == 0 ? "\(n >> 20) MiB" : "\(n >> 10) KiB" }
            return "L1d \(kib(level1Data)), L2 \(kib(level2)), L3 \(kib(level3)) (\(source))"
        }
    }

    /// Cache sizes of cpu0 from /sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}
    /// (read once). Where sysfs is missing: 32 KiB / 1 MiB / 32 MiB, AMD Zen 4's, the
    /// CPU the blocking was first tuned on. `TAGGAN_L2=SIZE` (e.g. 512K, 1M) replaces the
    /// L2 size, for a virtual machine whose sysfs does not tell the truth, or to compare
    /// blockings in one build.
    public static let caches: Caches = {
        let read = readCaches(root: "/sys/devices/system/cpu/cpu0/cache")
        guard let text = ProcessInfo.processInfo.environment["TAGGAN_L2"], !text.isEmpty else { return read }
        guard let size = parseSize(text) else {
            FileHandle.standardError.write(Data("taggan: TAGGAN_L2=\(text) is not a size such as 512K or 1M; ignored\n".utf8))
            return read
        }
        return Caches(level1Data: read.level1Data, level2: size, level3: read.level3, source: "\(read.source), L2 from TAGGAN_L2")
    }()

    /// "48K", "2048K", "32M" or a byte count, as sysfs writes cache sizes.
    public static func parseSize(_ text: String) -> Int? {
        var digits = text.trimmingCharacters(in: .whitespacesAndNewlines), unit = 1
        if digits.hasSuffix("K") { digits.removeLast(); unit = 1 << 10 }
        else if digits.hasSuffix("M") { digits.removeLast(); unit = 1 << 20 }
        guard let value = Int(digits), value > 0 else { return nil }
        return value * unit
    }

    /// `caches` from a sysfs-like folder (a parameter so tests can feed their own).
    public static func readCaches(root: String) -> Caches {
        var sizes: [Int: Int] = [:]
        for index in 0..<8 {
            let folder = "\(root)/index\(index)"
            func field(_ name: String) -> String? {
                (try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let level = field("level").flatMap(Int.init), let type = field("type"),
                  let size = field("size").flatMap(parseSize), type == "Data" || type == "Unified" else { continue }
            sizes[level] = size
        }
        guard let l1 = sizes[1], let l2 = sizes[2] else {
            return Caches(level1Data: 32 << 10, level2: 1 << 20, level3: 32 << 20, source: "assumed")
        }
        return Caches(level1Data: l1, level2: l2, level3: sizes[3] ?? l2, source: "sysfs")
    }

    public static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// The whole machine's CPU time so far, from the first line of /proc/stat, in clock
    /// ticks: all of it, and the part "stolen" (the time a virtual machine's CPUs were
    /// ready to run but the hypervisor ran something else). On a shared host the steal
    /// explains speed figures that swing by 2x from one minute to the next: a measurement
    /// taken with much of the time stolen says more about the neighbours than about taggan.
    public struct CPUTimes: Sendable, Equatable {
        public var total: UInt64
        public var stolen: UInt64

        public init(total: UInt64, stolen: UInt64) {
            self.total = total
            self.stolen = stolen
        }

        /// The first line of /proc/stat ("cpu user nice system idle iowait irq softirq
        /// steal guest guest_nice"; older kernels stop before steal, which then counts 0).
        /// Guest time is already inside user time, so the total is the first eight fields.
        public init?(procStat text: String) {
            guard let line = text.split(separator: "\n", maxSplits: 1).first,
                  line.hasPrefix("cpu ") else { return nil }
            let fields = line.split(separator: " ").dropFirst().prefix(8).map { UInt64($0) }
            guard fields.count >= 4, fields.allSatisfy({ $0 != nil }) else { return nil }
            let values = fields.map { $0! }
            total = values.reduce(0, +)
            stolen = values.count >= 8 ? values[7] : 0
        }

        /// The share of the CPU time between `earlier` and this reading that was stolen
        /// (0...1; 0 when no time passed or the readings are out of order).
        public func stolenShare(since earlier: CPUTimes) -> Double {
            guard total > earlier.total, stolen >= earlier.stolen else { return 0 }
            return min(1, Double(stolen - earlier.stolen) / Double(total - earlier.total))
        }
    }

    /// /proc/stat's totals now, or nil where there is none (not Linux).
    public static func cpuTimes() -> CPUTimes? {
        (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)).flatMap { CPUTimes(procStat: $0) }
    }

    public static var memoryGiB: Double {
        Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30)
    }

    /// The Swift compiler that built taggan.
    public static var swiftVersion: String {
        #if compiler(>=6.3)
        return "6.3 or later"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }
}
