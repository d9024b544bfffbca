import Foundation
import TagganCore

/// One image's predicted tags, as `taggan annotate` writes them.
public struct Annotation: Sendable, Equatable, Codable {
    public let path: String
    public let tags: [String]
    public let confidences: [Double]

    public init(path: String, tags: [String], confidences: [Double]) {
        precondition(tags.count == confidences.count, "\(tags.count) tags, \(confidences.count) confidences")
        self.path = path
        self.tags = tags
        self.confidences = confidences
    }

    /// Keeps the first `top` tags whose confidence is at least `threshold`, leaving out
    /// `excluded` words and, when `included` is given, everything not in it.
    public func filtered(top: Int, threshold: Double, excluded: Set<String> = [], included: Set<String>? = nil) -> Annotation {
        var keptTags: [String] = [], keptConfidences: [Double] = []
        for (tag, confidence) in zip(tags, confidences) where keptTags.count < top {
            guard confidence >= threshold, !excluded.contains(tag), included?.contains(tag) ?? true else { continue }
            keptTags.append(tag)
            keptConfidences.append(confidence)
        }
        return Annotation(path: path, tags: keptTags, confidences: keptConfidences)
    }
}

/// JSON Lines and CSV output of annotations, each file written atomically.
///
/// JSON Lines: one object per image, `{"path": ..., "tags": [{"tag": ..., "confidence": ...}]}`.
/// CSV (RFC 4180): header `path,tag,confidence`, one row per (image, tag), and `path,,`
/// for an image left without tags, so both files list the same images; fields quoted
/// when they hold a comma, quote or line break.
public enum AnnotationWriter {
    public static func jsonLines(_ annotations: [Annotation]) -> String {
        annotations.map { annotation in
            let object: [String: Any] = [
                "path": annotation.path,
                "tags": zip(annotation.tags, annotation.confidences).map { ["tag": $0.0, "confidence": ($0.1 * 1000).rounded() / 1000] },
            ]
            return JSONSummary.render(object)
        }.joined(separator: "\n") + (annotations.isEmpty ? "" : "\n")
    }

    public static func csv(_ annotations: [Annotation]) -> String {
        func field(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        var lines = ["path,tag,confidence"]
        for annotation in annotations {
            if annotation.tags.isEmpty { lines.append("\(field(annotation.path)),,") }
            for (tag, confidence) in zip(annotation.tags, annotation.confidences) {
                lines.append("\(field(annotation.path)),\(field(tag)),\(String(format: "%.3f", confidence))")
            }
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    public static func write(_ annotations: [Annotation], jsonLines: URL?, csv csvURL: URL?) throws {
        if let jsonLines { try AtomicFile.write(Self.jsonLines(annotations), to: jsonLines) }
        if let csvURL { try AtomicFile.write(csv(annotations), to: csvURL) }
    }
}
