import CLibXML2
import Foundation
import TagganCore

/// Title and tags found in an RDF/XMP document (an XMP sidecar or packet, or the
/// `<metadata>` of an SVG).
public struct TagMetadata: Equatable, Sendable {
    public var title: String?
    /// Tags in document order, as written (not normalised), without duplicates.
    public var tags: [String]

    public init(title: String? = nil, tags: [String] = []) {
        self.title = title
        self.tags = tags
    }
}

/// Reads tags from XMP and RDF with libxml2, safely:
/// - XML_PARSE_NONET: no network access, ever; no DTD loading and no entity
///   substitution (XML_PARSE_NOENT/DTDLOAD are not set), so an external entity is
///   neither fetched nor expanded.
/// - Text is collected from text and CDATA nodes only, never by expanding entity
///   references, so an entity bomb ("billion laughs") cannot multiply; libxml2 also
///   refuses entity amplification while parsing.
/// - Documents above `maxBytes` (default 16 MB) are refused before parsing.
///
/// Tags come from dc:subject (rdf:Bag/rdf:li, or plain text as Inkscape writes in
/// SVG), digiKam:TagsList (hierarchical paths "A/B/C": the leaf C) and
/// lr:hierarchicalSubject ("A|B|C": the leaf C). The title from dc:title (its
/// rdf:Alt/rdf:li, or plain text). Elements are matched by namespace URI, not prefix.
public enum XMPReader {
    public static let maxBytes = 16 << 20

    static let dc = "http://purl.org/dc/elements/1.1/"
    static let rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    static let digiKam = "http://www.digikam.org/ns/1.0/"
    static let lightroom = "http://ns.adobe.com/lightroom/1.0/"

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let reason: String
        public let detail: String
        public var description: String { detail.isEmpty ? reason : "\(reason): \(detail)" }
    }

    public static func read(contentsOf url: URL) throws -> TagMetadata {
        let data: Data
        // Foundation refuses a FIFO or socket with "You don't have permission.": say what it is.
        var s = stat()
        if stat(url.path, &s) == 0, (s.st_mode & S_IFMT) != S_IFREG {
            throw TagganError.file(url.path, "not a regular file: \(fileKind(s.st_mode))")
        }
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            if let size = attributes[.size] as? Int, size > maxBytes {
                throw TagganError.file(url.path, "XML too large: \(size) bytes (limit \(maxBytes))")
            }
            data = try Data(contentsOf: url)
        } catch let error as TagganError {
            throw error
        } catch {
            throw TagganError.file(url.path, "unreadable: \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        do {
            return try parse(data)
        } catch let error as ParseError {
            throw TagganError.file(url.path, error.description)
        }
    }

    public static func parse(_ data: Data) throws -> TagMetadata {
        if data.isEmpty { throw ParseError(reason: "empty file", detail: "") }
        if data.count > maxBytes { throw ParseError(reason: "XML too large", detail: "\(data.count) bytes") }
        taggan_xml_silence_generic_errors()
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue
                            | XML_PARSE_NOWARNING.rawValue | XML_PARSE_NOCDATA.rawValue)
        let document: xmlDocPtr? = data.withUnsafeBytes { raw in
            raw.baseAddress.flatMap {
                xmlReadMemory($0.assumingMemoryBound(to: CChar.self), Int32(raw.count), "metadata.xml", nil, options)
            }
        }
        guard let document else {
            var detail = "not well-formed"
            if let error = xmlGetLastError(), let message = error.pointee.message {
                detail = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            xmlResetLastError()
            throw ParseError(reason: "invalid XML", detail: detail)
        }
        defer { xmlFreeDoc(document) }
        var result = TagMetadata()
        var seen = Set<String>()
        func add(_ tag: String) {
            let trimmed = tag.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty, seen.insert(trimmed).inserted { result.tags.append(trimmed) }
        }
        walk(xmlDocGetRootElement(document)) { node, namespace, name in
            switch (namespace, name) {
            case (dc, "subject"):
                let items = listItems(node)
                if items.isEmpty {
                    // Inkscape's plain form: <dc:subject>a, b</dc:subject> is rare; a bare
                    // text value is one tag list separated by commas.
                    for part in text(of: node).split(separator: ",") { add(String(part)) }
                } else {
                    items.forEach(add)
                }
            case (digiKam, "TagsList"):
                for path in listItems(node) { add(String(path.split(separator: "/").last ?? "")) }
            case (lightroom, "hierarchicalSubject"):
                for path in listItems(node) { add(String(path.split(separator: "|").last ?? "")) }
            case (dc, "title") where result.title == nil:
                let items = listItems(node)
                let title = (items.first ?? text(of: node)).trimmingCharacters(in: .whitespacesAndNewlines)
                if !title.isEmpty { result.title = title }
            default:
                break
            }
        }
        return result
    }

    /// Visits every element depth-first with its namespace URI and local name.
    private static func walk(_ node: xmlNodePtr?, _ visit: (xmlNodePtr, String, String) -> Void) {
        var current = node
        while let element = current {
            if element.pointee.type == XML_ELEMENT_NODE {
                let namespace = element.pointee.ns.flatMap { $0.pointee.href }.map { string($0) } ?? ""
                visit(element, namespace, string(element.pointee.name))
                walk(element.pointee.children, visit)
            }
            current = element.pointee.next
        }
    }

    /// The rdf:li texts under `node` (inside rdf:Bag, rdf:Seq or rdf:Alt).
    private static func listItems(_ node: xmlNodePtr) -> [String] {
        var items: [String] = []
        walk(node.pointee.children) { element, namespace, name in
            if namespace == rdf, name == "li" { items.append(text(of: element)) }
        }
        return items
    }

    /// Concatenated text and CDATA below `node`; entity references are not expanded.
    private static func text(of node: xmlNodePtr) -> String {
        var out = ""
        var current = node.pointee.children
        while let child = current {
            switch child.pointee.type {
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                if let content = child.pointee.content { out += string(content) }
            case XML_ELEMENT_NODE:
                out += text(of: child)
            default:
                break   // entity references, comments, processing instructions
            }
            current = child.pointee.next
        }
        return out
    }

    private static func string(_ pointer: UnsafePointer<xmlChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
    }
}
