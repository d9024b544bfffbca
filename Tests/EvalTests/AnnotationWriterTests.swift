import Foundation
import Testing
@testable import Eval

@Suite("Annotation output")
struct AnnotationWriterTests {
    let sample = [
        Annotation(path: "a/cat.jpg", tags: ["cat", "sofa"], confidences: [0.82, 0.31]),
        Annotation(path: "b/odd, \"name\".png", tags: ["sea"], confidences: [0.5]),
    ]

    @Test func jsonLinesOneObjectPerImage() throws {
        let text = AnnotationWriter.jsonLines(sample)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2)
        let first = try #require(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["path"] as? String == "a/cat.jpg")
        let tags = try #require(first["tags"] as? [[String: Any]])
        #expect(tags.map { $0["tag"] as? String } == ["cat", "sofa"])
        #expect(tags.first?["confidence"] as? Double == 0.82)
    }

    @Test func csvQuotesWhatNeedsQuoting() {
        #expect(AnnotationWriter.csv(sample) == """
            path,tag,confidence\r
            a/cat.jpg,cat,0.820\r
            a/cat.jpg,sofa,0.310\r
            "b/odd, ""name"".png",sea,0.500\r

            """)
    }

    @Test func filtering() {
        let a = Annotation(path: "x", tags: ["a", "b", "c", "d"], confidences: [0.9, 0.5, 0.3, 0.2])
        #expect(a.filtered(top: 2, threshold: 0).tags == ["a", "b"])
        #expect(a.filtered(top: 10, threshold: 0.3).tags == ["a", "b", "c"])
        #expect(a.filtered(top: 10, threshold: 0, excluded: ["a"]).tags == ["b", "c", "d"])
        #expect(a.filtered(top: 10, threshold: 0, included: ["c", "d"]).confidences == [0.3, 0.2])
    }
}
