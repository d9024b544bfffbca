import Foundation
import Ingest
import Testing
import TagganCore
import TestSupport

/// A shard output whose rows are another shard's (a file copied in under another shard's
/// name, a shard workspace that an unsharded run filled first) is refused when merged or
/// taken in, naming the file and its first such row, and nothing is merged. The images
/// are the ingest fixtures, the network the real EfficientNet-Lite0 (fetched data).
@Suite("shard outputs holding another shard's rows")
struct ShardContentTests {
    static let env = ["TAGGAN_CORPORA": PipelineTests.cache.path]

    @Test func embeddingShardFilesHoldingAnotherShardsRowsAreRefusedOnMergeAndTakeIn() throws {
        try #require(FileManager.default.fileExists(atPath: PipelineTests.cache.appendingPathComponent("models/efficientnet-lite0.pth").path),
                     "EfficientNet-Lite0 weights are missing: run bash corpora/fetch-all.sh")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-shard-rows-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let w = try FeaturesKillTests.workspace(root, embedFirst: false)
        for shard in ["0/2", "1/2"] {
            let run = try TagganProcess(["features", "--workspace", w.path, "--shard", shard], environment: Self.env)
            #expect(run.status == 0, "\(shard): \(run.stderr)")
        }
        // Shard 1's files replaced by copies of shard 0's; shard 1's manifest stays.
        func file(_ shard: Int, _ ext: String) -> URL { w.appendingPathComponent("embeddings-shard-\(shard)-of-2.\(ext)") }
        let mapping = try String(contentsOf: file(0, "tsv"), encoding: .utf8).split(separator: "\n")
        try #require(mapping.count > 1 && (try String(contentsOf: file(1, "tsv"), encoding: .utf8)).split(separator: "\n").count > 1,
                     "each shard holds an image")
        let first = mapping[1].split(separator: "\t", maxSplits: 2)
        for ext in ["npy", "tsv"] {
            try FileManager.default.removeItem(at: file(1, ext))
            try FileManager.default.copyItem(at: file(0, ext), to: file(1, ext))
        }
        let message = "\(file(1, "tsv").path): line 2 (\(first[2])) holds image \(first[1]), which is in shard 0/2, "
            + "but this is shard 1/2 by its manifest: it holds another shard's rows, so nothing was merged"
        for arguments in [["merge", "--workspace", w.path], ["features", "--workspace", w.path]] {
            let run = try TagganProcess(arguments, environment: Self.env)
            #expect(run.status == 1, "\(arguments)")
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: w.appendingPathComponent("embeddings.npy").path), "\(arguments)")
        }
    }

    /// `ingest --shard 0/2` into a workspace an unsharded ingest filled is refused before
    /// it reads a file, the catalog unchanged: it would keep the other shard's images
    /// (their files are not this shard's to remove). Such a catalog marked as shard 0 (an
    /// older taggan made them) is refused on merge, since it would bring those images in
    /// under shard 0; the refusal leaves a new target workspace uncreated and an existing
    /// one unchanged.
    @Test func aShardCatalogHoldingAnotherShardsImagesIsRefusedOnMerge() throws {
        let root = TemporaryFolder("taggan-shard-catalog")
        let photos = root.url.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        for name in FeaturesKillTests.images {
            try FileManager.default.copyItem(at: IngestCommandTests.fixtures.appendingPathComponent(name), to: photos.appendingPathComponent(name))
        }
        let mixed = root.path("mixed"), clean = root.path("clean"), target = root.path("W")
        for arguments in [["ingest", photos.path, "--workspace", mixed], ["ingest", photos.path, "--workspace", clean, "--shard", "1/2"]] {
            let run = try TagganProcess(arguments)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
        }
        let catalogFile = URL(fileURLWithPath: mixed).appendingPathComponent("catalog.sqlite")
        let unsharded = try Catalog(workspace: URL(fileURLWithPath: mixed)).statistics()
        let refused = try TagganProcess(["ingest", photos.path, "--workspace", mixed, "--shard", "0/2"])
        #expect(refused.status == 1 && refused.stderr.contains("\(catalogFile.path): holds ")
                && refused.stderr.contains("of other shards than 0/2 (an unsharded ingest, or another shard's, filled it): "
                                           + "give each --shard run its own workspace"), "\(refused.stderr)")
        let after = try Catalog(workspace: URL(fileURLWithPath: mixed))
        #expect(try after.statistics() == unsharded && after.shardManifests().isEmpty, "the refused shard run changed the catalog")
        // As an older taggan left it: the unsharded catalog marked as shard 0/2's.
        let cleanManifest = try #require(try Catalog(workspace: URL(fileURLWithPath: clean)).shardManifests()["ingest"])
        try Catalog(workspace: URL(fileURLWithPath: mixed)).recordShard(ShardManifest(
            kind: "ingest", shard: try ShardSpec(index: 0, count: 2), settings: cleanManifest.settings))
        let merge = try TagganProcess(["merge", "--workspace", target, mixed, clean])
        #expect(merge.status == 1)
        #expect(merge.stderr.contains("\(mixed)/catalog.sqlite: its file photos/"), "\(merge.stderr)")
        #expect(merge.stderr.contains(", which is in shard 1/2, but this is shard 0/2 by its manifest: it holds another shard's rows, "
                                      + "so nothing was merged"), "\(merge.stderr)")
        // Refused before W's catalog was made: a new workspace is left as it was, with no
        // empty catalog in it; one that has a catalog is checked against it, and nothing merged.
        #expect(!FileManager.default.fileExists(atPath: target), "a refused merge made \(target)")
        let before = try Catalog(workspace: URL(fileURLWithPath: clean)).statistics()
        let existing = try TagganProcess(["merge", "--workspace", clean, mixed])
        #expect(existing.status == 1 && existing.stderr.contains("so nothing was merged"), "\(existing.stderr)")
        #expect(try Catalog(workspace: URL(fileURLWithPath: clean)).statistics() == before, "something merged into \(clean)")
    }
}
