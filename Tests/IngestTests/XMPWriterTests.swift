import Foundation
import TestSupport
import Testing
import TagganCore
@testable import Ingest

@Suite("XMP sidecar writing")
struct XMPWriterTests {
    @Test func freshSidecarRoundTrips() throws {
        let data = XMPWriter.fresh(tags: ["cat", "sofa & cushion", "naïve"])
        let metadata = try XMPReader.parse(data)
        #expect(metadata.tags == ["cat", "sofa & cushion", "naïve"])
    }

    @Test func mergeKeepsTheUsersTagsAndOtherProperties() throws {
        let existing = """
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4">
            <dc:subject><rdf:Bag><rdf:li>Holiday</rdf:li><rdf:li>cat</rdf:li></rdf:Bag></dc:subject>
            <dc:description><rdf:Alt><rdf:li xml:lang="x-default">Our cat</rdf:li></rdf:Alt></dc:description>
            </rdf:Description></rdf:RDF></x:xmpmeta>
            """
        let merged = try XMPWriter.merge(existing: Data(existing.utf8), tags: ["Cat", "sofa"])
        let text = String(decoding: merged, as: UTF8.self)
        #expect(text.contains("xmp:Rating=\"4\""))
        #expect(text.contains("Our cat"))
        let metadata = try XMPReader.parse(merged)
        #expect(metadata.tags == ["Holiday", "cat", "sofa"])   // "Cat" is already there as "cat"
        // digiKam and Lightroom lists were created with the new tag only.
        #expect(text.contains("digiKam:TagsList") && text.contains("lr:hierarchicalSubject"))
        // Merging again changes nothing.
        #expect(try XMPWriter.merge(existing: merged, tags: ["sofa"]) == merged)
    }

    /// A tag list written in a form the merge cannot add to without changing what the
    /// user's tools read is refused (the caller reports the sidecar and leaves it as it
    /// is); rdf:Bag and rdf:Seq lists are merged.
    @Test(arguments: [
        ("<dc:subject>eleven</dc:subject>", "plain text"),
        ("<dc:subject><rdf:Alt><rdf:li>eleven</rdf:li></rdf:Alt></dc:subject>", "rdf:Alt"),
        ("<dc:subject rdf:resource=\"http://example.org/eleven\"/>", "rdf:resource"),
        ("<dc:subject><rdf:Bag><rdf:li>a</rdf:li></rdf:Bag></dc:subject><dc:subject><rdf:Bag><rdf:li>b</rdf:li></rdf:Bag></dc:subject>", "twice"),
        ("<dc:subject><rdf:Bag><rdf:li>a</rdf:li></rdf:Bag><rdf:Bag><rdf:li>b</rdf:li></rdf:Bag></dc:subject>", "two lists"),
    ])
    func mergeRefusesTagListsItCannotAddTo(subject: String, form: String) throws {
        let existing = """
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">\(subject)</rdf:Description></rdf:RDF></x:xmpmeta>
            """
        #expect(throws: XMPReader.ParseError.self, "\(form)") { try XMPWriter.merge(existing: Data(existing.utf8), tags: ["sofa"]) }
        let attribute = """
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:subject="eleven"/></rdf:RDF></x:xmpmeta>
            """
        #expect(throws: XMPReader.ParseError.self) { try XMPWriter.merge(existing: Data(attribute.utf8), tags: ["sofa"]) }
        let seq = """
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <dc:subject>
              <rdf:Seq><rdf:li>eleven</rdf:li></rdf:Seq>
            </dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>
            """
        #expect(try XMPReader.parse(try XMPWriter.merge(existing: Data(seq.utf8), tags: ["sofa"])).tags == ["eleven", "sofa"])
    }

    /// A sidecar rewritten by root keeps its owner, group and permission bits: the
    /// user can still edit it afterwards. (Needs root to give the file another owner.)
    @Test func rewrittenSidecarKeepsItsOwnerAndMode() throws {
        try #require(geteuid() == 0, "needs root (the test suite runs as root in CI)")
        let folder = TemporaryFolder()
        let sidecar = try folder.write("a.jpg.xmp", XMPWriter.fresh(tags: ["mine"]))
        #expect(chown(sidecar.path, 65534, 65534) == 0 && chmod(sidecar.path, 0o640) == 0)
        try SidecarFile.write(try XMPWriter.merge(existing: Data(contentsOf: sidecar), tags: ["sofa"]), for: sidecar, inside: folder.url)
        var s = stat()
        #expect(stat(sidecar.path, &s) == 0 && s.st_uid == 65534 && s.st_gid == 65534 && s.st_mode & 0o7777 == 0o640)
        #expect(try XMPReader.parse(Data(contentsOf: sidecar)).tags == ["mine", "sofa"])
    }

    /// exiftool (Debian libimage-exiftool-perl) must read our sidecars with the same tags.
    @Test func exiftoolReadsOurSidecars() throws {
        let exiftool = ["/usr/bin/exiftool", "/usr/local/bin/exiftool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let path = try #require(exiftool, "exiftool is missing: apt-get install libimage-exiftool-perl (scripts/test.sh does)")
        let folder = TemporaryFolder()
        let fresh = try folder.write("a.jpg.xmp", XMPWriter.fresh(tags: ["beach", "sea & sand", "Ünïcode"]))
        let existing = """
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <dc:subject><rdf:Bag><rdf:li>mine</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>
            """
        let merged = try folder.write("b.jpg.xmp", try XMPWriter.merge(existing: Data(existing.utf8), tags: ["dog"]))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-j", "-XMP-dc:Subject", "-XMP-digiKam:TagsList", "-XMP-lr:HierarchicalSubject", fresh.path, merged.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let records = try #require(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        func list(_ value: Any?) -> [String] {
            if let many = value as? [Any] { return many.map { "\($0)" } }
            return value.map { ["\($0)"] } ?? []
        }
        #expect(list(records[0]["Subject"]) == ["beach", "sea & sand", "Ünïcode"])
        #expect(list(records[0]["TagsList"]) == ["beach", "sea & sand", "Ünïcode"])
        #expect(list(records[0]["HierarchicalSubject"]) == ["beach", "sea & sand", "Ünïcode"])
        #expect(list(records[1]["Subject"]) == ["mine", "dog"])
        #expect(list(records[1]["TagsList"]) == ["dog"])
    }
}
