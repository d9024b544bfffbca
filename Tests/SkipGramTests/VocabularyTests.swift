import Foundation
import TestSupport
import Testing
import Ingest
@testable import SkipGram
import TagganCore

@Suite("Vocabulary, sub-sampling, noise distribution, Huffman codes")
struct VocabularyTests {
    static func corpus(_ folder: TemporaryFolder, _ text: String) throws -> TextCorpus {
        try TextCorpus(paths: [folder.writePath("corpus.txt", text)])
    }

    @Test func countsOrderAndCutoffs() throws {
        let folder = TemporaryFolder()
        // d x4, c x3, b x3, a x2, e x1 (ties: byte order, so b before c)
        let text = "d c b a\nD c B\nd c b a e\nd"
        let all = try Vocabulary(counting: Self.corpus(folder, text), minCount: 1, threads: 2)
        #expect(all.words == ["d", "b", "c", "a", "e"])
        #expect(all.counts == [4, 3, 3, 2, 1])
        #expect(all.corpusTokens == 13 && all.distinctWords == 5 && all.trainingTokens == 13)
        let cut = try Vocabulary(counting: Self.corpus(folder, text), minCount: 2)
        #expect(cut.words == ["d", "b", "c", "a"] && cut.trainingTokens == 12)
        let capped = try Vocabulary(counting: Self.corpus(folder, text), minCount: 1, maxSize: 2)
        #expect(capped.words == ["d", "b"])
        #expect(capped.id(of: "b") == 1 && capped.id(of: "e") == nil)
    }

    @Test func threadsCountTheSameAsOne() throws {
        let folder = TemporaryFolder()
        var random = SeededRandom(seed: 9)
        let text = (0..<500).map { _ in (0..<random.index(below: 9)).map { _ in "w\(random.index(below: 40))" }.joined(separator: " ") }
            .joined(separator: "\n")
        let corpus = try Self.corpus(folder, text)
        let one = try Vocabulary(counting: corpus, minCount: 1, threads: 1)
        for threads in [2, 3, 7] {
            let many = try Vocabulary(counting: corpus, minCount: 1, threads: threads)
            #expect(many.words == one.words && many.counts == one.counts)
        }
    }

    /// keep(w) = min(1, (sqrt(c / (t N)) + 1) * t N / c).
    @Test func subSamplingMatchesHandComputedValues() {
        // N = 1000 tokens, t = 0.01 -> t N = 10.
        let vocabulary = Vocabulary(counts: [("a", 40), ("b", 10), ("c", 950)])
        #expect(vocabulary.words == ["c", "a", "b"])
        let keep = vocabulary.keepProbabilities(sample: 0.01)
        #expect(keep[1] == 0.75)                                    // a: (2 + 1) * 10 / 40
        #expect(keep[2] == 1)                                       // b: (1 + 1) * 10 / 10 = 2, capped at 1
        #expect(abs(keep[0] - 0.1131242) < 1e-7)                    // c: (sqrt(10 / 950) + 1) * 10 / 950
        #expect(vocabulary.keepProbabilities(sample: 0) == [1, 1, 1])
    }

    @Test func noiseFollowsUnigramToTheThreeQuarters() {
        let counts = [81, 16, 1, 0 + 256]
        let noise = NoiseDistribution(counts: counts)
        // 81^0.75 = 27, 16^0.75 = 8, 1, 256^0.75 = 64: total 100.
        let expected = [0.27, 0.08, 0.01, 0.64]
        for (p, q) in zip(noise.probabilities, expected) { #expect(abs(p - q) < 1e-12) }
        var random = SeededRandom(seed: 5)
        var seen = [Int](repeating: 0, count: counts.count)
        let draws = 400_000
        for _ in 0..<draws { seen[noise.draw(&random)] += 1 }
        for (i, q) in expected.enumerated() {
            let observed = Double(seen[i]) / Double(draws)
            // 5 standard deviations of a binomial proportion.
            #expect(abs(observed - q) < 5 * (q * (1 - q) / Double(draws)).squareRoot(), "word \(i)")
        }
    }

    @Test func huffmanCodesArePrefixFreeWithHandComputedLengths() {
        // Counts 4, 3, 2, 1: merge 1+2 = 3, then 3 (word 1) + 3 = 6, then 4 + 6 = 10.
        let tree = HuffmanTree(counts: [4, 3, 2, 1])
        #expect(tree.codes.map(\.count) == [1, 2, 3, 3])
        #expect(tree.points.allSatisfy { $0.first == 2 })   // the root, inner node V - 2
        let codes = tree.codes.map { $0.map(String.init).joined() }
        for a in codes { for b in codes where a != b { #expect(!b.hasPrefix(a)) } }
        // Expected cost sum(count * length) is minimal: 4*1 + 3*2 + 2*3 + 1*3 = 19.
        #expect(zip([4, 3, 2, 1], tree.codes).map { $0 * $1.count }.reduce(0, +) == 19)
    }

    @Test("bad corpora are errors naming the corpus")
    func badCorpora() throws {
        let folder = TemporaryFolder()
        let empty = try folder.writePath("empty.txt", "")
        #expect(throws: TagganError.file(empty, "the corpus holds no words")) {
            try Vocabulary(counting: TextCorpus(paths: [empty]), minCount: 1)
        }
        let punctuation = try folder.writePath("punct.txt", "... --- !!!\n\n")
        #expect(throws: TagganError.file(punctuation, "the corpus holds no words")) {
            try Vocabulary(counting: TextCorpus(paths: [punctuation]), minCount: 1)
        }
        let rare = try folder.writePath("rare.txt", "a b c a\n")
        #expect(throws: TagganError.file(rare, "no word occurs --min-count 5 times (3 distinct words, the most frequent occurs 2 times)")) {
            try Vocabulary(counting: TextCorpus(paths: [rare]), minCount: 5)
        }
    }
}

