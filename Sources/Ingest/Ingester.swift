import Foundation
import TagganCore

/// `taggan ingest`: reads sources into the workspace catalog, incrementally.
///
/// A file is (re)read only when it is new or its size, modification time or tag files
/// changed; reading means hashing its bytes (SHA-256) and decoding it fully, so a
/// truncated or corrupt image is reported and skipped here rather than in a later stage.
/// Files that disappeared from a source, or that no longer decode, leave the catalog; a
/// source is its folder's absolute path (`Catalog.sourceName`), so ingesting one folder
/// never removes another's files, and files under a folder that could not be listed stay.
/// Everything a run changes lands in one SQLite transaction.
public struct Ingester {
    public struct Options: Sendable {
        public var layout: DatasetLayout?
        public var maxPixels = 50_000_000
        /// Images smaller than this in both directions are skipped as "too small": 1x1
        /// tracking pixels and spacers carry nothing to tag, while a long thin rule
        /// (500x10 clip art) is kept. `taggan annotate` skips the same images.
        public var minimumSide = Options.defaultMinimumSide
        public static let defaultMinimumSide = 16
        /// The split of new images; nil: the rule the catalog recorded (else 80/10/10). A
        /// rule other than the recorded one is an error unless `resplit` is set, which
        /// moves every image to the split the new rule gives it.
        public var splitRule: Catalog.SplitRule?
        public var resplit = false
        /// Process only the images of this shard (`ShardSpec`: content id mod N, the rule
        /// features and annotate use too). Every new or changed file is still read and
        /// hashed, since its content id decides its shard, but only the shard's files are
        /// decoded and recorded; unchanged files keep the id the catalog knows.
        public var shardSpec: ShardSpec?
        /// `shardSpec` as (index, count), the form the command line passed before
        /// `ShardSpec` existed; an invalid pair sets no shard.
        public var shard: (index: Int, count: Int)? {
            get { shardSpec.map { ($0.index, $0.count) } }
            set { shardSpec = newValue.flatMap { try? ShardSpec(index: $0.index, count: $0.count) } }
        }
        public var threads = Parallel.defaultThreads
        public init() {}
    }

    public struct Summary: Sendable {
        public var filesSeen = 0
        public var unchanged = 0
        public var read = 0
        public var removed = 0
        public var statistics: [String: Int] = [:]
        public var seconds = 0.0
        public init(statistics: [String: Int] = [:]) { self.statistics = statistics }
    }

    public let workspace: URL
    public let options: Options

    public init(workspace: URL, options: Options = Options()) {
        self.workspace = workspace
        self.options = options
    }

    private struct Stamp: Equatable { let size: Int; let mtime: Double; let metadataMTime: Double }

    private struct Decoded: Sendable {
        let hash: String
        let format: String
        let width: Int
        let height: Int
        let embeddedTags: [String]
    }

    /// Reads `sources` into the catalog, holding it for the run (`RunLock`): a second
    /// ingest into the workspace meanwhile is refused, since the split rule and a shard's
    /// manifest are checked before the transaction that depends on them.
    public func run(sources: [URL], skipped: SkipLog) throws -> Summary {
        try RunLock.holding(file: workspace.appendingPathComponent(Catalog.fileName)) { try ingest(sources: sources, skipped: skipped) }
    }

