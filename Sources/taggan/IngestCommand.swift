import Foundation
import Ingest
import TagganCore

/// `taggan ingest SOURCE... --workspace W`
enum IngestCommand {
    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let workspace = URL(fileURLWithPath: try arguments.required("--workspace"))
        var options = Ingester.Options()
        if let layout = arguments.value("--layout") {
            guard let parsed = DatasetLayout(rawValue: layout) else {
                throw TagganError.usage("taggan ingest: unknown layout '\(layout)' (one of: \(DatasetLayout.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            options.layout = parsed
        }
        options.maxPixels = try arguments.integer("--max-pixels", default: options.maxPixels)
        guard options.maxPixels > 0 else { throw TagganError.usage("taggan ingest: --max-pixels must be positive") }
        if let text = arguments.value("--split") {
            guard let rule = Catalog.SplitRule(text) else {
                throw TagganError.usage("taggan ingest: --split expects three percentages adding to 100, like 80/10/10")
            }
            options.splitRule = rule
        }
        options.resplit = arguments.flag("--resplit")
        guard !options.resplit || options.splitRule != nil else {
            throw TagganError.usage("taggan ingest: --resplit needs --split T/V/E (the rule to re-split by)")
        }
        options.shard = try Shard.parse(arguments.value("--shard"), command: "taggan ingest")
        let skipped = SkipLog()
        let sources = arguments.positionals.map { URL(fileURLWithPath: $0) }
        // No SOURCE: only an export from the catalog the workspace already has.
        if sources.isEmpty {
            guard arguments.value("--export-tag-corpus") != nil else { throw TagganError.usage("taggan ingest: missing SOURCE...\nUSAGE: taggan ingest SOURCE... --workspace W [options]") }
            guard FileManager.default.fileExists(atPath: workspace.appendingPathComponent(Catalog.fileName).path) else {
                throw TagganError.file(workspace.path, "no \(Catalog.fileName) here to export from (give a SOURCE to ingest)")
            }
        }
        let summary = sources.isEmpty && options.splitRule == nil ? Ingester.Summary(statistics: try Catalog(workspace: workspace).statistics())
            : try Ingester(workspace: workspace, options: options).run(sources: sources, skipped: skipped)
        var corpusLines: Int?
        if let corpus = arguments.value("--export-tag-corpus") {
            corpusLines = try Catalog(workspace: workspace).exportTagCorpus(to: URL(fileURLWithPath: corpus), splits: [.train])
        }
        let s = summary.statistics
        if arguments.json {
            var object: [String: Any] = [
                "command": "ingest", "workspace": workspace.path, "files_seen": summary.filesSeen,
                "files_read": summary.read, "files_unchanged": summary.unchanged, "files_removed": summary.removed,
                "skipped": skipped.json, "catalog": s, "seconds": summary.seconds,
            ]
            if let corpusLines { object["tag_corpus_lines"] = corpusLines }
            JSONSummary.print(object)
        } else {
            print("""
                ingest: \(summary.filesSeen) files seen, \(summary.read) read, \(summary.unchanged) unchanged, \
                \(summary.removed) removed; \(skipped.summary)
                catalog: \(s["images"] ?? 0) images (\(s["files"] ?? 0) files, \(s["aliases"] ?? 0) aliases), \
                \(s["tagged_images"] ?? 0) tagged, \(s["distinct_tags"] ?? 0) distinct tags, \
                \(s["tag_assignments"] ?? 0) image-tag pairs
                split of tagged images: train \(s["split_train"] ?? 0), validation \(s["split_validation"] ?? 0), \
                test \(s["split_test"] ?? 0)
                workspace: \(workspace.path)/\(Catalog.fileName) (\(String(format: "%.1f", summary.seconds)) s)
                """)
            if let corpusLines { print("tag corpus: \(corpusLines) lines written to \(arguments.value("--export-tag-corpus")!)") }
        }
        return 0
    }
}

/// `--shard I/N`: process only shard I (0-based) of N.
enum Shard {
    static func parse(_ text: String?, command: String) throws -> (index: Int, count: Int)? {
        guard let text else { return nil }
        let parts = text.split(separator: "/").map { Int($0) }
        guard parts.count == 2, let index = parts[0], let count = parts[1], count > 0, index >= 0, index < count else {
            throw TagganError.usage("\(command): --shard expects I/N with 0 <= I < N, got '\(text)'")
        }
        return (index, count)
    }
}

/// `taggan bench decode FOLDER`: JPEG decode-to-size throughput.
enum DecodeBench {
    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let folder = URL(fileURLWithPath: arguments.positionals[0])
        let size = try arguments.integer("--size", default: 224)
        let threads = try arguments.integer("--threads", default: 1)
        guard threads > 0 else { throw TagganError.usage("taggan bench decode: --threads must be positive") }
        let files = ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
            .filter { ["jpg", "jpeg"].contains($0.pathExtension.lowercased()) }
            .sorted { $0.path < $1.path }
        guard !files.isEmpty else { throw TagganError.file(folder.path, "no JPEG files") }
        let result = try DecodeBenchmark.run(files: files, size: size > 0 ? size : nil, threads: threads)
        if arguments.json {
            JSONSummary.print(["command": "bench decode", "images": result.images, "size": size, "threads": threads,
                               "seconds": result.seconds, "images_per_second": result.imagesPerSecond])
        } else {
            print(String(format: "decode%@: %d images in %.2f s, %.1f images/s (%d thread%@)",
                         size > 0 ? " to \(size) px" as NSString : " at full size" as NSString,
                         result.images, result.seconds, result.imagesPerSecond, threads, threads == 1 ? "" : "s"))
        }
        return 0
    }
}

/// `taggan merge --workspace W SHARD...`: joins shard workspaces' catalogs.
enum MergeCommand {
    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let workspace = URL(fileURLWithPath: try arguments.required("--workspace"))
        let catalog = try Catalog(workspace: workspace)
        for shard in arguments.positionals {
            try catalog.merge(from: URL(fileURLWithPath: shard))
            Log.info("merge: \(shard) merged")
        }
        let s = try catalog.statistics()
        if arguments.json {
            JSONSummary.print(["command": "merge", "workspace": workspace.path, "shards": arguments.positionals.count, "catalog": s])
        } else {
            print("merge: \(arguments.positionals.count) shards into \(workspace.path): \(s["images"] ?? 0) images, \(s["tagged_images"] ?? 0) tagged, \(s["distinct_tags"] ?? 0) distinct tags")
        }
        return 0
    }
}
