import Foundation

/// `--shard I/N`: the one rule by which ingest, features and annotate split their images
/// among N independent runs (Slurm array tasks, Kubernetes Indexed Job pods, or N shells).
///
/// An image belongs to shard `contentID mod N`, where the content id is the first 60
/// bits of the SHA-256 of the file's bytes (`Catalog.imageID(hash:)`). The id depends on
/// nothing but the bytes, so every machine, every run and every command puts an image in
/// the same shard; aliases (symlinks, byte-identical copies) land together; and because
/// SHA-256 bits are uniform, each shard gets N-th of the images (a shard's share of
/// 100,000 images differs from 1/N by ~0.3% at N = 10). Renaming or moving a file keeps
/// its shard; editing it may move it.
///
///     let shard = try ShardSpec(parsing: "1/3")
///     shard.contains(contentID: 0x7) // true: 7 mod 3 = 1
///     shard.fileSuffix              // "shard-1-of-3"
///
/// I counts from 0: a Slurm array `--array=0-(N-1)` passes `SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT`,
/// a Kubernetes Indexed Job `JOB_COMPLETION_INDEX/N` (scripts/slurm/).
public struct ShardSpec: Sendable, Hashable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// The rule in one line, for `--help` texts and shard manifests.
    public static let rule = "an image is in shard (content id mod N), its content id being the first 60 bits of the SHA-256 of its bytes"
    /// The rule's short name, recorded in shard manifests so that a future change of
    /// rule is refused at merge time instead of silently duplicating or losing images.
    public static let ruleName = "sha256-prefix-mod-n"

    /// Text that is not "I/N" with 0 <= I < N.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let text: String
        public var description: String { "a shard is I/N with 0 <= I < N, got '\(text)'" }
    }

    public init(index: Int, count: Int) throws {
        guard count > 0, index >= 0, index < count else { throw Invalid(text: "\(index)/\(count)") }
        self.index = index
        self.count = count
    }

    /// Parses "I/N" (0 <= I < N).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let index = parts[0], let count = parts[1], count > 0, index >= 0, index < count else {
            throw Invalid(text: text)
        }
        self.index = index
        self.count = count
    }

    /// "I/N", the form `init(parsing:)` reads.
    public var description: String { "\(index)/\(count)" }

    /// Whether the image whose content id is `contentID` is this shard's.
    @inlinable
    public func contains(contentID: Int) -> Bool {
        Self.shard(ofContentID: contentID, count: count) == index
    }

    /// The shard of `contentID` among `count` (ids are non-negative; a negative one is
    /// taken modulo as its bit pattern, so every Int has exactly one shard).
    @inlinable
    public static func shard(ofContentID contentID: Int, count: Int) -> Int {
        Int(UInt64(bitPattern: Int64(contentID)) % UInt64(count))
    }

    /// "shard-I-of-N": what shard outputs put in their names (embeddings-shard-0-of-3.npy).
    public var fileSuffix: String { "shard-\(index)-of-\(count)" }

    /// The shard a file name carries ("…shard-I-of-N…"), if any.
    public init?(fileName: String) {
        guard let range = fileName.range(of: #"shard-[0-9]+-of-[0-9]+"#, options: [.regularExpression, .backwards]) else { return nil }
        let parts = fileName[range].split(separator: "-")
        guard parts.count == 4, let i = Int(parts[1]), let n = Int(parts[3]), n > 0, i < n else { return nil }
        index = i
        count = n
    }

    /// `name.ext` -> `name.shard-I-of-N.ext` (`tags.jsonl` -> `tags.shard-0-of-3.jsonl`):
    /// where a sharded run writes an output the user named for the whole job.
    public func url(for output: URL) -> URL {
        let ext = output.pathExtension
        let base = output.deletingPathExtension()
        let named = base.appendingPathExtension(fileSuffix)
        return ext.isEmpty ? named : named.appendingPathExtension(ext)
    }
}

/// What a shard output says about itself: which kind of output, which shard of how
/// many, the shard rule, and the settings that made it (model, weights digest, voting
/// options, ...). A merge joins only outputs whose kind, N, rule and settings agree,
/// and names the files that disagree.
///
/// Stored as JSON: beside an output file as `<file>.shard.json` (JSON Lines and CSV keep
/// their own formats untouched), or in a shard catalog's `meta` table.
///
///     {"count": 3, "index": 0, "kind": "annotate", "rule": "sha256-prefix-mod-n",
///      "settings": {"method": "knn", "model": "knn k=20 ..."}, "taggan_shard": 1}
public struct ShardManifest: Sendable, Equatable, Codable {
    public static let version = 1

    public var kind: String
    public var index: Int
    public var count: Int
    public var rule: String
    /// Everything that must be equal across the shards of one job, as text.
    public var settings: [String: String]
    public var version: Int

    enum CodingKeys: String, CodingKey {
        case kind, index, count, rule, settings
        case version = "taggan_shard"
    }

