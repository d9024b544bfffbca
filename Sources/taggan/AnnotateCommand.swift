import ArgumentParsing
import Eval
import Foundation
import TagganCore
import Workspace

/// `taggan annotate FOLDER --workspace W`: tags every JPEG and PNG under FOLDER with the
/// method eval chose (or the one named) and writes JSON Lines, CSV and/or merged XMP
/// sidecars (Workspace's `AnnotationMethod` and `AnnotationJob`).
struct AnnotateCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["annotate"],
        summary: "Tag every image under FOLDER with the best method taggan eval measured (or the one named).", discussion: """
        Methods: the training images' tags transferred by k-NN, TagProp, a linear head, ConSE or the
        word-space regression (these need only W's catalog and embeddings), a trained CGAN or
        IC-GAN (W/models/), or their fusion. --method auto (the default) takes the method with
        the best validation P@5 in W/methods.json (written by taggan eval), with eval's settings
        and calibration: a confidence is then the share of such tags that were right on
        held-back images, so --threshold 0.5 keeps tags right about half the time. Before any
        taggan eval, auto is k-NN transfer (k 5) with raw scores, and the log says so.
        Sidecars are merged, never clobbered: the user's tags and every other property stay,
        and only new tags are appended (dc:subject, digiKam:TagsList, lr:hierarchicalSubject).
        Which sidecar: photo.jpg.xmp when it exists (digiKam, darktable, exiftool), else
        photo.xmp when it exists (Lightroom, Capture One), else a new photo.jpg.xmp. A
        sidecar that is a link stays a link and its target is updated, only when the
        target is inside FOLDER; nothing outside FOLDER is written. A sidecar that is
        not valid XMP is reported and left exactly as it was.
        An image that fails to decode is reported and skipped; exit status 1 when every
        image failed. Incremental: each image's tags
        are kept in W's catalog under its content hash and the method (its setting, what it
        learnt from), so a re-run decodes only new or changed images and writes the stored tags
        of the rest (a killed run resumes after its last batch of 32); --force redoes all.
        """)

    /// `--method`: auto or a method.
    enum MethodName: String, ArgumentChoice, CaseIterable {
        case auto, prior, knn, tagprop, linear, regression, conse, cgan, icgan, fusion
        var method: TagMethod? { TagMethod(rawValue: rawValue) }
    }

    @Argument(value: "FOLDER") var folder: String
    @Option(value: "W", help: "workspace with embedded, tagged training images") var workspace: String
    @Option(value: "M", help: "auto: the method taggan eval found best on validation, else k-NN") var method = MethodName.auto
    @Option(value: "M", help: "the same as --method cgan|icgan") var mode: TrainingModeName?
    @Option(help: "tags per image", check: .positive) var top = 10
    @Option(value: "P", help: "drop tags with confidence below P: after taggan eval, the precision such tags had on validation",
            check: .within(0.0...1.0)) var threshold = 0.0
    @Option(value: "WORDS", help: "never suggest these (comma-separated, or @FILE)") var exclude: String?
    @Option(value: "WORDS", help: "suggest only these (comma-separated, or @FILE)") var include: String?
    @Option(help: "generator samples per image", check: .positive) var samples = 100
    @Option(help: "generators: decode by the vote, N nearest words per sample (default: eval's decoder)", check: .positive)
    var perSample: Int?
    @Option(value: "V", help: "candidate words: tags (the training tags, default), all (every word with a vector) or a FILE of words")
    var vocab: String?
    @Option(value: "S", help: "generators: multiplies G's noise (default: eval's choice, else 1)", check: .notNegative) var noiseScale: Double?
    @Flag(help: "annotate again images already annotated by this model") var force: Bool
    @Flag(help: "merge into each image's XMP sidecar (which one: below)") var xmp: Bool
    @Option(value: "F", help: "write JSON Lines to F") var jsonl: String?
    @Option(value: "F", help: "write CSV to F") var csv: String?
    @Option(value: "V.bin", help: "word vectors (default: the file the model was trained with)") var vectors: String?
    @Option(value: "F", help: "EfficientNet-Lite0 weights (default: corpora cache)") var weights: String?
    var common = CommonOptions()

    enum TrainingModeName: String, ArgumentChoice, CaseIterable { case cgan, icgan }

    func validate() throws {
        if jsonl == nil && csv == nil && !xmp { throw usage("say where the tags go: --jsonl F, --csv F and/or --xmp") }
    }

    func run() throws -> Int32 {
        let w = Workspace(path: workspace)
        var request = AnnotationMethod.Request()
        request.method = $method.given ? method.method : mode.flatMap { TagMethod(rawValue: $0.rawValue) }
        request.samples = samples
        request.vectors = vectors
        request.vocabulary = vocab
        request.perSample = perSample
        request.noiseScale = noiseScale
        let tagger = try AnnotationMethod(request, workspace: w, featureWidth: 1280)
        var job = AnnotationJob(folder: URL(fileURLWithPath: folder), workspace: w)
        job.top = top
        job.threshold = threshold
        job.excluded = Set(try AnnotationJob.wordList(exclude))
        job.included = try include.map { Set(try AnnotationJob.wordList($0)) }
        job.force = force
        job.weights = weights
        let skipped = SkipLog()
        let result = try job.run(tagger, sidecars: xmp, skipped: skipped)
        let jsonlURL = jsonl.map { URL(fileURLWithPath: $0) }, csvURL = csv.map { URL(fileURLWithPath: $0) }
        try AnnotationWriter.write(result.annotations, jsonLines: jsonlURL, csv: csvURL)
        report(result, tagger: tagger, skipped: skipped)
        // A batch that skipped some images succeeds; one in which every image failed does not.
        if result.annotations.isEmpty && result.files > 0 {
            Log.error("taggan annotate: none of the \(result.files) images under \(folder) could be tagged (\(skipped.summary))")
            return 1
        }
        return 0
    }

    func report(_ result: AnnotationJob.Result, tagger: AnnotationMethod, skipped: SkipLog) {
        if common.json {
            var object: [String: Any] = ["command": "annotate", "folder": URL(fileURLWithPath: folder).path, "method": tagger.method.rawValue,
                                         "setting": tagger.setting.summary, "chosen_by": tagger.chosenBy, "calibrated": tagger.calibrated,
                                         "images": result.files, "annotated": result.annotations.count, "reused": result.reused,
                                         "sidecars_written": result.sidecarsWritten, "skipped": skipped.json, "seconds": result.seconds]
            if let jsonl { object["jsonl"] = URL(fileURLWithPath: jsonl).path }
            if let csv { object["csv"] = URL(fileURLWithPath: csv).path }
            JSONSummary.print(object)
        } else {
            print("annotate: \(result.annotations.count) of \(result.files) images tagged with \(tagger.description); "
                  + "\(result.reused) unchanged since an earlier run (--force redoes them); "
                  + "\(result.sidecarsWritten) sidecars written; \(skipped.summary)")
            for output in [jsonl, csv].compactMap({ $0 }) { print("wrote \(URL(fileURLWithPath: output).path)") }
        }
    }
}
