import Foundation
import Testing
@testable import Eval
import TagganCore

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

    /// The direct encoder writes the bytes Foundation's JSONSerialization writes, line for
    /// line: hostile paths and tags (quotes, backslashes, every control character, slashes,
    /// non-ASCII, U+2028, emoji, empty) and confidences of every magnitude and sign, with
    /// a fixed seed; a non-finite confidence goes to the encoder as before.
    @Test func jsonLinesMatchJSONSerializationByteForByte() {
        let pieces = ["cat", "\"", "\\", "/", "a/b", "é", "\u{2028}", "😀", "", " ", "\u{7F}", "\u{FEFF}", "x,y"]
            + (0 ..< 0x20).map { String(UnicodeScalar(UInt8($0))) }
        var generator = SeededRandom(seed: 14)
        func word() -> String { (0 ..< Int.random(in: 0 ... 4, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined() }
        var annotations: [Annotation] = []
        for _ in 0 ..< 400 {
            let count = Int.random(in: 0 ... 6, using: &generator)
            let confidences = (0 ..< count).map { _ -> Double in
                switch Int.random(in: 0 ..< 6, using: &generator) {
                case 0: return Double.random(in: 0 ... 1, using: &generator)
                case 1: return Double(Int.random(in: -3 ... 3, using: &generator))
                case 2: return Double.random(in: -1e-6 ... 1e-6, using: &generator)
                case 3: return Double.random(in: -1e22 ... 1e22, using: &generator)
                case 4: return [0.0, -0.0, 1.0, 0.0005, 0.0015, 1e-4, 123456789.0, 1e16, 1e300].randomElement(using: &generator)!
                default: return Double(Float.random(in: 0 ... 1, using: &generator))
                }
            }
            annotations.append(Annotation(path: word(), tags: (0 ..< count).map { _ in word() }, confidences: confidences))
        }
        annotations.append(Annotation(path: "nan.jpg", tags: ["a", "b"], confidences: [0.5, .nan]))
        annotations.append(Annotation(path: "inf.jpg", tags: ["a"], confidences: [.infinity]))
        let lines = AnnotationWriter.jsonLines(annotations).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == annotations.count + 1 && lines.last == "")
        for (line, annotation) in zip(lines, annotations) {
            #expect(String(line) == AnnotationWriter.jsonLineBySerialization(annotation), "\(annotation)")
        }
        #expect(AnnotationWriter.jsonLines([]) == "")
    }

    @Test func csvQuotesWhatNeedsQuoting() {
        #expect(AnnotationWriter.csv(sample) == """
            path,tag,confidence\r
            a/cat.jpg,cat,0.820\r
            a/cat.jpg,sofa,0.310\r
            "b/odd, ""name"".png",sea,0.500\r

            """)
    }

    /// A CRLF in a file name ("\r\n" is one Swift Character, equal to neither "\r" nor
    /// "\n") is quoted like a lone CR or LF, so each image stays one record: reading the
    /// file back as merge does gives every path whole, in its own consecutive rows.
    @Test func csvQuotesAFileNameHoldingCRLF() throws {
        let annotations = [Annotation(path: "crlf\r\nname.png", tags: ["cat", "sea"], confidences: [0.9, 0.4]),
                           Annotation(path: "cr\rname.png", tags: ["sky"], confidences: [0.5]),
                           Annotation(path: "tag\r\n.png", tags: ["a\r\nb"], confidences: [0.5])]
        let text = AnnotationWriter.csv(annotations)
        #expect(text.hasPrefix("path,tag,confidence\r\n\"crlf\r\nname.png\",cat,0.900\r\n\"crlf\r\nname.png\",sea,0.400\r\n"))
        #expect(text.contains("\"tag\r\n.png\",\"a\r\nb\",0.500\r\n"))
        let records = try AnnotationShards.csvRecords(text, source: "t.csv")
        #expect(records.map(\.path) == annotations.map(\.path))
    }

    /// File names and tags that spreadsheets run as formulas (leading = + - @, tab, CR)
    /// get a leading apostrophe inside quotes; other fields, and the JSON Lines, are as given.
    @Test func csvDefusesSpreadsheetFormulasInNamesAndTags() {
        let annotations = [
            Annotation(path: "=HYPERLINK(\"http://x\",\"y\").png", tags: ["=cmd|'/c calc'!a0", "+1", "-2", "@sum(1)"],
                       confidences: [0.9, 0.8, 0.7, 0.6]),
            Annotation(path: "\tx.png", tags: ["\rz", "a=b", "ok"], confidences: [0.5, 0.4, 0.3]),
            Annotation(path: "-3.png", tags: [], confidences: []),
        ]
        #expect(AnnotationWriter.csv(annotations) == """
            path,tag,confidence\r
            "'=HYPERLINK(""http://x"",""y"").png","'=cmd|'/c calc'!a0",0.900\r
            "'=HYPERLINK(""http://x"",""y"").png","'+1",0.800\r
            "'=HYPERLINK(""http://x"",""y"").png","'-2",0.700\r
            "'=HYPERLINK(""http://x"",""y"").png","'@sum(1)",0.600\r
            "'\tx.png","'\rz",0.500\r
            "'\tx.png",a=b,0.400\r
            "'\tx.png",ok,0.300\r
            "'-3.png",,\r

            """)
        #expect(AnnotationWriter.jsonLines([annotations[2]]) == "{\"path\":\"-3.png\",\"tags\":[]}\n")
    }

    @Test func filtering() {
        let a = Annotation(path: "x", tags: ["a", "b", "c", "d"], confidences: [0.9, 0.5, 0.3, 0.2])
        #expect(a.filtered(top: 2, threshold: 0).tags == ["a", "b"])
        #expect(a.filtered(top: 10, threshold: 0.3).tags == ["a", "b", "c"])
        #expect(a.filtered(top: 10, threshold: 0, excluded: ["a"]).tags == ["b", "c", "d"])
        #expect(a.filtered(top: 10, threshold: 0, included: ["c", "d"]).confidences == [0.3, 0.2])
    }
}
