import Foundation
import Testing
import TestSupport

/// `taggan ingest` as a user runs it: folders it cannot list, and exporting the tag
/// corpus of an existing workspace (issue 16, items 2 and 4a).
@Suite("taggan ingest")
struct IngestCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("IngestTests/Fixtures/images")

    static func sidecar(_ tags: [String]) -> String {
        """
        <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
        <rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>
        \(tags.map { "<rdf:li>\($0)</rdf:li>" }.joined())</rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>
        """
    }

    /// A folder with two images (one in a subfolder), each with a sidecar, readable by anyone.
    static func source() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-ingest-\(UUID().uuidString)")
        let photos = root.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: photos.appendingPathComponent("locked"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("rgb8.png"), to: photos.appendingPathComponent("top.png"))
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("baseline.jpg"), to: photos.appendingPathComponent("locked/inner.jpg"))
        try sidecar(["sky"]).write(to: photos.appendingPathComponent("top.png.xmp"), atomically: true, encoding: .utf8)
        try sidecar(["sea", "boat"]).write(to: photos.appendingPathComponent("locked/inner.jpg.xmp"), atomically: true, encoding: .utf8)
        return root
    }

    /// Runs taggan as an unprivileged user when the tests run as root (root reads any
    /// folder, so a folder locked with chmod 000 would not be unreadable to it).
    static func unprivileged(_ arguments: [String]) throws -> TagganProcess {
        guard geteuid() == 0 else { return try TagganProcess(arguments) }
        return try TagganProcess(["--reuid=65534", "--regid=65534", "--clear-groups", TagganProcess.executable.path] + arguments,
                                 executable: URL(fileURLWithPath: "/usr/bin/setpriv"))
    }

    /// A subfolder that cannot be listed is reported with its path and reason, and the
    /// catalog keeps the files ingested from it before.
    @Test func unreadableSubfolderIsReportedAndItsFilesKept() throws {
        let root = try Self.source()
        defer {
            chmod(root.appendingPathComponent("photos/locked").path, 0o755)
            try? FileManager.default.removeItem(at: root)
        }
        let workspace = root.appendingPathComponent("W")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        chmod(workspace.path, 0o777)
        let photos = root.appendingPathComponent("photos")
        let first = try Self.unprivileged(["ingest", photos.path, "--workspace", workspace.path, "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(((try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])?["catalog"] as? [String: Int])?["files"] == 2)
        let locked = photos.appendingPathComponent("locked")
        chmod(locked.path, 0)
        let second = try Self.unprivileged(["ingest", photos.path, "--workspace", workspace.path, "--json"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("\(locked.path): unreadable folder (Permission denied)"), "\(second.stderr)")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])
        #expect(summary["files_removed"] as? Int == 0 && (summary["catalog"] as? [String: Int])?["files"] == 2, "\(summary)")
        #expect((summary["catalog"] as? [String: Int])?["distinct_tags"] == 3, "the locked folder's tags stay")
    }

    /// A file whose name is not UTF-8 (Latin-1 "é" as the byte 0xE9) is reported with
    /// the reason and its bytes, not silently left out; the other files are ingested.
    @Test func aFileNameThatIsNotUTF8IsReported() throws {
        let root = try Self.source()
        defer { try? FileManager.default.removeItem(at: root) }
        let photos = root.appendingPathComponent("photos")
        let raw = Array(photos.path.utf8) + Array("/latin1-".utf8) + [0xE9] + Array(".png".utf8) + [0]
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("gray8.png"))
        let descriptor = raw.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT, 0o644) }
        try #require(descriptor >= 0)
        _ = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        let run = try TagganProcess(["ingest", photos.path, "--workspace", root.appendingPathComponent("W").path, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("file name not UTF-8") && run.stderr.contains("latin1-\\xe9.png"), "\(run.stderr)")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect((summary["catalog"] as? [String: Int])?["files"] == 2, "\(summary)")
    }

    /// A FIFO named as an image is reported, not left out without a word (a link to one
    /// already was), and a FIFO as an image's sidecar is reported as one, not as "You
    /// don't have permission."; neither is opened (the run would hang on it), and the
    /// other image is ingested.
    @Test func fifosNamedAsImagesOrSidecarsAreReportedAsSuch() throws {
        let root = try Self.source()
        defer { try? FileManager.default.removeItem(at: root) }
        let photos = root.appendingPathComponent("photos")
        #expect(mkfifo(photos.appendingPathComponent("pipe.jpg").path, 0o644) == 0)
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("gray8.png"), to: photos.appendingPathComponent("piped.png"))
        #expect(mkfifo(photos.appendingPathComponent("piped.png.xmp").path, 0o644) == 0)
        let run = try TagganProcess(["ingest", photos.path, "--workspace", root.appendingPathComponent("W").path, "--layout", "xmp", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("skipped \(photos.path)/pipe.jpg: not a regular file (a FIFO)"), "\(run.stderr)")
        #expect(run.stderr.contains("skipped \(photos.path)/piped.png.xmp: not a regular file (a FIFO)"), "\(run.stderr)")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect((summary["catalog"] as? [String: Int])?["files"] == 2, "\(summary)")
    }

    /// `ingest --export-tag-corpus F --workspace W` with no SOURCE exports from the
    /// catalog W has; with neither, SOURCE is missing.
    @Test func exportTagCorpusNeedsNoSource() throws {
        let root = try Self.source()
        defer { try? FileManager.default.removeItem(at: root) }
        let workspace = root.appendingPathComponent("W")
        let ingest = try TagganProcess("ingest", root.appendingPathComponent("photos").path, "--workspace", workspace.path, "--split", "100/0/0")
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let corpus = root.appendingPathComponent("tags.txt")
        let export = try TagganProcess("ingest", "--export-tag-corpus", corpus.path, "--workspace", workspace.path)
        #expect(export.status == 0, "\(export.stderr)")
        #expect(try String(contentsOf: corpus, encoding: .utf8).split(separator: "\n").sorted() == ["boat sea", "sky"])
        let missing = try TagganProcess("ingest", "--workspace", workspace.path)
        #expect(missing.status == 2 && missing.stderr.contains("taggan ingest: missing SOURCE"), "\(missing.stderr)")
        let nowhere = root.appendingPathComponent("empty-W")
        let none = try TagganProcess("ingest", "--export-tag-corpus", corpus.path, "--workspace", nowhere.path)
        #expect(none.status == 1 && none.stderr.contains("\(nowhere.path): no catalog.sqlite here to export from"), "\(none.stderr)")
    }
}
