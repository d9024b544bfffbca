import Foundation
import Testing
import TagganCore
@testable import Eval

@Suite("Merging annotate's shard outputs")
struct AnnotationShardsTests {
    /// Paths that need quoting in CSV and escaping in JSON, and ties in sort order.
    static let all = [
        Annotation(path: "a/cat.jpg", tags: ["cat", "sofa"], confidences: [0.82, 0.31]),
        Annotation(path: "a/cat.jpg.png", tags: [], confidences: []),
        Annotation(path: "b/odd, \"name\".png", tags: ["sea"], confidences: [0.5]),
        Annotation(path: "b/two\nlines.png", tags: ["x", "y", "z"], confidences: [0.9, 0.2, 0.1]),
        Annotation(path: "c.png", tags: ["sky"], confidences: [0.123456]),
        Annotation(path: "é/ü.jpg", tags: ["ünïcode"], confidences: [1]),
    ]

    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("annotation-shards-\(UUID().uuidString)")

    /// Writes `all` split into `n` shards the way annotate --shard does (records of the
    /// shard's images in path order, and the manifest beside each file).
    func shardFiles(_ n: Int, ext: String, settings: [String: String] = ["model": "knn k=20", "top": "10"]) throws -> [URL] {
        try (0..<n).map { index in
            let shard = try ShardSpec(index: index, count: n)
            let mine = Self.all.enumerated().filter { $0.offset % n == index }.map(\.element)
            let url = shard.url(for: folder.appendingPathComponent("tags.\(ext)"))
            try AnnotationWriter.write(mine, jsonLines: ext == "jsonl" ? url : nil, csv: ext == "csv" ? url : nil)
            try ShardManifest(kind: "annotate", shard: shard, settings: settings).write(besides: url)
            return url
        }
    }

    func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    @Test(arguments: ["jsonl", "csv"])
    func mergedShardsEqualOneRunByteForByte(_ ext: String) throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = try shardFiles(3, ext: ext)
        let output = folder.appendingPathComponent("tags.\(ext)")
        let summary = try AnnotationShards.merge(inputs.reversed(), into: output)
        #expect(summary == AnnotationShards.Summary(images: Self.all.count, duplicates: 0, missingShards: []))
        let unsharded = ext == "jsonl" ? AnnotationWriter.jsonLines(Self.all) : AnnotationWriter.csv(Self.all)
        #expect(try text(output) == unsharded)
    }

    @Test(arguments: ["jsonl", "csv"])
    func mergingAgainOrAShardTwiceWritesTheSameFile(_ ext: String) throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = try shardFiles(2, ext: ext)
        let output = folder.appendingPathComponent("tags.\(ext)")
        try AnnotationShards.merge(inputs, into: output)
        let first = try text(output)
        let again = try AnnotationShards.merge(inputs + [inputs[0]], into: output)
        #expect(try text(output) == first)
        #expect(again.duplicates == 3 && again.images == Self.all.count)
    }

    /// Shard 2's file replaced by a copy of shard 1's (its manifest kept): an image is in
    /// one shard only, so its records in two shards' files are refused, naming both files
    /// and the image, and nothing is written (it merged, with shard 2's images missing).
    @Test(arguments: ["jsonl", "csv"])
    func aFileHoldingAnotherShardsRecordsIsRefused(_ ext: String) throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = try shardFiles(3, ext: ext)
        try FileManager.default.removeItem(at: inputs[2])
        try FileManager.default.copyItem(at: inputs[1], to: inputs[2])
        let output = folder.appendingPathComponent("tags.\(ext)")
        #expect(throws: TagganError.file(inputs[2].path, "holds '\(Self.all[1].path)', and so does \(inputs[1].path), but they are "
                                         + "shards 2 and 1 of 3 and an image is in one shard only: one of the two holds the other's rows "
                                         + "(copied under another shard's name?), so nothing was merged")) {
            try AnnotationShards.merge(inputs, into: output)
        }
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    @Test func aMissingShardIsReportedAndItsImagesAreAbsent() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = try shardFiles(3, ext: "jsonl")
        let output = folder.appendingPathComponent("tags.jsonl")
        let summary = try AnnotationShards.merge([inputs[0], inputs[2]], into: output)
        #expect(summary.missingShards == [1] && summary.images == 4)
    }

    @Test func refusesShardsOfAnotherModelNamingBothFilesAndWritesNothing() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = try shardFiles(2, ext: "jsonl")
        try ShardManifest(kind: "annotate", shard: try ShardSpec(index: 1, count: 2), settings: ["model": "cgan", "top": "10"])
            .write(besides: inputs[1])
        let output = folder.appendingPathComponent("tags.jsonl")
        #expect(throws: TagganError.file(inputs[1].path, "was made with other settings than \(inputs[0].path), so the two cannot be merged "
                                         + "(model: 'knn k=20' in \(inputs[0].path), 'cgan' here)")) {
            try AnnotationShards.merge(inputs, into: output)
        }
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    @Test func refusesBadInputsWithTheirReasons() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputs = try shardFiles(2, ext: "csv")
        let output = folder.appendingPathComponent("tags.csv")
        // The same image tagged differently by two files.
        let rogue = folder.appendingPathComponent("rogue.shard-1-of-2.csv")
        try AnnotationWriter.write([Annotation(path: "a/cat.jpg", tags: ["dog"], confidences: [0.7])], jsonLines: nil, csv: rogue)
        try ShardManifest.read(besides: inputs[1]).write(besides: rogue)
        let cases: [([URL], TagganError)] = [
            ([inputs[0], rogue], .file(rogue.path, "tags 'a/cat.jpg' differently from \(inputs[0].path): the two were not made by one job")),
            ([inputs[0], inputs[1], rogue], .file(rogue.path, "is shard 1/2, and so is \(inputs[1].path)")),
        ]
        for (given, error) in cases {
            #expect(throws: error) { try AnnotationShards.merge(given, into: output) }
        }
        // No manifest beside it.
        let bare = folder.appendingPathComponent("bare.csv")
        try AnnotationWriter.write(Self.all, jsonLines: nil, csv: bare)
        #expect(throws: TagganError.file(bare.path, "no shard manifest beside it (bare.csv.shard.json): not the output of a --shard run, or its manifest was not copied with it")) {
            try AnnotationShards.merge([bare], into: output)
        }
        // Truncated CSV and a non-annotation JSON line.
        let truncated = folder.appendingPathComponent("cut.shard-0-of-1.csv")
        try "path,tag,confidence\r\na.jpg,cat,0.5".write(to: truncated, atomically: true, encoding: .utf8)
        try ShardManifest(kind: "annotate", shard: try ShardSpec(index: 0, count: 1), settings: [:]).write(besides: truncated)
        #expect(throws: TagganError.file(truncated.path, "the last row has no line ending (a truncated file?)")) {
            try AnnotationShards.merge([truncated], into: output)
        }
        let junk = folder.appendingPathComponent("junk.shard-0-of-1.jsonl")
        try "{\"path\": \"a\", \"tags\": []}\n[1, 2]\n".write(to: junk, atomically: true, encoding: .utf8)
        try ShardManifest(kind: "annotate", shard: try ShardSpec(index: 0, count: 1), settings: [:]).write(besides: junk)
        #expect(throws: TagganError.file(junk.path, "line 2 is not an annotation object with a \"path\"")) {
            try AnnotationShards.merge([junk], into: folder.appendingPathComponent("out.jsonl"))
        }
    }
}