    private func ingest(sources: [URL], skipped: SkipLog) throws -> Summary {
        let start = DispatchTime.now().uptimeNanoseconds
        let catalog = try Catalog(workspace: workspace)
        var summary = Summary()
        let splitRule = try Self.checkSplitRule(options, catalog: catalog)

        // Existing state of every file key, and the image (content id) it shows.
        var known: [String: Stamp] = [:]
        var knownImage: [String: Int] = [:]
        let rows = try catalog.db.prepare("SELECT key, size, mtime, metadata_mtime, image_id FROM files")
        while try rows.step() {
            known[rows.string(0)] = Stamp(size: rows.int(1), mtime: rows.double(2), metadataMTime: rows.double(3))
            knownImage[rows.string(0)] = rows.int(4)
        }
        let shard = options.shardSpec
        // A shard run needs a workspace of its own shard: one an unsharded ingest (or
        // another shard) filled keeps those images, whose files are not this run's to
        // remove, and `taggan merge` would refuse it at the end. Said now, before hashing.
        if let shard {
            let ids = try catalog.db.prepare("SELECT id FROM images")
            var others = 0
            while try ids.step() { if !shard.contains(contentID: ids.int(0)) { others += 1 } }
            if others > 0 {
                throw TagganError.file(catalog.url.path, "holds \(others) image\(others == 1 ? "" : "s") of other shards than \(shard) "
                                       + "(an unsharded ingest, or another shard's, filled it): give each --shard run its own workspace")
            }
        }

        // List every source.
        var items: [(item: SourceItem, reader: DatasetReader, stamp: Stamp)] = []
        var sourceNames: [String] = []
        // Key prefixes of folders that could not be listed: their files' entries stay.
        var unlisted: [String] = []
        for source in sources {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: source.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw TagganError.file(source.path, "not a folder")
            }
            let name = try catalog.sourceName(for: source)
            if sourceNames.contains(name) { continue }   // the same folder given twice
            sourceNames.append(name)
            let reader = DatasetReader(root: source, layout: options.layout, name: name)
            Log.info("ingest: \(reader.root.path) (layout \(reader.layout.rawValue), keyed as \(name))")
            let (found, problems) = try reader.read()
            for problem in problems {
                skipped.skip(problem.path, reason: problem.reason, detail: problem.detail)
                if problem.reason == SourceProblem.unreadableFolder {
                    let relative = reader.relative(URL(fileURLWithPath: problem.path), to: reader.root)
                    unlisted.append(problem.path == reader.root.path ? "\(name)/" : "\(name)/\(relative)/")
                }
            }
            for item in found {
                guard let stamp = Self.stamp(item) else {
                    skipped.skip(item.imageURL.path, reason: "unreadable file", detail: "cannot stat")
                    continue
                }
                items.append((item, reader, stamp))
            }
        }
        // Unchanged files keep their known image, and with it their shard; the others
        // are read, and their shard is known once their bytes are hashed.
        let toRead = items.indices.filter { known[items[$0].item.key] != items[$0].stamp }
        let unchanged = items.indices.filter { index in
            guard known[items[index].item.key] == items[index].stamp else { return false }
            return shard.map { $0.contains(contentID: knownImage[items[index].item.key]!) } ?? true
        }
        summary.unchanged = unchanged.count

        // Hash and decode what changed, in parallel.
        let decoder = ImageDecoder(maxPixels: options.maxPixels)
        let progress = ProgressLine("ingest", total: toRead.count, unit: "images")
        let results = ParallelSlots<Result<Decoded, ImageDecoder.DecodeError>>(count: toRead.count)
        let otherShard = ParallelSlots<Bool>(count: toRead.count)
        Parallel.forEach(toRead.count, threads: options.threads) { n in
            let (item, reader, _) = items[toRead[n]]
            switch Self.read(item, reader: reader, decoder: decoder, minimumSide: options.minimumSide, shard: shard) {
            case nil: otherShard[n] = true
            case let result?: results[n] = result
            }
            progress.advance()
        }
        progress.finish()
        let readHere = (0..<toRead.count).filter { otherShard[$0] == nil }
        summary.filesSeen = unchanged.count + readHere.count

        // A shard workspace says which shard it holds and what made it, so that `taggan
        // merge` refuses shards of another job; it holds one shard only.
        let manifest = try shard.map { shard in
            let manifest = ShardManifest(kind: "ingest", shard: shard, settings: [
                "sources": sourceNames.sorted().joined(separator: ","), "layout": options.layout?.rawValue ?? "detected",
                "max_pixels": "\(options.maxPixels)", "minimum_side": "\(options.minimumSide)"])
            if let recorded = try catalog.shardManifests()["ingest"], recorded.shard != shard {
                throw TagganError.file(catalog.url.path, "holds shard \(recorded.index)/\(recorded.count) of an ingest, "
                                       + "not shard \(shard): give each shard its own workspace")
            }
            return manifest
        }

