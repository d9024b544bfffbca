import Foundation
import TestSupport
import Testing
import TagganCore
@testable import Ingest

/// The real data set: OpenClipart from Debian, without shapes/stars, fetched by
/// corpora/fetch-openclipart.sh (scripts/test.sh runs it before the tests).
@Suite("OpenClipart ingest (real data)")
struct OpenClipartTests {
    static var cache: URL { TestData.corporaCache }

    @Test func ingestingOpenClipartGivesTheExpectedCounts() throws {
        let source = Self.cache.appendingPathComponent("openclipart")
        try #require(FileManager.default.fileExists(atPath: source.appendingPathComponent("png").path),
                     "OpenClipart is missing: run bash corpora/fetch-openclipart.sh")
        let workspace = TemporaryFolder("taggan-openclipart")
        let skipped = SkipLog()
        let summary = try Ingester(workspace: workspace.url).run(sources: [source], skipped: skipped)
        let s = summary.statistics
        // 6,743 PNG paths; 1,221 are aliases (symlinks) of other PNGs; 118 images are
        // untagged; about 5,400 distinct tagged images and about 2,070 distinct tags.
        // Skipped by default: 16 renders above 50 megapixels, 6 flag renders of 6x3 or
        // 3x2 pixels, one SVG whose XML declaration is malformed (version="1").
        #expect(summary.filesSeen == 6_742)
        let reasons = Dictionary(uniqueKeysWithValues: skipped.byReason.map { ($0.reason, $0.count) })
        #expect(reasons == ["too many pixels": 16, "too small": 6, "invalid XML": 1])
        #expect((5_350...5_450).contains(s["tagged_images"]!), "\(s)")
        #expect((1_200...1_221).contains(s["aliases"]!), "\(s)")
        #expect((2_000...2_100).contains(s["distinct_tags"]!), "\(s)")
        #expect(s["images"]! - s["tagged_images"]! <= 118)
        // The split follows the fractions, and no image is in two splits.
        let images = try Catalog(workspace: workspace.url).images(taggedOnly: true)
        let test = Double(images.filter { $0.split == .test }.count) / Double(images.count)
        #expect(abs(test - 0.1) < 0.02)
        #expect(Set(images.map(\.id)).count == images.count)

        // A second run reads nothing.
        let again = try Ingester(workspace: workspace.url).run(sources: [source], skipped: SkipLog())
        #expect(again.read == 0)   // only the refused files are tried again, and refused again
        #expect(again.unchanged == summary.read)
        #expect(again.statistics == s)
    }
}
