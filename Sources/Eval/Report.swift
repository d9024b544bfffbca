import Foundation
import TagganCore

/// Everything `taggan eval` reports, written as report.json, report.md and a
/// self-contained report.html (inline SVG charts, embedded thumbnails; no network).
public struct EvaluationReport: Sendable, Codable {
    public struct LossPoint: Sendable, Codable {
        public let step: Int
        public let discriminator: Double
        public let generator: Double
        public init(step: Int, discriminator: Double, generator: Double) {
            self.step = step
            self.discriminator = discriminator
            self.generator = generator
        }
    }

    public struct Prediction: Sendable, Codable {
        public let method: String
        public let tags: [String]
        public let confidences: [Double]
        public init(method: String, tags: [String], confidences: [Double]) {
            self.method = method
            self.tags = tags
            self.confidences = confidences
        }
    }

    public struct Example: Sendable, Codable {
        public let key: String
        /// A data: URI of a small PNG; kept out of report.json.
        public var thumbnail: String?
        public let truth: [String]
        public let predictions: [Prediction]
        public init(key: String, thumbnail: String?, truth: [String], predictions: [Prediction]) {
            self.key = key
            self.thumbnail = thumbnail
            self.truth = truth
            self.predictions = predictions
        }
        enum CodingKeys: String, CodingKey { case key, truth, predictions }
    }

    public var title: String
    public var dataset: String
    public var split: String
    public var created: String
    public var notes: [String]
    public var methods: [MethodReport]
    public var losses: [String: [LossPoint]]
    public var examples: [Example]

    public init(title: String, dataset: String, split: String, notes: [String] = [], methods: [MethodReport],
                losses: [String: [LossPoint]] = [:], examples: [Example] = []) {
        self.title = title
        self.dataset = dataset
        self.split = split
        self.created = ISO8601DateFormatter().string(from: Date())
        self.notes = notes
        self.methods = methods
        self.losses = losses
        self.examples = examples
    }

    static let headlineMetrics = ["precision@5", "precision@10", "recall@5", "recall@10", "f1@5", "f1@10", "map"]

