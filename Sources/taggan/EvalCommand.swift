import ArgumentParsing
import Eval
import Foundation
import Ingest
import TagganCore
import Workspace

/// `taggan eval --workspace W --report DIR`: every tagging method (`TagMethod`) with its
/// settings chosen on the validation split, scored on the evaluated split with bootstrap
/// intervals; writes report.json, report.md, report.html and W/methods.json.
struct EvalCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["eval"], summary: "Tag the test split and report metrics beside baselines.", discussion: """
        Methods, each with its setting chosen on the validation split: the tag-frequency prior;
        k-NN tag transfer (k); TagProp (Guillaumin et al. 2009: K, rank or distance weights,
        sigma-ML); a linear head (ridge to the multi-hot tags, lambda); the word-space regression
        (ridge to the mean tag vector, tags by cosine: the generator's non-adversarial
        counterpart); ConSE (mean tag vector of the k nearest images); each trained model in
        W/models/ (cgan, icgan) with the paper's protocol (100 samples per image, each votes for
        its 20 nearest candidates, 10 most voted) and with its noise scale and decoder (vote,
        kernel density, density with a CSLS hubness correction) chosen on validation; and the
        fusion of the best generator with a retrieval method (weight on validation). Each
        method's scores are calibrated on validation (isotonic regression: score -> precision),
        with reliability plots in the HTML; every setting, calibration and the validation-best
        method go to W/methods.json, which taggan annotate --method auto uses. The notes give
        each decoder's ceiling (the decoder fed the images' own tag vectors). Metrics: P/R/F1
        at 5 and 10, mAP over tags with at least 5 test images, N+, each also for tags seen and
        never seen in the train split; bootstrap 95% intervals over test images.
        """)

    enum EvaluatedSplit: String, ArgumentChoice, CaseIterable { case validation, test }

    @Option(value: "W", help: "workspace folder") var workspace: String
    @Option(value: "S", help: "the split to score") var split = EvaluatedSplit.test
    @Option(value: "DIR", help: "folder for report.json, report.md, report.html") var report: String
    @Option(value: "V.bin", help: "word vectors (default: the file each model was trained with)") var vectors: String?
    @Option(help: "generator samples per image", check: .within(1...1_000)) var samples = 100
    @Option(help: "bootstrap resamples for the 95% intervals", check: .within(1...100_000)) var resamples = 1000
    @Option(help: "test images shown with thumbnails in the HTML", check: .notNegative) var examples = 24
    @Option(value: "V", help: "candidate words: tags (the training tags), all or a FILE of words") var vocab = "tags"
    var common = CommonOptions()

    func run() throws -> Int32 {
        // The report folder is checked before the work, not after it.
        var s = stat()
        if stat(report, &s) == 0 {
            if (s.st_mode & S_IFMT) != S_IFDIR { throw TagganError.file(report, "is not a folder (--report names the folder the report goes to)") }
        } else if lstat(report, &s) == 0 {
            throw TagganError.file(report, "is a link to nothing (--report names the folder the report goes to)")
        }
        let created = try Self.prepareReportFolder(report)
        do { return try evaluate() } catch {
            for folder in created.reversed() { rmdir(folder) }   // only those still empty
            throw error
        }
    }

    /// Creates the report folder (and its parents) and checks that a file can be made in
    /// it, before the minutes of work rather than after them: a folder that cannot be
    /// created or written failed only once everything was computed, with Foundation's
    /// "The operation could not be completed. You don't have permission." and with
    /// W/methods.json already replaced. Returns the folders this call created.
    static func prepareReportFolder(_ report: String) throws -> [String] {
        let folder = URL(fileURLWithPath: report).standardizedFileURL
        var created: [String] = []
        var path = ""
        for component in folder.pathComponents {
            path = component == "/" ? "/" : (path == "/" ? "" : path) + "/" + component
            if mkdir(path, 0o777) == 0 {
                created.append(path)
            } else if errno != EEXIST {
                throw TagganError.file(report, "cannot create the report folder (at \(path)): \(String(cString: strerror(errno)))")
            }
        }
        let probe = folder.appendingPathComponent(".taggan-write-check-\(getpid())").path
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            for folder in created.reversed() { rmdir(folder) }
            throw TagganError.file(report, "cannot write the report into this folder: \(reason)")
        }
        close(descriptor)
        unlink(probe)
        return created
    }

    func evaluate() throws -> Int32 {
        var job = EvaluationJob(workspace: Workspace(path: workspace), split: Catalog.Split(rawValue: split.rawValue)!)
        job.vectors = vectors
        job.samples = samples
        job.resamples = resamples
        job.examples = examples
        job.vocabulary = vocab
        let result = try job.run(report: URL(fileURLWithPath: report))
        printSummary(result.reports, notes: result.notes, best: result.best, report: URL(fileURLWithPath: report), json: common.json,
                     seconds: result.seconds, images: result.images)
        return 0
    }

    func printSummary(_ reports: [MethodReport], notes: [String], best: TagMethod, report: URL, json: Bool, seconds: Double, images: Int) {
        if json {
            JSONSummary.print([
                "command": "eval", "report": report.path, "images": images, "seconds": seconds, "best_method": best.rawValue,
                "methods": reports.map { m in
                    ["method": m.method, "precision@5": m.metrics["precision@5"]!.value, "precision@10": m.metrics["precision@10"]!.value,
                     "recall@10": m.metrics["recall@10"]!.value, "map": m.metrics["map"].map { $0.value as Any } ?? NSNull(), "n_plus": m.nPlus] as [String: Any]
                },
            ])
            return
        }
        let width = max(30, (reports.map(\.method.count).max() ?? 0) + 2)
        func padded(_ text: String) -> String { text + String(repeating: " ", count: max(1, width - text.count)) }
        print(padded("method") + "   P@5    P@10   R@10   mAP")
        for m in reports {
            print(padded(m.method) + String(format: "%.3f  %.3f  %.3f  ", m.metrics["precision@5"]!.value,
                                             m.metrics["precision@10"]!.value, m.metrics["recall@10"]!.value)
                  + (m.metrics["map"].map { String(format: "%.3f", $0.value) } ?? "n/a (no tag has \(TagMetrics.minimumImagesForAP) test images)"))
        }
        for note in notes { print("note: \(note)") }
        print("report: \(report.path)/report.html (\(String(format: "%.1f", seconds)) s)")
    }
}
