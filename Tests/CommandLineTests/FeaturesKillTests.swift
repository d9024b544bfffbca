import Foundation
import Testing
import TagganCore
import TestSupport

/// `taggan features` killed (SIGKILL) at each of its write points resumes to the result
/// of a run that was never killed (issue 16, item 6). The kill points are the
/// `TAGGAN_KILL_AT` names of `FaultInjection`; the images are the ingest fixtures, the
/// network the real EfficientNet-Lite0 (fetched data: fails without it).
@Suite("taggan features killed at every write point")
struct FeaturesKillTests {
    static let images = ["baseline.jpg", "rgb8.png", "palette.png", "gray8.png", "progressive.jpg", "cmyk.jpg"]

    /// A workspace with the fixture images ingested and, when `embedFirst`, the first
    /// three already embedded, so a kill also meets an earlier matrix and mapping.
    static func workspace(_ root: URL, embedFirst: Bool) throws -> URL {
        let photos = root.appendingPathComponent("photos"), w = root.appendingPathComponent("W")
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        let env = ["TAGGAN_CORPORA": PipelineTests.cache.path]
        for (i, name) in images.enumerated() where !embedFirst || i < 3 {
            try FileManager.default.copyItem(at: IngestCommandTests.fixtures.appendingPathComponent(name),
                                             to: photos.appendingPathComponent(name))
        }
        #expect(try TagganProcess(["ingest", photos.path, "--workspace", w.path], environment: env).status == 0)
        if embedFirst {
            #expect(try TagganProcess(["features", "--workspace", w.path], environment: env).status == 0)
            for name in images.dropFirst(3) {
                try FileManager.default.copyItem(at: IngestCommandTests.fixtures.appendingPathComponent(name),
                                                 to: photos.appendingPathComponent(name))
            }
            #expect(try TagganProcess(["ingest", photos.path, "--workspace", w.path], environment: env).status == 0)
        }
        return w
    }

