import CLibXML2
import Foundation
import TagganCore

/// Writes tags into XMP sidecars the way photo managers read them: dc:subject
/// (rdf:Bag), digiKam:TagsList (rdf:Seq) and lr:hierarchicalSubject (rdf:Bag).
///
/// An existing sidecar is merged, never clobbered: it is parsed (safely, as XMPReader
/// does), every other property is kept as it is, the three tag lists are created where
/// missing, and only tags not already present (compared after `TagNormaliser`) are
/// appended, so the user's own tags stay first and unchanged. The vocabulary of XMP
/// lives here beside `XMPReader`, in the module that holds libxml2.
public enum XMPWriter {
    static let x = "adobe:ns:meta/"
    static let properties: [(namespace: String, prefix: String, name: String, container: String)] = [
        (XMPReader.dc, "dc", "subject", "Bag"),
        (XMPReader.digiKam, "digiKam", "TagsList", "Seq"),
        (XMPReader.lightroom, "lr", "hierarchicalSubject", "Bag"),
    ]

    /// A new XMP packet holding `tags`.
    public static func fresh(tags: [String]) -> Data {
        func list(_ container: String) -> String {
            "<rdf:\(container)>" + tags.map { "<rdf:li>\(escape($0))</rdf:li>" }.joined() + "</rdf:\(container)>"
        }
        let xml = """
            <?xpacket begin="\u{FEFF}" id="W5M0MpCehiHzreSzNTczkc9d"?>
            <x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="taggan">
             <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
              <rdf:Description rdf:about=""
                xmlns:dc="\(XMPReader.dc)"
                xmlns:digiKam="\(XMPReader.digiKam)"
                xmlns:lr="\(XMPReader.lightroom)">
               <dc:subject>\(list("Bag"))</dc:subject>
               <digiKam:TagsList>\(list("Seq"))</digiKam:TagsList>
               <lr:hierarchicalSubject>\(list("Bag"))</lr:hierarchicalSubject>
              </rdf:Description>
             </rdf:RDF>
            </x:xmpmeta>
            <?xpacket end="w"?>

            """
        return Data(xml.utf8)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// `existing` with `tags` merged in (or a fresh packet when there is none).
    public static func merge(existing: Data?, tags: [String]) throws -> Data {
        guard let existing, !existing.isEmpty else { return fresh(tags: tags) }
        let present = Set(try XMPReader.parse(existing).tags.compactMap(TagNormaliser.normalise))
        let additions = tags.filter { tag in TagNormaliser.normalise(tag).map { !present.contains($0) } ?? false }
        if additions.isEmpty { return existing }
        taggan_xml_silence_generic_errors()
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
        guard let document = existing.withUnsafeBytes({ raw in
            raw.baseAddress.flatMap { xmlReadMemory($0.assumingMemoryBound(to: CChar.self), Int32(raw.count), "sidecar.xmp", nil, options) }
        }) else { throw XMPReader.ParseError(reason: "invalid XML", detail: "existing sidecar") }
        defer { xmlFreeDoc(document) }
        guard let description = firstElement(xmlDocGetRootElement(document), namespace: XMPReader.rdf, name: "Description") else {
            throw XMPReader.ParseError(reason: "not an XMP sidecar", detail: "no rdf:Description")
        }
        let rdfNS = description.pointee.ns
        try checkListForms(xmlDocGetRootElement(document))
        for property in properties {
            let element = firstElement(description.pointee.parent.flatMap { $0.pointee.children }, namespace: property.namespace, name: property.name, siblingsToo: true)
                ?? {
                    let ns = xmlSearchNsByHref(document, description, property.namespace)
                        ?? xmlNewNs(description, property.namespace, property.prefix)
                    let created = xmlNewChild(description, ns, property.name, nil)!
                    xmlNewChild(created, rdfNS, property.container, nil)
                    return created
                }()
            let container = firstElement(element.pointee.children, namespace: XMPReader.rdf, name: property.container, siblingsToo: true)
                ?? firstElement(element.pointee.children, namespace: XMPReader.rdf, name: "Bag", siblingsToo: true)
                ?? firstElement(element.pointee.children, namespace: XMPReader.rdf, name: "Seq", siblingsToo: true)
                ?? xmlNewChild(element, rdfNS, property.container, nil)!
            for tag in additions {
                let item = xmlNewChild(container, rdfNS, "li", nil)
                xmlNodeAddContent(item, tag)   // escaped by libxml2
            }
        }
        var buffer: UnsafeMutablePointer<xmlChar>?
        var size: Int32 = 0
        xmlDocDumpFormatMemoryEnc(document, &buffer, &size, "UTF-8", 1)
        guard let buffer else { throw TagganError.failure("could not serialise the merged sidecar") }
        defer { taggan_xml_free(buffer) }
        return Data(bytes: buffer, count: Int(size))
    }

    /// Throws unless each tag list the merge adds to is absent or exactly one property
    /// element holding one rdf:Bag or rdf:Seq of items: a list written another way (plain
    /// text, rdf:Alt, an rdf:resource, two containers, the property twice, or as an
    /// attribute of rdf:Description) is not one the merge can add to without changing
    /// what the user's tools read, so the sidecar is reported and left as it is.
    static func checkListForms(_ root: xmlNodePtr?) throws {
        for property in properties {
            let label = "\(property.prefix):\(property.name)"
            func unsupported(_ why: String) -> XMPReader.ParseError {
                XMPReader.ParseError(reason: "unsupported XMP", detail: "\(label) \(why); the sidecar is left as it is")
            }
            var found: [xmlNodePtr] = []
            var attributeForm = false
            visitElements(root) { element in
                if matches(element, property.namespace, property.name) { found.append(element) }
                var attribute = element.pointee.properties
                while let a = attribute {
                    let href = a.pointee.ns.flatMap { $0.pointee.href }.map { string($0) }
                    if href == property.namespace && string(a.pointee.name) == property.name { attributeForm = true }
                    attribute = a.pointee.next
                }
            }
            if attributeForm { throw unsupported("is written as an attribute") }
            guard let element = found.first else { continue }
            if found.count > 1 { throw unsupported("appears \(found.count) times") }
            var attribute = element.pointee.properties
            while let a = attribute {
                let href = a.pointee.ns.flatMap { $0.pointee.href }.map { string($0) }
                if href == XMPReader.rdf && string(a.pointee.name) == "resource" { throw unsupported("is an rdf:resource") }
                attribute = a.pointee.next
            }
            var containers = 0
            var child = element.pointee.children
            while let node = child {
                switch node.pointee.type {
                case XML_ELEMENT_NODE:
                    guard matches(node, XMPReader.rdf, "Bag") || matches(node, XMPReader.rdf, "Seq") else {
                        throw unsupported("holds \(string(node.pointee.name)), not an rdf:Bag or rdf:Seq")
                    }
                    containers += 1
                case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                    let text = node.pointee.content.map { string($0) } ?? ""
                    if !text.allSatisfy(\.isWhitespace) { throw unsupported("is plain text, not a list") }
                default: break
                }
                child = node.pointee.next
            }
            if containers > 1 { throw unsupported("holds \(containers) lists") }
        }
    }

    private static func string(_ text: UnsafePointer<xmlChar>) -> String {
        String(cString: UnsafeRawPointer(text).assumingMemoryBound(to: CChar.self))
    }

    private static func matches(_ element: xmlNodePtr, _ namespace: String, _ name: String) -> Bool {
        element.pointee.type == XML_ELEMENT_NODE
            && element.pointee.ns.flatMap { $0.pointee.href }.map { string($0) } == namespace
            && string(element.pointee.name) == name
    }

    /// Calls `body` with every element at or below `node` and its following siblings.
    private static func visitElements(_ node: xmlNodePtr?, _ body: (xmlNodePtr) -> Void) {
        var current = node
        while let element = current {
            if element.pointee.type == XML_ELEMENT_NODE {
                body(element)
                visitElements(element.pointee.children, body)
            }
            current = element.pointee.next
        }
    }

    /// The first element named `name` in `namespace` at or below `node` (depth-first).
    private static func firstElement(_ node: xmlNodePtr?, namespace: String, name: String, siblingsToo: Bool = true) -> xmlNodePtr? {
        var current = node
        while let element = current {
            if element.pointee.type == XML_ELEMENT_NODE {
                let ns = element.pointee.ns.flatMap { $0.pointee.href }.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
                let local = String(cString: UnsafeRawPointer(element.pointee.name).assumingMemoryBound(to: CChar.self))
                if ns == namespace && local == name { return element }
                if let found = firstElement(element.pointee.children, namespace: namespace, name: name) { return found }
            }
            if !siblingsToo { return nil }
            current = element.pointee.next
        }
        return nil
    }
}
