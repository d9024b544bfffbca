import Foundation
import Testing
import TagganCore
import TestSupport

/// `taggan eval` on workspaces a user can make that are not the usual 80/10/10 catalog:
/// real OpenClipart PNGs with XMP sidecars giving them the tags a test chooses, ingested
/// with the split it chooses and embedded by the real network. Needs the fetched data
/// (corpora/fetch-all.sh) and fails without it.
@Suite("taggan eval on odd workspaces (real images)")
struct EvalCommandTests {
    static var cache: URL { TestData.corporaCache }

    static func escapedXML(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// `root/W`: `count` real PNGs, image i tagged `tags(i)` by its sidecar, ingested with
    /// `split` (T/V/E) and embedded.
    static func workspace(_ root: URL, count: Int, split: String, tags: (Int) -> [String]) throws -> URL {
        let folder = root.appendingPathComponent("photos"), w = root.appendingPathComponent("W")
        let names = (0 ..< count).map { String(format: "img%02d.png", $0) }
        try AnnotateTests.copyImages(to: folder, names: names)
        for (i, name) in names.enumerated() {
            try AnnotateTests.sidecar(tags: tags(i).map(escapedXML))
                .write(to: folder.appendingPathComponent(name + ".xmp"), atomically: true, encoding: .utf8)
        }
        let environment = ["TAGGAN_CORPORA": cache.path]
        let ingest = try TagganProcess(["ingest", folder.path, "--workspace", w.path, "--layout", "xmp", "--split", split],
                                       environment: environment)
        try #require(ingest.status == 0, "\(ingest.stderr)")
        let features = try TagganProcess(["features", "--workspace", w.path], environment: environment)
        try #require(features.status == 0, "\(features.stderr)")
        return w
    }

    static func eval(_ w: URL, _ report: URL, _ extra: [String] = []) throws -> TagganProcess {
        try TagganProcess(["eval", "--workspace", w.path, "--report", report.path, "--resamples", "20"] + extra,
                          environment: ["TAGGAN_CORPORA": cache.path])
    }

    /// A report folder that cannot be made is refused before the work, naming it and the
    /// reason, and W/methods.json (what annotate --method auto reads) is not written: it
    /// failed after the whole evaluation with Foundation's "The operation could not be
    /// completed", methods.json already replaced.
    @Test func anUnwritableReportFolderFailsFirstAndLeavesMethodsAlone() throws {
        let root = TemporaryFolder("taggan-eval-report")
        let w = try Self.workspace(root.url, count: 20, split: "60/10/30") { i in i % 2 == 0 ? ["cat"] : ["tree"] }
        let file = try root.write("a-file", "not a folder")
        let report = file.appendingPathComponent("report")
        let run = try Self.eval(w, report)
        #expect(run.status == 1)
        #expect(run.stderr == "taggan: error: \(report.path): cannot create the report folder (at \(report.path)): Not a directory\n", "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: w.appendingPathComponent("methods.json").path))
        // A new folder two levels deep is made; a run that then fails leaves no empty folders.
        let nested = root.url.appendingPathComponent("x/y/report")
        let ok = try Self.eval(w, nested)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: nested.path).sorted() == ["report.html", "report.json", "report.md"])
        let failing = root.url.appendingPathComponent("p/q/report")
        let noWorkspace = try Self.eval(root.url.appendingPathComponent("no-such-W"), failing)
        #expect(noWorkspace.status == 1)
        #expect(!FileManager.default.fileExists(atPath: root.url.appendingPathComponent("p").path))
    }

    /// Without word vectors (none recorded, none given) the word-space methods cannot
    /// rank anything: they are left out of the table, methods.json and the report, as the
    /// note says, instead of standing there with P@5 0.000 like methods that ran and failed.
    @Test func withoutWordVectorsTheWordSpaceMethodsAreLeftOut() throws {
        let root = TemporaryFolder("taggan-eval-novectors")
        let w = try Self.workspace(root.url, count: 20, split: "60/10/30") { i in i % 2 == 0 ? ["cat", "pet"] : ["tree", "plant"] }
        let run = try Self.eval(w, root.url.appendingPathComponent("report"))
        try #require(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("note: no word vectors (give --vectors): the word-space methods and the generators are left out"))
        #expect(run.stdout.contains("TagProp") && !run.stdout.contains("word-space regression") && !run.stdout.contains("ConSE"), "\(run.stdout)")
        let methods = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: w.appendingPathComponent("methods.json"))) as? [String: Any])
        let names = try #require(methods["methods"] as? [[String: Any]]).compactMap { $0["method"] as? String }
        #expect(names == ["prior", "knn", "tagprop", "linear"])
        let json = try String(contentsOf: root.url.appendingPathComponent("report/report.json"), encoding: .utf8)
        #expect(!json.contains("word-space regression") && !json.contains("ConSE"))
    }

    /// Word vectors of the model's size but not the ones it was trained with (retrained
    /// on another corpus or seed) are refused, naming both files: the generator's vectors
    /// mean nothing in another space and the CGAN scored P@5 0.000 as its own result. A
    /// text copy of the training vectors is accepted.
    @Test func vectorsOtherThanTheModelsAreRefused() throws {
        let root = TemporaryFolder("taggan-eval-vectors")
        let w = try Self.workspace(root.url, count: 20, split: "60/10/30") { i in i % 2 == 0 ? ["cat", "pet"] : ["tree", "plant"] }
        func vectors(_ name: String, seed: UInt64) throws -> URL {
            var random = SeededRandom(seed: seed)
            let words = ["cat", "pet", "tree", "plant"], values = Tensor.gaussian(shape: [words.count, 8], using: &random)
            var text = "\(words.count) 8\n"
            for (i, word) in words.enumerated() { text += word + " " + values.row(i).map { String($0) }.joined(separator: " ") + "\n" }
            return try root.write(name, text)
        }
        let trained = try vectors("trained.txt", seed: 1), copy = try vectors("copy.txt", seed: 1), other = try vectors("other.txt", seed: 2)
        let train = try TagganProcess(["train", "--workspace", w.path, "--vectors", trained.path, "--steps", "2", "--batch-size", "10"],
                                      environment: ["TAGGAN_CORPORA": Self.cache.path])
        try #require(train.status == 0, "\(train.stderr)")
        let refused = try Self.eval(w, root.url.appendingPathComponent("r1"), ["--vectors", other.path, "--samples", "5"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("taggan: error: \(other.path): gives 'cat' another vector than \(trained.path), which the cgan model "
                                        + "was trained with"), "\(refused.stderr)")
        let accepted = try Self.eval(w, root.url.appendingPathComponent("r2"), ["--vectors", copy.path, "--samples", "5"])
        #expect(accepted.status == 0, "\(accepted.stderr)")
        // The training file itself, touched but the same bytes, passes; other vectors
        // written over it (retrained into the same path) are refused.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: trained.path)
        let touched = try Self.eval(w, root.url.appendingPathComponent("r3"), ["--vectors", trained.path, "--samples", "5"])
        #expect(touched.status == 0, "\(touched.stderr)")
        try FileManager.default.removeItem(at: trained)
        try FileManager.default.copyItem(at: other, to: trained)
        let replaced = try Self.eval(w, root.url.appendingPathComponent("r4"), ["--samples", "5"])
        #expect(replaced.status == 1)
        #expect(replaced.stderr.contains("taggan: error: \(trained.path): is not the file the cgan model was trained with any more"),
                "\(replaced.stderr)")
    }

    /// With no validation split every method's validation score is 0; the tie went to the
    /// first method, the frequency prior, which methods.json then named best, so annotate
    /// --method auto gave every image the same tags. Without validation auto must stay
    /// k-NN transfer (its default before any eval), and the report must not call anything
    /// "validation-best".
    @Test func withoutAValidationSplitAutoStaysKNNNotTheFrequencyPrior() throws {
        let root = TemporaryFolder("taggan-eval-noval")
        let w = try Self.workspace(root.url, count: 20, split: "80/0/20") { i in i % 2 == 0 ? ["cat", "pet"] : ["tree", "plant"] }
        let run = try Self.eval(w, root.url.appendingPathComponent("report"))
        try #require(run.status == 0, "\(run.stderr)")
        let methods = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: w.appendingPathComponent("methods.json"))) as? [String: Any])
        #expect(methods["best"] as? String == "knn")
        #expect(run.stdout.contains("With no validation split nothing was chosen: taggan annotate --method auto uses k-NN transfer (k 5)"))
        let markdown = try String(contentsOf: root.url.appendingPathComponent("report/report.md"), encoding: .utf8)
        #expect(!markdown.contains("validation-best"))
    }
}