    /// A file whose bytes changed after ingest is reported and not embedded (its
    /// features would be stored under the old image's id, beside the old image's tags);
    /// a file only touched (same bytes, new time) is embedded as before.
    @Test func aFileChangedSinceIngestIsReportedNotEmbedded() throws {
        try #require(FileManager.default.fileExists(atPath: PipelineTests.cache.appendingPathComponent("models/efficientnet-lite0.pth").path),
                     "EfficientNet-Lite0 weights are missing: run bash corpora/fetch-all.sh")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-features-changed-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let w = try Self.workspace(root, embedFirst: false)
        let photos = root.appendingPathComponent("photos")
        let changed = photos.appendingPathComponent("rgb8.png")
        try FileManager.default.removeItem(at: changed)
        try FileManager.default.copyItem(at: photos.appendingPathComponent("gray8.png"), to: changed)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_600_000_000)],
                                              ofItemAtPath: photos.appendingPathComponent("baseline.jpg").path)
        let run = try TagganProcess(["features", "--workspace", w.path, "--json"], environment: ["TAGGAN_CORPORA": PipelineTests.cache.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("rgb8.png") && run.stderr.contains("changed since ingest"), "\(run.stderr)")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let skipped = try #require(summary["skipped"] as? [String: Any])
        #expect(skipped["count"] as? Int == 1 && (skipped["reasons"] as? [String: Int])?["changed since ingest"] == 1, "\(run.stdout)")
        let matrix = try NPY.read(contentsOf: w.appendingPathComponent("embeddings.npy"))
        #expect(matrix.rows == Self.images.count - 1)
    }

    /// The write points in order: a part's matrix, its mapping (the part committed), the
    /// joined matrix, its mapping, the catalog's stage records.
    @Test(arguments: ["features.part", "features.part-mapping", "features.matrix", "features.mapping", "features.catalog"], [false, true])
    func killedAtAWritePointResumesToTheFullResult(point: String, embedFirst: Bool) throws {
        try #require(FileManager.default.fileExists(atPath: PipelineTests.cache.appendingPathComponent("models/efficientnet-lite0.pth").path),
                     "EfficientNet-Lite0 weights are missing: run bash corpora/fetch-all.sh")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-features-kill-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let env = ["TAGGAN_CORPORA": PipelineTests.cache.path]
        let reference = try Self.workspace(root.appendingPathComponent("reference"), embedFirst: embedFirst)
        #expect(try TagganProcess(["features", "--workspace", reference.path], environment: env).status == 0)

        let w = try Self.workspace(root.appendingPathComponent("killed"), embedFirst: embedFirst)
        let before = FileManager.default.contents(atPath: w.appendingPathComponent("embeddings.npy").path)
        let killed = try TagganProcess(["features", "--workspace", w.path], environment: env.merging(["TAGGAN_KILL_AT": point]) { $1 })
        #expect(killed.status == SIGKILL, "not killed at \(point): status \(killed.status), \(killed.stderr.suffix(300))")
        if point.hasPrefix("features.part") {
            // New rows go to a part; the matrix is not rewritten before the run's end.
            #expect(FileManager.default.contents(atPath: w.appendingPathComponent("embeddings.npy").path) == before,
                    "embeddings.npy changed before the parts were joined (killed at \(point))")
        }
        let resumed = try TagganProcess(["features", "--workspace", w.path, "--json"], environment: env)
        #expect(resumed.status == 0, "after a kill at \(point): \(resumed.stderr)")
        // Killed between the joined matrix and its mapping: the matrix's rows past the old
        // mapping are reported, once, however many times the files are looked at.
        let leftover = resumed.stderr.components(separatedBy: "(an interrupted write) are ignored").count - 1
        #expect(leftover == (point == "features.matrix" ? 1 : 0), "\(resumed.stderr)")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any])
        #expect(summary["rows"] as? Int == Self.images.count, "\(summary)")
        for file in ["embeddings.npy", "embeddings.tsv"] {
            #expect(FileManager.default.contents(atPath: w.appendingPathComponent(file).path)
                    == FileManager.default.contents(atPath: reference.appendingPathComponent(file).path), "\(file) after a kill at \(point)")
        }
        #expect(!FileManager.default.fileExists(atPath: w.appendingPathComponent("embeddings.parts").path), "parts left after the resumed run")
    }

    /// A run that would write what another live run is writing is refused at once (exit 1,
    /// naming the file and the process holding its lock) and changes nothing: ingest while
    /// the catalog is held, features and merge while the embeddings are held. Shard runs
    /// have files, and locks, of their own, so a `--shard` run goes ahead meanwhile; once
    /// the holder lets go, the same commands run.
    @Test func runsOnOutputsAnotherRunHoldsAreRefused() throws {
        try #require(FileManager.default.fileExists(atPath: PipelineTests.cache.appendingPathComponent("models/efficientnet-lite0.pth").path),
                     "EfficientNet-Lite0 weights are missing: run bash corpora/fetch-all.sh")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-features-locked-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let env = ["TAGGAN_CORPORA": PipelineTests.cache.path]
        let photos = root.appendingPathComponent("photos"), w = root.appendingPathComponent("W")
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        for name in Self.images.prefix(3) {
            try FileManager.default.copyItem(at: IngestCommandTests.fixtures.appendingPathComponent(name), to: photos.appendingPathComponent(name))
        }
        let holder = "another taggan run (process \(ProcessInfo.processInfo.processIdentifier)) holds it"
        let catalog = w.appendingPathComponent("catalog.sqlite"), matrix = w.appendingPathComponent("embeddings.npy")

        try holdingLock(w.appendingPathComponent(".catalog.sqlite.taggan-lock")) {
            let ingest = try TagganProcess(["ingest", photos.path, "--workspace", w.path], environment: env)
            #expect(ingest.status == 1 && ingest.stderr.contains("\(catalog.path): \(holder)"), "\(ingest.stderr)")
            #expect(!FileManager.default.fileExists(atPath: catalog.path))
        }
        #expect(try TagganProcess(["ingest", photos.path, "--workspace", w.path], environment: env).status == 0)

        try holdingLock(w.appendingPathComponent(".embeddings.npy.taggan-lock")) {
            let features = try TagganProcess(["features", "--workspace", w.path], environment: env)
            #expect(features.status == 1 && features.stderr.contains("\(matrix.path): \(holder)"), "\(features.stderr)")
            #expect(!FileManager.default.fileExists(atPath: matrix.path))
            let shard = try TagganProcess(["features", "--workspace", w.path, "--shard", "0/2"], environment: env)
            #expect(shard.status == 0, "\(shard.stderr)")
            let merge = try TagganProcess(["merge", "--workspace", w.path], environment: env)
            #expect(merge.status == 1 && merge.stderr.contains("\(matrix.path): \(holder)"), "\(merge.stderr)")
            #expect(!FileManager.default.fileExists(atPath: matrix.path))
        }
        let features = try TagganProcess(["features", "--workspace", w.path, "--json"], environment: env)
        #expect(features.status == 0, "\(features.stderr)")
        #expect(try NPY.read(contentsOf: matrix).rows == 3)
    }
}
