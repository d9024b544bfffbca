import Foundation
import TagganCore

/// The workspace catalog, `W/catalog.sqlite`: images, the files that show them, tags,
/// concept annotations, splits, and which stage has processed which image.
///
/// Identity is content: an image's id is the first 60 bits of its SHA-256, so aliases
/// (symlinks, byte-identical copies) are one image whose tags are the union of every
/// path's tags, and ids are the same on every machine and every run. The split is a
/// function of the same hash, so one picture never sits on both sides of a split.
///
/// Open it with any SQLite client: `sqlite3 W/catalog.sqlite '.tables'`.
public final class Catalog {
    public static let fileName = "catalog.sqlite"
    static let schemaVersion = 1

    public let url: URL
    let db: SQLiteDatabase

    public enum Split: String, CaseIterable, Sendable { case train, validation, test }

    /// A catalog image with its normalised tags.
    public struct Image: Sendable, Equatable {
        public let id: Int
        public let hash: String
        /// The first of its files by key (aliases share the image).
        public let url: URL
        public let key: String
        public let width: Int
        public let height: Int
        public let split: Split
        public let title: String?
        public let tags: [String]
        /// The size and modification time (seconds since 1970) of the file at `url` when
        /// it was ingested (`Catalog.stamp`): a file that no longer has them may no longer
        /// be this image.
        public var size = 0
        public var mtime = 0.0
    }

    /// A file's size and modification time as the catalog records them (links followed),
    /// nil when it cannot be stat'ed. One definition, so that a later comparison with the
    /// recorded values is exact.
    public static func stamp(_ path: String) -> (size: Int, mtime: Double)? {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        return (Int(s.st_size), Double(s.st_mtim.tv_sec) + Double(s.st_mtim.tv_nsec) * 1e-9)
    }

    /// Opens (creating if needed) the catalog in `workspace`.
    public init(workspace: URL) throws {
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        url = workspace.appendingPathComponent(Self.fileName)
        db = try SQLiteDatabase(path: url.path)
        try db.execute("""
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS sources(
                name TEXT PRIMARY KEY,           -- the first component of its files' keys
                path TEXT NOT NULL UNIQUE);      -- the source folder, absolute, links resolved
            CREATE TABLE IF NOT EXISTS images(
                id INTEGER PRIMARY KEY,          -- first 60 bits of the SHA-256
                hash TEXT NOT NULL UNIQUE,       -- SHA-256 of the file's bytes (hex)
                format TEXT NOT NULL,
                width INTEGER NOT NULL,
                height INTEGER NOT NULL,
                split TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')));
            CREATE TABLE IF NOT EXISTS files(
                key TEXT PRIMARY KEY,            -- <source name>/<relative path> (see sources)
                path TEXT NOT NULL,              -- absolute path when ingested
                image_id INTEGER NOT NULL REFERENCES images(id),
                size INTEGER NOT NULL,
                mtime REAL NOT NULL,
                metadata_mtime REAL NOT NULL,    -- newest change of the tag files read
                title TEXT);
            CREATE INDEX IF NOT EXISTS files_image ON files(image_id);
            CREATE TABLE IF NOT EXISTS tags(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE IF NOT EXISTS file_tags(
                key TEXT NOT NULL REFERENCES files(key) ON DELETE CASCADE,
                tag_id INTEGER NOT NULL REFERENCES tags(id),
                raw TEXT NOT NULL,               -- as written in the source
                PRIMARY KEY (key, tag_id));
            CREATE TABLE IF NOT EXISTS concepts(
                key TEXT NOT NULL REFERENCES files(key) ON DELETE CASCADE,
                concept TEXT NOT NULL,
                strict INTEGER NOT NULL,         -- 1: listed in <concept>_r1.txt
                PRIMARY KEY (key, concept));
            CREATE TABLE IF NOT EXISTS stages(
                image_id INTEGER NOT NULL,
                stage TEXT NOT NULL,             -- e.g. 'features', 'annotate'
                model TEXT NOT NULL,
                done_at REAL NOT NULL,
                PRIMARY KEY (image_id, stage, model));
            CREATE TABLE IF NOT EXISTS annotations(
                image_id INTEGER NOT NULL,       -- content id of an annotated file
                model TEXT NOT NULL,             -- the model and voting settings (taggan annotate)
                tags TEXT NOT NULL,              -- JSON: [[tag, confidence], ...], most voted first
                done_at REAL NOT NULL,
                PRIMARY KEY (image_id, model));
            CREATE VIEW IF NOT EXISTS image_tags AS
                SELECT DISTINCT f.image_id, t.name AS tag FROM files f
                JOIN file_tags ft ON ft.key = f.key JOIN tags t ON t.id = ft.tag_id;
            """)
        let version = try db.prepare("SELECT value FROM meta WHERE key = 'schema_version'")
        if try version.step() {
            guard Int(version.string(0)) == Self.schemaVersion else {
                throw TagganError.file(url.path, "catalog schema version \(version.string(0)), this taggan reads \(Self.schemaVersion)")
            }
        } else {
            try db.prepare("INSERT INTO meta(key, value) VALUES ('schema_version', ?)").bind(String(Self.schemaVersion)).run()
        }
    }

