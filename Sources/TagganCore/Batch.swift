import Foundation

/// Accounts for the items a batch skipped. Every skip is logged at once on stderr with
/// its file and reason; the summary counts skips by reason, so a batch that skipped some
/// items still succeeds (exit 0) and says how many and why.
public final class SkipLog: @unchecked Sendable {
    private let lock = NSLock()
    private var reasons: [String: Int] = [:]

    public init() {}

    /// Records that `path` was skipped. `reason` is a short category shared by similar
    /// failures ("not a JPEG", "truncated"); `detail` the specific message.
    public func skip(_ path: String, reason: String, detail: String? = nil) {
        Log.warning("skipped \(Self.printable(path)): \(reason)\(detail.map { " (\(Self.printable($0)))" } ?? "")")
        lock.lock()
        defer { lock.unlock() }
        reasons[reason, default: 0] += 1
    }

    /// `text` with its control characters escaped (`\n`, `\u{1B}`), so that a file name
    /// holding a newline or a terminal escape sequence cannot forge or recolour log lines.
    public static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.properties.generalCategory == .control:
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return reasons.values.reduce(0, +)
    }

    /// Counts by reason, most frequent first.
    public var byReason: [(reason: String, count: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return reasons.map { ($0.key, $0.value) }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.reason < $1.reason }
    }

    /// "3 skipped: 2 truncated, 1 not a PNG" or "none skipped".
    public var summary: String {
        let parts = byReason
        if parts.isEmpty { return "none skipped" }
        return "\(count) skipped: " + parts.map { "\($0.count) \($0.reason)" }.joined(separator: ", ")
    }

    /// For `--json` summaries: {"count": n, "reasons": {reason: n}}.
    public var json: [String: Any] {
        ["count": count, "reasons": Dictionary(uniqueKeysWithValues: byReason.map { ($0.reason, $0.count) })]
    }
}

/// The one JSON object a command prints on stdout with `--json`.
public enum JSONSummary {
    public static func render(_ object: [String: Any]) -> String {
        guard JSONSerialization.isValidJSONObject(object),
              let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
              let text = String(data: data, encoding: .utf8)
        else { return "{\"error\": \"summary could not be encoded\"}" }
        return text
    }

    public static func print(_ object: [String: Any]) {
        Swift.print(render(object))
    }
}
