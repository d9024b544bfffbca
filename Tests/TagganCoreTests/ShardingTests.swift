import Foundation
import Testing
@testable import TagganCore

@Suite("--shard I/N: one rule, and shard manifests")
struct ShardingTests {
    @Test func parsesIOfNCountingFromZero() throws {
        let shard = try ShardSpec(parsing: "2/3")
        #expect(shard.index == 2 && shard.count == 3 && shard.description == "2/3")
        #expect(try ShardSpec(parsing: "0/1") == ShardSpec(index: 0, count: 1))
    }

    @Test(arguments: ["3/3", "-1/3", "1/0", "1", "1/2/3", "a/3", "1/b", "", "/", "1/"])
    func rejectsWhatIsNotIOfN(_ text: String) {
        #expect(throws: ShardSpec.Invalid(text: text)) { try ShardSpec(parsing: text) }
    }

    @Test func everyContentIDIsInExactlyOneShardAndShardsAreEvenOnUniformIDs() throws {
        let shards = try (0..<7).map { try ShardSpec(index: $0, count: 7) }
        var sizes = [Int](repeating: 0, count: 7)
        for n in 0..<14_000 {
            let id = uniformContentID(n)
            let owners = shards.filter { $0.contains(contentID: id) }
            #expect(owners.count == 1)
            sizes[owners[0].index] += 1
        }
        // 2,000 expected per shard; a binomial's sd here is ~41.
        #expect(sizes.allSatisfy { abs($0 - 2_000) < 200 }, "\(sizes)")
        // The rule itself: id mod N, the same on every machine.
        #expect(try ShardSpec(parsing: "1/3").contains(contentID: 7))
        #expect(try !ShardSpec(parsing: "0/3").contains(contentID: 7))
        #expect(ShardSpec.shard(ofContentID: 0x0FFF_FFFF_FFFF_FFFF, count: 10) == 0x0FFF_FFFF_FFFF_FFFF % 10)
    }

    @Test func fileNamesCarryTheShard() throws {
        let shard = try ShardSpec(parsing: "1/3")
        #expect(shard.fileSuffix == "shard-1-of-3")
        #expect(ShardSpec(fileName: "embeddings-shard-1-of-3.npy") == shard)
        #expect(ShardSpec(fileName: "tags.shard-1-of-3.jsonl") == shard)
        #expect(ShardSpec(fileName: "tags.shard-3-of-3.jsonl") == nil && ShardSpec(fileName: "tags.jsonl") == nil)
        #expect(shard.url(for: URL(fileURLWithPath: "/out/tags.jsonl")).path == "/out/tags.shard-1-of-3.jsonl")
        #expect(shard.url(for: URL(fileURLWithPath: "/out/tags")).path == "/out/tags.shard-1-of-3")
    }

    @Test func manifestRoundTripsBesideItsOutput() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shard-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("tags.shard-0-of-2.jsonl")
        let manifest = ShardManifest(kind: "annotate", shard: try ShardSpec(parsing: "0/2"), settings: ["model": "knn k=20"])
        try manifest.write(besides: output)
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("tags.shard-0-of-2.jsonl.shard.json").path))
        #expect(try ShardManifest.read(besides: output) == manifest)
        #expect(manifest.json() == #"{"count":2,"index":0,"kind":"annotate","rule":"sha256-prefix-mod-n","settings":{"model":"knn k=20"},"taggan_shard":1}"#)
        let orphan = folder.appendingPathComponent("other.jsonl")
        #expect(throws: TagganError.file(orphan.path, "no shard manifest beside it (other.jsonl.shard.json): not the output of a --shard run, or its manifest was not copied with it")) {
            try ShardManifest.read(besides: orphan)
        }
    }

    @Test func oneJobMeansOneKindRuleNAndSettingsAndReportsMissingShards() throws {
        func part(_ source: String, _ i: Int, _ n: Int, kind: String = "annotate", model: String = "m1") throws -> (source: String, manifest: ShardManifest) {
            (source, ShardManifest(kind: kind, shard: try ShardSpec(index: i, count: n), settings: ["model": model, "top": "10"]))
        }
        #expect(try ShardManifest.checkOneJob([try part("a", 0, 3), try part("c", 2, 3)], kind: "annotate") == [1])
        #expect(try ShardManifest.checkOneJob([try part("a", 0, 2), try part("b", 1, 2), try part("a", 0, 2)], kind: "annotate") == [])
        let failures: [([(source: String, manifest: ShardManifest)], TagganError)] = [
            ([try part("a", 0, 2), try part("b", 1, 2, model: "m2")],
             .file("b", "was made with other settings than a, so the two cannot be merged (model: 'm1' in a, 'm2' here)")),
            ([try part("a", 0, 2), try part("b", 1, 3)],
             .file("b", "is shard 1/3, a is shard 0/2: shards of one job have the same N")),
            ([try part("a", 0, 2), try part("b", 0, 2)], .file("b", "is shard 0/2, and so is a")),
            ([try part("a", 0, 2, kind: "features")], .file("a", "is a shard of a 'features' output, not of 'annotate'")),
        ]
        for (parts, error) in failures {
            #expect(throws: error) { try ShardManifest.checkOneJob(parts, kind: "annotate") }
        }
        var otherRule = try part("b", 1, 2)
        otherRule.manifest.rule = "path-fnv1a"
        #expect(throws: TagganError.file("b", "was sharded by rule 'path-fnv1a', a by 'sha256-prefix-mod-n'")) {
            try ShardManifest.checkOneJob([try part("a", 0, 2), otherRule], kind: "annotate")
        }
    }
}

/// A 60-bit id with uniform bits, like the catalog's content ids (the first 60 bits of
/// a SHA-256; TagganCore has no SHA-256, Ingest's tests shard real ones).
func uniformContentID(_ n: Int) -> Int {
    var random = SeededRandom(seed: UInt64(n))
    return Int(random.next() >> 4)
}