    // MARK: Identity and splits

    /// The image id for a hex SHA-256: its first 15 hex digits (60 bits) as an integer.
    public static func imageID(hash: String) -> Int {
        Int(hash.prefix(15), radix: 16) ?? 0
    }

    /// Split fractions in percent (train, validation; test gets the rest).
    public struct SplitRule: Sendable, Equatable, CustomStringConvertible {
        public var train: Int
        public var validation: Int
        public init(train: Int = 80, validation: Int = 10) {
            self.train = train
            self.validation = validation
        }

        /// Parses "80/10/10".
        public init?(_ text: String) {
            let parts = text.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 3, parts.allSatisfy({ $0 >= 0 }), parts.reduce(0, +) == 100 else { return nil }
            self.init(train: parts[0], validation: parts[1])
        }

        /// "80/10/10", the form `init?(_:)` parses.
        public var description: String { "\(train)/\(validation)/\(100 - train - validation)" }

        /// Bucket = (hash digits 16-23 as an integer) mod 10,000; the hash bits used for
        /// the id are not reused, and the split is the same on every machine.
        public func split(hash: String) -> Split {
            let start = hash.index(hash.startIndex, offsetBy: min(15, hash.count))
            let bucket = (Int(hash[start...].prefix(8), radix: 16) ?? 0) % 10_000
            if bucket < train * 100 { return .train }
            if bucket < (train + validation) * 100 { return .validation }
            return .test
        }
    }

    // MARK: Sources

    /// The name the files of the source folder `root` are keyed under. A folder is
    /// identified by its absolute path with links resolved: the name recorded for that
    /// path, else its last component, suffixed `_2`, `_3`, ... while another folder holds
    /// that name (two folders called `photos` never share keys, and the names do not
    /// depend on the order sources are given in). A catalog made before sources were
    /// recorded keeps its keys: a name whose files all lie under `root` is adopted.
    public func sourceName(for root: URL) throws -> String {
        let path = root.standardizedFileURL.resolvingSymlinksInPath().path
        let known = try db.prepare("SELECT name FROM sources WHERE path = ?").bind(path)
        if try known.step() { return known.string(0) }
        let base = URL(fileURLWithPath: path).lastPathComponent
        var candidate = base, n = 1
        while true {
            let taken = try db.prepare("SELECT 1 FROM sources WHERE name = ?").bind(candidate)
            if try !taken.step() {
                // Keys of an older catalog under this name: adopt it only if they are all ours.
                let prefix = candidate + "/", folder = path.hasSuffix("/") ? path : path + "/"
                let foreign = try db.prepare("""
                    SELECT COUNT(*) FROM files WHERE substr(key, 1, ?) = ? AND substr(path, 1, ?) <> ?
                    """).bind(prefix.unicodeScalars.count, prefix, folder.unicodeScalars.count, folder)
                _ = try foreign.step()
                if foreign.int(0) == 0 { break }
            }
            n += 1
            candidate = "\(base)_\(n)"
        }
        try db.prepare("INSERT INTO sources(name, path) VALUES (?, ?)").bind(candidate, path).run()
        return candidate
    }

    // MARK: Split rule

