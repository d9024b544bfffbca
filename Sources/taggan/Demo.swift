import ArgumentParsing
import Foundation
import Ingest
import TagganCore
import Workspace

/// `taggan demo`: the whole pipeline on the bundled default data (OpenClipart and the
/// English corpus, fetched by corpora/fetch-all.sh), each step the same command a user
/// would run, then prints where every artifact is. Re-running resumes: ingest and
/// features are incremental, and training continues from its checkpoints.
struct DemoCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["demo"], summary: "Run the whole pipeline on the bundled default data.",
        discussion: """
        Ingests OpenClipart (without shapes/stars), trains 200-d word vectors on the English
        corpus plus the tag lists, embeds every image with EfficientNet-Lite0, trains the CGAN
        and the IC-GAN, writes the evaluation report, and tags a sample folder with XMP
        sidecars, JSON Lines and CSV. Needs the data of corpora/fetch-all.sh. Re-running
        resumes where it stopped. The workspace must be new, empty or an earlier demo's
        (marked by a .taggan-demo file): the demo replaces files in it.
        """)

    @Option(value: "W", help: "where to put the artifacts") var workspace = "demo-workspace"
    @Option(help: "training steps per model (a shorter schedule than train's)", check: .within(1...100_000_000)) var steps = Self.demoSteps
    var common = CommonOptions()

    /// Training steps per model in the demo: a shorter schedule than `taggan train`'s
    /// default (5,000), with train's defaults otherwise (Adam at 3e-4, centred features,
    /// mismatched pairs for D, the ranking term at weight 10). With the ranking term the
    /// generator's validation P@5 is as good at 1,500 steps as at 3,000 on OpenClipart
    /// (CGAN at Adam 1e-4, density decoding: 0.364 and 0.372; BENCHMARKS.md, TagGAN), at
    /// half the time.
    static let demoSteps = 1_500

    /// Runs `body` with file descriptor 1 pointing at stderr, then restores stdout.
    static func printingToStandardError<T>(_ body: () -> T) -> T {
        fflush(nil)   // every output stream, stdout included
        let saved = dup(1)
        dup2(2, 1)
        defer {
            fflush(nil)   // every output stream, stdout included
            dup2(saved, 1)
            close(saved)
        }
        return body()
    }

    /// The file that marks a folder as a demo's workspace.
    static let marker = ".taggan-demo"

    /// Makes `workspace` the demo's, or throws naming it: a folder that does not exist or
    /// is empty gets the mark (`.taggan-demo`), one with the mark (an earlier or killed
    /// demo) is resumed, and anything else is refused. The demo replaces annotate-sample/
    /// (removed whole and refilled), report/, tag-corpus.txt, annotations.jsonl/.csv,
    /// vectors.bin, the models and the catalog's contents, so run in a folder of other
    /// files it deleted and overwrote the user's files of those names.
    static func claim(_ workspace: URL) throws {
        let fm = FileManager.default
        var s = stat()
        if stat(workspace.path, &s) == 0 {
            guard (s.st_mode & S_IFMT) == S_IFDIR else {
                throw TagganError.file(workspace.path, "is a file, not a folder (--workspace names the folder the demo writes into)")
            }
            let marked = fm.fileExists(atPath: workspace.appendingPathComponent(marker).path)
            let contents: [String]
            do { contents = try fm.contentsOfDirectory(atPath: workspace.path) } catch {
                throw TagganError.file(workspace.path, "cannot list the folder: \(String(cString: strerror(errno)))")
            }
            guard marked || contents.isEmpty else {
                throw TagganError.file(workspace.path, "holds files and is not a taggan demo's workspace (it has no \(marker)): the demo "
                                       + "would replace its annotate-sample/, report/, models/ and other files; give a new or empty folder "
                                       + "(a demo workspace from before taggan marked them: create \(marker) in it to resume)")
            }
        } else {
            do { try fm.createDirectory(at: workspace, withIntermediateDirectories: true) } catch {
                throw TagganError.file(workspace.path, "cannot create the folder: "
                                       + ((error as NSError).localizedFailureReason ?? error.localizedDescription))
            }
        }
        try AtomicFile.write("taggan demo workspace: taggan demo --workspace resumes here\n", to: workspace.appendingPathComponent(marker))
    }

    func run() throws -> Int32 {
        let workspace = URL(fileURLWithPath: self.workspace).standardizedFileURL
        try Self.claim(workspace)
        let cache = corporaCache()
        let clipart = cache.appendingPathComponent("openclipart"), english = cache.appendingPathComponent("text/english.txt")
        for needed in [clipart, english, cache.appendingPathComponent("models/efficientnet-lite0.pth")]
        where !FileManager.default.fileExists(atPath: needed.path) {
            throw TagganError.file(needed.path, "missing: run `bash corpora/fetch-all.sh` (or set TAGGAN_CORPORA)")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var timings: [(String, Double)] = []
        func step(_ name: String, _ command: [String]) throws {
            Log.info("demo: \(name): taggan \(command.joined(separator: " "))")
            let began = DispatchTime.now().uptimeNanoseconds
            // With --json, stdout holds the demo's one JSON object: the steps' own
            // summaries go to stderr with their progress.
            let status = common.json ? Self.printingToStandardError { Commands.main(command) } : Commands.main(command)
            timings.append((name, Double(DispatchTime.now().uptimeNanoseconds - began) * 1e-9))
            guard status == 0 else { throw TagganError.failure("demo: step '\(name)' failed (exit \(status))") }
        }
        let w = workspace.path
        let tagCorpus = workspace.appendingPathComponent("tag-corpus.txt").path
        let vectors = workspace.appendingPathComponent("vectors.bin").path
        let report = workspace.appendingPathComponent("report").path
        try step("ingest", ["ingest", clipart.path, "--workspace", w, "--export-tag-corpus", tagCorpus])
        if !FileManager.default.fileExists(atPath: vectors) {
            // English text plus the tag lists (one image's tags = one sentence), so that
            // tags such as "signs_and_symbols" get vectors too.
            try step("word vectors", ["vectors", "train", english.path, tagCorpus, "--out", vectors, "--dim", "200", "--epochs", "5"])
        }
        try step("features", ["features", "--workspace", w])
        for mode in ["cgan", "icgan"] {
            let resume = FileManager.default.fileExists(atPath: workspace.appendingPathComponent("models/\(mode)/checkpoint.json").path)
            try step("train \(mode)", ["train", "--workspace", w, "--vectors", vectors, "--mode", mode, "--steps", String(steps)]
                     + (resume ? ["--resume"] : []))
        }
        try step("eval", ["eval", "--workspace", w, "--report", report])
        // A sample folder: a few test images, and one broken file that is reported and skipped.
        let sample = workspace.appendingPathComponent("annotate-sample")
        try? FileManager.default.removeItem(at: sample)
        try FileManager.default.createDirectory(at: sample, withIntermediateDirectories: true)
        for image in try Catalog(workspace: workspace).images(split: .test, taggedOnly: true).prefix(12) {
            try FileManager.default.copyItem(at: image.url.resolvingSymlinksInPath(),
                                             to: sample.appendingPathComponent(image.url.lastPathComponent))
        }
        try AtomicFile.write(Data("not really a picture".utf8), to: sample.appendingPathComponent("broken.png"))
        let jsonl = workspace.appendingPathComponent("annotations.jsonl").path
        let csv = workspace.appendingPathComponent("annotations.csv").path
        try step("annotate", ["annotate", sample.path, "--workspace", w, "--xmp", "--jsonl", jsonl, "--csv", csv])

        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        let artifacts: [(String, String)] = [
            ("catalog", workspace.appendingPathComponent(Catalog.fileName).path),
            ("tag corpus", tagCorpus), ("word vectors", vectors),
            ("embeddings", workspace.appendingPathComponent("embeddings.npy").path),
            ("CGAN model", workspace.appendingPathComponent("models/cgan").path),
            ("IC-GAN model", workspace.appendingPathComponent("models/icgan").path),
            ("report", report + "/report.html"), ("annotations", jsonl), ("sidecars", sample.path + "/*.xmp"),
        ]
        if common.json {
            JSONSummary.print(["command": "demo", "workspace": w, "seconds": seconds, "training_steps": steps,
                               "steps": Dictionary(uniqueKeysWithValues: timings.map { ($0.0, $0.1) }),
                               "artifacts": Dictionary(uniqueKeysWithValues: artifacts.map { ($0.0, $0.1) })])
        } else {
            print("\ndemo finished in \(String(format: "%.0f", seconds)) s (" + timings.map { "\($0.0) \(String(format: "%.0f", $0.1)) s" }.joined(separator: ", ") + ")")
            for (name, path) in artifacts { print("  \(name): \(path)") }
        }
        return 0
    }
}
