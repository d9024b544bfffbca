import Foundation
import Testing
import TagganCore
import Ingest
@testable import Eval

@Suite("Evaluation reports")
struct ReportTests {
    static func sampleReport() throws -> EvaluationReport {
        var random = SeededRandom(seed: 5)
        let truth: [Set<Int>] = (0..<60).map { _ in [random.index(below: 8), 8 + random.index(below: 4)] }
        let good = truth.map { RankedTags(tags: Array($0) + [20, 21, 22], scores: [0.9, 0.8, 0.3, 0.2, 0.1]) }
        let prior = Array(repeating: RankedTags(tags: [0, 8, 1, 9, 2], scores: [0.5, 0.4, 0.3, 0.2, 0.1]), count: truth.count)
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("IngestTests/Fixtures/images/baseline.jpg")
        let thumbnail = try ImageEncoder.thumbnailDataURI(of: fixture, side: 64)
        return EvaluationReport(
            title: "taggan evaluation <test>", dataset: "synthetic", split: "test",
            notes: ["k-NN transfer: k = 10 chosen on the validation split"],
            methods: [TagEvaluation.evaluate(method: "oracle-ish", ranked: good, truth: truth, resamples: 100),
                      TagEvaluation.evaluate(method: "frequency prior", ranked: prior, truth: truth, resamples: 100)],
            losses: ["cgan": (0..<50).map { .init(step: $0 * 100, discriminator: 1.4 - Double($0) * 0.01, generator: 0.7 + Double($0) * 0.01) }],
            examples: (0..<6).map { i in
                .init(key: "images/\(i).jpg", thumbnail: thumbnail, truth: ["cat", "sofa"],
                      predictions: [.init(method: "oracle-ish", tags: ["cat", "dog"], confidences: [0.9, 0.4])])
            })
    }