    /// The split rule the catalog's images were split by (recorded by ingest; a catalog
    /// from before it was recorded used the default 80/10/10), nil for an empty catalog.
    public func splitRule() throws -> SplitRule? {
        let rows = try db.prepare("SELECT value FROM meta WHERE key = 'split_rule'")
        if try rows.step() { return SplitRule(rows.string(0)) }
        let images = try db.prepare("SELECT COUNT(*) FROM images")
        _ = try images.step()
        return images.int(0) > 0 ? SplitRule() : nil
    }

    /// Records `rule`; with `resplit`, every image already in the catalog is moved to the
    /// split `rule` gives it.
    public func setSplitRule(_ rule: SplitRule, resplit: Bool) throws {
        try db.transaction {
            try db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('split_rule', ?)").bind(rule.description).run()
            guard resplit else { return }
            var splits: [(Int, String)] = []
            let rows = try db.prepare("SELECT id, hash FROM images")
            while try rows.step() { splits.append((rows.int(0), rule.split(hash: rows.string(1)).rawValue)) }
            let update = try db.prepare("UPDATE images SET split = ? WHERE id = ?")
            for (id, split) in splits { try update.bind(split, id).run() }
        }
    }

    // MARK: Reading

    /// Every image with at least one file, with its normalised tags, ordered by id.
    /// `withTags` false: the tags are not read and every image's `tags` is empty (for a
    /// reader that needs only ids, keys and paths, e.g. `taggan features`; the tags are
    /// most of the work); `taggedOnly` needs them.
    public func images(split: Split? = nil, taggedOnly: Bool = false, withTags: Bool = true) throws -> [Image] {
        precondition(withTags || !taggedOnly, "taggedOnly needs the tags")
        var tagsByImage: [Int: [String]] = [:]
        if withTags {
            let tagRows = try db.prepare("SELECT image_id, tag FROM image_tags ORDER BY image_id, tag")
            while try tagRows.step() { tagsByImage[tagRows.int(0), default: []].append(tagRows.string(1)) }
        }
        let sql = """
            SELECT i.id, i.hash, k.key, i.width, i.height, i.split, f.path, k.title, f.size, f.mtime
            FROM images i
            JOIN (SELECT image_id, MIN(key) AS key, MAX(title) AS title FROM files GROUP BY image_id) k
              ON k.image_id = i.id
            JOIN files f ON f.key = k.key
            \(split == nil ? "" : "WHERE i.split = ?")
            ORDER BY i.id
            """
        let rows = try db.prepare(sql)
        if let split { rows.bind(split.rawValue) }
        var result: [Image] = []
        while try rows.step() {
            let id = rows.int(0)
            let tags = tagsByImage[id] ?? []
            if taggedOnly && tags.isEmpty { continue }
            result.append(Image(
                id: id, hash: rows.string(1), url: URL(fileURLWithPath: rows.string(6)), key: rows.string(2),
                width: rows.int(3), height: rows.int(4), split: Split(rawValue: rows.string(5)) ?? .train,
                title: rows.isNull(7) ? nil : rows.string(7), tags: tags, size: rows.int(8), mtime: rows.double(9)))
        }
        return result
    }

    /// Counts for summaries: files, images, tagged images, distinct tags, per split.
    public func statistics() throws -> [String: Int] {
        var result: [String: Int] = [:]
        let queries: [(String, String)] = [
            ("files", "SELECT COUNT(*) FROM files"),
            ("images", "SELECT COUNT(DISTINCT image_id) FROM files"),
            ("tagged_images", "SELECT COUNT(DISTINCT image_id) FROM image_tags"),
            ("distinct_tags", "SELECT COUNT(DISTINCT tag) FROM image_tags"),
            ("tag_assignments", "SELECT COUNT(*) FROM image_tags"),
            ("aliases", "SELECT COUNT(*) - COUNT(DISTINCT image_id) FROM files"),
        ]
        for (name, sql) in queries {
            let statement = try db.prepare(sql)
            _ = try statement.step()
            result[name] = statement.int(0)
        }
        let splits = try db.prepare("""
            SELECT i.split, COUNT(*) FROM images i WHERE i.id IN (SELECT image_id FROM image_tags) GROUP BY i.split
            """)
        while try splits.step() { result["split_\(splits.string(0))"] = splits.int(1) }
        return result
    }