        // Apply every change in one transaction.
        var failedKeys = Set<String>()
        try catalog.db.transaction {
            let insertImage = try catalog.db.prepare(
                "INSERT OR IGNORE INTO images(id, hash, format, width, height, split) VALUES (?, ?, ?, ?, ?, ?)")
            let upsertFile = try catalog.db.prepare("""
                INSERT INTO files(key, path, image_id, size, mtime, metadata_mtime, title) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET path = excluded.path, image_id = excluded.image_id, size = excluded.size,
                  mtime = excluded.mtime, metadata_mtime = excluded.metadata_mtime, title = excluded.title
                """)
            let clearTags = try catalog.db.prepare("DELETE FROM file_tags WHERE key = ?")
            let clearConcepts = try catalog.db.prepare("DELETE FROM concepts WHERE key = ?")
            let insertTag = try catalog.db.prepare("INSERT OR IGNORE INTO tags(name) VALUES (?)")
            let tagID = try catalog.db.prepare("SELECT id FROM tags WHERE name = ?")
            let insertFileTag = try catalog.db.prepare("INSERT OR IGNORE INTO file_tags(key, tag_id, raw) VALUES (?, ?, ?)")
            let insertConcept = try catalog.db.prepare("INSERT OR REPLACE INTO concepts(key, concept, strict) VALUES (?, ?, ?)")
            var tagIDs: [String: Int] = [:]
            for n in readHere {
                let (item, _, stamp) = items[toRead[n]]
                switch results[n]! {
                case .failure(let error):
                    skipped.skip(item.imageURL.path, reason: error.reason, detail: error.detail.isEmpty ? nil : error.detail)
                    failedKeys.insert(item.key)
                case .success(let decoded):
                    let id = Catalog.imageID(hash: decoded.hash)
                    try insertImage.bind(id, decoded.hash, decoded.format, decoded.width, decoded.height,
                                         splitRule.split(hash: decoded.hash).rawValue).run()
                    try upsertFile.bind(item.key, item.imageURL.path, id, stamp.size, stamp.mtime,
                                        stamp.metadataMTime, item.title).run()
                    try clearTags.bind(item.key).run()
                    try clearConcepts.bind(item.key).run()
                    for raw in item.tags + decoded.embeddedTags {
                        guard let name = TagNormaliser.normalise(raw) else { continue }
                        if tagIDs[name] == nil {
                            try insertTag.bind(name).run()
                            tagID.bind(name)
                            _ = try tagID.step()
                            tagIDs[name] = tagID.int(0)
                        }
                        try insertFileTag.bind(item.key, tagIDs[name]!, raw).run()
                    }
                    for (concept, strict) in item.concepts {
                        try insertConcept.bind(item.key, concept, strict).run()
                    }
                    summary.read += 1
                }
            }
            // Files gone from the scanned sources (or now failing) leave the catalog. With a
            // shard: only files whose known image is this shard's, and a file now showing
            // another shard's image leaves this shard's catalog (that shard records it).
            let present = Set(unchanged.map { items[$0].item.key } + readHere.map { items[toRead[$0]].item.key })
                .subtracting(failedKeys)
            let deleteFile = try catalog.db.prepare("DELETE FROM files WHERE key = ?")
            for key in known.keys where !present.contains(key) {
                guard let source = key.split(separator: "/").first, sourceNames.contains(String(source)) else { continue }
                if unlisted.contains(where: { key.hasPrefix($0) }) { continue }
                if let shard, !shard.contains(contentID: knownImage[key]!) { continue }
                try deleteFile.bind(key).run()
                summary.removed += 1
            }
            try catalog.db.execute("DELETE FROM images WHERE id NOT IN (SELECT image_id FROM files)")
            try catalog.db.execute("DELETE FROM tags WHERE id NOT IN (SELECT tag_id FROM file_tags)")
            if let manifest { try catalog.recordShard(manifest) }
        }
        summary.statistics = try catalog.statistics()
        summary.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return summary
    }

    /// The rule new images are split by: the option's, checked against the catalog's
    /// recorded rule (a mismatch is an error naming both, unless `resplit`), or the
    /// recorded one. Records it, re-splitting every image when asked.
    static func checkSplitRule(_ options: Options, catalog: Catalog) throws -> Catalog.SplitRule {
        let recorded = try catalog.splitRule()
        let rule = options.splitRule ?? recorded ?? Catalog.SplitRule()
        if let recorded, recorded != rule, !options.resplit {
            throw TagganError.file(catalog.url.path, "its images are split \(recorded); --split \(rule) would split new images "
                                   + "differently (add --resplit to move every image to the new rule's split, which changes "
                                   + "the test set, or leave --split out)")
        }
        try catalog.setSplitRule(rule, resplit: options.resplit && recorded != nil && recorded != rule)
        return rule
    }

    /// Size and modification time of the image (following symlinks) and the newest
    /// modification time of its tag files.
    private static func stamp(_ item: SourceItem) -> Stamp? {
        guard let (size, mtime) = Catalog.stamp(item.imageURL.path) else { return nil }
        let metadata = item.metadataURLs.compactMap { Catalog.stamp($0.path)?.mtime }.max() ?? 0
        return Stamp(size: size, mtime: mtime, metadataMTime: metadata)
    }

    /// Hashes and decodes one file; nil when its content id is not in `shard` (it is
    /// then neither decoded nor reported: its own shard does both). A file that cannot
    /// be read has no content id and is reported by every shard.
    private static func read(_ item: SourceItem, reader: DatasetReader, decoder: ImageDecoder,
                             minimumSide: Int, shard: ShardSpec?) -> Result<Decoded, ImageDecoder.DecodeError>? {
        guard reader.isInside(item.imageURL) else {
            return .failure(.init(reason: "path points outside the data set", detail: ""))
        }
        let data: Data
        do {
            data = try ImageDecoder.readFile(item.imageURL)
        } catch let error as ImageDecoder.DecodeError {
            return .failure(error.reason == "unreadable" ? .init(reason: "unreadable file", detail: error.detail) : error)
        } catch {
            return .failure(.init(reason: "unreadable file", detail: "\(error)"))
        }
        let hash = SHA256.hex(data)
        if let shard, !shard.contains(contentID: Catalog.imageID(hash: hash)) { return nil }
        do {
            let header = try decoder.header(of: data)
            if max(header.width, header.height) < minimumSide {
                return .failure(.init(reason: "too small",
                                      detail: "\(header.width)x\(header.height), below \(minimumSide) px"))
            }
            // Decoding everything proves the file is whole. A JPEG is checked at 1/8
            // scale: the entropy-coded data is still read to the end.
            _ = try decoder.decode(data, targetShorterSide: header.format == .jpeg ? 1 : nil)
            var embedded: [String] = []
            if item.embeddedXMP, let packet = ImageMetadata.embeddedXMP(in: data) {
                // A bad packet is reported like a bad sidecar: the image is skipped, not
                // ingested with its tags silently missing.
                do {
                    embedded = try XMPReader.parse(packet).tags
                } catch let error as XMPReader.ParseError {
                    return .failure(.init(reason: "embedded XMP: \(error.reason)", detail: error.detail))
                }
            }
            return .success(Decoded(hash: hash, format: header.format.rawValue,
                                    width: header.width, height: header.height, embeddedTags: embedded))
        } catch let error as ImageDecoder.DecodeError {
            return .failure(error)
        } catch {
            return .failure(.init(reason: "unreadable file", detail: "\(error)"))
        }
    }
}
