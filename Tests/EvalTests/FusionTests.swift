import Foundation
import Testing
import TagganCore
@testable import Eval

@Suite("Late fusion of retrieval and generator scores")
struct FusionTests {
    /// The doc comment's example, the ends of the weight range, and equal scores.
    @Test func combineNormalisesEachImageAndWeighs() {
        let a = [RankedTags(tags: [1, 2], scores: [3, 1])], b = [RankedTags(tags: [2, 3], scores: [0.5, 0.25])]
        let half = Fusion.combine(a, b, lambda: 0.5)[0]
        #expect(half.tags == [1, 2, 3] && half.scores == [0.5, 0.5, 0])
        #expect(Fusion.combine(a, b, lambda: 1)[0].tags == [1, 2, 3])          // a alone: 1, then 2 and 3 at 0
        #expect(Fusion.combine(a, b, lambda: 0)[0].tags == [2, 1, 3])          // b alone: 2, then 1 and 3 at 0
        #expect(Fusion.combine(a, b, lambda: 0.3, top: 1)[0].tags == [2])      // 0.3 * 0 + 0.7 * 1 beats 0.3
        // Negative scores and a list of equal scores normalise too.
        let n = Fusion.normalised(RankedTags(tags: [5, 6, 7], scores: [-0.1, -0.2, -0.3]))
        #expect(abs(n[5]! - 1) < 1e-9 && abs(n[6]! - 0.5) < 1e-6 && n[7] == 0)
        #expect(Fusion.normalised(RankedTags(tags: [4, 8], scores: [2, 2])) == [4: 1, 8: 1])
        #expect(Fusion.combine([RankedTags(tags: [], scores: [])], [RankedTags(tags: [], scores: [])], lambda: 0.5)[0].tags.isEmpty)
    }

    /// Retrieval finds tag 0 or 1 (the image's first tag) and generator tag 2 or 3 (its
    /// second): only a mix of both gets both into the top 2, so an inner weight wins;
    /// when the generator is noise, the weight goes to retrieval alone (ties: larger lambda).
    @Test func chooseFindsTheWeightThatUsesBoth() {
        var random = SeededRandom(seed: 8)
        var retrieval: [RankedTags] = [], generator: [RankedTags] = [], noise: [RankedTags] = [], truth: [Set<Int>] = []
        for _ in 0..<50 {
            let first = random.index(below: 2), second = 2 + random.index(below: 2)
            truth.append([first, second])
            retrieval.append(RankedTags(tags: [first, 1 - first, 5, 6, 7, 8], scores: [1, 0.6, 0.5, 0.4, 0.3, 0.2]))
            generator.append(RankedTags(tags: [second, 5 - second, 9, 10, 11, 12], scores: [0.9, 0.7, 0.5, 0.45, 0.4, 0.1]))
            noise.append(RankedTags(tags: [9, 10, 11, 12, 13, 14], scores: [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]))
        }
        let choice = Fusion.choose(retrieval: retrieval, generator: generator, truth: truth)
        #expect(choice.lambda > 0 && choice.lambda < 1)
        #expect(choice.validationPrecisionAt5.count == 11)
        #expect(choice.validationPrecisionAt5[FusionChoice.key(choice.lambda)]! > choice.validationPrecisionAt5["lambda 1"]!)
        #expect(abs(choice.validationPrecisionAt5["lambda 1"]! - 0.2) < 1e-12)   // retrieval alone: 1 of 5
        let useless = Fusion.choose(retrieval: retrieval, generator: noise, truth: truth)
        #expect(useless.lambda == 1)
        let decoded = try? JSONDecoder().decode(FusionChoice.self, from: JSONEncoder().encode(choice))
        #expect(decoded == choice)
        // Choosing the retrieval method too: the noise "retrieval" loses to the real one.
        let both = Fusion.choose(retrievals: [("noise", noise), ("k-NN", retrieval)], generator: generator, truth: truth)
        #expect(both.retrieval == "k-NN" && both.lambda == choice.lambda && both.validationPrecisionAt5.count == 22)
        #expect(both.validationPrecisionAt5["k-NN, lambda 1"] == choice.validationPrecisionAt5["lambda 1"])
    }
}