    /// Concept annotations per image id (MIR Flickr): concept -> strict.
    public func concepts() throws -> [Int: [String: Bool]] {
        var result: [Int: [String: Bool]] = [:]
        let rows = try db.prepare("SELECT f.image_id, c.concept, MAX(c.strict) FROM concepts c JOIN files f ON f.key = c.key GROUP BY 1, 2")
        while try rows.step() { result[rows.int(0), default: [:]][rows.string(1)] = rows.int(2) != 0 }
        return result
    }

    // MARK: Stages

    /// Ids of images `stage` has processed with `model`. Content defines the id, so an
    /// edited file is a new image and is processed again.
    public func processed(stage: String, model: String) throws -> Set<Int> {
        let rows = try db.prepare("SELECT image_id FROM stages WHERE stage = ? AND model = ?").bind(stage, model)
        var ids = Set<Int>()
        while try rows.step() { ids.insert(rows.int(0)) }
        return ids
    }

    public func markProcessed(_ ids: [Int], stage: String, model: String) throws {
        let now = Date().timeIntervalSince1970
        try db.transaction {
            let insert = try db.prepare("INSERT OR REPLACE INTO stages(image_id, stage, model, done_at) VALUES (?, ?, ?, ?)")
            for id in ids { try insert.bind(id, stage, model, now).run() }
        }
    }

    // MARK: Annotations

    /// Tags `taggan annotate` found for one image with one model, most voted first.
    public struct StoredAnnotation: Sendable, Equatable {
        public var tags: [String]
        public var confidences: [Double]
        public init(tags: [String], confidences: [Double]) {
            self.tags = tags
            self.confidences = confidences
        }
    }

    /// The content ids with an annotation by any model.
    public func annotatedImageIDs() throws -> Set<Int> {
        let rows = try db.prepare("SELECT DISTINCT image_id FROM annotations")
        var ids = Set<Int>()
        while try rows.step() { ids.insert(rows.int(0)) }
        return ids
    }

    /// Every annotation made with `model`, by content id. An edited file has a new id,
    /// so it is not found here and is annotated again.
    public func annotations(model: String) throws -> [Int: StoredAnnotation] {
        let rows = try db.prepare("SELECT image_id, tags FROM annotations WHERE model = ?").bind(model)
        var result: [Int: StoredAnnotation] = [:]
        while try rows.step() {
            let text = rows.string(1)
            guard let pairs = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[Any]] else {
                throw TagganError.file(url.path, "annotation of image \(rows.int(0)) is not a JSON list of [tag, confidence]: \(text.prefix(80))")
            }
            result[rows.int(0)] = StoredAnnotation(tags: pairs.compactMap { $0.first as? String },
                                                   confidences: pairs.compactMap { $0.count > 1 ? ($0[1] as? NSNumber)?.doubleValue : nil })
        }
        return result
    }

    /// Records annotations made with `model` (replacing older ones), in one transaction.
    public func storeAnnotations(_ items: [(id: Int, annotation: StoredAnnotation)], model: String) throws {
        let now = Date().timeIntervalSince1970
        try db.transaction {
            let insert = try db.prepare("INSERT OR REPLACE INTO annotations(image_id, model, tags, done_at) VALUES (?, ?, ?, ?)")
            for (id, annotation) in items {
                let pairs = zip(annotation.tags, annotation.confidences).map { [$0.0, $0.1] as [Any] }
                let json = String(decoding: try JSONSerialization.data(withJSONObject: pairs), as: UTF8.self)
                try insert.bind(id, model, json, now).run()
            }
        }
    }

    // MARK: Tag corpus

    /// Writes the tags of every tagged image in `splits` as one line ("sentence"), in id
    /// order, for training word vectors on tag co-occurrence. Atomic. Returns the line
    /// count. `taggan ingest --export-tag-corpus` exports the train split only, so that
    /// vectors trained on it never saw the tags the evaluation checks.
    @discardableResult
    public func exportTagCorpus(to destination: URL, splits: Set<Split> = Set(Split.allCases)) throws -> Int {
        var lines: [String] = []
        var current = -1
        var words: [String] = []
        let inList = splits.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")
        let rows = try db.prepare("""
            SELECT t.image_id, t.tag FROM image_tags t JOIN images i ON i.id = t.image_id
            WHERE i.split IN (\(inList)) ORDER BY t.image_id, t.tag
            """)
        while try rows.step() {
            if rows.int(0) != current {
                if !words.isEmpty { lines.append(words.joined(separator: " ")) }
                current = rows.int(0)
                words = []
            }
            words.append(rows.string(1))
        }
        if !words.isEmpty { lines.append(words.joined(separator: " ")) }
        try AtomicFile.write(lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n"), to: destination)
        return lines.count
    }
}

