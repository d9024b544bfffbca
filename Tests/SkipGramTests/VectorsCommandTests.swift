import Foundation
import TestSupport
import Testing
import SkipGram
import TagganCore

/// `taggan vectors train | eval | nearest` as a user runs them.
@Suite("taggan vectors commands")
struct VectorsCommandTests {
    static let corpus = (0..<200).map { i in
        ["the cat sat on the mat", "a dog ate the bone", "the king and the queen", "one two three four"][i % 4]
    }.joined(separator: "\n")

    @Test func trainWritesVectorsThatEvalAndNearestRead() throws {
        let folder = TemporaryFolder()
        let text = try folder.writePath("c.txt", Self.corpus)
        let out = folder.path("v.txt")
        let run = try Run(["vectors", "train", text, "--out", out, "--dim", "12", "--epochs", "2", "--min-count", "1",
                           "--threads", "1", "--json", "--save-vocab", folder.path("vocab.txt")])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(summary["vocabulary"] as? Int == 16 && summary["format"] as? String == "text")
        #expect(summary["words_trained"] as? Int == 2 * 1000)
        #expect(run.stderr.contains("vectors train: 2000/2000 words (100.0%)"))
        let vectors = try Word2VecFile.read(out)
        #expect(vectors.count == 16 && vectors.dimension == 12 && vectors.words[0] == "the")
        #expect(try String(contentsOfFile: folder.path("vocab.txt"), encoding: .utf8).hasPrefix("the 250\n"))

        // Without --json the summary is printed on stdout, as every command's is.
        let plain = try Run(["vectors", "train", text, "--out", folder.path("v2.bin"), "--dim", "4", "--epochs", "1", "--min-count", "1",
                             "--threads", "1"])
        #expect(plain.status == 0 && plain.stdout.hasPrefix("trained 16 words x 4 on 1000 words in "), "stdout: \(plain.stdout)")
        #expect(plain.stdout.contains("wrote \(folder.path("v2.bin"))") && !plain.stderr.contains("trained 16 words"))

        let nearest = try Run(["vectors", "nearest", out, "King", "-k", "3"])
        #expect(nearest.status == 0)
        #expect(nearest.stdout.split(separator: "\n").count == 3)
        let pairs = try folder.writePath("pairs.tsv", "cat\tdog\t7\nking\tqueen\t9\none\ttwo\t5\nzebra\tcat\t1\n")
        let questions = try folder.writePath("q.txt", ": s\ncat dog king queen\nzebra cat dog mat\n")
        let eval = try Run(["vectors", "eval", out, "--similarity", pairs, "--analogies", questions, "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])
        let analogies = try #require(object["analogies"] as? [String: Any])
        #expect(analogies["answered"] as? Int == 1 && analogies["skipped"] as? Int == 1)
        let similarity = try #require((object["similarity"] as? [[String: Any]])?.first)
        #expect(similarity["covered"] as? Int == 3 && similarity["pairs"] as? Int == 4)
    }

    /// --counting-limit bounds the distinct words held while counting: a corpus of 50
    /// frequent words and 3,000 words seen once, counted with room for 1,000, prunes the
    /// once-seen words (the summary says how far it went) and keeps every frequent one
    /// with its exact count; without the option nothing is pruned.
    @Test func countingLimitPrunesTheRarestWordsAndKeepsTheFrequentOnes() throws {
        let folder = TemporaryFolder()
        let frequent = (0..<50).map { "common\($0)" }
        var lines: [String] = []
        for i in 0..<3_000 { lines.append(frequent[i % 5 * 10 ..< i % 5 * 10 + 10].joined(separator: " ") + " rare\(i)") }
        // Every frequent word 100 times more, at the end: counted after the pruning.
        for _ in 0..<100 { lines.append(frequent.joined(separator: " ")) }
        let text = try folder.writePath("c.txt", lines.joined(separator: "\n"))
        func train(_ extra: [String]) throws -> ([String: Any], String) {
            let run = try Run(["vectors", "train", text, "--out", folder.path("v.bin"), "--dim", "4", "--epochs", "1",
                               "--min-count", "1", "--threads", "1", "--json", "--save-vocab", folder.path("vocab.txt")] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            let summary = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            return (summary, run.stderr)
        }
        let (exact, exactLog) = try train([])
        #expect(exact["prune_threshold"] as? Int == 0 && exact["vocabulary"] as? Int == 3_050, "\(exact)")
        #expect(!exactLog.contains("pruned while counting"))
        let (pruned, prunedLog) = try train(["--counting-limit", "1000"])
        #expect((pruned["prune_threshold"] as? Int ?? 0) >= 1 && pruned["counting_limit"] as? Int == 1000, "\(pruned)")
        let kept = pruned["vocabulary"] as? Int ?? 0
        #expect(kept >= 50 && kept <= 1000, "\(pruned)")
        #expect(prunedLog.contains("pruned while counting (--counting-limit 1000)"), "\(prunedLog)")
        let counts = try String(contentsOfFile: folder.path("vocab.txt"), encoding: .utf8).split(separator: "\n")
        let words = Set(counts.map { $0.split(separator: " ")[0] })
        #expect(frequent.allSatisfy { words.contains(Substring($0)) }, "a frequent word was pruned")
        // Each frequent word is in 600 of the 3,000 lines and in the last 100: none is lost
        // while pruning at this limit, so the counts stay exact.
        #expect(counts.prefix(50).allSatisfy { $0.hasSuffix(" 700") }, "\(counts.prefix(5))")
        #expect(try Run(["vectors", "train", text, "--out", folder.path("w.bin"), "--counting-limit", "1"]).status == 2)
    }

    @Test("bad inputs: exit 1, the file and reason on stderr, no output file")
    func badInputs() throws {
        let folder = TemporaryFolder()
        let empty = try folder.writePath("empty.txt", "")
        let rare = try folder.writePath("rare.txt", "a b c\n")
        let binary = try folder.writePath("bad.txt", Array("fine\n".utf8) + [0xFF, 0x0A])
        let good = folder.path("good.bin")
        try Word2VecFile.write(WordVectors(words: ["a", "b"], dimension: 2, values: [1, 2, 3, 4]), to: good, format: .binary)
        let goodBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: good)))
        let truncated = try folder.writePath("cut.bin", Array(goodBytes.dropLast(3)))
        let out = folder.path("out.bin")
        let cases: [([String], String)] = [
            (["vectors", "train", empty, "--out", out], "\(empty): the corpus holds no words"),
            (["vectors", "train", rare, "--out", out],
             "\(rare): no word occurs --min-count 5 times (3 distinct words, the most frequent occurs 1 times)"),
            (["vectors", "train", binary, "--out", out, "--min-count", "1"], "\(binary): invalid UTF-8 at byte 5"),
            (["vectors", "train", folder.path("missing.txt"), "--out", out], "\(folder.path("missing.txt")): no such file"),
            (["vectors", "eval", truncated, "--similarity", rare],
             "\(truncated): truncated or wrong header: it promises 2 rows of 2 float32 values (at least 20 bytes) but only 19 bytes follow it"),
            (["vectors", "nearest", truncated, "a"],
             "\(truncated): truncated or wrong header: it promises 2 rows of 2 float32 values (at least 20 bytes) but only 19 bytes follow it"),
            (["vectors", "nearest", good, "zebra"], "\(good): the word 'zebra' is not in the vocabulary (2 words)"),
        ]
        for (arguments, message) in cases {
            let run = try Run(arguments)
            #expect(run.status == 1, "\(arguments)")
            #expect(run.stderr.hasSuffix("taggan: error: \(message)\n"), "\(arguments): \(run.stderr)")
            #expect(run.stdout.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        #expect(!folder.contents.contains { $0.contains(".tmp-") })
    }

    /// An --out that cannot be written (its folder a file, or a folder itself) is refused
    /// before the corpus is read: the error came only after the training, hours on a
    /// large corpus, with nothing saved.
    @Test func outputThatCannotBeWrittenIsRefusedBeforeTraining() throws {
        let folder = TemporaryFolder()
        let text = try folder.writePath("c.txt", Self.corpus)
        let file = try folder.writePath("a-file", "not a folder")
        let cases: [(String, String)] = [
            ("\(file)/v.bin", "\(file)/v.bin: cannot create its folder \(file): \(file) is not a folder"),
            ("\(file)/sub/v.bin", "\(file)/sub/v.bin: cannot create its folder \(file)/sub: \(file) is not a folder"),
        ]
        for (out, message) in cases {
            let run = try Run(["vectors", "train", text, "--out", out, "--dim", "4", "--epochs", "1", "--min-count", "1"])
            #expect(run.status == 1 && run.stderr.hasSuffix("taggan: error: \(message)\n"), "\(out): \(run.stderr)")
            #expect(!run.stderr.contains("vectors train:"), "trained before the check: \(run.stderr)")
        }
        #expect(folder.contents == ["a-file", "c.txt"])
    }

    /// A similarity score that is NaN or infinite ("nan", "inf", "-Infinity" all parse
    /// as numbers) is an error naming the file and the line, not a pair ranked anyhow.
    @Test func nonFiniteSimilarityScoresAreErrorsNamingTheLine() throws {
        let folder = TemporaryFolder()
        let vectors = folder.path("v.bin")
        try Word2VecFile.write(WordVectors(words: ["a", "b", "c"], dimension: 2, values: [1, 2, 3, 4, 5, 7]), to: vectors, format: .binary)
        for score in ["nan", "NaN", "inf", "-Infinity"] {
            let pairs = try folder.writePath("pairs-\(score).tsv", "# word1 word2 score\na\tb\t3.5\nb\tc\t\(score)\na\tc\t1\n")
            let run = try Run(["vectors", "eval", vectors, "--similarity", pairs])
            #expect(run.status == 1, "\(score)")
            #expect(run.stderr.hasSuffix("taggan: error: \(pairs): line 3: the score '\(score)' is not a finite number\n"), "\(score): \(run.stderr)")
            #expect(run.stdout.isEmpty, "\(score)")
        }
    }

    @Test func trainHelpListsTheTrainingOptions() throws {
        let run = try Run(["vectors", "train", "--help"])
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("USAGE: taggan vectors train CORPUS... --out V.bin [options]\n"))
        for option in ["--dim N", "--window N", "--negative N", "--min-count N", "--sample T", "--epochs N",
                       "--threads N", "--seed N", "--alpha A", "--hs", "--algorithm A", "--max-vocab N", "--counting-limit N",
                       "--layout L", "--format F", "--save-vocab F", "--json"] {
            #expect(run.stdout.contains("  \(option) "), "\(option) missing from help")
        }
        #expect(!run.stdout.contains("Not built yet"))
    }

    @Test func usageErrorsExit2() throws {
        let folder = TemporaryFolder()
        let text = try folder.writePath("c.txt", Self.corpus)
        let cases: [([String], String)] = [
            (["vectors", "train", text, "--out", "v.bin", "--algorithm", "fast"],
             "taggan vectors train: --algorithm must be classic or batched, got 'fast'"),
            (["vectors", "train", text, "--out", "v.bin", "--negative", "0"],
             "taggan vectors train: --negative 0 needs --hs (nothing to train otherwise)"),
            (["vectors", "train", text, "--out", "v.bin", "--dim", "0"], "taggan vectors train: --dim must be between 1 and 100000"),
            (["vectors", "eval", "v.bin"], "taggan vectors eval: give --analogies F and/or --similarity F"),
        ]
        for (arguments, message) in cases {
            let run = try Run(arguments)
            #expect(run.status == 2, "\(arguments)")
            #expect(run.stderr == "taggan: error: \(message)\n", "\(arguments)")
        }
    }
}
