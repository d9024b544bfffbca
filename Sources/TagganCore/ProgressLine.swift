import Foundation

/// Progress of long work on stderr (named apart from Foundation's `Progress`): a live bar redrawn in place when stderr is a
/// terminal, plain lines (at most one every `interval` seconds) otherwise, so logs stay
/// readable. Shows done/total, rate and ETA.
///
///     let progress = ProgressLine("features", total: images.count, unit: "images")
///     for ... { progress.advance() }
///     progress.finish()
///
/// Thread-safe: workers may call `advance` concurrently.
public final class ProgressLine: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let unit: String
    private let interval: Double
    private let isTerminal: Bool
    private let start = DispatchTime.now().uptimeNanoseconds
    private let lock = NSLock()
    private var done = 0
    private var lastPrint: UInt64 = 0
    private var finished = false
    /// Extra text shown after the rate (e.g. the learning rate), set with `note`.
    private var detail = ""

    public init(_ label: String, total: Int, unit: String = "items", interval: Double = 5) {
        self.label = label
        self.total = total
        self.unit = unit
        self.interval = interval
        self.isTerminal = isatty(STDERR_FILENO) == 1
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    public func advance(by count: Int = 1) {
        lock.lock()
        defer { lock.unlock() }
        done += count
        let now = DispatchTime.now().uptimeNanoseconds
        let wait = isTerminal ? 0.2 : interval
        if Double(now - lastPrint) * 1e-9 >= wait {
            lastPrint = now
            emit(now: now, final: false)
        }
    }

    public func note(_ text: String) {
        lock.lock()
        detail = text
        lock.unlock()
    }

    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard !finished else { return }
        finished = true
        emit(now: DispatchTime.now().uptimeNanoseconds, final: true)
    }

    public var elapsedSeconds: Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    private func emit(now: UInt64, final: Bool) {
        let seconds = max(Double(now - start) * 1e-9, 1e-9)
        let rate = Double(done) / seconds
        var line = "\(label): \(done)"
        if total > 0 {
            let percent = 100 * Double(done) / Double(total)
            line += "/\(total) \(unit) (\(String(format: "%.1f", percent))%)"
        } else {
            line += " \(unit)"
        }
        line += ", \(Self.formatRate(rate)) \(unit)/s"
        if final {
            line += ", \(Self.formatDuration(seconds))"
        } else if total > 0, rate > 0 {
            line += ", ETA \(Self.formatDuration(Double(total - done) / rate))"
        }
        if !detail.isEmpty { line += ", \(detail)" }
        if isTerminal {
            var bar = ""
            if total > 0 {
                let filled = min(20, Int(20 * Double(done) / Double(total)))
                bar = "[" + String(repeating: "#", count: filled)
                    + String(repeating: ".", count: 20 - filled) + "] "
            }
            Log.write("\r\u{1B}[2K" + bar + line + (final ? "\n" : ""))
        } else {
            Log.write(line + "\n")
        }
    }

    static func formatRate(_ rate: Double) -> String {
        if rate >= 1e6 { return String(format: "%.2fM", rate / 1e6) }
        if rate >= 1e4 { return String(format: "%.1fk", rate / 1e3) }
        if rate >= 100 { return String(format: "%.0f", rate) }
        return String(format: "%.2f", rate)
    }

    static func formatDuration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return "\(whole / 60)m\(String(format: "%02d", whole % 60))s" }
        return "\(whole / 3600)h\(String(format: "%02d", whole / 60 % 60))m"
    }
}

/// Log lines go to stderr; stdout is kept for results and `--json` summaries.
public enum Log {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var said: Set<String> = []

    public static func write(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardError.write(Data(text.utf8))
    }

    public static func info(_ message: String) { write("taggan: \(message)\n") }
    public static func warning(_ message: String) { write("taggan: warning: \(message)\n") }
    public static func error(_ message: String) { write("taggan: error: \(message)\n") }

    /// `info`, but only the first time this process says `message` (a state that several
    /// readers notice, e.g. an interrupted write's leftover rows, is reported once).
    public static func infoOnce(_ message: String) {
        lock.lock()
        let first = said.insert(message).inserted
        lock.unlock()
        if first { info(message) }
    }
}
