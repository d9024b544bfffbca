import Foundation
import TestSupport
import Testing
@testable import SkipGram
import TagganCore

@Suite("Analogies, similarity, nearest words")
struct EvaluationTests {
    @Test func spearmanAveragesTiedRanks() {
        #expect(VectorEvaluation.ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4])
        #expect(VectorEvaluation.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1)
        #expect(VectorEvaluation.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1)
        // x ranks 1,2,3,4; y ranks 1, 2.5, 2.5, 4: rho = 4.5 / sqrt(5 * 4.5) = 0.9486833.
        #expect(abs(VectorEvaluation.spearman([1, 2, 3, 4], [5, 7, 7, 9]) - 0.9486832980505138) < 1e-12)
    }

    /// Vectors on which 3CosAdd has a known answer: king - man + woman = queen.
    static let toy = WordVectors(
        words: ["man", "woman", "king", "queen", "apple", "prince"], dimension: 3,
        values: [1, 0, 0,   0, 1, 0,   1, 0, 1,   0, 1, 1,   -1, -1, 0,   1, 0.1, 0.9])

    @Test func analogiesCountCorrectAnsweredAndSkipped() throws {
        let folder = TemporaryFolder()
        let path = try folder.writePath("q.txt", """
        : royals
        Man Woman King Queen
        woman man queen king
        man woman king prince
        man woman king pear
        : other
        man king woman queen
        """)
        let result = try VectorEvaluation.analogies(Self.toy, questionsFile: path)
        #expect(result.sections.map(\.name) == ["royals", "other"])
        #expect(result.sections[0].correct == 2 && result.sections[0].answered == 3 && result.sections[0].skipped == 1)
        #expect(result.sections[1].correct == 1 && result.sections[1].answered == 1)
        #expect(result.correct == 3 && result.answered == 4 && result.skipped == 1 && result.accuracy == 0.75)
        // Restricted to the 3 most frequent rows, every question has a word outside.
        let restricted = try VectorEvaluation.analogies(Self.toy, questionsFile: path, restrictTo: 3)
        #expect(restricted.answered == 0 && restricted.skipped == 5)
    }

    @Test func similarityCoversPairsInTheVocabulary() throws {
        let folder = TemporaryFolder()
        let path = try folder.writePath("pairs.tsv", "# comment\nking\tqueen\t8\nking\tprince\t9\nman\tapple\t1\nking\tpear\t5\n")
        let result = try VectorEvaluation.similarity(Self.toy, pairsFile: path)
        #expect(result.covered == 3 && result.total == 4)
        #expect(abs(result.rho - 1) < 1e-12)
        let bad = try folder.writePath("bad.tsv", "king queen\n")
        #expect(throws: TagganError.file(bad, "line 1: expected 'word1<TAB>word2<TAB>score'")) {
            try VectorEvaluation.similarity(Self.toy, pairsFile: bad)
        }
    }

    @Test func nearestExcludesTheWordAndRanksByCosine() throws {
        let result = try #require(Self.toy.nearest(to: "king", k: 2))
        #expect(result.map(\.word) == ["prince", "man"])
        #expect(abs(result[0].similarity - 0.99585) < 1e-4)
        #expect(Self.toy.nearest(to: "pear", k: 2) == nil)
    }
}
