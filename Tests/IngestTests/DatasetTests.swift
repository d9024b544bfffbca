import Foundation
import TestSupport
import Testing
import TagganCore
@testable import Ingest

/// Ingests folders the tests write in each layout, then reads the catalog back.
@Suite("Dataset layouts and the catalog")
struct DatasetTests {
    static func sidecar(_ tags: [String]) -> String {
        """
        <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
        <rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>
        \(tags.map { "<rdf:li>\($0)</rdf:li>" }.joined())
        </rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>
        """
    }

    static func svg(title: String, tags: [String]) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" xmlns:dc="http://purl.org/dc/elements/1.1/"
             xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><metadata><rdf:RDF><rdf:Description>
        <dc:title>\(title)</dc:title><dc:subject><rdf:Bag>\(tags.map { "<rdf:li>\($0)</rdf:li>" }.joined())</rdf:Bag></dc:subject>
        </rdf:Description></rdf:RDF></metadata></svg>
        """
    }

    func ingest(_ source: URL, _ workspace: URL, layout: DatasetLayout? = nil,
                configure: (inout Ingester.Options) -> Void = { _ in }) throws -> (Ingester.Summary, SkipLog) {
        var options = Ingester.Options()
        options.layout = layout
        options.minimumSide = 8
        configure(&options)
        let skipped = SkipLog()
        let summary = try Ingester(workspace: workspace, options: options).run(sources: [source], skipped: skipped)
        return (summary, skipped)
    }

    @Test func clipartAliasesBecomeOneImageWithTheUnionOfTags() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        try data.write("art/png/food/apple.png", try Fixtures.data("rgb8.png"))
        try data.write("art/svg/food/apple.svg", Self.svg(title: "apple", tags: ["food", "Fruit"]))
        try data.link("art/png/plants/apple_tree.png", to: "../food/apple.png")
        try data.write("art/svg/plants/apple_tree.svg", Self.svg(title: "apple", tags: ["plant", "fruit"]))
        try data.write("art/png/misc/gray.png", try Fixtures.data("gray8.png"))
        try data.write("art/svg/misc/gray.svg", Self.svg(title: "gray", tags: []))
        let source = data.url.appendingPathComponent("art")
        #expect(DatasetLayout.detect(source) == .clipart)
        let (summary, skipped) = try ingest(source, workspace.url)
        #expect(skipped.count == 0)
        #expect(summary.statistics["files"] == 3 && summary.statistics["images"] == 2)
        #expect(summary.statistics["aliases"] == 1 && summary.statistics["tagged_images"] == 1)
        let catalog = try Catalog(workspace: workspace.url)
        let images = try catalog.images(taggedOnly: true)
        #expect(images.count == 1)
        #expect(images.first?.tags == ["food", "fruit", "plant"])
        #expect(images.first?.title == "apple")
        #expect(images.first?.width == 32 && images.first?.height == 24)
        // The id and split come from the content hash (sha256sum of the PNG).
        let hash = SHA256.hex(try Fixtures.data("rgb8.png"))
        #expect(images.first?.hash == hash && images.first?.id == Catalog.imageID(hash: hash))
        #expect(images.first?.split == Catalog.SplitRule().split(hash: hash))
    }

    @Test func mirFlickr25kLayoutWithTagsAndConcepts() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        let root = data.url.appendingPathComponent("mirflickr")
        try data.write("mirflickr/im1.jpg", try Fixtures.data("baseline.jpg"))
        try data.write("mirflickr/im2.jpg", try Fixtures.data("progressive.jpg"))
        try data.write("mirflickr/im3.jpg", try Fixtures.data("gray.jpg"))
        try data.write("mirflickr/meta/tags/tags1.txt", "sky\nBlue\n\nsunset\n")
        try data.write("mirflickr/meta/tags/tags2.txt", "dog\n")
        try data.write("mirflickr/meta/tags_raw/tags1.txt", "Sky\nBlue!\nsunset\n")
        try data.write("mirflickr/doc/common_tags.txt", "sky 1\n")
        try data.write("mirflickr/annotations/sky.txt", "1\n3\n")
        try data.write("mirflickr/annotations/sky_r1.txt", "1\n")
        try data.write("mirflickr/annotations/README.txt", "About these files.\n")
        #expect(DatasetLayout.detect(root) == .mirflickr25k)
        let (summary, skipped) = try ingest(root, workspace.url)
        #expect(skipped.count == 0)
        #expect(summary.statistics["images"] == 3 && summary.statistics["tagged_images"] == 2)
        let catalog = try Catalog(workspace: workspace.url)
        let byKey = Dictionary(uniqueKeysWithValues: try catalog.images().map { ($0.key, $0) })
        #expect(byKey["mirflickr/im1.jpg"]?.tags == ["blue", "sky", "sunset"])
        #expect(byKey["mirflickr/im2.jpg"]?.tags == ["dog"])
        #expect(byKey["mirflickr/im3.jpg"]?.tags == [])
        let concepts = try catalog.concepts()
        #expect(concepts[byKey["mirflickr/im1.jpg"]!.id] == ["sky": true])
        #expect(concepts[byKey["mirflickr/im3.jpg"]!.id] == ["sky": false])
    }

    @Test func imagesWithoutTagsAreTheImagesWithTheirTagsLeftOut() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        let root = data.url.appendingPathComponent("mirflickr")
        try data.write("mirflickr/im1.jpg", try Fixtures.data("baseline.jpg"))
        try data.write("mirflickr/im2.jpg", try Fixtures.data("progressive.jpg"))
        try data.write("mirflickr/im3.jpg", try Fixtures.data("gray.jpg"))
        try data.write("mirflickr/meta/tags/tags1.txt", "sky\nBlue\n")
        try data.write("mirflickr/meta/tags/tags3.txt", "dog\n")
        _ = try ingest(root, workspace.url)
        let catalog = try Catalog(workspace: workspace.url)
        for split in [nil] + Catalog.Split.allCases.map(Optional.some) {
            let full = try catalog.images(split: split)
            let bare = try catalog.images(split: split, withTags: false)
            #expect(bare.allSatisfy { $0.tags.isEmpty }, "\(String(describing: split))")
            #expect(bare.map(\.id) == full.map(\.id) && bare.map(\.key) == full.map(\.key) && bare.map(\.url) == full.map(\.url)
                    && bare.map(\.split) == full.map(\.split) && bare.map(\.hash) == full.map(\.hash), "\(String(describing: split))")
        }
        #expect(try catalog.images().contains { !$0.tags.isEmpty })   // (so the check above had tags to leave out)
    }

    @Test func mirFlickr1MLayout() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        try data.write("m1m/images/0/1.jpg", try Fixtures.data("baseline.jpg"))
        try data.write("m1m/images/1/10001.jpg", try Fixtures.data("progressive.jpg"))
        try data.write("m1m/tags/0/1.txt", "beach\nsea\n")
        try data.write("m1m/tags/1/10001.txt", "cat\n")
        let root = data.url.appendingPathComponent("m1m")
        #expect(DatasetLayout.detect(root) == .mirflickr1m)
        let (summary, _) = try ingest(root, workspace.url)
        #expect(summary.statistics["images"] == 2 && summary.statistics["distinct_tags"] == 3)
    }

    @Test func xmpFolderWithSidecarsAndEmbeddedXMP() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        try data.write("photos/a.jpg", try Fixtures.data("baseline.jpg"))
        try data.write("photos/a.jpg.xmp", Self.sidecar(["beach"]))        // <name>.<ext>.xmp
        try data.write("photos/b.png", try Fixtures.data("rgb8.png"))
        try data.write("photos/b.xmp", Self.sidecar(["Forest", "trees"]))  // <name>.xmp
        try data.write("photos/sub/c.jpg", try Fixtures.data("xmp-embedded.jpg"))
        try data.write("photos/sub/c.xmp", Self.sidecar(["mine"]))         // sidecar and embedded merge
        try data.write("photos/d.png", try Fixtures.data("xmp-itxt-compressed.png"))
        let root = data.url.appendingPathComponent("photos")
        #expect(DatasetLayout.detect(root) == .xmp)
        let (_, skipped) = try ingest(root, workspace.url)
        #expect(skipped.count == 0)
        let byKey = Dictionary(uniqueKeysWithValues: try Catalog(workspace: workspace.url).images().map { ($0.key, $0.tags) })
        #expect(byKey["photos/a.jpg"] == ["beach"])
        #expect(byKey["photos/b.png"] == ["forest", "trees"])
        #expect(byKey["photos/sub/c.jpg"] == ["blue_sky", "green", "mine", "red", "square"])
        #expect(byKey["photos/d.png"] == ["blue_sky", "green", "red", "square"])
    }

    /// Every bad input of the issue, in one batch: each reported with its reason and
    /// skipped; the good images are ingested.
    @Test func badFilesAreReportedAndSkippedTheRestIsIngested() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder(), outside = TemporaryFolder()
        try data.write("batch/good.jpg", try Fixtures.data("baseline.jpg"))
        try data.write("batch/good.jpg.xmp", Self.sidecar(["fine"]))
        try data.write("batch/good2.png", try Fixtures.data("palette.png"))
        try data.write("batch/empty.jpg", Data())
        try data.write("batch/truncated.jpg", try ImageDecoderTests.truncated("progressive.jpg", keep: 0.6))
        try data.write("batch/truncated.png", try ImageDecoderTests.truncated("rgb16-interlaced.png", keep: 0.7))
        try data.write("batch/png-named.jpg", try Fixtures.data("gray8.png"))     // decodes by content: fine
        try data.write("batch/huffman.jpg", try ImageDecoderTests.corruptHuffman())
        try data.write("batch/one-pixel.png", try Fixtures.data("one-pixel.png"))
        try data.write("batch/huge.png", try ImageDecoderTests.pngClaiming(width: 100_000, height: 100_000))
        try data.write("batch/entity.png", try Fixtures.data("rgba-half-transparent.png"))
        try data.write("batch/entity.png.xmp", "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>" + Self.sidecar(["&e;ok"]))
        try data.write("batch/bomb.jpg", try Fixtures.data("gray.jpg"))
        var entities = "<!ENTITY a0 \"lol\">"
        for n in 1...10 { entities += "<!ENTITY a\(n) \"" + String(repeating: "&a\(n - 1);", count: 10) + "\">" }
        try data.write("batch/bomb.jpg.xmp", "<!DOCTYPE x [\(entities)]>" + Self.sidecar(["&a10;"]))
        try outside.write("secret.xmp", Self.sidecar(["stolen"]))
        try data.write("batch/escape.jpg", try Fixtures.data("cmyk.jpg"))
        try data.link("batch/escape.jpg.xmp", to: outside.url.appendingPathComponent("secret.xmp").path)
        try data.link("batch/outside.jpg", to: outside.url.appendingPathComponent("secret.xmp").path)
        try data.link("batch/dangling.jpg", to: "/nonexistent/taggan/file.jpg")
        let root = data.url.appendingPathComponent("batch")

        let (summary, skipped) = try ingest(root, workspace.url, layout: .xmp)
        let reasons = Dictionary(uniqueKeysWithValues: skipped.byReason.map { ($0.reason, $0.count) })
        #expect(reasons["empty file"] == 1)
        #expect(reasons["truncated or corrupt JPEG"] == 2)      // truncated + Huffman
        #expect(reasons["truncated or corrupt PNG"] == 1)
        #expect(reasons["too small"] == 1)
        #expect(reasons["too many pixels"] == 1)
        #expect(reasons["path points outside the data set"] == 2)  // sidecar link and image link
        #expect(reasons["unreadable file"] == 1)                  // dangling link
        #expect(reasons["invalid XML"] == 1)                      // the entity bomb, refused by libxml2
        let byKey = Dictionary(uniqueKeysWithValues: try Catalog(workspace: workspace.url).images().map { ($0.key, $0.tags) })
        #expect(Set(byKey.keys) == ["batch/good.jpg", "batch/good2.png", "batch/png-named.jpg", "batch/entity.png"])
        #expect(byKey["batch/good.jpg"] == ["fine"])
        #expect(byKey["batch/entity.png"] == ["ok"])
        #expect(summary.read == 4)
    }

    @Test func nonUTF8TagFileIsReportedAndSkipped() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        try data.write("mir/im1.jpg", try Fixtures.data("baseline.jpg"))
        try data.write("mir/im2.jpg", try Fixtures.data("progressive.jpg"))
        try data.write("mir/meta/tags/tags1.txt", Data([0x63, 0x61, 0x66, 0xE9, 0x0A]))   // "caf\xE9": Latin-1
        try data.write("mir/meta/tags/tags2.txt", "fine\n")
        let (summary, skipped) = try ingest(data.url.appendingPathComponent("mir"), workspace.url)
        #expect(skipped.byReason.map(\.reason) == ["not UTF-8 text"])
        #expect(summary.statistics["images"] == 1)
    }

    /// A folder where a MIR Flickr tag file should be is reported with that reason (it
    /// was a bare "unreadable file"), and its image is skipped as for any unreadable tags.
    @Test func aFolderAsATagFileIsReportedAsAFolder() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        try data.write("mir/im1.jpg", try Fixtures.data("baseline.jpg"))
        try data.write("mir/im2.jpg", try Fixtures.data("progressive.jpg"))
        try FileManager.default.createDirectory(at: data.url.appendingPathComponent("mir/meta/tags/tags1.txt"), withIntermediateDirectories: true)
        try data.write("mir/meta/tags/tags2.txt", "fine\n")
        let (items, problems) = try DatasetReader(root: data.url.appendingPathComponent("mir")).read()
        #expect(items.map(\.key) == ["mir/im2.jpg"])
        let problem = try #require(problems.first)
        #expect(problems.count == 1 && problem.path.hasSuffix("mir/meta/tags/tags1.txt") && problem.reason == "unreadable file")
        #expect(problem.detail == "a folder, not a tag file (tags of mir/im1.jpg)")
        let (summary, skipped) = try ingest(data.url.appendingPathComponent("mir"), workspace.url)
        #expect(skipped.byReason.map(\.reason) == ["unreadable file"] && summary.statistics["images"] == 1)
    }

    /// A tag file with a NUL byte is reported as not text and its image skipped, like a
    /// file that is not UTF-8: its tag "do\0g" was stored cut at the NUL, as "do".
    @Test func aTagFileWithANULByteIsReportedNotCut() throws {
        let data = TemporaryFolder()
        try data.write("mir/im1.jpg", try Fixtures.data("baseline.jpg"))
        try data.write("mir/im2.jpg", try Fixtures.data("progressive.jpg"))
        try data.write("mir/meta/tags/tags1.txt", Data("cat\ndo\0g\n".utf8))
        try data.write("mir/meta/tags/tags2.txt", "fine\n")
        let (items, problems) = try DatasetReader(root: data.url.appendingPathComponent("mir")).read()
        #expect(items.map(\.key) == ["mir/im2.jpg"])
        #expect(problems.map(\.reason) == ["not a text file"])
        #expect(problems.first?.detail == "a NUL byte at offset 6 (tags of mir/im1.jpg)")
    }

    @Test func annotationListThroughASymlinkOutsideIsReported() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder(), outside = TemporaryFolder()
        try data.write("mir/im1.jpg", try Fixtures.data("baseline.jpg"))
        try outside.write("dog.txt", "1\n")
        try data.link("mir/annotations/dog.txt", to: outside.url.appendingPathComponent("dog.txt").path)
        let (_, skipped) = try ingest(data.url.appendingPathComponent("mir"), workspace.url, layout: .mirflickr25k)
        #expect(skipped.byReason.map(\.reason) == ["path points outside the data set"])
        #expect(try Catalog(workspace: workspace.url).concepts().isEmpty)
    }

    @Test func rerunsAreIncremental() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        try data.write("p/a.jpg", try Fixtures.data("baseline.jpg"))
        try data.write("p/a.jpg.xmp", Self.sidecar(["one"]))
        try data.write("p/b.png", try Fixtures.data("rgb8.png"))
        let root = data.url.appendingPathComponent("p")
        let first = try ingest(root, workspace.url).0
        #expect(first.read == 2)
        let before = try Catalog(workspace: workspace.url).images()
        let second = try ingest(root, workspace.url).0
        #expect(second.read == 0 && second.unchanged == 2 && second.removed == 0)
        #expect(try Catalog(workspace: workspace.url).images() == before)

        // A changed sidecar re-reads that file alone.
        Thread.sleep(forTimeInterval: 0.01)
        try data.write("p/a.jpg.xmp", Self.sidecar(["one", "two"]))
        let third = try ingest(root, workspace.url).0
        #expect(third.read == 1 && third.unchanged == 1)
        #expect(try Catalog(workspace: workspace.url).images().first { $0.key == "p/a.jpg" }?.tags == ["one", "two"])

        // A deleted file leaves the catalog.
        try FileManager.default.removeItem(at: root.appendingPathComponent("b.png"))
        let fourth = try ingest(root, workspace.url).0
        #expect(fourth.removed == 1 && fourth.statistics["images"] == 1)
    }

    /// Six fixture images of every format under `data`/s, named "N-fixture"; returns s.
    static func shardFixtures(in data: TemporaryFolder) throws -> URL {
        for (n, name) in ["baseline.jpg", "progressive.jpg", "gray.jpg", "rgb8.png", "palette.png", "cmyk.jpg"].enumerated() {
            try data.write("s/\(n)-\(name)", try Fixtures.data(name))
        }
        return data.url.appendingPathComponent("s")
    }

    @Test func shardsPartitionTheFilesAndTogetherEqualOneRun() throws {
        let data = TemporaryFolder()
        let root = try Self.shardFixtures(in: data)
        let whole = TemporaryFolder()
        _ = try ingest(root, whole.url)
        var union: [String] = []
        for index in 0..<3 {
            let part = TemporaryFolder()
            _ = try ingest(root, part.url) { $0.shard = (index, 3) }
            union += try Catalog(workspace: part.url).images().map(\.key)
        }
        #expect(union.sorted() == (try Catalog(workspace: whole.url).images().map(\.key)).sorted())
    }

    /// A shard workspace records which shard it holds and what made it (`ShardManifest`,
    /// kind "ingest"); the merge joins one job's shards into the catalog one run builds and
    /// refuses a shard ingested with other settings, naming both catalogs; a shard
    /// workspace will not take in another shard.
    @Test func shardWorkspacesSayWhatMadeThemAndMergeRefusesAnotherJob() throws {
        let data = TemporaryFolder()
        let root = try Self.shardFixtures(in: data)
        let whole = TemporaryFolder()
        _ = try ingest(root, whole.url)
        let parts = (0..<3).map { _ in TemporaryFolder() }
        for (index, part) in parts.enumerated() {
            _ = try ingest(root, part.url) { $0.shardSpec = try? ShardSpec(index: index, count: 3) }
            let manifest = try #require(try Catalog(workspace: part.url).shardManifests()["ingest"])
            #expect(manifest.shard == (try ShardSpec(index: index, count: 3)) && manifest.settings["sources"] == "s", "\(manifest)")
        }
        #expect(throws: TagganError.self) {
            _ = try ingest(root, parts[0].url) { $0.shardSpec = try? ShardSpec(index: 2, count: 3) }
        }
        let other = TemporaryFolder()
        _ = try ingest(root, other.url) { $0.shardSpec = try? ShardSpec(index: 1, count: 3); $0.maxPixels = 1_000_000 }
        let target = TemporaryFolder()
        do {
            _ = try Catalog(workspace: target.url).merge(shards: [parts[0].url, other.url, parts[2].url])
            Issue.record("a shard made with another --max-pixels was merged")
        } catch let error as TagganError {
            #expect("\(error)".contains(other.url.path) && "\(error)".contains(parts[0].url.path) && "\(error)".contains("max_pixels"), "\(error)")
        }
        #expect(try Catalog(workspace: target.url).images().isEmpty, "a refused merge changed the catalog")
        let summary = try Catalog(workspace: target.url).merge(shards: parts.map(\.url))
        #expect(summary.missingShards["ingest"] == [])
        #expect(try Catalog(workspace: target.url).images() == (try Catalog(workspace: whole.url).images()))
    }

    /// `--shard` means content id mod N in ingest as in features and annotate: aliases
    /// (a symlink, a byte-identical copy) land in their image's shard, and a file whose
    /// bytes change moves to the new content's shard (the old shard drops it).
    @Test func shardsFollowTheContentIDRule() throws {
        let data = TemporaryFolder()
        let names = ["baseline.jpg", "progressive.jpg", "gray.jpg", "rgb8.png", "palette.png", "cmyk.jpg"]
        for (n, name) in names.enumerated() { try data.write("s/\(n)-\(name)", try Fixtures.data(name)) }
        try data.link("s/alias.png", to: "3-rgb8.png")
        try data.write("s/copy.png", try Fixtures.data("rgb8.png"))
        let root = data.url.appendingPathComponent("s")
        let parts = (0..<3).map { _ in TemporaryFolder() }
        var keysByShard: [[String]] = []
        for (index, part) in parts.enumerated() {
            let (summary, _) = try ingest(root, part.url) { $0.shardSpec = try? ShardSpec(index: index, count: 3) }
            let catalog = try Catalog(workspace: part.url)
            let ids = try catalog.images().map(\.id)
            #expect(ids.allSatisfy { $0 % 3 == index }, "shard \(index) holds ids \(ids)")
            var keys: [String] = []
            let rows = try catalog.db.prepare("SELECT key FROM files ORDER BY key")
            while try rows.step() { keys.append(rows.string(0)) }
            #expect(summary.filesSeen == keys.count)
            keysByShard.append(keys)
        }
        let rgbShard = Catalog.imageID(hash: SHA256.hex(try Fixtures.data("rgb8.png"))) % 3
        #expect(Set(["s/3-rgb8.png", "s/alias.png", "s/copy.png"]).isSubset(of: keysByShard[rgbShard]))
        #expect(keysByShard.joined().count == names.count + 2)

        // New bytes for 0-baseline.jpg: a shard of the new content takes it in and the
        // old shard lets it go (unless the two contents share a shard).
        let oldShard = Catalog.imageID(hash: SHA256.hex(try Fixtures.data("baseline.jpg"))) % 3
        let replacement = try names.map { try Fixtures.data($0) }.first {
            Catalog.imageID(hash: SHA256.hex($0)) % 3 != oldShard
        }!
        Thread.sleep(forTimeInterval: 0.01)
        try data.write("s/0-baseline.jpg", replacement)
        let newShard = Catalog.imageID(hash: SHA256.hex(replacement)) % 3
        let (dropped, _) = try ingest(root, parts[oldShard].url) { $0.shardSpec = try? ShardSpec(index: oldShard, count: 3) }
        let (taken, _) = try ingest(root, parts[newShard].url) { $0.shardSpec = try? ShardSpec(index: newShard, count: 3) }
        #expect(dropped.removed == 1 && taken.read == 1)
        func imageOf(_ key: String, in workspace: URL) throws -> Int? {
            let rows = try Catalog(workspace: workspace).db.prepare("SELECT image_id FROM files WHERE key = ?").bind(key)
            return try rows.step() ? rows.int(0) : nil
        }
        #expect(try imageOf("s/0-baseline.jpg", in: parts[newShard].url) == Catalog.imageID(hash: SHA256.hex(replacement)))
        #expect(try imageOf("s/0-baseline.jpg", in: parts[oldShard].url) == nil)
    }

    @Test func splitRule() {
        #expect(Catalog.SplitRule("80/10/10") == Catalog.SplitRule(train: 80, validation: 10))
        #expect(Catalog.SplitRule("80/10") == nil && Catalog.SplitRule("50/50/50") == nil)
        // Over many hashes the split follows the fractions.
        var counts: [Catalog.Split: Int] = [:]
        for n in 0..<20_000 {
            counts[Catalog.SplitRule().split(hash: SHA256.hex(Data("\(n)".utf8))), default: 0] += 1
        }
        #expect(abs(counts[.train]! - 16_000) < 400 && abs(counts[.test]! - 2_000) < 200)
    }

    @Test func sha256KnownAnswers() throws {
        // FIPS 180-4's examples (one block, two blocks, a million 'a's) and the empty message.
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // A 23-block file: the digest `sha256sum` prints for it (the content id a user can check).
        #expect(SHA256.hex(try Fixtures.data("xmp-embedded.jpg")) == "5520559c5af8f64af463687d1f3244532e75e04742d355c8f0eba2092f9a7328")
        // Streaming in odd pieces (and an empty one) gives the same digest.
        let hasher = SHA256()
        hasher.update(Data())
        for piece in stride(from: 0, to: million.count, by: 99_991) {
            hasher.update(million.subdata(in: piece ..< min(piece + 99_991, million.count)))
        }
        #expect(SHA256.hex(digest: hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func tagCorpusExport() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        try data.write("p/a.jpg", try Fixtures.data("baseline.jpg"))
        try data.write("p/a.jpg.xmp", Self.sidecar(["sea", "Beach"]))
        try data.write("p/b.png", try Fixtures.data("rgb8.png"))
        try data.write("p/b.png.xmp", Self.sidecar(["forest"]))
        try data.write("p/c.png", try Fixtures.data("palette.png"))
        _ = try ingest(data.url.appendingPathComponent("p"), workspace.url)
        let out = workspace.url.appendingPathComponent("tags.txt")
        #expect(try Catalog(workspace: workspace.url).exportTagCorpus(to: out) == 2)
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").sorted()
        #expect(lines == ["beach sea", "forest"])
        // One split only: the lines of the tagged images in that split.
        let catalog = try Catalog(workspace: workspace.url)
        for split in Catalog.Split.allCases {
            let expected = try catalog.images(split: split, taggedOnly: true).count
            #expect(try catalog.exportTagCorpus(to: out, splits: [split]) == expected)
        }
    }
}

@Suite("Merging shard catalogs")
struct MergeTests {
    @Test func mergedShardsEqualOneRun() throws {
        let data = TemporaryFolder()
        for (n, name) in ["baseline.jpg", "progressive.jpg", "gray.jpg", "rgb8.png", "palette.png", "cmyk.jpg"].enumerated() {
            try data.write("s/\(n)-\(name)", try Fixtures.data(name))
            try data.write("s/\(n)-\(name).xmp", DatasetTests.sidecar(["tag\(n % 3)", "shared"]))
        }
        try data.link("s/alias.png", to: "3-rgb8.png")
        let root = data.url.appendingPathComponent("s")
        func run(_ workspace: URL, shard: (Int, Int)?) throws {
            var options = Ingester.Options()
            options.shard = shard
            _ = try Ingester(workspace: workspace, options: options).run(sources: [root], skipped: SkipLog())
        }
        let whole = TemporaryFolder()
        try run(whole.url, shard: nil)
        let merged = TemporaryFolder()
        let shards = (0..<3).map { _ in TemporaryFolder() }
        for (index, shard) in shards.enumerated() { try run(shard.url, shard: (index, 3)) }
        let catalog = try Catalog(workspace: merged.url)
        for shard in shards.reversed() { try catalog.merge(from: shard.url) }
        let expected = try Catalog(workspace: whole.url)
        #expect(try catalog.images() == expected.images())
        #expect(try catalog.statistics() == expected.statistics())
        #expect(throws: TagganError.self) { try catalog.merge(from: data.url) }
    }

    /// `merge(shards:)` twice, or with a shard listed twice, leaves the catalog one run
    /// makes; shards of different splits or different annotate settings are refused
    /// before anything is merged, naming both catalogs.
    @Test func mergeOfShardsIsIdempotentAndRefusesShardsOfAnotherJob() throws {
        let data = TemporaryFolder()
        for (n, name) in ["baseline.jpg", "progressive.jpg", "gray.jpg", "rgb8.png", "palette.png", "cmyk.jpg"].enumerated() {
            try data.write("s/\(n)-\(name)", try Fixtures.data(name))
            try data.write("s/\(n)-\(name).xmp", DatasetTests.sidecar(["tag\(n % 3)"]))
        }
        let root = data.url.appendingPathComponent("s")
        func run(_ workspace: URL, shard: ShardSpec?, split: Catalog.SplitRule? = nil) throws {
            var options = Ingester.Options()
            options.shardSpec = shard
            options.splitRule = split
            _ = try Ingester(workspace: workspace, options: options).run(sources: [root], skipped: SkipLog())
        }
        let whole = TemporaryFolder()
        try run(whole.url, shard: nil)
        let shards = (0..<2).map { _ in TemporaryFolder() }
        for (index, shard) in shards.enumerated() {
            try run(shard.url, shard: try ShardSpec(index: index, count: 2))
            let catalog = try Catalog(workspace: shard.url)
            let spec = try ShardSpec(index: index, count: 2)
            try catalog.recordShard(ShardManifest(kind: "annotate", shard: spec, settings: ["model": "knn k=20"]))
            let mine = try catalog.images().map(\.id)
            try catalog.storeAnnotations(mine.map { ($0, Catalog.StoredAnnotation(tags: ["t\($0 % 5)"], confidences: [0.5])) }, model: "knn k=20")
        }
        let merged = TemporaryFolder()
        let catalog = try Catalog(workspace: merged.url)
        let summary = try catalog.merge(shards: shards.map(\.url) + [shards[0].url])
        #expect(summary.missingShards == ["annotate": [], "ingest": []] && summary.annotations == ["knn k=20": 6])
        let once = try catalog.images()
        try catalog.merge(shards: shards.map(\.url))
        #expect(try catalog.images() == once)
        #expect(once == (try Catalog(workspace: whole.url).images()))
        #expect(try catalog.annotations(model: "knn k=20").count == 6)
        #expect(try catalog.shardManifests().isEmpty)   // the merged catalog is no shard

        // A third shard made with another model.
        let stray = TemporaryFolder()
        try run(stray.url, shard: try ShardSpec(index: 1, count: 2))
        try Catalog(workspace: stray.url).recordShard(
            ShardManifest(kind: "annotate", shard: try ShardSpec(index: 1, count: 2), settings: ["model": "cgan"]))
        let fresh = TemporaryFolder()
        let strayPath = stray.url.appendingPathComponent(Catalog.fileName).path
        let firstPath = shards[0].url.appendingPathComponent(Catalog.fileName).path
        #expect(throws: TagganError.file(strayPath, "was made with other settings than \(firstPath), so the two cannot be merged "
                                         + "(model: 'knn k=20' in \(firstPath), 'cgan' here)")) {
            try Catalog(workspace: fresh.url).merge(shards: [shards[0].url, stray.url])
        }
        #expect(try Catalog(workspace: fresh.url).images().isEmpty)   // nothing merged

        // A shard split by another rule.
        let resplit = TemporaryFolder()
        try run(resplit.url, shard: try ShardSpec(index: 1, count: 2), split: Catalog.SplitRule("60/20/20"))
        let resplitPath = resplit.url.appendingPathComponent(Catalog.fileName).path
        #expect(throws: TagganError.file(resplitPath, "its images are split 60/20/20, those of \(catalog.url.path) 80/10/10: "
                                         + "shards of one collection must be ingested with the same --split")) {
            try catalog.merge(shards: [resplit.url])
        }
    }
}