    /// Writes the three files into `folder` (created if needed), each atomically.
    public func write(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(self), to: folder.appendingPathComponent("report.json"))
        try AtomicFile.write(markdown(), to: folder.appendingPathComponent("report.md"))
        try AtomicFile.write(html(), to: folder.appendingPathComponent("report.html"))
    }

    static func format(_ e: Estimate?) -> String {
        guard let e else { return "–" }
        return String(format: "%.3f [%.3f, %.3f]", e.value, e.low, e.high)
    }

    public func markdown() -> String {
        var text = "# \(title)\n\nData set: \(Self.markdownText(dataset)); split: \(split); \(methods.first?.images ?? 0) images; written \(created).\n\n"
        text += "Values are means over test images with bootstrap 95% intervals.\n\n"
        text += "| method | " + Self.headlineMetrics.joined(separator: " | ") + " | N+ |\n"
        text += "|---|" + String(repeating: "---|", count: Self.headlineMetrics.count + 1) + "\n"
        for method in methods {
            text += "| \(method.method) | " + Self.headlineMetrics.map { Self.format(method.metrics[$0]) }.joined(separator: " | ")
                + " | \(method.nPlus) |\n"
        }
        text += kindMarkdown() + calibrationMarkdown()
        let notesByMethod = methods.filter { !$0.note.isEmpty }.map { "- **\($0.method)**: \($0.note)" }
        if !notesByMethod.isEmpty { text += "\n" + notesByMethod.joined(separator: "\n") + "\n" }
        if !notes.isEmpty { text += "\n## Notes\n\n" + notes.map { "- \(Self.markdownText($0))" }.joined(separator: "\n") + "\n" }
        if !examples.isEmpty {
            text += "\n## Examples\n\n"
            for example in examples.prefix(20) {
                text += "- \(Self.markdownText(example.key)) — true: \(example.truth.map(Self.markdownText).joined(separator: ", "))\n"
                for p in example.predictions {
                    let marked = p.tags.map { example.truth.contains($0) ? "**\(Self.markdownText($0))**" : Self.markdownText($0) }
                    text += "  - \(p.method): \(marked.joined(separator: ", "))\n"
                }
            }
        }
        return text
    }

    /// Catalog text (tags, file names, the paths in notes) as Markdown shows it, literally:
    /// tags come from users' sidecars and catalogs, and Markdown viewers render inline
    /// HTML, so a tag `<img src=x onerror=...>` ran in the viewer, `**x**` turned bold and
    /// `|` split a table row. The characters Markdown reads inline are backslash-escaped
    /// (CommonMark lets any ASCII punctuation be), and line breaks, which would end the
    /// list item, are written as \n, \r, \t.
    static func markdownText(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\", "`", "*", "_", "[", "]", "<", ">", "|", "&", "~", "#", "!": result += "\\"; result.unicodeScalars.append(scalar)
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{0}" ..< " ", "\u{7F}": result += "\u{FFFD}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    // MARK: Seen and unseen tags, calibration

    /// The columns of the seen / unseen table: (kind, metric).
    static let kindColumns = TagEvaluation.kinds.flatMap { kind in ["precision@5", "recall@10", "map"].map { (kind, $0) } }

    var methodsWithKinds: [MethodReport] { methods.filter { $0.byKind != nil } }
    var methodsWithReliability: [MethodReport] { methods.filter { $0.reliability != nil } }

    /// "Test tag occurrences: 1,234 of 567 tags seen in the train split, 89 of 40 tags never seen."
    func kindSummary() -> String? {
        guard let kinds = methodsWithKinds.first?.byKind, let seen = kinds["seen"], let unseen = kinds["unseen"] else { return nil }
        return "Test tag occurrences: \(seen.occurrences) of \(seen.tags) tags seen in the train split, "
            + "\(unseen.occurrences) of \(unseen.tags) tags never in it. A kind's precision counts only its hits (seen + unseen = "
            + "the overall precision), its recall is the share of its occurrences found, its mAP averages its tags with >= 5 images."
    }

    func kindMarkdown() -> String {
        guard let summary = kindSummary() else { return "" }
        var text = "\n## Seen and unseen tags\n\n\(summary)\n\n| method | "
            + Self.kindColumns.map { "\($0.0) \($0.1)" }.joined(separator: " | ") + " |\n"
        text += "|---|" + String(repeating: "---|", count: Self.kindColumns.count) + "\n"
        for method in methodsWithKinds {
            text += "| \(method.method) | " + Self.kindColumns.map { Self.format(method.byKind?[$0.0]?.metrics[$0.1]) }.joined(separator: " | ") + " |\n"
        }
        return text
    }

    static func calibrationSummary(_ r: Reliability) -> String {
        String(format: "%.3f", r.expectedCalibrationError)
    }

    func calibrationMarkdown() -> String {
        guard !methodsWithReliability.isEmpty else { return "" }
        var text = "\n## Calibration\n\nConfidence against observed precision of each method's top tags on these images "
            + "(bins of width 0.1: mean confidence -> precision, pairs); ECE = sum over bins of (pairs / all) |precision - confidence|.\n\n"
        text += "| method | top | pairs | ECE | bins |\n|---|---|---|---|---|\n"
        for method in methodsWithReliability {
            let r = method.reliability!
            let bins = r.bins.map { String(format: "%.2f -> %.2f (%d)", $0.meanConfidence, $0.precision, $0.count) }.joined(separator: "; ")
            text += "| \(method.method) | \(r.top) | \(r.pairs) | \(Self.calibrationSummary(r)) | \(bins) |\n"
        }
        return text
    }

    /// A reliability diagram: observed precision against mean confidence per bin (dots
    /// with area by pair count, joined), over the diagonal of perfect calibration.
    func reliabilityChart(_ method: MethodReport, colour: String) -> String {
        guard let r = method.reliability else { return "" }
        let size = 240.0, left = 36.0, bottom = 30.0, top = 20.0, right = 10.0
        func px(_ v: Double) -> Double { left + (size - left - right) * v }
        func py(_ v: Double) -> Double { top + (size - top - bottom) * (1 - v) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(size))\" height=\"\(Int(size))\" role=\"img\" aria-label=\"reliability \(Self.escape(method.method))\">"
        svg += String(format: "<text x=\"%.0f\" y=\"13\" font-size=\"11\">%@ (ECE %@)</text>", left, Self.escape(method.method), Self.calibrationSummary(r))
        for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
            svg += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"end\">%.2f</text>",
                          px(0), px(1), py(tick), py(tick), left - 3, py(tick) + 3, tick)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\">%.2f</text>", px(tick), size - bottom + 11, tick)
        }
        svg += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" stroke-dasharray=\"4,3\"/>", px(0), px(1), py(0), py(1))
        svg += String(format: "<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"middle\">confidence</text>", px(0.5), size - 4)
        svg += String(format: "<text x=\"10\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" transform=\"rotate(-90 10 %.1f)\">precision</text>", py(0.5), py(0.5))
        let points = r.bins.map { String(format: "%.1f,%.1f", px($0.meanConfidence), py($0.precision)) }
        svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>"
        let largest = Double(r.bins.map(\.count).max() ?? 1)
        for bin in r.bins {
            svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%@\"><title>confidence %.2f, precision %.2f, %d tags</title></circle>",
                          px(bin.meanConfidence), py(bin.precision), 2 + 5 * (Double(bin.count) / largest).squareRoot(), colour,
                          bin.meanConfidence, bin.precision, bin.count)
        }
        return svg + "</svg>"
    }

    // MARK: HTML

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"]

    /// Grouped bars (one group per metric, one bar per method) with interval whiskers.
    func metricsChart() -> String {
        let width = 760.0, height = 300.0, left = 40.0, bottom = 40.0, top = 20.0
        let groups = Self.headlineMetrics
        let groupWidth = (width - left - 10) / Double(groups.count)
        let barWidth = groupWidth * 0.8 / Double(max(methods.count, 1))
        let maxValue = max(0.1, methods.flatMap { m in groups.compactMap { m.metrics[$0]?.high } }.max() ?? 1)
        let scale = min(1.0, (maxValue * 1.1 * 10).rounded(.up) / 10)
        func y(_ v: Double) -> Double { top + (height - top - bottom) * (1 - v / scale) }
        let (legendSVG, legendRows) = legend(x: left, y: height - 8, width: width - left - 10)
        let totalHeight = height + 16 * Double(legendRows - 1)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(totalHeight))\" role=\"img\" aria-label=\"metrics by method\">"
        for tick in stride(from: 0.0, through: scale + 1e-9, by: scale / 5) {
            svg += String(format: "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.0f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.2f</text>",
                          left, width - 10, y(tick), y(tick), left - 4, y(tick) + 3, tick)
        }
        for (g, metric) in groups.enumerated() {
            let x0 = left + Double(g) * groupWidth + groupWidth * 0.1
            for (m, method) in methods.enumerated() {
                guard let e = method.metrics[metric] else { continue }
                let x = x0 + Double(m) * barWidth
                svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"><title>%@ %@: %@</title></rect>",
                              x, y(e.value), barWidth * 0.9, y(0) - y(e.value), Self.palette[m % Self.palette.count],
                              Self.escape(method.method), metric, Self.format(e))
                let cx = x + barWidth * 0.45
                svg += String(format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#222\"/>", cx, cx, y(e.low), y(e.high))
            }
            svg += String(format: "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">%@</text>",
                          x0 + groupWidth * 0.4, height - bottom + 16, metric)
        }
        svg += legendSVG
        return svg + "</svg>"
    }

    /// One swatch and name per method, wrapped into rows 16 px apart that fit `width`;
    /// returns the SVG and the number of rows.
    func legend(x: Double, y: Double, width: Double) -> (svg: String, rows: Int) {
        Self.legend(methods.enumerated().map { ($0.element.method, Self.palette[$0.offset % Self.palette.count], nil) },
                    x: x, y: y, width: width)
    }

    /// Legend entries (a filled square, or a line, dashed or not, when `dashed` is set)
    /// wrapped into rows 16 px apart that fit `width`.
    static func legend(_ entries: [(name: String, colour: String, dashed: Bool?)], x: Double, y: Double,
                       width: Double) -> (svg: String, rows: Int) {
        var svg = "", offset = x, row = 0
        for entry in entries {
            let swatch = entry.dashed == nil ? 14.0 : 20.0
            let itemWidth = swatch + 10 + Double(entry.name.count) * 7
            if offset > x, offset + itemWidth > x + width {
                row += 1
                offset = x
            }
            let baseline = y + 16 * Double(row)
            if let dashed = entry.dashed {
                svg += String(format: "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"%@\" stroke-width=\"2\"%@/>",
                              offset, offset + 16, baseline - 4, baseline - 4, entry.colour, dashed ? " stroke-dasharray=\"5,3\"" : "")
            } else {
                svg += String(format: "<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\" fill=\"%@\"/>", offset, baseline - 9, entry.colour)
            }
            svg += String(format: "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">%@</text>", offset + swatch, baseline, escape(entry.name))
            offset += itemWidth
        }
        return (svg, row + 1)
    }

    /// Lines over x = 0..<count for named series.
    static func lineChart(_ series: [(name: String, values: [Double], colour: String, dashed: Bool)], xLabel: String,
                   xValues: [Double], label: String) -> String {
        let width = 760.0, height = 260.0, left = 50.0, bottom = 36.0, top = 16.0
        let all = series.flatMap(\.values).filter(\.isFinite)
        let lo = min(0, all.min() ?? 0), hi = max(all.max() ?? 1, lo + 1e-9)
        let xs = (xValues.min() ?? 0, xValues.max() ?? 1)
        func px(_ v: Double) -> Double { left + (width - left - 10) * (v - xs.0) / max(xs.1 - xs.0, 1e-9) }
        func py(_ v: Double) -> Double { top + (height - top - bottom) * (1 - (v - lo) / (hi - lo)) }
        // The legend goes below the plot, in as many rows as it needs.
        let (legendSVG, legendRows) = Self.legend(series.map { ($0.name, $0.colour, $0.dashed) }, x: left, y: height + 12,
                                                  width: width - left - 10)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height) + 16 * legendRows + 2)\" role=\"img\" aria-label=\"\(Self.escape(label))\">"
        for i in 0...4 {
            let v = lo + (hi - lo) * Double(i) / 4
            svg += String(format: "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.0f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.2f</text>",
                          left, width - 10, py(v), py(v), left - 4, py(v) + 3, v)
        }
        // Ticks at actual x values (about five of them), so labels are never in between.
        let tickIndices = Set((0...4).map { xValues.isEmpty ? 0 : Int((Double(xValues.count - 1) * Double($0) / 4).rounded()) })
        for i in tickIndices.sorted() where i < xValues.count {
            let v = xValues[i]
            let text = v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v)
            svg += String(format: "<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"middle\">%@</text>",
                          px(v), height - bottom + 12, text)
        }
        svg += String(format: "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">%@</text>", (left + width) / 2, height - 4, Self.escape(xLabel))
        for s in series {
            let points = zip(xValues, s.values).filter { $0.1.isFinite }.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }
            svg += "<polyline fill=\"none\" stroke=\"\(s.colour)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"5,3\"" : "") points=\"\(points.joined(separator: " "))\"><title>\(Self.escape(s.name))</title></polyline>"
        }
        return svg + legendSVG + "</svg>"
    }

    public func html() -> String {
        var body = "<h1>\(Self.escape(title))</h1><p>Data set: \(Self.escape(dataset)); split: \(Self.escape(split)); "
        body += "\(methods.first?.images ?? 0) images; written \(created). Values are means over test images with bootstrap 95% intervals.</p>"
        body += "<table><tr><th>method</th>" + Self.headlineMetrics.map { "<th>\($0)</th>" }.joined() + "<th>N+</th></tr>"
        for method in methods {
            body += "<tr><td title=\"\(Self.escape(method.note))\">\(Self.escape(method.method))</td>"
                + Self.headlineMetrics.map { "<td>\(Self.format(method.metrics[$0]))</td>" }.joined() + "<td>\(method.nPlus)</td></tr>"
        }
        body += "</table>"
        if let summary = kindSummary() {
            body += "<h2>Seen and unseen tags</h2><p>\(Self.escape(summary))</p><table><tr><th>method</th>"
                + Self.kindColumns.map { "<th>\($0.0) \($0.1)</th>" }.joined() + "</tr>"
            for method in methodsWithKinds {
                body += "<tr><td>\(Self.escape(method.method))</td>"
                    + Self.kindColumns.map { "<td>\(Self.format(method.byKind?[$0.0]?.metrics[$0.1]))</td>" }.joined() + "</tr>"
            }
            body += "</table>"
        }
        body += "<h2>Metrics by method</h2>" + metricsChart()
        var curves: [(name: String, values: [Double], colour: String, dashed: Bool)] = []
        for (m, method) in methods.enumerated() {
            curves.append(("\(method.method) P", method.precisionAtK, Self.palette[m % Self.palette.count], false))
            curves.append(("\(method.method) R", method.recallAtK, Self.palette[m % Self.palette.count], true))
        }
        body += "<h2>Precision (solid) and recall (dashed) against k</h2>"
            + Self.lineChart(curves, xLabel: "k (tags per image)", xValues: (1...10).map(Double.init), label: "precision and recall at k")
        for (model, points) in losses.sorted(by: { $0.key < $1.key }) where !points.isEmpty {
            body += "<h2>Training losses: \(Self.escape(model))</h2>" + Self.lineChart(
                [("discriminator", points.map(\.discriminator), Self.palette[0], false),
                 ("generator", points.map(\.generator), Self.palette[1], false)],
                xLabel: "step", xValues: points.map { Double($0.step) }, label: "training losses \(model)")
        }
        if !methodsWithReliability.isEmpty {
            body += "<h2>Calibration</h2><p>Observed precision of each method's top tags against their confidence (bins of width 0.1; "
                + "dot area by number of tags; dashed: perfect calibration). ECE = sum over bins of (tags / all) |precision - confidence|.</p>"
                + "<div class=\"charts\">"
            for (m, method) in methods.enumerated() where method.reliability != nil {
                body += reliabilityChart(method, colour: Self.palette[m % Self.palette.count])
            }
            body += "</div>"
        }
        if !notes.isEmpty { body += "<h2>Notes</h2><ul>" + notes.map { "<li>\(Self.escape($0))</li>" }.joined() + "</ul>" }
        if !examples.isEmpty {
            body += "<h2>Test images</h2><p>Predicted tags in <span class=\"hit\">green</span> are in the image's true tags, <span class=\"miss\">red</span> are not.</p><div class=\"grid\">"
            for example in examples {
                body += "<figure>"
                if let thumbnail = example.thumbnail { body += "<img src=\"\(thumbnail)\" alt=\"\(Self.escape(example.key))\">" }
                body += "<figcaption><b>\(Self.escape(example.key))</b><br>true: \(Self.escape(example.truth.joined(separator: ", ")))"
                for p in example.predictions {
                    body += "<br><i>\(Self.escape(p.method))</i>: " + p.tags.map {
                        "<span class=\"\(example.truth.contains($0) ? "hit" : "miss")\">\(Self.escape($0))</span>"
                    }.joined(separator: " ")
                }
                body += "</figcaption></figure>"
            }
            body += "</div>"
        }
        let style = """
            body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}table{border-collapse:collapse;font-size:13px}
            td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}
            .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:12px}
            figure{margin:0;border:1px solid #ddd;padding:6px;font-size:12px;overflow-wrap:anywhere}figure img{width:100%;height:auto;background:#fff}
            .hit{color:#1a7f37}.miss{color:#c62828}svg{display:block;margin:8px 0}
            .charts{display:flex;flex-wrap:wrap;gap:12px}
            """
        return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(Self.escape(title))</title><style>\(style)</style></head><body>\(body)</body></html>\n"
    }
}
