import Foundation
import TestSupport
import Testing
@testable import Ingest

@Suite("XMP and RDF metadata")
struct XMPReaderTests {
    static let expectedTags = ["Red", "blue sky", "Green", "Square"]

    @Test func embeddedXMPInJPEGAndPNG() throws {
        for name in ["xmp-embedded.jpg", "xmp-itxt.png", "xmp-itxt-compressed.png"] {
            let packet = try #require(ImageMetadata.embeddedXMP(in: try Fixtures.data(name)), "\(name)")
            let metadata = try XMPReader.parse(packet)
            #expect(metadata.tags == Self.expectedTags, "\(name)")
            #expect(metadata.title == "Red and blue", "\(name)")
        }
        #expect(ImageMetadata.embeddedXMP(in: try Fixtures.data("baseline.jpg")) == nil)
        #expect(ImageMetadata.embeddedXMP(in: try Fixtures.data("rgb8.png")) == nil)
    }

    @Test func openClipartStyleSVG() throws {
        let svg = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" xmlns:dc="http://purl.org/dc/elements/1.1/"
                 xmlns:cc="http://web.resource.org/cc/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
              <metadata><rdf:RDF><cc:Work rdf:about="">
                <dc:title>apple</dc:title>
                <dc:subject><rdf:Bag><rdf:li>food</rdf:li><rdf:li>fruit</rdf:li><rdf:li></rdf:li><rdf:li>food</rdf:li></rdf:Bag></dc:subject>
                <dc:creator><cc:Agent><dc:title>mateya</dc:title></cc:Agent></dc:creator>
              </cc:Work></rdf:RDF></metadata>
              <rect width="10" height="10"/>
            </svg>
            """
        let metadata = try XMPReader.parse(Data(svg.utf8))
        #expect(metadata == TagMetadata(title: "apple", tags: ["food", "fruit"]))
    }

    @Test func namespacesMatterNotPrefixes() throws {
        let xml = """
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><r:RDF xmlns:r="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <r:Description xmlns:d="http://purl.org/dc/elements/1.1/" xmlns:dc="http://example.com/not-dublin-core/">
            <d:subject><r:Bag><r:li>kept</r:li></r:Bag></d:subject>
            <dc:subject><r:Bag><r:li>ignored</r:li></r:Bag></dc:subject>
            </r:Description></r:RDF></x:xmpmeta>
            """
        #expect(try XMPReader.parse(Data(xml.utf8)).tags == ["kept"])
    }

    @Test func externalEntityIsNeitherFetchedNorExpanded() throws {
        let folder = TemporaryFolder()
        let secret = try folder.write("secret.txt", "TOP-SECRET-CONTENT")
        let xml = """
            <?xml version="1.0"?>
            <!DOCTYPE x [ <!ENTITY leak SYSTEM "file://\(secret.path)"> <!ENTITY web SYSTEM "http://127.0.0.1:9/x"> ]>
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">
            <dc:subject><rdf:Bag><rdf:li>before&leak;after</rdf:li><rdf:li>&web;</rdf:li><rdf:li>plain</rdf:li></rdf:Bag></dc:subject>
            </rdf:Description></rdf:RDF></x:xmpmeta>
            """
        let metadata = try XMPReader.parse(Data(xml.utf8))
        #expect(!metadata.tags.joined().contains("SECRET"))
        #expect(metadata.tags == ["beforeafter", "plain"])
    }

    @Test func billionLaughsIsRefusedQuicklyInBoundedMemory() throws {
        var entities = "<!ENTITY lol0 \"lol\">"
        for level in 1...10 {
            entities += "<!ENTITY lol\(level) \"" + String(repeating: "&lol\(level - 1);", count: 10) + "\">"
        }
        let xml = """
            <?xml version="1.0"?><!DOCTYPE x [\(entities)]>
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">
            <dc:subject><rdf:Bag><rdf:li>&lol10;</rdf:li><rdf:li>safe</rdf:li></rdf:Bag></dc:subject>
            </rdf:Description></rdf:RDF></x:xmpmeta>
            """
        let start = Date()
        let metadata = try? XMPReader.parse(Data(xml.utf8))
        #expect(Date().timeIntervalSince(start) < 2)
        // Either refused as invalid, or parsed without expanding 10^10 "lol"s.
        #expect((metadata?.tags.joined().count ?? 0) < 1000)
    }

    static let badDocuments: [(String, String, String)] = [
        ("empty", "", "empty file"),
        ("not XML", "just text", "invalid XML"),
        ("unclosed", "<a><b></a>", "invalid XML"),
    ]

    @Test("bad documents are errors with a reason", arguments: badDocuments)
    func badDocument(_ name: String, _ text: String, _ reason: String) {
        do {
            _ = try XMPReader.parse(Data(text.utf8))
            Issue.record("\(name) parsed")
        } catch let error as XMPReader.ParseError {
            #expect(error.reason == reason)
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func tagNormalisation() {
        #expect(TagNormaliser.normalise("  New   York ") == "new_york")
        #expect(TagNormaliser.normalise("Cafe\u{301}") == "caf\u{E9}")     // NFC: e + combining acute -> é
        #expect(TagNormaliser.normalise("CAFÉ") == "café")
        #expect(TagNormaliser.normalise("signs_and_symbols") == "signs_and_symbols")
        #expect(TagNormaliser.normalise("   ") == nil)
        #expect(TagNormaliser.normalise("--!") == nil)
        #expect(TagNormaliser.normalise("x-ray") == "x-ray")
        #expect(TagNormaliser.normalise("Straße") == "straße")
        // Invisible characters are dropped (a BOM, a zero-width space, a word joiner, a soft
        // hyphen, a control character); the joiners that change how a word is written stay,
        // and tabs and newlines still separate words.
        #expect(TagNormaliser.normalise("\u{FEFF}Cat") == "cat")
        #expect(TagNormaliser.normalise("ca\u{200B}t\u{2060}") == "cat")
        #expect(TagNormaliser.normalise("sun\u{AD}flower\u{7}") == "sunflower")
        #expect(TagNormaliser.normalise("\u{200B}\u{FEFF}") == nil)
        #expect(TagNormaliser.normalise("\u{645}\u{6CC}\u{200C}\u{62E}\u{648}\u{627}\u{647}\u{645}") == "\u{645}\u{6CC}\u{200C}\u{62E}\u{648}\u{627}\u{647}\u{645}")
        #expect(TagNormaliser.normalise("👩\u{200D}💻 Coder") == "👩\u{200D}💻_coder")
        #expect(TagNormaliser.normalise("new\tyork\nstate") == "new_york_state")
    }
}
