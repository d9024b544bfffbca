import Foundation
import Ingest
import Testing
import TestSupport

/// The whole pipeline through the command line, as a user runs it, on 60 real
/// OpenClipart images: ingest, word vectors, features, a short training run, the
/// evaluation report, and annotation of a folder holding one corrupt image, and of a
/// folder whole and in shards by every method, which must agree bit for bit.
@Suite("Pipeline end to end (real data)")
struct PipelineTests {
    static var cache: URL { TestData.corporaCache }

    @Test func ingestVectorsFeaturesTrainEvalAnnotate() throws {
        let source = Self.cache.appendingPathComponent("openclipart")
        try #require(FileManager.default.fileExists(atPath: source.appendingPathComponent("png/food").path),
                     "OpenClipart is missing: run bash corpora/fetch-all.sh")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-pipeline-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("art"), w = root.appendingPathComponent("W")
        // 60 regular PNGs from three folders, each with its SVG, in the clip-art layout.
        var copied = 0
        for folder in ["food/fruit", "animals", "buildings"] {
            let pngFolder = source.appendingPathComponent("png/\(folder)")
            let names = try FileManager.default.contentsOfDirectory(atPath: pngFolder.path).filter { $0.hasSuffix(".png") }.sorted()
            for name in names.prefix(20) {
                let png = pngFolder.appendingPathComponent(name)
                let svg = source.appendingPathComponent("svg/\(folder)/\(name.dropLast(4)).svg")
                guard FileManager.default.fileExists(atPath: svg.path) else { continue }
                for (from, to) in [(png, data.appendingPathComponent("png/\(folder)/\(name)")),
                                   (svg, data.appendingPathComponent("svg/\(folder)/\(name.dropLast(4)).svg"))] {
                    try FileManager.default.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try FileManager.default.copyItem(at: from.resolvingSymlinksInPath(), to: to)
                }
                copied += 1
            }
        }
        #expect(copied >= 50)
        func run(_ arguments: [String]) throws -> TagganProcess {
            let result = try TagganProcess(arguments, environment: ["TAGGAN_CORPORA": Self.cache.path])
            #expect(result.status == 0, "taggan \(arguments.joined(separator: " ")): \(result.stderr.suffix(600))")
            return result
        }
        func json(_ result: TagganProcess) throws -> [String: Any] {
            try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        }
        let tags = w.appendingPathComponent("tags.txt").path, vectors = w.appendingPathComponent("v.bin").path
        let ingest = try json(try run(["ingest", data.path, "--workspace", w.path, "--export-tag-corpus", tags, "--json"]))
        #expect((ingest["files_read"] as? Int ?? 0) >= 50)
        _ = try run(["vectors", "train", tags, "--out", vectors, "--dim", "16", "--min-count", "1", "--epochs", "20",
                     "--threads", "1", "--json"])
        // Half the images in a shard run, joined by `taggan merge` (no network), then an
        // unsharded run embeds the rest; merging again takes nothing.
        let half = try json(try run(["features", "--workspace", w.path, "--shard", "0/2", "--json"]))
        let shardRows = half["rows"] as? Int ?? 0
        #expect(shardRows > 10)
        let merge = try json(try run(["merge", "--workspace", w.path, "--json"]))
        #expect((merge["embedding_rows_taken"] as? [String: Int])?["efficientnet-lite0"] == shardRows, "\(merge)")
        let mergedAgain = try json(try run(["merge", "--workspace", w.path, "--json"]))
        #expect((mergedAgain["embedding_rows_taken"] as? [String: Int])?["efficientnet-lite0"] == 0, "\(mergedAgain)")
        let features = try json(try run(["features", "--workspace", w.path, "--json"]))
        #expect(features["already_done"] as? Int == shardRows && features["from_shards"] as? Int == 0, "\(features)")
        #expect((features["rows"] as? Int ?? 0) >= 50 && features["embedded"] as? Int == (features["rows"] as? Int ?? 0) - shardRows)
        let train = try run(["train", "--workspace", w.path, "--vectors", vectors, "--steps", "6", "--checkpoint-every", "3"])
        #expect(FileManager.default.fileExists(atPath: w.appendingPathComponent("models/cgan/checkpoint.json").path), "\(train.stderr)")
        let report = w.appendingPathComponent("report")
        let eval = try json(try run(["eval", "--workspace", w.path, "--report", report.path, "--split", "validation",
                                     "--resamples", "50", "--samples", "10", "--examples", "3", "--json"]))
        let methods = try #require(eval["methods"] as? [[String: Any]]).compactMap { $0["method"] as? String }
        // Every method, each with its setting chosen on validation: the anchors, the CGAN with
        // the paper's protocol and with its chosen decoder, and fusion; the choice goes to
        // W/methods.json for annotate.
        let expected = ["frequency prior", "k-NN transfer, k ", "TagProp, K ", "linear head, lambda ", "word-space regression, lambda ",
                        "ConSE, k ", "CGAN, paper's protocol", "CGAN, noise ", "fusion, "]
        #expect(methods.count == expected.count && zip(methods, expected).allSatisfy { $0.hasPrefix($1) }, "\(methods)")
        let best = try #require(eval["best_method"] as? String)
        #expect(["prior", "knn", "tagprop", "linear", "regression", "conse", "cgan", "fusion"].contains(best), "\(best)")
        // What the numbers say, not only that they exist: on 60 images of three kinds,
        // k-NN tag transfer beats the frequency prior (both in [0, 1]).
        let rows = try #require(eval["methods"] as? [[String: Any]])
        let prior = try #require(rows[0]["precision@5"] as? Double), knn = try #require(rows[1]["precision@5"] as? Double)
        #expect((0...1).contains(prior) && (0...1).contains(knn) && knn > prior, "prior \(prior), k-NN \(knn)")
        let recorded = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: w.appendingPathComponent("methods.json"))) as? [String: Any])
        #expect(recorded["best"] as? String == best && (recorded["methods"] as? [Any])?.count == expected.count - 1)   // the paper's protocol is a report row, not a setting
        for file in ["report.json", "report.md", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: report.appendingPathComponent(file).path))
        }
        // The same evaluation again, in a new process (Swift seeds its hashing per process,
        // so a sum or a tie taken in a Set's or a Dictionary's order would show here): the
        // same report to the last digit, its creation time aside.
        let secondReport = w.appendingPathComponent("report-again")
        _ = try run(["eval", "--workspace", w.path, "--report", secondReport.path, "--split", "validation",
                     "--resamples", "50", "--samples", "10", "--examples", "3", "--json"])
        func reportBody(_ folder: URL) throws -> NSDictionary {
            var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("report.json"))) as? [String: Any])
            object["created"] = nil
            return object as NSDictionary
        }
        #expect(try reportBody(report) == reportBody(secondReport), "two runs of eval on one workspace wrote different reports")
        // Evaluated on the split the settings were chosen on: the report says so.
        let markdown = try String(contentsOf: report.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(markdown.contains("chosen on this same validation split") && markdown.contains("each validation image's own true tag vectors"))
        // Annotate a folder with two images (one with the user's own sidecar) and a corrupt one.
        let folder = root.appendingPathComponent("to-tag")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let pngs = try FileManager.default.contentsOfDirectory(atPath: data.appendingPathComponent("png/animals").path).sorted()
        for name in pngs.prefix(2) {
            try FileManager.default.copyItem(at: data.appendingPathComponent("png/animals/\(name)"), to: folder.appendingPathComponent(name))
        }
        let own = """
            <x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
            <rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag><rdf:li>my-own-tag</rdf:li></rdf:Bag></dc:subject>
            </rdf:Description></rdf:RDF></x:xmpmeta>
            """
        try own.write(to: folder.appendingPathComponent(pngs[0] + ".xmp"), atomically: true, encoding: .utf8)
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00]).write(to: folder.appendingPathComponent("corrupt.jpg"))
        let jsonl = root.appendingPathComponent("tags.jsonl")
        let annotate = try run(["annotate", folder.path, "--workspace", w.path, "--xmp", "--jsonl", jsonl.path, "--top", "5", "--samples", "10"])
        #expect(annotate.stderr.contains("corrupt.jpg: truncated or corrupt JPEG"), "\(annotate.stderr)")
        #expect(annotate.stdout.contains("eval's validation-best method"), "\(annotate.stdout)")
        let lines = try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let sidecar = try String(contentsOf: folder.appendingPathComponent(pngs[0] + ".xmp"), encoding: .utf8)
        #expect(sidecar.contains("my-own-tag") && sidecar.contains("digiKam:TagsList"))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(pngs[1] + ".xmp").path))

        // Incremental: a second run reuses both annotations and writes the same lines; a
        // changed image is annotated again; --force redoes everything.
        let arguments = ["annotate", folder.path, "--workspace", w.path, "--xmp", "--jsonl", jsonl.path, "--top", "5", "--samples", "10", "--json"]
        let again = try json(try run(arguments))
        #expect(again["reused"] as? Int == 2 && again["annotated"] as? Int == 2, "\(again)")
        #expect(again["sidecars_written"] as? Int == 0, "\(again)")
        #expect(try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n") == lines)
        try FileManager.default.removeItem(at: folder.appendingPathComponent(pngs[1]))
        try FileManager.default.copyItem(at: data.appendingPathComponent("png/animals/\(pngs[2])"), to: folder.appendingPathComponent(pngs[1]))
        let changed = try json(try run(arguments))
        #expect(changed["reused"] as? Int == 1 && changed["annotated"] as? Int == 2, "\(changed)")
        let forced = try json(try run(arguments + ["--force"]))
        #expect(forced["reused"] as? Int == 0 && forced["annotated"] as? Int == 2, "\(forced)")

        // --vocab FILE: only those words are suggested (the tag corpus's first words).
        let words = Array(Set(try String(contentsOfFile: tags, encoding: .utf8).split(whereSeparator: { $0 == " " || $0 == "\n" })
            .map(String.init)).sorted().prefix(4))
        let vocab = root.appendingPathComponent("vocab.txt")
        try ("# a user's word list\n" + words.joined(separator: "\n") + "\n").write(to: vocab, atomically: true, encoding: .utf8)
        let limited = root.appendingPathComponent("limited.jsonl")
        _ = try run(["annotate", folder.path, "--workspace", w.path, "--jsonl", limited.path, "--samples", "10", "--vocab", vocab.path])
        for line in try String(contentsOf: limited, encoding: .utf8).split(separator: "\n") {
            let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let suggested = try #require(object["tags"] as? [[String: Any]]).compactMap { $0["tag"] as? String }
            #expect(!suggested.isEmpty && Set(suggested).isSubset(of: Set(words)), "\(suggested) not within \(words)")
        }
        // Bad voting options: a usage error, or the file named with the reason.
        let missingVocab = root.appendingPathComponent("no-such-words.txt").path
        for (extra, status, message) in [(["--per-sample", "0"], Int32(2), "taggan annotate: --per-sample must be positive"),
                                         (["--vocab", missingVocab], 1, "\(missingVocab): cannot read the vocabulary for taggan annotate --vocab")] {
            let bad = try TagganProcess(["annotate", folder.path, "--workspace", w.path, "--jsonl", limited.path] + extra,
                                        environment: ["TAGGAN_CORPORA": Self.cache.path])
            #expect(bad.status == status && bad.stderr.contains(message), "\(extra): \(bad.stderr)")
        }

        // Every method tags an image the same, bit for bit, whether the folder is tagged
        // whole or in 3 shards (so with other images in its batches) or on one thread, with OpenBLAS held to
        // its Haswell kernel, which every AVX2-only CPU runs and whose sgemm sums in an order
        // that depends on the number of rows. Compared in the catalog, where scores are kept
        // to the last bit (the JSON Lines round them), and in a copy of W without eval's
        // choice, so the scores are raw, not calibrated into steps; --force, so no shard
        // reuses stored tags.
        let many = root.appendingPathComponent("many"), raw = root.appendingPathComponent("W-raw")
        try FileManager.default.createDirectory(at: many, withIntermediateDirectories: true)
        for folder in ["food/fruit", "buildings"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: data.appendingPathComponent("png/\(folder)").path).sorted()
            for name in names.prefix(6) {
                try FileManager.default.copyItem(at: data.appendingPathComponent("png/\(folder)/\(name)"), to: many.appendingPathComponent(name))
            }
        }
        try FileManager.default.copyItem(at: w, to: raw)
        try FileManager.default.removeItem(at: raw.appendingPathComponent("methods.json"))
        let haswell = ["TAGGAN_CORPORA": Self.cache.path, "OPENBLAS_CORETYPE": "Haswell"]
        for (method, workspace) in [("knn", raw), ("tagprop", raw), ("linear", raw), ("regression", raw), ("conse", raw),
                                    ("cgan", raw), ("fusion", w)] {
            let out = root.appendingPathComponent("shards-\(method)")
            func annotate(_ extra: [String], threads: String = "2") throws -> [Int: Catalog.StoredAnnotation] {
                let result = try TagganProcess(["annotate", many.path, "--workspace", workspace.path, "--method", method, "--samples", "10",
                                                "--top", "5", "--force", "--json", "--jsonl", out.appendingPathComponent("tags.jsonl").path] + extra,
                                               environment: haswell.merging(["TAGGAN_THREADS": threads, "OPENBLAS_NUM_THREADS": threads]) { $1 })
                #expect(result.status == 0, "\(method) \(extra): \(result.stderr.suffix(600))")
                let model = try #require(try json(result)["model"] as? String, "\(method): \(result.stdout)")
                return try Catalog(workspace: workspace).annotations(model: model)
            }
            let whole = try annotate([])
            #expect(whole.count == 12 && whole.values.allSatisfy { !$0.tags.isEmpty }, "\(method): \(whole)")
            var sharded: [Int: Catalog.StoredAnnotation] = [:]
            for index in 0..<3 { sharded = try annotate(["--shard", "\(index)/3"]) }
            #expect(sharded == whole, "\(method): tags stored by the shards differ from the whole folder's")
            // Nor on the thread count (taggan's and OpenBLAS's, which annotate keeps when the
            // user sets it), though the methods fit at annotate time: the ridge heads' Gram
            // matrices were sgemm's, whose Haswell sums change with its threads.
            #expect(try annotate([], threads: "1") == whole, "\(method): tags with one thread differ from two threads'")
        }
    }
}
