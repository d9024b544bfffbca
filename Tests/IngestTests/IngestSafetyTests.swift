import Foundation
import TestSupport
import Testing
import TagganCore
@testable import Ingest

/// What ingest must never do to a catalog: drop another source's files, split a
/// workspace by two rules, or ingest an image whose metadata it could not read without
/// saying so (issue 16, items 1, 3 and 4).
@Suite("Ingest keeps every source's files and one split rule")
struct IngestSafetyTests {
    func ingest(_ sources: [URL], _ workspace: URL, configure: (inout Ingester.Options) -> Void = { _ in }) throws -> (Ingester.Summary, SkipLog) {
        var options = Ingester.Options()
        options.minimumSide = 8
        configure(&options)
        let skipped = SkipLog()
        return (try Ingester(workspace: workspace, options: options).run(sources: sources, skipped: skipped), skipped)
    }

    func keys(_ workspace: URL) throws -> [String: String] {
        let catalog = try Catalog(workspace: workspace)
        let rows = try catalog.db.prepare("SELECT key, path FROM files ORDER BY key")
        var result: [String: String] = [:]
        while try rows.step() { result[rows.string(0)] = rows.string(1) }
        return result
    }

    /// /a/photos and /b/photos are two sources: the second ingest keeps the first's
    /// files, and giving both again, in either order, changes no key.
    @Test func twoFoldersWithTheSameNameAreTwoSources() throws {
        let a = TemporaryFolder(), b = TemporaryFolder(), workspace = TemporaryFolder()
        try a.write("photos/one.jpg", try Fixtures.data("baseline.jpg"))
        try b.write("photos/two.png", try Fixtures.data("rgb8.png"))
        let first = a.url.appendingPathComponent("photos"), second = b.url.appendingPathComponent("photos")
        _ = try ingest([first], workspace.url)
        let (summary, _) = try ingest([second], workspace.url)
        #expect(summary.removed == 0 && summary.statistics["files"] == 2, "\(summary)")
        let keyed = try keys(workspace.url)
        #expect(Set(keyed.keys) == ["photos/one.jpg", "photos_2/two.png"], "\(keyed)")
        for order in [[second, first], [first, second]] {
            let (again, _) = try ingest(order, workspace.url)
            #expect(again.removed == 0 && again.read == 0 && again.unchanged == 2)
            #expect(try keys(workspace.url) == keyed)
        }
        // A file deleted from one source leaves; the other source's stays.
        try FileManager.default.removeItem(at: second.appendingPathComponent("two.png"))
        let (after, _) = try ingest([second], workspace.url)
        let remaining = Set(try keys(workspace.url).keys)
        #expect(after.removed == 1 && remaining == ["photos/one.jpg"])
    }

    /// A catalog made before sources were recorded keeps its keys.
    @Test func anOlderCatalogKeepsItsKeys() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        try data.write("photos/one.jpg", try Fixtures.data("baseline.jpg"))
        let root = data.url.appendingPathComponent("photos")
        _ = try ingest([root], workspace.url)
        try Catalog(workspace: workspace.url).db.execute("DELETE FROM sources")
        let (again, _) = try ingest([root], workspace.url)
        let remaining = Set(try keys(workspace.url).keys)
        #expect(again.unchanged == 1 && again.removed == 0 && remaining == ["photos/one.jpg"])
    }

    /// The split rule is recorded; another rule on the same catalog is an error naming
    /// both, `resplit` moves every image, and leaving the rule out keeps the recorded one.
    @Test func anotherSplitRuleIsAnErrorUnlessResplit() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        for (i, name) in ["baseline.jpg", "rgb8.png", "palette.png", "gray8.png", "progressive.jpg", "cmyk.jpg"].enumerated() {
            try data.write("p/\(i)-\(name)", try Fixtures.data(name))
        }
        let root = data.url.appendingPathComponent("p")
        _ = try ingest([root], workspace.url) { $0.splitRule = Catalog.SplitRule("0/0/100") }
        #expect(try Catalog(workspace: workspace.url).splitRule() == Catalog.SplitRule("0/0/100"))
        try data.write("p/new.png", try Fixtures.data("rgb16-interlaced.png"))
        do {
            _ = try ingest([root], workspace.url) { $0.splitRule = Catalog.SplitRule("100/0/0") }
            Issue.record("a second split rule was accepted")
        } catch {
            #expect("\(error)".contains("its images are split 0/0/100; --split 100/0/0 would split new images differently"), "\(error)")
        }
        // Without a rule: the recorded one, for the new image too.
        _ = try ingest([root], workspace.url)
        #expect(try Catalog(workspace: workspace.url).images().allSatisfy { $0.split == .test })
        _ = try ingest([root], workspace.url) { $0.splitRule = Catalog.SplitRule("100/0/0"); $0.resplit = true }
        let catalog = try Catalog(workspace: workspace.url)
        let images = try catalog.images()
        #expect(images.count == 7 && images.allSatisfy { $0.split == .train })
        #expect(try catalog.splitRule() == Catalog.SplitRule("100/0/0"))
    }

    /// An image whose embedded XMP is malformed is reported with the reason, as a bad
    /// sidecar is, not ingested with its tags silently missing.
    @Test func malformedEmbeddedXMPIsReported() throws {
        let data = TemporaryFolder(), workspace = TemporaryFolder()
        var jpeg = [UInt8](try Fixtures.data("baseline.jpg"))
        let payload = Array("http://ns.adobe.com/xap/1.0/\0".utf8) + Array("<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF><oops>".utf8)
        let length = payload.count + 2
        jpeg.insert(contentsOf: [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload, at: 2)
        try data.write("p/bad-xmp.jpg", Data(jpeg))
        try data.write("p/good.png", try Fixtures.data("rgb8.png"))
        let (summary, skipped) = try ingest([data.url.appendingPathComponent("p")], workspace.url) { $0.layout = .xmp }
        #expect(skipped.byReason.map(\.reason) == ["embedded XMP: invalid XML"], "\(skipped.byReason)")
        #expect(summary.statistics["files"] == 1)
    }
}