    public init(kind: String, shard: ShardSpec, settings: [String: String]) {
        self.kind = kind
        index = shard.index
        count = shard.count
        rule = ShardSpec.ruleName
        self.settings = settings
        version = Self.version
    }

    public var shard: ShardSpec? { try? ShardSpec(index: index, count: count) }

    /// Sorted-key JSON, so equal manifests are equal bytes.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public init(json text: String, source: String) throws {
        do {
            self = try JSONDecoder().decode(Self.self, from: Data(text.utf8))
        } catch {
            throw TagganError.file(source, "not a taggan shard manifest (\(error))")
        }
        guard version == Self.version else {
            throw TagganError.file(source, "shard manifest version \(version), this taggan reads \(Self.version)")
        }
        guard shard != nil else { throw TagganError.file(source, "shard \(index)/\(count) is not a valid I/N") }
    }

    /// `tags.shard-0-of-3.jsonl` -> `tags.shard-0-of-3.jsonl.shard.json`.
    public static func sidecar(for output: URL) -> URL {
        output.deletingLastPathComponent().appendingPathComponent(output.lastPathComponent + ".shard.json")
    }

    /// Writes the manifest beside `output`, atomically.
    public func write(besides output: URL) throws {
        try AtomicFile.write(json() + "\n", to: Self.sidecar(for: output))
    }

    /// The manifest beside `output`; an error naming the output when there is none.
    public static func read(besides output: URL) throws -> ShardManifest {
        let url = sidecar(for: output)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TagganError.file(output.path, "no shard manifest beside it (\(url.lastPathComponent)): "
                                   + "not the output of a --shard run, or its manifest was not copied with it")
        }
        return try ShardManifest(json: String(decoding: try AtomicFile.read(url), as: UTF8.self), source: url.path)
    }

    /// Throws unless every one of `ids` (the content ids of the rows of the shard output
    /// `source`, in order) is in this manifest's shard by `ShardSpec`'s rule, naming the
    /// first that is not, as `row` describes it (its position -> "line 7 (key)"). A file
    /// that holds another shard's rows (copied in under another shard's name, or left from
    /// an unsharded run) would otherwise merge as this shard's, and this shard's own
    /// images would be silently missing from the merge.
    public func checkRows(_ ids: [Int], source: String, row: (Int) -> String) throws {
        guard let shard, let position = ids.firstIndex(where: { !shard.contains(contentID: $0) }) else { return }
        let actual = ShardSpec.shard(ofContentID: ids[position], count: count)
        throw TagganError.file(source, "\(row(position)) holds image \(ids[position]), which is in shard \(actual)/\(count), but this is "
                               + "shard \(index)/\(count) by its manifest: it holds another shard's rows, so nothing was merged "
                               + "(copied in under another shard's name, or left from an unsharded run?)")
    }

    /// Throws unless `settings` (of the shard output `source`) equal `reference` (those of
    /// `referenceSource`, another shard or the run about to use it), naming what differs.
    public static func checkSettings(_ settings: [String: String], source: String,
                                     against reference: [String: String], from referenceSource: String) throws {
        guard settings != reference else { return }
        let keys = Set(settings.keys).union(reference.keys).sorted()
        let differing = keys.filter { settings[$0] != reference[$0] }.map { key in
            "\(key): '\(reference[key] ?? "(none)")' in \(referenceSource), '\(settings[key] ?? "(none)")' here"
        }
        throw TagganError.file(source, "was made with other settings than \(referenceSource), so the two cannot be merged ("
                               + differing.joined(separator: "; ") + ")")
    }

    /// Checks that `parts` (each with the file it came from) are shards of one job: one
    /// kind, rule, N and settings, no shard index given by two different files. Returns
    /// the shard indices that are missing (a partial merge is allowed: the rest can be
    /// merged in later, since every merge is idempotent). The error names the first
    /// file and the file that disagrees with it, and what differs.
    @discardableResult
    public static func checkOneJob(_ parts: [(source: String, manifest: ShardManifest)], kind: String) throws -> [Int] {
        guard let (firstSource, first) = parts.first else { return [] }
        var byIndex: [Int: String] = [:]
        for (source, manifest) in parts {
            guard manifest.kind == kind else {
                throw TagganError.file(source, "is a shard of a '\(manifest.kind)' output, not of '\(kind)'")
            }
            guard manifest.rule == first.rule else {
                throw TagganError.file(source, "was sharded by rule '\(manifest.rule)', \(firstSource) by '\(first.rule)'")
            }
            guard manifest.count == first.count else {
                throw TagganError.file(source, "is shard \(manifest.index)/\(manifest.count), \(firstSource) is shard "
                                       + "\(first.index)/\(first.count): shards of one job have the same N")
            }
            try checkSettings(manifest.settings, source: source, against: first.settings, from: firstSource)
            if let other = byIndex[manifest.index], other != source {
                throw TagganError.file(source, "is shard \(manifest.index)/\(manifest.count), and so is \(other)")
            }
            byIndex[manifest.index] = source
        }
        return (0..<first.count).filter { byIndex[$0] == nil }
    }
}
