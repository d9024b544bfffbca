import Foundation
import TagganCore

/// What `taggan classcond eval` reports for one data set: each model's Parzen-window
/// log-likelihood of the test images (mean +- standard error, sigma chosen on
/// validation), the share of its samples a classifier trained on real images labels as
/// the asked class, generated images (one row per class), training curves, and the
/// paper's Table 1 beside, marked as the paper's. Written as report.json, report.md and
/// a self-contained report.html (inline SVG, embedded PNGs; no network).
public struct ClassConditionalReport: Sendable, Codable {
    public struct Row: Sendable, Codable {
        public var model: String
        public var logLikelihood: Double
        public var standardError: Double
        public var sigma: Double
        public var validationLogLikelihood: Double
        public var samples: Int
        public var testImages: Int
        public var steps: Int
        /// Share of samples the classifier labels as their conditioning class (cgan only).
        public var classifierAgreement: Double?
        /// Mean per-pixel standard deviation of the samples (cgan: within each asked
        /// class, averaged), and the same for the real test images: a collapsed generator
        /// (one image per class) has spread near 0.
        public var spread: Double
        public var realSpread: Double
        public var note: String
        /// What the measurements say is wrong with the model (`diagnose`): empty when
        /// nothing is. In the report above the table, so a failed run is not read as a result.
        public var problems: [String]?

        public init(model: String, logLikelihood: Double, standardError: Double, sigma: Double,
                    validationLogLikelihood: Double, samples: Int, testImages: Int, steps: Int,
                    classifierAgreement: Double?, spread: Double, realSpread: Double, note: String,
                    classes: Int, classifierAccuracy: Double) {
            self.model = model
            self.logLikelihood = logLikelihood
            self.standardError = standardError
            self.sigma = sigma
            self.validationLogLikelihood = validationLogLikelihood
            self.samples = samples
            self.testImages = testImages
            self.steps = steps
            self.classifierAgreement = classifierAgreement
            self.spread = spread
            self.realSpread = realSpread
            self.note = note
            problems = Self.diagnose(spread: spread, realSpread: realSpread, agreement: classifierAgreement,
                                     classes: classes, classifierAccuracy: classifierAccuracy)
        }

        /// Failures the figures themselves show, judged against the real data's own
        /// figures rather than fixed numbers:
        /// - collapse: the samples' spread below a quarter of the real images' (G ignores
        ///   its noise; the Parzen estimate then scores a few images, not a model);
        /// - no conditioning (CGAN): the classifier agrees with the asked class at most
        ///   twice as often as chance (1/classes), while it labels real test images well
        ///   above that (so it is the samples, not the classifier).
        public static func diagnose(spread: Double, realSpread: Double, agreement: Double?, classes: Int,
                                    classifierAccuracy: Double) -> [String] {
            var found: [String] = []
            if realSpread > 0 && spread < 0.25 * realSpread {
                found.append(String(format: "mode collapse: the samples hardly vary (spread %.3f against the real images' %.3f), "
                                    + "so G ignores its noise and the log-likelihood scores a few images, not a model", spread, realSpread))
            }
            if let agreement, classes > 1 {
                let chance = 1 / Double(classes)
                if agreement <= 2 * chance && classifierAccuracy > 3 * chance {
                    found.append(String(format: "not conditioned: %.1f%% of the samples are labelled as their class (chance %.1f%%, "
                                        + "real test images %.1f%%)", 100 * agreement, 100 * chance, 100 * classifierAccuracy))
                }
            }
            return found
        }
    }

    /// One row of Mirza & Osindero (2014), Table 1: Parzen window-based log-likelihood
    /// estimates on MNIST (nats; the paper's numbers, not measured here).
    public struct PaperRow: Sendable, Codable {
        public var method: String
        public var logLikelihood: Double
        public var standardError: Double
    }

    public static let paperTable1 = [
        PaperRow(method: "DBN", logLikelihood: 138, standardError: 2),
        PaperRow(method: "Stacked CAE", logLikelihood: 121, standardError: 1.6),
        PaperRow(method: "Deep GSN", logLikelihood: 214, standardError: 1.1),
        PaperRow(method: "Adversarial nets (GAN)", logLikelihood: 225, standardError: 2),
        PaperRow(method: "Conditional adversarial nets (CGAN)", logLikelihood: 132, standardError: 1.8),
    ]

