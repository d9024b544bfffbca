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
        photo.xmp when it exists (Lightroom, Capture One) and no other image (photo.png)
        would share it, else a new photo.jpg.xmp (photo.xmp when that name is too long for
        the file system). Images smaller than 16 px both ways
        are skipped as too small, as ingest skips them. A sidecar that is a link stays a link and its target is updated, only when the
        target is inside FOLDER; nothing outside FOLDER is written. A sidecar that is
        not valid XMP, cannot be read, is not a regular file or holds its tag list in
        a form taggan cannot add to is reported and left exactly as it was.
        An image that fails to decode is reported and skipped; exit status 1 when every
        image failed, or when --xmp is the only output and every sidecar was refused.
        --jsonl/--csv never replace an image; a link is written through, a device or
        pipe (/dev/stdout) streamed into. Incremental: each image's tags
        are kept in W's catalog under its content hash and the method (its setting, what it
        learnt from), so a re-run decodes only new or changed images and writes the stored tags
        of the rest (a killed run resumes after its last batch of 32); --force redoes all.
        Shards: with --shard I/N only shard I's images are tagged, and --jsonl/--csv F become
        F's name with .shard-I-of-N before the extension, each with a manifest beside it
        (.shard.json: shard, rule, method and settings); `taggan merge --annotations F
        SHARD-FILES...` joins them into the file one unsharded run writes, refusing shards
        of another job. The tags go to W's catalog as without --shard (several shards may
        share W), or to each machine's copy of W, joined by `taggan merge --workspace`.
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
    @Option(help: "tags per image", check: .within(1...10_000)) var top = 10
    @Option(value: "P", help: "drop tags with confidence below P: after taggan eval, the precision such tags had on validation",
            check: .within(0.0...1.0)) var threshold = 0.0
    @Option(value: "WORDS", help: "never suggest these (comma-separated, or @FILE)") var exclude: String?
    @Option(value: "WORDS", help: "suggest only these (comma-separated, or @FILE)") var include: String?
    @Option(help: "generator samples per image", check: .within(1...10_000)) var samples = 100
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
    @Option(value: "I/N", help: ShardSpec.help) var shard: ShardSpec?
    var common = CommonOptions()

    enum TrainingModeName: String, ArgumentChoice, CaseIterable { case cgan, icgan }

    func validate() throws {
        if jsonl == nil && csv == nil && !xmp { throw usage("say where the tags go: --jsonl F, --csv F and/or --xmp") }
        if jsonl == "" || csv == "" { throw usage("--jsonl and --csv need a file name") }
        if include == "@" || exclude == "@" { throw usage("--include and --exclude need a file name after @") }
        if let jsonl, let csv, URL(fileURLWithPath: jsonl).standardizedFileURL == URL(fileURLWithPath: csv).standardizedFileURL {
            throw usage("--jsonl and --csv name the same file")
        }
    }

    /// Throws, naming the file, when an output would replace an image (a slip such as
    /// `--jsonl photo.jpg` must not turn the user's photo into JSON).
    static func refuseToOverwriteImage(_ url: URL) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return }
        defer { try? handle.close() }
        var s = stat()
        guard fstat(handle.fileDescriptor, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG,
              let head = try? handle.read(upToCount: 12) else { return }
        let bytes = [UInt8](head)
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + prefix.count && Array(bytes[offset ..< offset + prefix.count]) == prefix
        }
        let image = starts([0xFF, 0xD8, 0xFF]) || starts([0x89, 0x50, 0x4E, 0x47]) || starts(Array("GIF8".utf8))
            || starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A])
            || (starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8)) || starts(Array("ftyp".utf8), at: 4)
        if image { throw TagganError.file(url.path, "is an image: annotations will not overwrite it (give another --jsonl/--csv file)") }
    }

    func run() throws -> Int32 {
        // The job keeps every core busy itself (batch i + 1 decodes while the network and
        // the method run on batch i). The method's products over the batch are taggan's
        // own, row-stable (`KernelProducts`), on workers that park when idle; what is left
        // to BLAS (a ridge head's solve when the method is fitted) runs on one thread:
        // OpenBLAS's own threads spun in sched_yield against the network after each
        // product (Xeon, 5 rounds alternating, whole command, --method knn, when k-NN's
        // similarities were sgemm: 300 500x333 JPEGs 1.85-2.51 s against 2.01-2.63 s).
        // The own products cost nothing here against that one-thread sgemm (Zen 5, 3
        // rounds alternating, BENCHMARKS.md session 19: --method knn on 200 2400x1600
        // JPEGs 1.46-1.50 s against 1.47-1.49 s, --method cgan on 300 500x333 ones
        // 1.39-1.44 s against 1.46-1.53 s). (OPENBLAS_NUM_THREADS, when set, is kept.)
        if ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil { try BLAS.setThreads(1) }
        // Checked before the folder is tagged: an output that could not be written failed
        // only at the end, after the whole run, with every --xmp sidecar already changed.
        for output in [jsonlURL, csvURL].compactMap({ $0 }) {
            try Self.refuseToOverwriteImage(output)
            try AtomicFile.checkWritable(output)
        }
        let w = Workspace(path: workspace)
        var request = AnnotationMethod.Request()
        request.method = $method.given ? method.method : mode.flatMap { TagMethod(rawValue: $0.rawValue) }
        request.samples = samples
        request.vectors = vectors
        request.vocabulary = vocab
        request.perSample = perSample
        request.noiseScale = noiseScale
        var job = AnnotationJob(folder: URL(fileURLWithPath: folder), workspace: w)
        job.top = top
        job.threshold = threshold
        job.excluded = Set(try AnnotationJob.wordList(exclude))
        job.included = try include.map { Set(try AnnotationJob.wordList($0)) }
        // An --include list with no word in it would leave every image without tags and
        // still succeed: say so instead.
        if let include, job.included?.isEmpty == true {
            if include.hasPrefix("@") { throw TagganError.file(String(include.dropFirst()), "the --include word list holds no words") }
            throw usage("--include lists no words (comma-separated, or @FILE)")
        }
        job.force = force
        job.weights = weights
        job.shard = shard
        let skipped = SkipLog()
        let (tagger, result) = try job.run(building: { [request] in try AnnotationMethod(request, workspace: w, featureWidth: 1280) },
                                           sidecars: xmp, skipped: skipped)
        if let included = job.included, case let never = tagger.wordsNeverGiven(included), !never.isEmpty {
            Log.warning("--include: \(never.count) of its \(included.count) words \(never.count == 1 ? "is not a tag" : "are not tags") "
                        + "\(tagger.setting.method.title) can give, so \(never.count == 1 ? "it matches" : "they match") nothing: "
                        + never.prefix(10).joined(separator: ", ") + (never.count > 10 ? ", ..." : ""))
        }
        try AnnotationWriter.write(result.annotations, jsonLines: jsonlURL, csv: csvURL)
        FaultInjection.point("annotate.outputs")
        if let shard {
            let manifest = ShardManifest(kind: "annotate", shard: shard, settings: shardSettings(tagger, job: job))
            for output in [jsonlURL, csvURL].compactMap({ $0 }) { try manifest.write(besides: output) }
        }
        report(result, tagger: tagger, skipped: skipped)
        // A batch that skipped some images succeeds; one in which every image failed does not.
        if result.annotations.isEmpty && result.files > 0 {
            Log.error("taggan annotate: none of the \(result.files) images under \(folder) could be tagged (\(skipped.summary))")
            return 1
        }
        // Sidecars the only output asked for, and every one of them refused: nothing reached the user.
        if xmp && jsonl == nil && csv == nil && result.sidecarsRefused > 0 && result.sidecarsWritten == 0
            && result.sidecarsRefused == result.annotations.count {
            Log.error("taggan annotate: no sidecar under \(folder) could be merged (\(skipped.summary))")
            return 1
        }
        return 0
    }

    /// Where --jsonl and --csv go: as given, or the shard's file (`ShardSpec.url(for:)`).
    var jsonlURL: URL? { jsonl.map { output(URL(fileURLWithPath: $0)) } }
    var csvURL: URL? { csv.map { output(URL(fileURLWithPath: $0)) } }
    func output(_ url: URL) -> URL { shard?.url(for: url) ?? url }

    /// What must be equal across the shards of one annotate job for their files to merge:
    /// the method with what it learnt from (its catalog key) and every option that changes
    /// a record. The folder is not among them: machines may mount it at other paths, and
    /// the records' paths are relative to it.
    func shardSettings(_ tagger: AnnotationMethod, job: AnnotationJob) -> [String: String] {
        ["method": tagger.method.rawValue, "model": tagger.key, "setting": tagger.setting.summary,
         "calibrated": "\(tagger.calibrated)", "top": "\(top)", "threshold": "\(threshold)",
         "exclude": job.excluded.sorted().joined(separator: ","),
         "include": job.included.map { $0.sorted().joined(separator: ",") } ?? "(all)"]
    }

    func report(_ result: AnnotationJob.Result, tagger: AnnotationMethod, skipped: SkipLog) {
        if common.json {
            var object: [String: Any] = ["command": "annotate", "folder": URL(fileURLWithPath: folder).path, "method": tagger.method.rawValue,
                                         "model": tagger.key, "setting": tagger.setting.summary, "chosen_by": tagger.chosenBy, "calibrated": tagger.calibrated,
                                         "images": result.files, "annotated": result.annotations.count, "reused": result.reused,
                                         "sidecars_written": result.sidecarsWritten, "skipped": skipped.json, "seconds": result.seconds]
            if let jsonlURL { object["jsonl"] = jsonlURL.path }
            if let csvURL { object["csv"] = csvURL.path }
            if let shard { object["shard"] = shard.description }
            JSONSummary.print(object)
        } else {
            let part = shard.map { " of shard \($0)" } ?? ""
            print("annotate: \(result.annotations.count) of \(result.files) images\(part) tagged with \(tagger.description); "
                  + "\(result.reused) unchanged since an earlier run (--force redoes them); "
                  + "\(result.sidecarsWritten) sidecars written; \(skipped.summary)")
            for output in [jsonlURL, csvURL].compactMap({ $0 }) { print("wrote \(output.path)") }
        }
    }
}
