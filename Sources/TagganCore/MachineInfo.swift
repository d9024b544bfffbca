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

    public static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

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
