import Foundation
import Testing
import TagganCore
import TestSupport

/// `taggan annotate` as a user runs it, on folders that try to break it: which sidecar
/// gets the tags, links in and out of the folder, malformed and rich user sidecars, odd
/// names, broken images, and what the model key and the exit status say. The model is a
/// CGAN trained for two steps on random 1280-d features (what it suggests does not
/// matter here, only that every good image gets it); the images are real OpenClipart
/// PNGs, so the suite needs the fetched data (corpora/fetch-all.sh) and fails without it.
@Suite("taggan annotate on hostile folders (real images)")
struct AnnotateTests {
    static var cache: URL { PipelineTests.cache }
    static let words = ["cat", "dog", "tree", "house", "sun", "boat"]

    /// W with a trained CGAN (1280-d features), V the vectors it was trained with.
    struct Fixture {
        let root: URL
        var workspace: URL { root.appendingPathComponent("W") }
        var vectors: URL { root.appendingPathComponent("vectors.txt") }
    }

    static func writeVectors(_ url: URL, seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let values = Tensor.gaussian(shape: [words.count, 8], using: &random)
        var text = "\(words.count) 8\n"
        for (i, word) in words.enumerated() { text += word + " " + values.row(i).map { String($0) }.joined(separator: " ") + "\n" }
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// A fresh copy of a workspace with a model trained on 1280-d (or `featureSize`) features.
    static func fixture(_ name: String, featureSize: Int = 1280) throws -> Fixture {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-annotate-\(name)-\(UUID().uuidString)")
        let fixture = Fixture(root: root)
        try FileManager.default.createDirectory(at: fixture.workspace, withIntermediateDirectories: true)
        var random = SeededRandom(seed: 11)
        try NPY.write(Tensor.gaussian(shape: [24, featureSize], using: &random), to: root.appendingPathComponent("embeddings.npy"))
        try NPY.write(try NPY.read(contentsOf: root.appendingPathComponent("embeddings.npy")),
                      to: fixture.workspace.appendingPathComponent("embeddings.npy"))
        let list = (0..<24).map { "\($0)\t\(words[$0 % words.count])\t\(words[($0 / 2) % words.count])" }.joined(separator: "\n")
        let listURL = root.appendingPathComponent("training-set.tsv")
        try list.write(to: listURL, atomically: true, encoding: .utf8)
        try writeVectors(fixture.vectors, seed: 3)
        let train = try TagganProcess(["train", "--workspace", fixture.workspace.path, "--vectors", fixture.vectors.path,
                                       "--training-set", listURL.path, "--steps", "2", "--batch-size", "10"],
                                      executable: TagganProcess.built)
        try #require(train.status == 0, "\(train.stderr)")
        return fixture
    }

    /// Copies `count` real PNGs (links resolved) into `folder` under `names`.
    static func copyImages(to folder: URL, names: [String]) throws {
        let source = cache.appendingPathComponent("openclipart/png/animals")
        try #require(FileManager.default.fileExists(atPath: source.path), "OpenClipart is missing: run bash corpora/fetch-all.sh")
        let pngs = try FileManager.default.contentsOfDirectory(atPath: source.path).filter { $0.hasSuffix(".png") }.sorted()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, png) in zip(names, pngs) {
            let to = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: source.appendingPathComponent(png).resolvingSymlinksInPath(), to: to)
        }
    }

    static func annotate(_ fixture: Fixture, _ folder: URL, _ extra: [String]) throws -> TagganProcess {
        try TagganProcess(["annotate", folder.path, "--workspace", fixture.workspace.path, "--vectors", fixture.vectors.path,
                           "--vocab", "all", "--samples", "5", "--top", "3"] + extra,
                          environment: ["TAGGAN_CORPORA": cache.path])
    }

    static func json(_ run: TagganProcess) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "stdout: \(run.stdout)")
    }

    static func sidecar(tags: [String], extra: String = "") -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
        <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
          xmlns:lr="http://ns.adobe.com/lightroom/1.0/"\(extra)>
        <dc:subject><rdf:Bag>\(tags.map { "<rdf:li>\($0)</rdf:li>" }.joined())</rdf:Bag></dc:subject>
        </rdf:Description></rdf:RDF></x:xmpmeta>

        """
    }

    static func isLink(_ url: URL) -> Bool {
        var s = stat()
        return lstat(url.path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFLNK
    }

    /// Lightroom's `<name>.xmp` is merged into rather than joined by a second sidecar;
    /// with both names present `<name>.<ext>.xmp` gets the tags and the other is left as
    /// it was; with none, `<name>.<ext>.xmp` is created. --help states the rule.
    @Test func xmpMergesIntoTheSidecarThatExists() throws {
        let fixture = try Self.fixture("names")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let folder = fixture.root.appendingPathComponent("photos")
        try Self.copyImages(to: folder, names: ["lightroom.png", "both.png", "none.png"])
        try Self.sidecar(tags: ["from-lightroom"]).write(to: folder.appendingPathComponent("lightroom.xmp"), atomically: true, encoding: .utf8)
        try Self.sidecar(tags: ["short-name"]).write(to: folder.appendingPathComponent("both.xmp"), atomically: true, encoding: .utf8)
        try Self.sidecar(tags: ["long-name"]).write(to: folder.appendingPathComponent("both.png.xmp"), atomically: true, encoding: .utf8)
        let shortBefore = try Data(contentsOf: folder.appendingPathComponent("both.xmp"))
        let run = try Self.annotate(fixture, folder, ["--xmp", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Self.json(run)["sidecars_written"] as? Int == 3)
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("lightroom.png.xmp").path),
                "a second sidecar beside the user's lightroom.xmp")
        let lightroom = try String(contentsOf: folder.appendingPathComponent("lightroom.xmp"), encoding: .utf8)
        #expect(lightroom.contains("from-lightroom") && Self.words.contains { lightroom.contains("<rdf:li>\($0)</rdf:li>") }, "\(lightroom)")
        #expect(try Data(contentsOf: folder.appendingPathComponent("both.xmp")) == shortBefore)
        let long = try String(contentsOf: folder.appendingPathComponent("both.png.xmp"), encoding: .utf8)
        #expect(long.contains("long-name") && Self.words.contains { long.contains("<rdf:li>\($0)</rdf:li>") })
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("none.png.xmp").path))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("none.xmp").path))
        let help = try TagganProcess("annotate", "--help")
        #expect(help.stdout.contains("photo.jpg.xmp when it exists") && help.stdout.contains("photo.xmp when it exists"), "\(help.stdout)")
    }

    /// Stored tags are reused while the vectors are unchanged; vectors retrained under the
    /// same file name are refused for the generator trained with the old ones (its vectors
    /// mean nothing in the new space), rather than used, or the old tags written again.
    @Test func vectorsRetrainedUnderTheSameNameAreRefusedNotReused() throws {
        let fixture = try Self.fixture("vectors")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let folder = fixture.root.appendingPathComponent("photos")
        try Self.copyImages(to: folder, names: ["a.png", "b.png"])
        let jsonl = fixture.root.appendingPathComponent("tags.jsonl").path
        let first = try Self.json(try Self.annotate(fixture, folder, ["--jsonl", jsonl, "--json"]))
        #expect(first["annotated"] as? Int == 2)
        let same = try Self.json(try Self.annotate(fixture, folder, ["--jsonl", jsonl, "--json"]))
        #expect(same["reused"] as? Int == 2, "unchanged vectors: stored tags are reused")
        try Self.writeVectors(fixture.vectors, seed: 99)
        let before = try Data(contentsOf: URL(fileURLWithPath: jsonl))
        let retrained = try Self.annotate(fixture, folder, ["--jsonl", jsonl, "--json"])
        #expect(retrained.status == 1 && retrained.stderr.contains("\(fixture.vectors.path): is not the file the cgan model was trained "
                                                                   + "with any more"), "\(retrained.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: jsonl)) == before)
    }

    /// --vectors of the model's size that give its words other vectors than the file it
    /// was trained with are refused, naming both (the generated vectors would be decoded
    /// in the wrong space, every tag meaningless); a copy of the training vectors is fine.
    @Test func vectorsOtherThanTheModelsAreRefused() throws {
        let fixture = try Self.fixture("other-vectors")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let folder = fixture.root.appendingPathComponent("photos")
        try Self.copyImages(to: folder, names: ["a.png"])
        let other = fixture.root.appendingPathComponent("other.txt"), copy = fixture.root.appendingPathComponent("copy.txt")
        try Self.writeVectors(other, seed: 99)
        try FileManager.default.copyItem(at: fixture.vectors, to: copy)
        let jsonl = fixture.root.appendingPathComponent("t.jsonl").path
        func annotate(_ vectors: URL) throws -> TagganProcess {
            try TagganProcess(["annotate", folder.path, "--workspace", fixture.workspace.path, "--vectors", vectors.path,
                               "--vocab", "all", "--samples", "5", "--top", "3", "--jsonl", jsonl], environment: ["TAGGAN_CORPORA": Self.cache.path])
        }
        let refused = try annotate(other)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("taggan: error: \(other.path): gives 'cat' another vector than \(fixture.vectors.path), which the cgan model "
                                        + "was trained with"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: jsonl))
        let accepted = try annotate(copy)
        #expect(accepted.status == 0, "\(accepted.stderr)")
    }

    /// A folder in which every image fails is a failed run (exit 1, said on stderr).
    @Test func everyImageFailingExitsOne() throws {
        let fixture = try Self.fixture("all-broken")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let folder = fixture.root.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00]).write(to: folder.appendingPathComponent("broken.jpg"))
        try Data("not a png".utf8).write(to: folder.appendingPathComponent("fake.png"))
        let run = try Self.annotate(fixture, folder, ["--jsonl", fixture.root.appendingPathComponent("t.jsonl").path])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.contains("none of the 2 images") && run.stderr.contains("broken.jpg"), "\(run.stderr)")
    }

    /// An image left with no tag after the filters is a line in JSON Lines and a row in
    /// CSV alike: the two files list the same images.
    @Test func csvAndJSONLinesListTheSameImages() throws {
        let fixture = try Self.fixture("rows")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let folder = fixture.root.appendingPathComponent("photos")
        try Self.copyImages(to: folder, names: ["a.png", "b, with comma.png"])
        let jsonl = fixture.root.appendingPathComponent("t.jsonl"), csv = fixture.root.appendingPathComponent("t.csv")
        let run = try Self.annotate(fixture, folder, ["--jsonl", jsonl.path, "--csv", csv.path, "--include", "no-such-word"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n")
        let rows = try String(contentsOf: csv, encoding: .utf8).components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.count == 2)
        #expect(rows == ["path,tag,confidence", "a.png,,", "\"b, with comma.png\",,"], "\(rows)")
    }

    /// --include/--exclude words are matched in the catalog's tag form (lowercase, NFC,
    /// spaces to underscores): "CAT, Dog" keeps cat and dog, which before matched nothing
    /// and left every image untagged. An --include list with no word (empty, or an empty
    /// file) is an error, not a run that drops every tag; @FILE that is missing or a
    /// folder is an error naming it and why; nothing is written in any of those cases.
    @Test func wordListsAreMatchedAsTagsAndAnEmptyIncludeIsAnError() throws {
        let fixture = try Self.fixture("words")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let folder = fixture.root.appendingPathComponent("photos")
        try Self.copyImages(to: folder, names: ["a.png", "b.png"])
        let jsonl = fixture.root.appendingPathComponent("t.jsonl")
        let run = try Self.annotate(fixture, folder, ["--jsonl", jsonl.path, "--include", " CAT, Dog ,"])
        #expect(run.status == 0, "\(run.stderr)")
        for line in try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n") {
            let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let tags = try #require(object["tags"] as? [[String: Any]]).compactMap { $0["tag"] as? String }
            #expect(!tags.isEmpty && Set(tags).isSubset(of: ["cat", "dog"]), "\(line)")
        }
        try FileManager.default.removeItem(at: jsonl)
        // A word the method never gives matches nothing, and the warning says which.
        let unknown = try Self.annotate(fixture, folder, ["--jsonl", jsonl.path, "--include", "cat, Unicorn"])
        #expect(unknown.status == 0 && unknown.stderr.contains("--include: 1 of its 2 words is not a tag")
                && unknown.stderr.contains("can give, so it matches nothing: unicorn"), "\(unknown.stderr)")
        #expect(!run.stderr.contains("--include:"), "\(run.stderr)")
        try FileManager.default.removeItem(at: jsonl)
        let empty = fixture.root.appendingPathComponent("empty.txt")
        try "\n \n".write(to: empty, atomically: true, encoding: .utf8)
        let missing = fixture.root.appendingPathComponent("missing.txt").path
        let refusals: [([String], Int32, String)] = [
            (["--include", ""], 2, "taggan: error: taggan annotate: --include lists no words (comma-separated, or @FILE)\n"),
            (["--include", " , "], 2, "taggan: error: taggan annotate: --include lists no words (comma-separated, or @FILE)\n"),
            (["--include", "@"], 2, "taggan: error: taggan annotate: --include and --exclude need a file name after @\n"),
            (["--include", "@" + empty.path], 1, "taggan: error: \(empty.path): the --include word list holds no words\n"),
            (["--exclude", "@" + folder.path], 1, "taggan: error: \(folder.path): is a folder, not a word list (one word a line)\n"),
            (["--include", "@" + missing], 1, "taggan: error: \(missing): cannot read the word list: No such file or directory\n"),
        ]
        for (extra, status, message) in refusals {
            let refused = try Self.annotate(fixture, folder, ["--jsonl", jsonl.path] + extra)
            #expect(refused.status == status && refused.stderr == message, "\(extra): \(refused.status) \(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: jsonl.path))
        }
    }

    /// `--shard I/N`: each shard tags only its images (by content: a byte-identical copy
    /// lands in its original's shard), writes F's shard file with a manifest beside it,
    /// and `taggan merge --annotations` of all shards gives the unsharded run's file byte
    /// for byte; a shard made with another --top is refused, naming both files.
    @Test func shardsOfARunMergeIntoTheUnshardedRunsFiles() throws {
        let fixture = try Self.fixture("shards")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let folder = fixture.root.appendingPathComponent("photos")
        try Self.copyImages(to: folder, names: ["a.png", "b.png", "c.png", "d.png", "e.png", "f.png", "g.png"])
        try FileManager.default.copyItem(at: folder.appendingPathComponent("a.png"), to: folder.appendingPathComponent("copy of a.png"))
        let out = fixture.root.appendingPathComponent("out")
        let single = try Self.annotate(fixture, folder, ["--jsonl", out.appendingPathComponent("single.jsonl").path,
                                                         "--csv", out.appendingPathComponent("single.csv").path])
        #expect(single.status == 0, "\(single.stderr)")
        var counts: [Int] = []
        for index in 0..<3 {
            let run = try Self.annotate(fixture, folder, ["--jsonl", out.appendingPathComponent("tags.jsonl").path,
                                                          "--csv", out.appendingPathComponent("tags.csv").path,
                                                          "--shard", "\(index)/3", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            let summary = try Self.json(run)
            #expect(summary["shard"] as? String == "\(index)/3")
            #expect(summary["jsonl"] as? String == out.appendingPathComponent("tags.shard-\(index)-of-3.jsonl").path, "\(summary)")
            counts.append(summary["annotated"] as? Int ?? -1)
            let manifest = try String(contentsOf: out.appendingPathComponent("tags.shard-\(index)-of-3.jsonl.shard.json"), encoding: .utf8)
            #expect(manifest.contains("\"kind\":\"annotate\"") && manifest.contains("\"index\":\(index)"), "\(manifest)")
        }
        #expect(counts.reduce(0, +) == 8 && counts.allSatisfy { $0 < 8 }, "per shard: \(counts)")
        let aShard = try (0..<3).first { index in
            try String(contentsOf: out.appendingPathComponent("tags.shard-\(index)-of-3.jsonl"), encoding: .utf8).contains("\"a.png\"")
        }
        let aFile = try String(contentsOf: out.appendingPathComponent("tags.shard-\(aShard ?? 0)-of-3.jsonl"), encoding: .utf8)
        #expect(aFile.contains("copy of a.png"), "the copy of a.png is not in a.png's shard")
        for format in ["jsonl", "csv"] {
            let merged = out.appendingPathComponent("merged.\(format)")
            let merge = try TagganProcess(["merge", "--annotations", merged.path] + (0..<3).map {
                out.appendingPathComponent("tags.shard-\($0)-of-3.\(format)").path
            })
            #expect(merge.status == 0, "\(merge.stderr)")
            #expect(FileManager.default.contents(atPath: merged.path) == FileManager.default.contents(atPath: out.appendingPathComponent("single.\(format)").path),
                    "merged \(format) differs from the unsharded run's")
        }
        // Shard 1 again with --top 2: the merge refuses it, naming both files.
        let other = fixture.root.appendingPathComponent("other")
        let top2 = try TagganProcess(["annotate", folder.path, "--workspace", fixture.workspace.path, "--vectors", fixture.vectors.path,
                                      "--vocab", "all", "--samples", "5", "--top", "2", "--shard", "1/3",
                                      "--jsonl", other.appendingPathComponent("tags.jsonl").path],
                                     environment: ["TAGGAN_CORPORA": Self.cache.path])
        #expect(top2.status == 0, "\(top2.stderr)")
        let refused = try TagganProcess(["merge", "--annotations", out.appendingPathComponent("bad.jsonl").path,
                                         out.appendingPathComponent("tags.shard-0-of-3.jsonl").path,
                                         other.appendingPathComponent("tags.shard-1-of-3.jsonl").path])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("tags.shard-0-of-3.jsonl") && refused.stderr.contains("other/tags.shard-1-of-3.jsonl")
                && refused.stderr.contains("top"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("bad.jsonl").path))
    }

    /// `taggan annotate` killed (SIGKILL) after a batch's tags are stored (the first of
    /// two batches), after a sidecar is merged, or after the JSON Lines are written, then
    /// run again: the same JSON Lines and sidecars as a run never killed, and the second
    /// run decodes only what the first had not stored. Each point starts from a copy of
    /// the workspace as it was before any run, so stored tags are the killed run's own.
    @Test func killedAtAWritePointResumesToTheSameOutputs() throws {
        let fixture = try Self.fixture("kill")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let fm = FileManager.default
        let pristine = fixture.root.appendingPathComponent("W-before")
        try fm.copyItem(at: fixture.workspace, to: pristine)
        let names = (0..<33).map { String(format: "img%02d.png", $0) }
        let reference = fixture.root.appendingPathComponent("reference")
        try Self.copyImages(to: reference, names: names)
        let referenceLines = fixture.root.appendingPathComponent("reference.jsonl")
        let whole = try Self.annotate(fixture, reference, ["--xmp", "--jsonl", referenceLines.path])
        #expect(whole.status == 0, "\(whole.stderr)")
        for point in ["annotate.batch", "annotate.sidecar", "annotate.outputs"] {
            try fm.removeItem(at: fixture.workspace)
            try fm.copyItem(at: pristine, to: fixture.workspace)
            let folder = fixture.root.appendingPathComponent("photos-\(point)")
            try Self.copyImages(to: folder, names: names)
            let jsonl = fixture.root.appendingPathComponent("\(point).jsonl")
            let killed = try TagganProcess(["annotate", folder.path, "--workspace", fixture.workspace.path, "--vectors", fixture.vectors.path,
                                            "--vocab", "all", "--samples", "5", "--top", "3", "--xmp", "--jsonl", jsonl.path],
                                           environment: ["TAGGAN_CORPORA": Self.cache.path, "TAGGAN_KILL_AT": point])
            #expect(killed.status == SIGKILL, "not killed at \(point): status \(killed.status), \(killed.stderr.suffix(300))")
            let resumed = try Self.annotate(fixture, folder, ["--xmp", "--jsonl", jsonl.path, "--json"])
            #expect(resumed.status == 0, "after a kill at \(point): \(resumed.stderr)")
            let summary = try Self.json(resumed)
            #expect(summary["reused"] as? Int == (point == "annotate.batch" ? 32 : 33), "\(point): \(summary)")
            #expect(fm.contents(atPath: jsonl.path) == fm.contents(atPath: referenceLines.path), "JSON Lines after a kill at \(point)")
            for name in names {
                #expect(fm.contents(atPath: folder.appendingPathComponent(name + ".xmp").path)
                        == fm.contents(atPath: reference.appendingPathComponent(name + ".xmp").path), "\(name).xmp after a kill at \(point)")
            }
        }
    }

    /// A model trained on features of another width: exit 1 naming the checkpoint and
    /// both widths, not a crash.
    @Test func modelOfAnotherFeatureWidthIsAnError() throws {
        let fixture = try Self.fixture("width", featureSize: 16)
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let folder = fixture.root.appendingPathComponent("photos")
        try Self.copyImages(to: folder, names: ["a.png"])
        let run = try Self.annotate(fixture, folder, ["--jsonl", fixture.root.appendingPathComponent("t.jsonl").path])
        #expect(run.status == 1, "\(run.status): \(run.stderr)")
        #expect(run.stderr.contains("models/cgan/checkpoint.json: the model takes 16-d features, but efficientnet-lite0"),
                "\(run.stderr)")
    }

    /// The hostile folder: odd names, a malformed sidecar, a user's sidecar with a rating,
    /// a description and hierarchical keywords, a sidecar linked inside the folder, one
    /// linked outside it, a folder linked outside, and a broken image. Every good image is
    /// tagged; the malformed sidecar, the files outside and the links themselves are
    /// byte-for-byte as they were; the user's sidecar keeps everything and only gains
    /// tags; a second run changes nothing.
    @Test func hostileFolderTagsEveryGoodImageAndKeepsEverythingOfTheUsers() throws {
        let fixture = try Self.fixture("hostile")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let folder = fixture.root.appendingPathComponent("photos")
        let outside = fixture.root.appendingPathComponent("outside")
        let odd = ["space & \"quote\",comma.png", "naïve ☃ ünïcode.png", "line\nbreak.png", "-dash.png"]
        let plain = ["malformed.png", "rated.png", "linked-in.png", "linked-out.png", "sub/deeper/nested.png"]
        try Self.copyImages(to: folder, names: odd + plain)
        try Self.copyImages(to: outside, names: ["outside-image.png"])
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10]).write(to: folder.appendingPathComponent("broken.jpg"))
        let fm = FileManager.default
        // The sidecars.
        let malformed = Data("<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF><unclosed>".utf8)
        try malformed.write(to: folder.appendingPathComponent("malformed.png.xmp"))
        let rated = Self.sidecar(tags: ["Mine", "Paris"], extra: " xmp:Rating=\"4\"")
            .replacingOccurrences(of: "</dc:subject>", with: """
                </dc:subject>
                <dc:description><rdf:Alt><rdf:li xml:lang="x-default">My cat &amp; the Eiffel tower</rdf:li></rdf:Alt></dc:description>
                <lr:hierarchicalSubject><rdf:Bag><rdf:li>Places|Europe|Paris</rdf:li></rdf:Bag></lr:hierarchicalSubject>
                """)
        try rated.write(to: folder.appendingPathComponent("rated.png.xmp"), atomically: true, encoding: .utf8)
        try fm.createDirectory(at: folder.appendingPathComponent("sidecars"), withIntermediateDirectories: true)
        try Self.sidecar(tags: ["linked"]).write(to: folder.appendingPathComponent("sidecars/kept.xmp"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: folder.appendingPathComponent("linked-in.png.xmp").path, withDestinationPath: "sidecars/kept.xmp")
        let victim = outside.appendingPathComponent("victim.xmp")
        try Self.sidecar(tags: ["not-yours"]).write(to: victim, atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: folder.appendingPathComponent("linked-out.png.xmp").path, withDestinationPath: victim.path)
        try fm.createSymbolicLink(atPath: folder.appendingPathComponent("elsewhere").path, withDestinationPath: outside.path)
        func snapshot(_ url: URL) throws -> [String: Data] {
            var result: [String: Data] = [:]
            for name in try fm.subpathsOfDirectory(atPath: url.path) {
                result[name] = fm.contents(atPath: url.appendingPathComponent(name).path) ?? Data()
            }
            return result
        }
        let outsideBefore = try snapshot(outside)

        let jsonl = fixture.root.appendingPathComponent("t.jsonl"), csv = fixture.root.appendingPathComponent("t.csv")
        let arguments = ["--xmp", "--jsonl", jsonl.path, "--csv", csv.path, "--json"]
        let run = try Self.annotate(fixture, folder, arguments)
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try Self.json(run)
        // Every good image inside the folder is tagged; the broken one is reported.
        let good = Set(odd + plain)
        let lines = try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let tagged = Set(lines.compactMap { $0["path"] as? String })
        #expect(good.isSubset(of: tagged), "missing: \(good.subtracting(tagged))")
        #expect(lines.allSatisfy { !(($0["tags"] as? [Any]) ?? []).isEmpty })
        #expect(run.stderr.contains("broken.jpg"), "\(run.stderr)")
        // CSV: the same images, odd names quoted.
        let csvText = try String(contentsOf: csv, encoding: .utf8)
        #expect(csvText.contains("\"space & \"\"quote\"\",comma.png\",") && csvText.contains("\"line\nbreak.png\","))
        // The malformed sidecar: untouched and reported.
        #expect(try Data(contentsOf: folder.appendingPathComponent("malformed.png.xmp")) == malformed)
        #expect(run.stderr.contains("malformed.png.xmp"), "\(run.stderr)")
        // The user's rich sidecar keeps all it had, its own tags first, and gains ours.
        let merged = try String(contentsOf: folder.appendingPathComponent("rated.png.xmp"), encoding: .utf8)
        for kept in ["xmp:Rating=\"4\"", "My cat &amp; the Eiffel tower", "<rdf:li>Places|Europe|Paris</rdf:li>", "xml:lang=\"x-default\""] {
            #expect(merged.contains(kept), "lost \(kept): \(merged)")
        }
        let mine = try #require(merged.range(of: "<rdf:li>Mine</rdf:li>")), paris = try #require(merged.range(of: "<rdf:li>Paris</rdf:li>"))
        let added = try #require(Self.words.compactMap { merged.range(of: "<rdf:li>\($0)</rdf:li>") }.min { $0.lowerBound < $1.lowerBound })
        #expect(mine.lowerBound < paris.lowerBound && paris.lowerBound < added.lowerBound)
        // Links: the inside one stays a link and its target gains the tags; the outside
        // one stays a link to an unchanged file, and is reported.
        #expect(Self.isLink(folder.appendingPathComponent("linked-in.png.xmp")))
        #expect(try fm.destinationOfSymbolicLink(atPath: folder.appendingPathComponent("linked-in.png.xmp").path) == "sidecars/kept.xmp")
        let kept = try String(contentsOf: folder.appendingPathComponent("sidecars/kept.xmp"), encoding: .utf8)
        #expect(kept.contains("linked") && Self.words.contains { kept.contains("<rdf:li>\($0)</rdf:li>") }, "\(kept)")
        #expect(Self.isLink(folder.appendingPathComponent("linked-out.png.xmp")))
        #expect(run.stderr.contains("linked-out.png.xmp"), "\(run.stderr)")
        #expect(try snapshot(outside) == outsideBefore, "a file outside the folder changed")
        #expect(summary["sidecars_written"] as? Int == odd.count + 3, "\(summary)")

        // A second run writes nothing and changes nothing.
        let inside = try snapshot(folder)
        let again = try Self.annotate(fixture, folder, arguments)
        let againSummary = try Self.json(again)
        #expect(again.status == 0 && againSummary["sidecars_written"] as? Int == 0, "\(again.stdout)")
        let insideAfter = try snapshot(folder), outsideAfter = try snapshot(outside)
        #expect(insideAfter == inside && outsideAfter == outsideBefore)
    }

    /// Sidecars annotate cannot merge safely are reported and left byte for byte (a tag
    /// list as plain text or rdf:Alt, a FIFO where the sidecar goes), the rest are merged
    /// and a killed run's temporary file is taken over, not left in the user's folder;
    /// --jsonl through a link writes the link's target and keeps the link; --jsonl naming
    /// one of the images is refused and the image kept.
    @Test func unsafeSidecarsAreLeftAsTheyAreAndOutputsGoThroughLinksButNeverOverImages() throws {
        let fixture = try Self.fixture("unsafe")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let fm = FileManager.default
        let folder = fixture.root.appendingPathComponent("photos")
        try Self.copyImages(to: folder, names: ["text.png", "alt.png", "fifo.png", "plain.png"])
        func list(_ body: String) -> Data {
            Data("""
                <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
                <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">\(body)</rdf:Description></rdf:RDF></x:xmpmeta>
                """.utf8)
        }
        let text = list("<dc:subject>eleven</dc:subject>"), alt = list("<dc:subject><rdf:Alt><rdf:li>eleven</rdf:li></rdf:Alt></dc:subject>")
        try text.write(to: folder.appendingPathComponent("text.png.xmp"))
        try alt.write(to: folder.appendingPathComponent("alt.png.xmp"))
        #expect(mkfifo(folder.appendingPathComponent("fifo.png.xmp").path, 0o644) == 0)
        try Data("half of a killed write".utf8).write(to: folder.appendingPathComponent(".plain.png.xmp.taggan-tmp"))
        let elsewhere = fixture.root.appendingPathComponent("elsewhere"), link = fixture.root.appendingPathComponent("tags.jsonl")
        try fm.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: link.path, withDestinationPath: "elsewhere/real.jsonl")

        let run = try Self.annotate(fixture, folder, ["--xmp", "--jsonl", link.path, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try Self.json(run)
        #expect(summary["sidecars_written"] as? Int == 1, "\(run.stdout)")
        for name in ["text.png.xmp", "alt.png.xmp", "fifo.png.xmp"] { #expect(run.stderr.contains(name), "\(name) not reported") }
        #expect(try Data(contentsOf: folder.appendingPathComponent("text.png.xmp")) == text)
        #expect(try Data(contentsOf: folder.appendingPathComponent("alt.png.xmp")) == alt)
        var s = stat()
        #expect(lstat(folder.appendingPathComponent("fifo.png.xmp").path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFIFO)
        let merged = try String(contentsOf: folder.appendingPathComponent("plain.png.xmp"), encoding: .utf8)
        #expect(Self.words.contains { merged.contains("<rdf:li>\($0)</rdf:li>") }, "\(merged)")
        #expect(try fm.contentsOfDirectory(atPath: folder.path).filter { $0.contains("tmp") }.isEmpty, "temporary files left")
        #expect(Self.isLink(link))
        let lines = try String(contentsOf: elsewhere.appendingPathComponent("real.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)

        // Sidecars the only output, and every one refused: exit 1, the sidecar untouched.
        let onlyBad = fixture.root.appendingPathComponent("only-bad")
        try Self.copyImages(to: onlyBad, names: ["text.png"])
        try text.write(to: onlyBad.appendingPathComponent("text.png.xmp"))
        let allRefused = try Self.annotate(fixture, onlyBad, ["--xmp"])
        #expect(allRefused.status == 1 && allRefused.stderr.contains("no sidecar"), "\(allRefused.stderr)")
        #expect(try Data(contentsOf: onlyBad.appendingPathComponent("text.png.xmp")) == text)

        let image = folder.appendingPathComponent("plain.png")
        let before = try Data(contentsOf: image)
        let refused = try Self.annotate(fixture, folder, ["--jsonl", image.path])
        #expect(refused.status == 1 && refused.stderr.contains("plain.png") && refused.stderr.contains("is an image"), "\(refused.stderr)")
        #expect(try Data(contentsOf: image) == before)
    }

    /// An image whose `<name>.<ext>.xmp` would be longer than the file system allows a
    /// name (255 bytes) gets its tags in `<name>.xmp`, which fits; two such images that
    /// would share that `<name>.xmp` are each reported as "sidecar name too long" (they
    /// were "sidecar unreadable: File name too long") and the other images' sidecars are
    /// written.
    @Test func imagesWithNamesTooLongForTheUsualSidecarGetTheShortOneOrAClearReason() throws {
        let fixture = try Self.fixture("longnames")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let folder = fixture.root.appendingPathComponent("photos")
        let long = String(repeating: "a", count: 251), shared = String(repeating: "b", count: 251)
        try Self.copyImages(to: folder, names: ["\(long).png", "\(shared).png", "\(shared).PNG", "plain.png"])
        let run = try Self.annotate(fixture, folder, ["--xmp", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Self.json(run)["sidecars_written"] as? Int == 2, "\(run.stdout)")
        let short = try String(contentsOf: folder.appendingPathComponent("\(long).xmp"), encoding: .utf8)
        #expect(Self.words.contains { short.contains("<rdf:li>\($0)</rdf:li>") }, "\(short)")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("plain.png.xmp").path))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("\(shared).xmp").path))
        for ext in ["png", "PNG"] {
            #expect(run.stderr.contains("\(shared).\(ext).xmp: sidecar name too long"), "\(run.stderr)")
        }
        #expect(!run.stderr.contains("unreadable"), "\(run.stderr)")
    }

    /// A --jsonl or --csv that cannot be written (its folder a file or read-only, the
    /// path a folder) is refused before the folder is tagged, naming the path and why:
    /// it failed only at the end of the run, exit 1, with every --xmp sidecar already
    /// written. Nothing is written and no file is left beside the output.
    @Test func unwritableOutputsAreRefusedBeforeAnySidecarIsWritten() throws {
        let fixture = try Self.fixture("unwritable")
        defer {
            chmod(fixture.root.appendingPathComponent("read-only").path, 0o755)
            try? FileManager.default.removeItem(at: fixture.root)
        }
        let fm = FileManager.default
        let folder = fixture.root.appendingPathComponent("photos")
        try Self.copyImages(to: folder, names: ["a.png", "b.png"])
        let file = fixture.root.appendingPathComponent("a-file"), readOnly = fixture.root.appendingPathComponent("read-only")
        try Data("not a folder".utf8).write(to: file)
        try fm.createDirectory(at: readOnly, withIntermediateDirectories: true)
        let cases: [(String, [String], String)] = [
            ("--jsonl", [file.path + "/t.jsonl"], "\(file.path)/t.jsonl: cannot create its folder \(file.path): \(file.path) is not a folder"),
            ("--csv", [file.path + "/sub/t.csv"], "\(file.path)/sub/t.csv: cannot create its folder \(file.path)/sub: \(file.path) is not a folder"),
            ("--jsonl", [readOnly.path], "\(readOnly.path): is a folder, not a file"),
            ("--jsonl", [readOnly.path + "/t.jsonl"], "\(readOnly.path)/t.jsonl: cannot write into its folder \(readOnly.path): Permission denied"),
        ]
        // Root writes into a read-only folder: that case runs as nobody (the fixture's
        // workspace and the images made theirs to write).
        chmod(readOnly.path, 0o555)
        for url in [fixture.root, fixture.workspace, folder] { chmod(url.path, 0o777) }
        for (option, values, message) in cases {
            let arguments = ["annotate", folder.path, "--workspace", fixture.workspace.path, "--vectors", fixture.vectors.path,
                             "--vocab", "all", "--samples", "5", "--top", "3", "--xmp", option] + values
            let run = message.hasSuffix("Permission denied") && geteuid() == 0
                ? try TagganProcess(["--reuid=65534", "--regid=65534", "--clear-groups", TagganProcess.executable.path] + arguments,
                                    environment: ["TAGGAN_CORPORA": Self.cache.path], executable: URL(fileURLWithPath: "/usr/bin/setpriv"))
                : try TagganProcess(arguments, environment: ["TAGGAN_CORPORA": Self.cache.path])
            #expect(run.status == 1 && run.stderr.hasSuffix("taggan: error: \(message)\n"), "\(values): \(run.stderr)")
            #expect(try fm.contentsOfDirectory(atPath: folder.path).sorted() == ["a.png", "b.png"], "\(values): sidecars written")
        }
        #expect(try fm.contentsOfDirectory(atPath: readOnly.path).isEmpty)
        #expect(try Data(contentsOf: file) == Data("not a folder".utf8))
    }

    /// A Lightroom-style `a.xmp` that `a.jpg` and `a.png` would both use is left byte for
    /// byte (it may be a raw file's, and one image's tags must not land in the other's):
    /// each image gets its own `a.jpg.xmp` / `a.png.xmp`, while a `b.xmp` only `b.png`
    /// uses is merged as before. A 1x1 image, which ingest skips as too small, is
    /// reported and skipped, not tagged.
    @Test func aSidecarTwoImagesWouldShareIsLeftAndTooSmallImagesAreSkipped() throws {
        let fixture = try Self.fixture("shared")
        defer { try? FileManager.default.removeItem(at: fixture.root) }
        let folder = fixture.root.appendingPathComponent("photos")
        try Self.copyImages(to: folder, names: ["a.png", "b.png"])
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("FeaturesTests/Fixtures/rocket.jpg"),
                                         to: folder.appendingPathComponent("a.jpg"))
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("IngestTests/Fixtures/images/one-pixel.png"),
                                         to: folder.appendingPathComponent("dot.png"))
        let shared = Data(Self.sidecar(tags: ["raw-file-tag"]).utf8)
        try shared.write(to: folder.appendingPathComponent("a.xmp"))
        try Data(Self.sidecar(tags: ["mine"]).utf8).write(to: folder.appendingPathComponent("b.xmp"))
        let jsonl = fixture.root.appendingPathComponent("tags.jsonl")

        let run = try Self.annotate(fixture, folder, ["--xmp", "--jsonl", jsonl.path, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Data(contentsOf: folder.appendingPathComponent("a.xmp")) == shared)
        for name in ["a.jpg.xmp", "a.png.xmp", "b.xmp"] {
            let merged = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            #expect(Self.words.contains { merged.contains("<rdf:li>\($0)</rdf:li>") }, "\(name): \(merged)")
        }
        #expect(try String(contentsOf: folder.appendingPathComponent("b.xmp"), encoding: .utf8).contains("<rdf:li>mine</rdf:li>"))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("b.png.xmp").path))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("dot.png.xmp").path))
        let paths = try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["path"] as? String
        }
        #expect(paths == ["a.jpg", "a.png", "b.png"])
        #expect(run.stderr.contains("dot.png") && run.stderr.contains("too small"), "\(run.stderr)")
    }
}