// MARK: - Shards

extension Catalog {
    /// Records that this catalog holds shard `manifest.index` of a `--shard` run of
    /// `manifest.kind` (ingest, features, annotate) made with `manifest.settings`, so that
    /// a merge can refuse shards made with other settings. One row per kind in `meta`
    /// (`shard.<kind>`), replaced by a later run of the same kind.
    public func recordShard(_ manifest: ShardManifest) throws {
        try db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)")
            .bind("shard.\(manifest.kind)", manifest.json()).run()
    }

    /// The shard manifests this catalog recorded, by kind.
    public func shardManifests() throws -> [String: ShardManifest] {
        let rows = try db.prepare("SELECT key, value FROM meta WHERE key LIKE 'shard.%' ORDER BY key")
        var result: [String: ShardManifest] = [:]
        while try rows.step() {
            let manifest = try ShardManifest(json: rows.string(1), source: "\(url.path) (meta \(rows.string(0)))")
            result[manifest.kind] = manifest
        }
        return result
    }

    /// What `merge(shards:)` did.
    public struct MergeSummary: Sendable, Equatable {
        /// Shard indices missing from each kind of sharded output that was merged (a
        /// later merge may add them: merging is idempotent).
        public var missingShards: [String: [Int]] = [:]
        /// Annotation rows copied, by model key.
        public var annotations: [String: Int] = [:]
    }

    /// Joins shard workspaces' catalogs into this one (`taggan merge`), after checking
    /// that they belong together: every shard's split rule equals this catalog's (when it
    /// has one) and each other's, and for each kind of `--shard` run the shards recorded
    /// (`recordShard`), one N, one rule and equal settings (`ShardManifest.checkOneJob`).
    /// A shard that disagrees is refused before anything is merged, naming both files.
    ///
    /// Idempotent: merging the same shards again, or one shard twice, leaves the same
    /// catalog, since every row is keyed by content (image id, file key, tag name) and
    /// replaced by its equal.
    /// `checked`: what `checkShardsBelongTogether` found for these shards before this
    /// (new, empty) catalog was made, so the shards are not read and checked twice.
    @discardableResult
    public func merge(shards: [URL], checked: CheckedShards? = nil) throws -> MergeSummary {
        var summary = MergeSummary()
        let rule = try splitRule().map { (source: url.path, rule: $0) }
        // (A catalog that gained a split rule since the check is checked against it.)
        let manifests = try (rule == nil ? checked?.manifests : nil) ?? Self.checkShards(shards, rule: rule)
        for (kind, parts) in manifests.sorted(by: { $0.key < $1.key }) {
            summary.missingShards[kind] = try ShardManifest.checkOneJob(parts, kind: kind)
        }
        for shard in shards { try merge(from: shard) }
        for (kind, parts) in manifests where kind == "annotate" {
            if let model = parts.first?.manifest.settings["model"] {
                summary.annotations[model] = try annotations(model: model).count
            }
        }
        return summary
    }

    /// The checks `merge(shards:)` makes before it changes anything, for a catalog not
    /// made yet: `taggan merge` makes them before it creates W's catalog, so a refused
    /// merge into a new workspace leaves no empty catalog behind.
    public static func checkShardsBelongTogether(_ shards: [URL]) throws -> CheckedShards {
        let manifests = try checkShards(shards, rule: nil)
        for (kind, parts) in manifests { _ = try ShardManifest.checkOneJob(parts, kind: kind) }
        return CheckedShards(manifests: manifests)
    }

    /// Shards `checkShardsBelongTogether` found to belong together, for `merge(shards:checked:)`.
    public struct CheckedShards {
        let manifests: [String: [(source: String, manifest: ShardManifest)]]
    }

    /// Each shard's split rule against `rule` (this catalog's) and the others', each
    /// ingest shard's images against its manifest; the manifests by kind of run.
    static func checkShards(_ shards: [URL], rule start: (source: String, rule: SplitRule)?) throws
        -> [String: [(source: String, manifest: ShardManifest)]] {
        var manifests: [String: [(source: String, manifest: ShardManifest)]] = [:]
        var rule = start
        for shard in shards {
            let other = try Catalog(workspace: try Self.existingWorkspace(shard))
            if let theirs = try other.splitRule() {
                if let rule, rule.rule != theirs {
                    throw TagganError.file(other.url.path, "its images are split \(theirs), those of \(rule.source) \(rule.rule): "
                                           + "shards of one collection must be ingested with the same --split")
                }
                if rule == nil { rule = (other.url.path, theirs) }
            }
            for (kind, manifest) in try other.shardManifests() {
                manifests[kind, default: []].append((other.url.path, manifest))
                if kind == "ingest" { try other.checkImages(in: manifest) }
            }
        }
        return manifests
    }

    /// Throws unless every image of this (shard) catalog is in the shard `manifest`
    /// names (`ShardManifest.checkRows`): a shard workspace ingested unsharded before, or
    /// another shard's catalog, would bring other shards' files, stale or not, into the
    /// merge under this shard's name.
    func checkImages(in manifest: ShardManifest) throws {
        let rows = try db.prepare("SELECT id FROM images ORDER BY id")
        var ids: [Int] = []
        while try rows.step() { ids.append(rows.int(0)) }
        try manifest.checkRows(ids, source: url.path) { position in
            // Keys are looked up for the image reported only.
            guard let key = try? db.prepare("SELECT MIN(key) FROM files WHERE image_id = ?").bind(ids[position]),
                  (try? key.step()) == true, !key.isNull(0) else { return "an image row" }
            return "its file \(key.string(0))"
        }
    }

    /// `folder` if it holds a catalog, else an error naming the catalog it lacks.
    static func existingWorkspace(_ folder: URL) throws -> URL {
        let path = folder.appendingPathComponent(Catalog.fileName).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw TagganError.file(path, "no catalog to merge")
        }
        return folder
    }

    /// Adds everything another catalog holds (a shard's workspace) to this one: images,
    /// files, tags, concepts, stage records and annotations. Ids are content hashes, so the same
    /// image met in two shards is one row, and merging shards in any order gives the
    /// catalog one unsharded run would have built. One transaction. No checks: use
    /// `merge(shards:)`, which refuses shards that do not belong together.
    public func merge(from other: URL) throws {
        let path = try Self.existingWorkspace(other).appendingPathComponent(Catalog.fileName).path
        // Opening it adds the tables a shard made by an older taggan lacks.
        _ = try Catalog(workspace: other)
        let quoted = path.replacingOccurrences(of: "'", with: "''")
        try db.execute("ATTACH DATABASE '\(quoted)' AS shard")
        defer { try? db.execute("DETACH DATABASE shard") }
        try db.transaction {
            try db.execute("""
                INSERT OR IGNORE INTO sources SELECT * FROM shard.sources;
                INSERT OR IGNORE INTO meta SELECT * FROM shard.meta WHERE key = 'split_rule';
                INSERT OR IGNORE INTO images SELECT * FROM shard.images;
                INSERT OR REPLACE INTO files SELECT * FROM shard.files;
                INSERT OR IGNORE INTO tags(name) SELECT name FROM shard.tags;
                DELETE FROM file_tags WHERE key IN (SELECT key FROM shard.files);
                INSERT OR IGNORE INTO file_tags(key, tag_id, raw)
                    SELECT ft.key, t.id, ft.raw FROM shard.file_tags ft
                    JOIN shard.tags st ON st.id = ft.tag_id JOIN tags t ON t.name = st.name;
                DELETE FROM concepts WHERE key IN (SELECT key FROM shard.files);
                INSERT OR REPLACE INTO concepts SELECT * FROM shard.concepts;
                INSERT OR REPLACE INTO stages SELECT * FROM shard.stages;
                INSERT OR REPLACE INTO annotations SELECT * FROM shard.annotations;
                """)
        }
    }
}
