import ArgumentParsing
import Foundation
import Eval
import Features
import Ingest
import TagganCore
import Workspace

/// `taggan ingest SOURCE... --workspace W`
struct IngestCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["ingest"], summary: "Read images and their tags into a workspace catalog.",
        discussion: """
        Layouts: MIR Flickr 25k and 1M, folders with XMP sidecars or embedded XMP, SVG+PNG clip art.
        Images are identified by content (SHA-256): aliases and copies become one image with
        the union of their tags, and the split follows the content. Re-running reads only new
        or changed files; broken files are reported and skipped. A source is its folder's
        absolute path: ingesting another folder (even one with the same name) never removes
        the first one's files. The split rule is recorded in the catalog; another --split on
        it is an error unless --resplit. Without SOURCE, --export-tag-corpus exports from the
        existing catalog.
        """)
    static let needsBLAS = false

    @Argument(value: "SOURCE") var sources: [String]
    @Option(value: "W", help: "workspace folder (created if missing)") var workspace: String
    @Option(value: "L", help: "the sources' layout, detected when not given") var layout: DatasetLayout?
    @Option(value: "F", help: "write the train split's tag lists as a text corpus to F") var exportTagCorpus: String?
    @Option(help: "refuse images with more pixels", check: .positive) var maxPixels = Ingester.Options().maxPixels
    @Option(value: "T/V/E", help: "train/validation/test percentages (default: the catalog's, else \(Catalog.SplitRule()))")
    var split: Catalog.SplitRule?
    @Flag(help: "with --split: move every image already in the catalog to the new rule's split") var resplit: Bool
    @Option(value: "I/N", help: ShardSpec.help) var shard: ShardSpec?
    var common = CommonOptions()

    func validate() throws {
        if sources.isEmpty && exportTagCorpus == nil { throw usage("missing SOURCE...\nUSAGE: \(Self.usageLine)") }
        if resplit && split == nil { throw usage("--resplit needs --split T/V/E (the rule to re-split by)") }
    }

    func run() throws -> Int32 {
        let w = Workspace(path: workspace)
        var options = Ingester.Options()
        options.layout = layout
        options.maxPixels = maxPixels
        options.splitRule = split
        options.resplit = resplit
        options.shardSpec = shard
        let skipped = SkipLog()
        // No SOURCE: only an export from the catalog the workspace already has.
        if sources.isEmpty, !w.hasCatalog { throw TagganError.file(w.path, "no \(Catalog.fileName) here to export from (give a SOURCE to ingest)") }
        let summary = sources.isEmpty && split == nil ? Ingester.Summary(statistics: try w.catalog().statistics())
            : try Ingester(workspace: w.url, options: options).run(sources: sources.map { URL(fileURLWithPath: $0) }, skipped: skipped)
        let corpusLines = try exportTagCorpus.map { try w.catalog().exportTagCorpus(to: URL(fileURLWithPath: $0), splits: [.train]) }
        let s = summary.statistics
        if common.json {
            var object: [String: Any] = [
                "command": "ingest", "workspace": w.path, "files_seen": summary.filesSeen,
                "files_read": summary.read, "files_unchanged": summary.unchanged, "files_removed": summary.removed,
                "skipped": skipped.json, "catalog": s, "seconds": summary.seconds,
            ]
            if let corpusLines { object["tag_corpus_lines"] = corpusLines }
            JSONSummary.print(object)
            return 0
        }
        print("""
            ingest: \(summary.filesSeen) files seen, \(summary.read) read, \(summary.unchanged) unchanged, \
            \(summary.removed) removed; \(skipped.summary)
            catalog: \(s["images"] ?? 0) images (\(s["files"] ?? 0) files, \(s["aliases"] ?? 0) aliases), \
            \(s["tagged_images"] ?? 0) tagged, \(s["distinct_tags"] ?? 0) distinct tags, \
            \(s["tag_assignments"] ?? 0) image-tag pairs
            split of tagged images: train \(s["split_train"] ?? 0), validation \(s["split_validation"] ?? 0), \
            test \(s["split_test"] ?? 0)
            workspace: \(w.path)/\(Catalog.fileName) (\(String(format: "%.1f", summary.seconds)) s)
            """)
        if let corpusLines, let exportTagCorpus { print("tag corpus: \(corpusLines) lines written to \(exportTagCorpus)") }
        return 0
    }
}