@Suite("Vocabulary counting in bounded memory (word2vec's ReduceVocab)")
struct VocabularyPruningTests {
    /// 3,000 sentences, each with the 20 words f0..f19 once, m<k> (k < 30) in every
    /// tenth sentence, and 100 tokens seen nowhere else: 300,000 distinct hapaxes, far
    /// past a limit of 10,000 words.
    static func corpus(_ folder: TemporaryFolder) throws -> TextCorpus {
        var text = ""
        var unique = 0
        for sentence in 0..<3_000 {
            var words = (0..<20).map { "f\($0)" }
            if sentence % 10 == 0 { words += (0..<30).map { "m\($0)" } }
            for _ in 0..<100 { words.append("u\(unique)"); unique += 1 }
            // Spread the frequent words among the hapaxes.
            var random = SeededRandom(seed: UInt64(sentence))
            for i in stride(from: words.count - 1, to: 0, by: -1) { words.swapAt(i, random.index(below: i + 1)) }
            text += words.joined(separator: " ") + "\n"
        }
        return try TextCorpus(paths: [folder.writePath("pruning.txt", text)])
    }

    @Test(arguments: [1, 2, 3])
    func theLimitHoldsAndFrequentWordsCountExactly(threads: Int) throws {
        let folder = TemporaryFolder()
        let corpus = try Self.corpus(folder)
        let limit = 10_000
        let vocabulary = try Vocabulary(counting: corpus, minCount: 1, threads: threads, countingLimit: limit)
        #expect(vocabulary.countingPeak <= limit, "held \(vocabulary.countingPeak) words at once")
        #expect(vocabulary.distinctWords <= limit)
        #expect(vocabulary.pruneThreshold >= 1)
        #expect(vocabulary.corpusTokens == 3_000 * 120 + 300 * 30)   // every token, pruned or not
        for k in 0..<20 { #expect(vocabulary.counts[vocabulary.id(of: "f\(k)")!] == 3_000, "f\(k)") }
        for k in 0..<30 { #expect(vocabulary.counts[vocabulary.id(of: "m\(k)")!] == 300, "m\(k)") }
        // The 50 words that recur are the most frequent; the rest are hapaxes that
        // survived the last pruning.
        #expect(vocabulary.words.prefix(50).allSatisfy { !$0.hasPrefix("u") })
        #expect(vocabulary.counts.dropFirst(50).allSatisfy { $0 == 1 })
        // With a cutoff of 2, what word2vec would keep: exactly the recurring words.
        let cut = try Vocabulary(counting: corpus, minCount: 2, threads: threads, countingLimit: limit)
        #expect(Set(cut.words) == Set((0..<20).map { "f\($0)" } + (0..<30).map { "m\($0)" }))
    }

    @Test func belowTheLimitNothingIsPrunedAndCountsAreExact() throws {
        let folder = TemporaryFolder()
        let corpus = try Self.corpus(folder)
        let vocabulary = try Vocabulary(counting: corpus, minCount: 1, threads: 2)
        #expect(vocabulary.pruneThreshold == 0)
        #expect(vocabulary.distinctWords == 300_050 && vocabulary.count == 300_050)
        #expect(vocabulary.countingPeak >= 300_050)
    }
}
