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
/// when they hold a comma, quote or line break, and a field a spreadsheet would run as a
/// formula (leading = + - @) prefixed with an apostrophe (`csvField`).
public enum AnnotationWriter {
    public static func jsonLines(_ annotations: [Annotation]) -> String {
        var text = ""
        for annotation in annotations {
            appendJSONLine(annotation, to: &text)
            text += "\n"
        }
        return text
    }

    /// One image's line, the bytes `JSONSerialization` writes for it with sorted keys and
    /// unescaped slashes (`jsonLineBySerialization`, which the tests compare it with), made
    /// directly: Foundation's encoder took ~0.6 ms a line in casts and boxing, serial at the
    /// end of every annotate run (~5% of a 300-image run's wall time). Confidences are
    /// rounded to 3 decimals. A line with a non-finite confidence, which JSON cannot
    /// hold, is left to the encoder, as before.
    static func appendJSONLine(_ annotation: Annotation, to text: inout String) {
        guard annotation.confidences.allSatisfy({ rounded($0).isFinite }) else {
            text += jsonLineBySerialization(annotation)
            return
        }
        text += "{\"path\":"
        appendJSONString(annotation.path, to: &text)
        text += ",\"tags\":["
        for (index, (tag, confidence)) in zip(annotation.tags, annotation.confidences).enumerated() {
            text += index == 0 ? "{\"confidence\":" : ",{\"confidence\":"
            text += jsonNumber(rounded(confidence))
            text += ",\"tag\":"
            appendJSONString(tag, to: &text)
            text += "}"
        }
        text += "]}"
    }

    /// The line as Foundation's `JSONSerialization` writes it.
    static func jsonLineBySerialization(_ annotation: Annotation) -> String {
        let object: [String: Any] = [
            "path": annotation.path,
            "tags": zip(annotation.tags, annotation.confidences).map { ["tag": $0.0, "confidence": rounded($0.1)] },
        ]
        return JSONSummary.render(object)
    }

    static func rounded(_ confidence: Double) -> Double { (confidence * 1000).rounded() / 1000 }

    /// A finite double as `JSONSerialization` writes it: the shortest round-trip digits
    /// (Swift's `description`), without the ".0" of an integral value.
    static func jsonNumber(_ value: Double) -> String {
        let digits = value.description
        return digits.hasSuffix(".0") ? String(digits.dropLast(2)) : digits
    }

    /// A JSON string literal: quote and backslash escaped, control characters as \b \f
    /// \n \r \t or \u00xx, everything else (slashes, non-ASCII) as it is.
    static func appendJSONString(_ string: String, to text: inout String) {
        text += "\""
        let scalars = string.unicodeScalars
        var plainStart = scalars.startIndex, index = scalars.startIndex
        while index < scalars.endIndex {
            let value = scalars[index].value
            let escape: String?
            switch value {
            case 0x22: escape = "\\\""
            case 0x5C: escape = "\\\\"
            case 0x08: escape = "\\b"
            case 0x0C: escape = "\\f"
            case 0x0A: escape = "\\n"
            case 0x0D: escape = "\\r"
            case 0x09: escape = "\\t"
            case 0 ..< 0x20: escape = "\\u00" + (value < 0x10 ? "0" : "") + String(value, radix: 16)
            default: escape = nil
            }
            if let escape {
                text.unicodeScalars.append(contentsOf: scalars[plainStart ..< index])
                text += escape
                plainStart = scalars.index(after: index)
            }
            index = scalars.index(after: index)
        }
        text.unicodeScalars.append(contentsOf: scalars[plainStart ..< scalars.endIndex])
        text += "\""
    }

    /// One CSV field, quoted when it holds a comma, quote or line break. The test runs on
    /// Unicode scalars, not Characters: "\r\n" is one Character, equal to neither "\r" nor
    /// "\n", so a file name holding a CRLF went out unquoted and split its row in two
    /// (and `taggan merge --annotations` then refused the file).
    ///
    /// A field that starts with = + - @, a tab or a carriage return is written with a
    /// leading apostrophe, inside quotes: Excel, LibreOffice and Google Sheets run such a
    /// cell as a formula when the CSV is opened (a file named `=HYPERLINK(...).png`, or a
    /// tag from a user's sidecar, would run), and the apostrophe makes it text (OWASP's
    /// advice against CSV injection). The JSON Lines file keeps every name as it is.
    static func csvField(_ text: String) -> String {
        let formula = text.unicodeScalars.first.map(formulaStarts.contains) ?? false
        let text = formula ? "'" + text : text
        let needsQuotes = formula || text.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
        return needsQuotes ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    /// First characters that make a spreadsheet read a cell as a formula.
    static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]

    public static func csv(_ annotations: [Annotation]) -> String {
        let field = csvField
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
