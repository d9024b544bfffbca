import Foundation
import TagganCore

/// Lists a source folder's images and reads their tags, for each layout.
/// Reading metadata is cheap; decoding and hashing happen later, in parallel.
public struct DatasetReader: Sendable {
    public let root: URL
    public let layout: DatasetLayout
    /// The name items are keyed under (the folder's last component unless given).
    public let name: String

    public init(root: URL, layout: DatasetLayout? = nil, name: String? = nil) {
        let resolved = root.standardizedFileURL.resolvingSymlinksInPath()
        self.root = resolved
        self.layout = layout ?? DatasetLayout.detect(resolved)
        self.name = name ?? resolved.lastPathComponent
    }

    static let imageExtensions: Set<String> = ["jpg", "jpeg", "jpe", "png"]

    /// All items, sorted by key; problems (unreadable metadata, paths outside the data
    /// set, invalid UTF-8) are returned beside them.
    public func read() throws -> (items: [SourceItem], problems: [SourceProblem]) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TagganError.file(root.path, "not a folder")
        }
        var problems: [SourceProblem] = []
        var items: [SourceItem]
        switch layout {
        case .clipart: items = readClipart(&problems)
        case .mirflickr25k: items = readMIRFlickr25k(&problems)
        case .mirflickr1m: items = readMIRFlickr1M(&problems)
        case .xmp: items = readXMPFolder(&problems)
        }
        items.sort { $0.key < $1.key }
        return (items, problems)
    }

    // MARK: Helpers

    /// Files under `folder` (recursively, symlinks listed as themselves, links to folders
    /// not followed), sorted. A folder that cannot be listed is a problem with the reason
    /// `SourceProblem.unreadableFolder`, never a silent gap: ingest keeps the catalog
    /// entries of the files under it.
    public func files(under folder: URL, problems: inout [SourceProblem]) -> [URL] {
        var result: [URL] = []
        var pending = [folder]
        while let current = pending.popLast() {
            // readdir rather than FileManager: a name that is not UTF-8 (a Latin-1 name
            // from an old camera or a Windows share) is reported, not silently dropped.
            guard let directory = opendir(current.path) else {
                problems.append(SourceProblem(path: current.path, reason: SourceProblem.unreadableFolder,
                                              detail: String(cString: strerror(errno))))
                continue
            }
            var names: [String] = []
            while let entry = readdir(directory) {
                let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
                if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
                guard let name = String(validating: bytes, as: UTF8.self) else {
                    problems.append(SourceProblem(
                        path: current.appendingPathComponent(String(decoding: bytes, as: UTF8.self)).path,
                        reason: "file name not UTF-8",
                        detail: "bytes " + bytes.map { $0 < 0x80 ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
                            + "; taggan reads only UTF-8 names: rename it"))
                    continue
                }
                names.append(name)
            }
            closedir(directory)
            for name in names {
                let url = current.appendingPathComponent(name)
                var s = stat()
                guard lstat(url.path, &s) == 0 else { continue }
                switch s.st_mode & S_IFMT {
                case S_IFDIR: pending.append(url)
                case S_IFREG, S_IFLNK: result.append(url)
                // A FIFO, socket or device under an image's name was left out without a
                // word, while a link to one was reported ("not a regular file").
                case _ where Self.imageExtensions.contains(url.pathExtension.lowercased()):
                    problems.append(SourceProblem(path: url.path, reason: "not a regular file", detail: fileKind(s.st_mode)))
                default: continue
                }
            }
        }
        return result.sorted { $0.path < $1.path }
    }

    public func relative(_ url: URL, to base: URL) -> String {
        let path = url.path, basePath = base.path.hasSuffix("/") ? base.path : base.path + "/"
        return path.hasPrefix(basePath) ? String(path.dropFirst(basePath.count)) : url.lastPathComponent
    }

    /// Whether `url`, with every symlink resolved, stays inside the source root: a link
    /// to /etc/passwd in a data set is reported, never read.
    func isInside(_ url: URL) -> Bool {
        let resolved = url.resolvingSymlinksInPath().path
        let rootPath = root.path.hasSuffix("/") ? root.path : root.path + "/"
        return resolved.hasPrefix(rootPath)
    }

    /// Lines of a UTF-8 text file, trimmed, empty ones dropped; nil with a problem
    /// recorded when it is unreadable or not UTF-8.
    func lines(of url: URL, for key: String, _ problems: inout [SourceProblem]) -> [String]? {
        guard isInside(url) else {
            problems.append(SourceProblem(path: url.path, reason: "path points outside the data set", detail: nil))
            return nil
        }
        // Why a tag file cannot be read is said (a folder under the tag file's name was
        // reported as a bare "unreadable file").
        var s = stat()
        if stat(url.path, &s) == 0, (s.st_mode & S_IFMT) == S_IFDIR {
            problems.append(SourceProblem(path: url.path, reason: "unreadable file", detail: "a folder, not a tag file (tags of \(key))"))
            return nil
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            let reason = access(url.path, R_OK) == 0 ? "read failed" : String(cString: strerror(errno))
            problems.append(SourceProblem(path: url.path, reason: "unreadable file", detail: "\(reason) (tags of \(key))"))
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            problems.append(SourceProblem(path: url.path, reason: "not UTF-8 text", detail: "tags of \(key)"))
            return nil
        }
        // A NUL byte is valid UTF-8 but no text file holds one, and the catalog's C string
        // cut the tag at it ("do\0g" was stored as "do", silently).
        if let offset = data.firstIndex(of: 0) {
            problems.append(SourceProblem(path: url.path, reason: "not a text file",
                                          detail: "a NUL byte at offset \(offset - data.startIndex) (tags of \(key))"))
            return nil
        }
        return text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func readXML(_ url: URL, _ problems: inout [SourceProblem]) -> TagMetadata? {
        guard isInside(url) else {
            problems.append(SourceProblem(path: url.path, reason: "path points outside the data set", detail: nil))
            return nil
        }
        do {
            return try XMPReader.read(contentsOf: url)
        } catch let error as TagganError {
            if case .file(_, let reason) = error {
                // "invalid XML: Malformed declaration" -> category and detail.
                let parts = reason.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                problems.append(SourceProblem(path: url.path, reason: parts[0], detail: parts.count > 1 ? parts[1] : nil))
            }
            return nil
        } catch {
            problems.append(SourceProblem(path: url.path, reason: "unreadable metadata", detail: "\(error)"))
            return nil
        }
    }

    // MARK: Layouts

    /// OpenClipart: png/<rel>.png with svg/<rel>.svg holding dc:title and dc:subject.
    func readClipart(_ problems: inout [SourceProblem]) -> [SourceItem] {
        let pngRoot = root.appendingPathComponent("png"), svgRoot = root.appendingPathComponent("svg")
        var items: [SourceItem] = []
        for png in files(under: pngRoot, problems: &problems) where png.pathExtension.lowercased() == "png" {
            let rel = relative(png, to: pngRoot)
            let key = "\(name)/png/\(rel)"
            guard isInside(png) else {
                problems.append(SourceProblem(path: png.path, reason: "path points outside the data set", detail: nil))
                continue
            }
            let svg = svgRoot.appendingPathComponent(String(rel.dropLast(4)) + ".svg")
            var item = SourceItem(imageURL: png, key: key)
            if FileManager.default.fileExists(atPath: svg.path) {
                item.metadataURLs = [svg]
                guard let metadata = readXML(svg, &problems) else { continue }
                item.tags = metadata.tags
                item.title = metadata.title
            }
            items.append(item)
        }
        return items
    }

    /// MIR Flickr 25k: im<N>.jpg; tags in meta/tags/tags<N>.txt (the cleaned lists;
    /// meta/tags_raw/ holds the originals); concept annotations as lists of image numbers
    /// in <concept>.txt (potentially relevant) and <concept>_r1.txt (relevant), found in
    /// the root or an annotations folder beside the images.
    func readMIRFlickr25k(_ problems: inout [SourceProblem]) -> [SourceItem] {
        let concepts = readConceptLists(&problems)
        var items: [SourceItem] = []
        let tagFolder = root.appendingPathComponent("meta/tags")
        for image in files(under: root, problems: &problems) where image.deletingLastPathComponent().path == root.path {
            let file = image.lastPathComponent
            guard file.hasPrefix("im"), image.pathExtension.lowercased() == "jpg",
                  let number = Int(file.dropFirst(2).dropLast(4)) else { continue }
            var item = SourceItem(imageURL: image, key: "\(name)/\(file)")
            let tagsFile = tagFolder.appendingPathComponent("tags\(number).txt")
            if FileManager.default.fileExists(atPath: tagsFile.path) {
                item.metadataURLs = [tagsFile]
                guard let tags = lines(of: tagsFile, for: item.key, &problems) else { continue }
                item.tags = tags
            }
            item.concepts = concepts[number] ?? [:]
            items.append(item)
        }
        return items
    }

    /// Concept lists: every <concept>.txt / <concept>_r1.txt whose lines are all image
    /// numbers, in the root, `annotations/`, or `mirflickr25k_annotations_v080/`.
    func readConceptLists(_ problems: inout [SourceProblem]) -> [Int: [String: Bool]] {
        var result: [Int: [String: Bool]] = [:]
        let folders = ["", "annotations", "mirflickr25k_annotations_v080"].map { root.appendingPathComponent($0) }
        for folder in folders {
            let listing = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
            for file in listing.sorted(by: { $0.path < $1.path }) where file.pathExtension == "txt" {
                let base = file.deletingPathExtension().lastPathComponent
                if base.lowercased() == "readme" { continue }
                guard isInside(file) else {
                    problems.append(SourceProblem(path: file.path, reason: "path points outside the data set", detail: nil))
                    continue
                }
                guard let data = FileManager.default.contents(atPath: file.path),
                      let text = String(data: data, encoding: .utf8) else { continue }
                let numbers = text.split(whereSeparator: \.isWhitespace).map { Int($0) }
                guard !numbers.isEmpty, numbers.allSatisfy({ $0 != nil }) else { continue }
                let strict = base.hasSuffix("_r1")
                let concept = strict ? String(base.dropLast(3)) : base
                for number in numbers.compactMap({ $0 }) {
                    result[number, default: [:]][concept] = (result[number]?[concept] ?? false) || strict
                }
            }
        }
        return result
    }

    /// MIRFLICKR-1M: images/<d>/<N>.jpg with tags/<d>/<N>.txt.
    func readMIRFlickr1M(_ problems: inout [SourceProblem]) -> [SourceItem] {
        let imageRoot = root.appendingPathComponent("images"), tagRoot = root.appendingPathComponent("tags")
        var items: [SourceItem] = []
        for image in files(under: imageRoot, problems: &problems) where image.pathExtension.lowercased() == "jpg" {
            let rel = relative(image, to: imageRoot)
            var item = SourceItem(imageURL: image, key: "\(name)/images/\(rel)")
            let tagsFile = tagRoot.appendingPathComponent(String(rel.dropLast(4)) + ".txt")
            if FileManager.default.fileExists(atPath: tagsFile.path) {
                item.metadataURLs = [tagsFile]
                guard let tags = lines(of: tagsFile, for: item.key, &problems) else { continue }
                item.tags = tags
            }
            items.append(item)
        }
        return items
    }

    /// A folder of images whose tags are in sidecars (<name>.<ext>.xmp preferred, then
    /// <name>.xmp) or embedded XMP (read later, with the image bytes).
    func readXMPFolder(_ problems: inout [SourceProblem]) -> [SourceItem] {
        var items: [SourceItem] = []
        for image in files(under: root, problems: &problems) where Self.imageExtensions.contains(image.pathExtension.lowercased()) {
            var item = SourceItem(imageURL: image, key: "\(name)/\(relative(image, to: root))")
            let candidates = [image.appendingPathExtension("xmp"),
                              image.deletingPathExtension().appendingPathExtension("xmp"),
                              image.deletingPathExtension().appendingPathExtension("XMP")]
            if let sidecar = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) {
                item.metadataURLs = [sidecar]
                guard let metadata = readXML(sidecar, &problems) else { continue }
                item.tags = metadata.tags
                item.title = metadata.title
            }
            item.embeddedXMP = true   // merged with the sidecar's tags when the image is read
            items.append(item)
        }
        return items
    }
}
