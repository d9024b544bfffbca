import Foundation
import TagganCore

/// One image file a dataset reader found, with the tags its metadata gives.
public struct SourceItem: Sendable {
    /// The image file as listed (may be a symlink: aliases resolve to the same content).
    public let imageURL: URL
    /// The key in the catalog: "<source name>/<path relative to the source root>".
    public let key: String
    /// Files whose content gave the tags (sidecar, SVG, tag list), for change detection.
    public var metadataURLs: [URL]
    /// Tags as written (normalised later, see `TagNormaliser`).
    public var tags: [String]
    public var title: String?
    /// MIR Flickr concept annotations: concept name -> strict (the `_r1` list) or not.
    public var concepts: [String: Bool]
    /// Whether tags come from XMP embedded in the image itself (read when hashing).
    public var embeddedXMP: Bool

    public init(imageURL: URL, key: String, metadataURLs: [URL] = [], tags: [String] = [],
                title: String? = nil, concepts: [String: Bool] = [:], embeddedXMP: Bool = false) {
        self.imageURL = imageURL
        self.key = key
        self.metadataURLs = metadataURLs
        self.tags = tags
        self.title = title
        self.concepts = concepts
        self.embeddedXMP = embeddedXMP
    }
}

/// Turns tags as people write them into the catalog's normalised form:
/// Unicode NFC, lowercase, trimmed, and runs of whitespace inside a tag replaced by one
/// underscore — so "New  York" becomes "new_york", one token for the word vectors (the
/// word2vec phrase convention, and the convention OpenClipart's own tags already use:
/// "signs_and_symbols"). Empty tags and tags made only of punctuation are dropped.
/// Invisible characters are dropped first, so that a tag typed with one (a byte-order
/// mark left by a text editor, a zero-width space pasted from a web page) is the tag
/// without it: U+FEFF, U+200B, U+2060, the soft hyphen U+00AD, and control characters
/// other than whitespace. The zero-width (non-)joiners U+200C and U+200D stay: they
/// change how Persian and Indic words and emoji are written.
/// The raw form is kept beside the normalised one in the catalog.
public enum TagNormaliser {
    public static func normalise(_ raw: String) -> String? {
        var visible = raw
        if raw.unicodeScalars.contains(where: isInvisible) {
            visible = String(String.UnicodeScalarView(raw.unicodeScalars.filter { !isInvisible($0) }))
        }
        let composed = visible.precomposedStringWithCanonicalMapping.lowercased()
        let words = composed.split(whereSeparator: { $0.isWhitespace || $0.isNewline })
        guard !words.isEmpty else { return nil }
        let tag = words.joined(separator: "_")
        guard tag.unicodeScalars.contains(where: { CharacterSet.alphanumerics.contains($0) }) else { return nil }
        return tag
    }

    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0xFEFF, 0x200B, 0x2060, 0x00AD: return true
        default: return scalar.properties.generalCategory == .control && !scalar.properties.isWhitespace
        }
    }
}

/// The dataset layouts taggan reads.
public enum DatasetLayout: String, CaseIterable, Sendable {
    /// MIR Flickr 25k: im<N>.jpg, meta/tags/tags<N>.txt, annotation lists.
    case mirflickr25k
    /// MIRFLICKR-1M: images/<d>/<N>.jpg with tags/<d>/<N>.txt.
    case mirflickr1m
    /// Any folder of JPEG/PNG images with XMP sidecars or embedded XMP.
    case xmp
    /// OpenClipart's Debian layout: png/<path>.png beside svg/<path>.svg with RDF metadata.
    case clipart

    /// Guesses the layout from the folder's shape.
    public static func detect(_ root: URL) -> DatasetLayout {
        let fm = FileManager.default
        func isDirectory(_ name: String) -> Bool {
            var flag: ObjCBool = false
            return fm.fileExists(atPath: root.appendingPathComponent(name).path, isDirectory: &flag) && flag.boolValue
        }
        if isDirectory("png") && isDirectory("svg") { return .clipart }
        if isDirectory("images") && isDirectory("tags") { return .mirflickr1m }
        if isDirectory("meta/tags") || fm.fileExists(atPath: root.appendingPathComponent("im1.jpg").path) {
            return .mirflickr25k
        }
        return .xmp
    }
}

/// Problems a reader meets while listing a source; the item is skipped, the batch goes on.
public struct SourceProblem: Sendable {
    public let path: String
    public let reason: String
    public let detail: String?

    /// The reason of a folder that could not be listed (permissions, I/O error).
    public static let unreadableFolder = "unreadable folder"
}