    /// Generated images of one model: per class, a PNG strip (`data:` URI) of samples.
    public struct Grid: Sendable, Codable {
        public var model: String
        public var rows: [(label: String, image: String)]

        public init(model: String, rows: [(label: String, image: String)]) {
            self.model = model
            self.rows = rows
        }

        enum CodingKeys: String, CodingKey { case model, labels }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            model = try c.decode(String.self, forKey: .model)
            rows = try c.decode([String].self, forKey: .labels).map { ($0, "") }
        }
        /// The images stay out of report.json (they are in the HTML).
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(model, forKey: .model)
            try c.encode(rows.map(\.label), forKey: .labels)
        }
    }

    public var title: String
    public var dataset: String
    public var datasetDescription: String
    public var created: String
    public var rows: [Row]
    /// The classifier's accuracy on the real test images (its own ceiling).
    public var classifierTestAccuracy: Double
    public var paper: [PaperRow] = ClassConditionalReport.paperTable1
    public var grids: [Grid]
    public var losses: [String: [EvaluationReport.LossPoint]]
    public var bandwidths: [String: ParzenWindow.BandwidthSearch]
    public var notes: [String]

    public init(dataset: String, datasetDescription: String, rows: [Row], classifierTestAccuracy: Double,
                grids: [Grid], losses: [String: [EvaluationReport.LossPoint]],
                bandwidths: [String: ParzenWindow.BandwidthSearch], notes: [String]) {
        title = "Class-conditional GAN (Mirza & Osindero 2014, section 4.1) on \(dataset)"
        self.dataset = dataset
        self.datasetDescription = datasetDescription
        created = ISO8601DateFormatter().string(from: Date())
        self.rows = rows
        self.classifierTestAccuracy = classifierTestAccuracy
        self.grids = grids
        self.losses = losses
        self.bandwidths = bandwidths
        self.notes = notes
    }

    /// Writes report.json, report.md and report.html into `folder`, each atomically.
    public func write(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(self), to: folder.appendingPathComponent("report.json"))
        try AtomicFile.write(markdown(), to: folder.appendingPathComponent("report.md"))
        try AtomicFile.write(html(), to: folder.appendingPathComponent("report.html"))
    }

    static let headers = ["model", "Parzen log-likelihood (nats, mean ± s.e.)", "sigma", "samples", "test images",
                          "training steps", "classifier agreement", "spread (real)"]

    func cells(_ row: Row) -> [String] {
        [row.model, String(format: "%.1f ± %.1f", row.logLikelihood, row.standardError), String(format: "%.3f", row.sigma),
         String(row.samples), String(row.testImages), String(row.steps),
         row.classifierAgreement.map { String(format: "%.1f%%", 100 * $0) } ?? "–",
         String(format: "%.3f (%.3f)", row.spread, row.realSpread)]
    }

    static let remedy = "On Fashion-MNIST and the 8x8 digits the paper's settings (z in the unit hypercube, pylearn2's "
        + "small initial weights, SGD at 0.1) end this way here; `taggan classcond train --stable` trains with the settings "
        + "that condition (centred z, fan-in initial weights, Adam at 5e-4; BENCHMARKS.md, class-conditional GAN)."

    static let paperCaption = "The paper's Table 1 (Mirza & Osindero 2014): Parzen window-based log-likelihood on MNIST, "
        + "quoted, not measured here. Comparable with rows above only when the data set is MNIST."

    public func markdown() -> String {
        var text = "# \(title)\n\n\(datasetDescription). Written \(created).\n\n"
        text += "## Measured here (\(dataset))\n\n"
        for row in rows { for problem in row.problems ?? [] { text += "**\(row.model) failed: \(problem).**\n\n" } }
        if rows.contains(where: { !($0.problems ?? []).isEmpty }) { text += Self.remedy + "\n\n" }
        text += "| " + Self.headers.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: Self.headers.count) + "\n"
        for row in rows { text += "| " + cells(row).joined(separator: " | ") + " |\n" }
        text += String(format: "\nClassifier (softmax regression on raw pixels, trained on the real training split): "
                       + "%.1f%% accuracy on the real test images.\n", 100 * classifierTestAccuracy)
        let notesByRow = rows.filter { !$0.note.isEmpty }.map { "- **\($0.model)**: \($0.note)" }
        if !notesByRow.isEmpty { text += "\n" + notesByRow.joined(separator: "\n") + "\n" }
        text += "\n## The paper's Table 1 (MNIST, quoted)\n\n\(Self.paperCaption)\n\n| method (paper) | log-likelihood |\n|---|---|\n"
        for row in paper { text += String(format: "| %@ | %.0f ± %.1f |\n", row.method, row.logLikelihood, row.standardError) }
        if !notes.isEmpty { text += "\n## Notes\n\n" + notes.map { "- \($0)" }.joined(separator: "\n") + "\n" }
        text += "\nGenerated images and training curves: report.html.\n"
        return text
    }

    public func html() -> String {
        let e = EvaluationReport.escape
        var body = "<h1>\(e(title))</h1><p>\(e(datasetDescription)). Written \(e(created)).</p>"
        body += "<h2>Measured here (\(e(dataset)))</h2>"
        for row in rows { for problem in row.problems ?? [] { body += "<p class=\"failed\"><b>\(e(row.model)) failed: \(e(problem)).</b></p>" } }
        if rows.contains(where: { !($0.problems ?? []).isEmpty }) { body += "<p>\(e(Self.remedy))</p>" }
        body += "<table><tr>" + Self.headers.map { "<th>\(e($0))</th>" }.joined() + "</tr>"
        for row in rows {
            body += "<tr title=\"\(e(row.note))\">" + cells(row).map { "<td>\(e($0))</td>" }.joined() + "</tr>"
        }
        body += "</table>"
        body += String(format: "<p>Classifier (softmax regression on raw pixels, trained on the real training split): "
                       + "%.1f%% accuracy on the real test images.</p>", 100 * classifierTestAccuracy)
        body += "<h2 class=\"paper\">The paper's Table 1 (MNIST, quoted)</h2><p>\(e(Self.paperCaption))</p>"
        body += "<table class=\"paper\"><tr><th>method (paper)</th><th>log-likelihood</th></tr>"
        for row in paper {
            body += String(format: "<tr><td>%@</td><td>%.0f ± %.1f</td></tr>", e(row.method), row.logLikelihood, row.standardError)
        }
        body += "</table>"
        for grid in grids {
            body += "<h2>Samples: \(e(grid.model))</h2><table class=\"grid\">"
            for row in grid.rows {
                body += "<tr><th>\(e(row.label))</th><td><img src=\"\(row.image)\" alt=\"\(e(grid.model)) samples: \(e(row.label))\"></td></tr>"
            }
            body += "</table>"
        }
        let palette = EvaluationReport.palette
        for (model, points) in losses.sorted(by: { $0.key < $1.key }) where !points.isEmpty {
            body += "<h2>Training losses: \(e(model))</h2>" + EvaluationReport.lineChart(
                [("discriminator", points.map(\.discriminator), palette[0], false),
                 ("generator", points.map(\.generator), palette[1], false)],
                xLabel: "step", xValues: points.map { Double($0.step) }, label: "training losses \(model)")
        }
        for (model, search) in bandwidths.sorted(by: { $0.key < $1.key }) where !search.sigmas.isEmpty {
            body += "<h2>Choosing sigma: \(e(model))</h2>" + String(format: "<p>Mean validation log-likelihood against sigma; best %.3f.</p>", search.best)
                + EvaluationReport.lineChart([("validation log-likelihood", search.validationMeans, palette[2], false)],
                                             xLabel: "sigma", xValues: search.sigmas, label: "validation log-likelihood against sigma, \(model)")
        }
        if !notes.isEmpty { body += "<h2>Notes</h2><ul>" + notes.map { "<li>\(e($0))</li>" }.joined() + "</ul>" }
        let style = """
            body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}table{border-collapse:collapse;font-size:13px;margin:8px 0}
            td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}
            table.paper{background:#f6f6f6;font-style:italic}p.failed{color:#a00}h2.paper{color:#555}
            table.grid td,table.grid th{padding:2px 6px;border:none}table.grid img{image-rendering:pixelated;height:56px}
            svg{display:block;margin:8px 0}
            """
        return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(e(title))</title><style>\(style)</style></head><body>\(body)</body></html>\n"
    }
}