/// `taggan merge --workspace W [SHARD_W...]` joins shard workspaces' catalogs and the
/// embedding shard files in W; `taggan merge --annotations OUT IN...` joins annotate's JSON
/// Lines or CSV shard files.
struct MergeCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["merge"], summary: "Join shard outputs (made with --shard I/N): catalogs, embeddings, annotation files.",
        discussion: """
        --workspace W SHARD_W...: the shard workspaces' catalogs (ingest --shard) join W's; then,
        with or without SHARD_W, every embeddings-shard-I-of-N file set in W (features --shard,
        or copied in from other machines) joins W's embeddings, for images W's catalog holds.
        --annotations OUT IN...: annotate --shard's JSON Lines or CSV files join into OUT, byte
        for byte the file one unsharded run writes.
        Shards must belong to one job: the same split rule, and for each kind of --shard run
        the same N and settings; otherwise nothing is merged and the error names both files.
        Merging is idempotent, and shards still missing are listed (merge them later).
        """)
    static let needsBLAS = false

    @Argument(value: "SHARD") var shards: [String]
    @Option(value: "W", help: "the workspace the shard workspaces' catalogs and W's embedding shard files join") var workspace: String?
    @Option(value: "OUT", help: "merge annotation shard files (JSON Lines or CSV, by extension) into OUT") var annotations: String?
    var common = CommonOptions()

    func validate() throws {
        if (workspace == nil) == (annotations == nil) { throw usage("give --workspace W (catalogs, embeddings) or --annotations OUT (annotation files)") }
        if annotations != nil && shards.isEmpty { throw usage("missing the annotation shard files\nUSAGE: \(Self.usageLine)") }
        if let annotations, let shard = shards.first(where: { sameFile($0, annotations) }) {
            throw usage("--annotations \(annotations) is the input \(shard): it would be overwritten")
        }
        if Set(shards.map { URL(fileURLWithPath: $0).standardizedFileURL }).count < shards.count { throw usage("a shard is given twice") }
        if let workspace, let shard = shards.first(where: { sameFile($0, workspace) }) {
            throw usage("--workspace \(workspace) is the shard \(shard): a workspace cannot take in itself")
        }
    }

    func run() throws -> Int32 {
        if let annotations {
            let summary = try AnnotationShards.merge(shards.map { URL(fileURLWithPath: $0) }, into: URL(fileURLWithPath: annotations))
            if common.json {
                JSONSummary.print(["command": "merge", "annotations": annotations, "shards": shards.count, "missing_shards": summary.missingShards])
            } else {
                print("merge: \(shards.count) annotation shards into \(annotations)"
                      + (summary.missingShards.isEmpty ? "" : "; shards still missing: \(summary.missingShards)"))
            }
            return 0
        }
        let w = Workspace(path: workspace!)
        // Into a new workspace: shards that do not belong together are refused before
        // W's catalog is made (an existing one is checked against them in `merge`).
        let shardURLs = shards.map { URL(fileURLWithPath: $0) }
        let checked = !shards.isEmpty && !FileManager.default.fileExists(atPath: w.catalogURL.path)
            ? try Catalog.checkShardsBelongTogether(shardURLs) : nil
        let catalog = shards.isEmpty ? try w.existingCatalog() : try w.catalog()
        // The catalog and each model's embeddings are held while merged into (RunLock),
        // as ingest and features hold them.
        let merged = try RunLock.holding(file: w.catalogURL) { try catalog.merge(shards: shardURLs, checked: checked) }
        let ids = Set(try catalog.images(withTags: false).map(\.id))
        var embeddings: [String: Int] = [:]
        for config in EfficientNetConfig.all where !EmbeddingFiles.shards(in: w.url, model: config.name).isEmpty {
            embeddings[config.name] = try RunLock.holding(file: w.embeddings(model: config.name).matrix) {
                try FeatureExtraction.takeInShards(workspace: w, model: config.name, featureSize: config.featureSize,
                                                   settings: nil, catalogIDs: ids).count
            }
        }
        let s = try catalog.statistics()
        if common.json {
            JSONSummary.print(["command": "merge", "workspace": w.path, "shards": shards.count, "catalog": s,
                               "missing_shards": merged.missingShards, "annotations": merged.annotations, "embedding_rows_taken": embeddings])
        } else {
            print("merge: \(shards.count) shards into \(w.path): \(s["images"] ?? 0) images, \(s["tagged_images"] ?? 0) tagged, "
                  + "\(s["distinct_tags"] ?? 0) distinct tags" + (merged.missingShards.isEmpty ? "" : "; shards still missing: \(merged.missingShards)"))
            for (model, rows) in embeddings.sorted(by: { $0.key < $1.key }) {
                print("embeddings: \(rows) rows of \(model) taken from shard files in \(w.path)")
            }
        }
        return 0
    }
}