    /// Six methods with long names (eval's rows for two models in two settings): the
    /// legend wraps into rows inside the chart's 760 px instead of running off it.
    @Test func legendWrapsLongMethodNames() throws {
        var report = try Self.sampleReport()
        let names = ["frequency prior", "k-NN transfer (k=5)", "CGAN", "CGAN, noise 0.25, 5 words/sample",
                     "IC-GAN (k=20)", "IC-GAN (k=20), noise 0.25, 5 words/sample"]
        report.methods = names.map {
            TagEvaluation.evaluate(method: $0, ranked: [RankedTags(tags: [0], scores: [1])], truth: [[0]], resamples: 10)
        }
        let (svg, rows) = report.legend(x: 40, y: 292, width: 710)
        #expect(rows == 2)
        let xs = svg.components(separatedBy: "<text x=\"").dropFirst().compactMap { Double($0.prefix { $0 != "\"" }) }
        #expect(xs.count == names.count)
        for (x, name) in zip(xs, names) { #expect(x + Double(name.count) * 7 <= 760, "\(name) at \(x)") }
        #expect(report.metricsChart().contains("height=\"316\""))
    }

    /// Tags and file names come from users' catalogs and sidecars: in report.md they are
    /// text, never inline HTML a Markdown viewer would run, emphasis, code or a table cell
    /// break, and a line break in a file name does not end its list item. The HTML escapes
    /// them too.
    @Test func markdownShowsHostileTagsAndNamesLiterally() throws {
        var report = try Self.sampleReport()
        let hostile = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "**bold**", "x|y", "`tick`", "[a](javascript:b)"]
        report.examples = [.init(key: "odd`\nname<b>.png", thumbnail: nil, truth: hostile,
                                 predictions: [.init(method: "m", tags: hostile + ["plain"], confidences: Array(repeating: 0.5, count: 7))])]
        report.notes = ["no model in /w/<script>x</script>/models"]
        let markdown = report.markdown()
        for raw in hostile + ["<script>x</script>", "odd`"] { #expect(!markdown.contains(raw), "\(raw)") }
        #expect(markdown.contains("- odd\\`\\nname\\<b\\>.png — true: \\<img src=x onerror=alert(1)\\>, \\<script\\>alert(1)\\</script\\>, "
                                  + "\\*\\*bold\\*\\*, x\\|y, \\`tick\\`, \\[a\\](javascript:b)\n"))
        #expect(markdown.contains("  - m: **\\<img src=x onerror=alert(1)\\>**, **\\<script\\>alert(1)\\</script\\>**, **\\*\\*bold\\*\\***, "
                                  + "**x\\|y**, **\\`tick\\`**, **\\[a\\](javascript:b)**, plain\n"))
        #expect(markdown.contains("- no model in /w/\\<script\\>x\\</script\\>/models\n"))
        let html = report.html()
        for raw in hostile where raw.contains("<") { #expect(!html.contains(raw), "\(raw)") }
    }

    @Test func writesThreeFilesAtomically() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = try Self.sampleReport()
        try report.write(to: folder)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["report.html", "report.json", "report.md"])
        let json = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("report.json"))) as? [String: Any])
        let methods = try #require(json["methods"] as? [[String: Any]])
        #expect(methods.count == 2)
        let examples = try #require(json["examples"] as? [[String: Any]])
        #expect(examples.first?["thumbnail"] == nil)       // thumbnails only in the HTML
        let markdown = try String(contentsOf: folder.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(markdown.contains("| oracle-ish | 0.400 ["))   // 2 of 5 right on every image
        #expect(markdown.contains("**cat**"))
        let html = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("taggan evaluation &lt;test&gt;"))
        #expect(!html.contains("http://") || html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(!html.contains("<script") && !html.contains("<link"))
        #expect(html.components(separatedBy: "<svg").count - 1 == 3)   // metrics, P/R curves, losses
    }

    /// With the seen / unseen split and calibration measured, the Markdown and HTML carry
    /// both tables, the HTML one reliability diagram per calibrated method, and the JSON
    /// the calibration error; a report.json from before these fields still decodes.
    @Test func seenUnseenTablesAndReliabilityDiagrams() throws {
        var report = try Self.sampleReport()
        var random = SeededRandom(seed: 6)
        let truth: [Set<Int>] = (0..<60).map { _ in [random.index(below: 8), 8 + random.index(below: 4)] }
        let ranked = truth.map { RankedTags(tags: Array($0) + [20, 21, 22], scores: [0.9, 0.8, 0.3, 0.2, 0.1]) }
        var method = TagEvaluation.evaluate(method: "calibrated <m>", ranked: ranked, truth: truth, resamples: 50, seenTags: Set(0..<8))
        method.reliability = Reliability.measure(ranked: ranked, truth: truth)
        report.methods.append(method)
        let markdown = report.markdown()
        #expect(markdown.contains("## Seen and unseen tags") && markdown.contains("60 of 8 tags seen in the train split, 60 of 4 tags never in it"))
        #expect(markdown.contains("| calibrated <m> | 0.200 ["))        // seen precision@5: one seen hit in 5
        let ece = String(format: "%.3f", method.reliability!.expectedCalibrationError)
        #expect(markdown.contains("## Calibration") && markdown.contains("| calibrated <m> | 10 | 300 | \(ece) |"))
        let html = report.html()
        #expect(html.contains("aria-label=\"reliability calibrated &lt;m&gt;\""))
        #expect(html.components(separatedBy: "<svg").count - 1 == 4)   // metrics, P/R curves, losses, one reliability diagram
        #expect(html.contains("<th>unseen recall@10</th>"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try report.write(to: folder)
        let data = try Data(contentsOf: folder.appendingPathComponent("report.json"))
        let json = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let last = try #require((json["methods"] as? [[String: Any]])?.last)
        #expect((last["reliability"] as? [String: Any])?["expectedCalibrationError"] as? Double == method.reliability!.expectedCalibrationError)
        #expect(((last["byKind"] as? [String: Any])?["unseen"] as? [String: Any])?["occurrences"] as? Int == 60)
        // The sample report (no split, no calibration) is what an older taggan wrote.
        let old = try JSONEncoder().encode(try Self.sampleReport())
        #expect(!String(decoding: old, as: UTF8.self).contains("byKind"))
        let decoded = try JSONDecoder().decode(EvaluationReport.self, from: old)
        #expect(decoded.methods.allSatisfy { $0.byKind == nil && $0.reliability == nil })
        #expect(!(try Self.sampleReport()).markdown().contains("## Calibration"))
    }

    /// Opens the page in headless Chromium (Debian `chromium`), with a probe script
    /// appended to a copy, and checks that every image decoded and nothing failed; also
    /// takes a screenshot.
    @Test func headlessChromiumLoadsThePageAndItsImages() throws {
        let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let chromium = try #require(browser, "chromium is missing: apt-get install chromium (scripts/test.sh does)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-browser-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.sampleReport().write(to: folder)
        let page = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        let probe = """
            <script>window.addEventListener('load', () => {
              const images = [...document.images];
              const broken = images.filter(i => !i.complete || i.naturalWidth === 0).length;
              const svgs = document.querySelectorAll('svg').length;
              document.body.setAttribute('data-probe', `images=${images.length} broken=${broken} svgs=${svgs}`);
            });</script>
            """
        let probed = folder.appendingPathComponent("probe.html")
        try page.replacingOccurrences(of: "</body>", with: probe + "</body>").write(to: probed, atomically: true, encoding: .utf8)
        func run(_ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: chromium)
            process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                                 "--user-data-dir=\(folder.appendingPathComponent("profile").path)"] + arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = Pipe()
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        let dom = try run(["--virtual-time-budget=5000", "--dump-dom", probed.absoluteString])
        #expect(dom.contains("data-probe=\"images=6 broken=0 svgs=3\""), "\(dom.prefix(300))")
        let screenshot = folder.appendingPathComponent("report.png")
        _ = try run(["--window-size=1280,1600", "--screenshot=\(screenshot.path)", folder.appendingPathComponent("report.html").absoluteString])
        let png = try Data(contentsOf: screenshot)
        // TAGGAN_SCREENSHOT=/path/shot.png keeps the picture for a person to look at.
        if let keep = ProcessInfo.processInfo.environment["TAGGAN_SCREENSHOT"] {
            try? png.write(to: URL(fileURLWithPath: keep))
        }
        #expect(png.count > 10_000 && Array(png.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
    }
}
