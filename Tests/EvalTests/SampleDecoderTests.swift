import Foundation
import Testing
import TagganCore
@testable import Eval

@Suite("Decoders over generated samples: vote, density, CSLS")
struct SampleDecoderTests {
    static func unit(_ v: [Float]) -> [Float] {
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return v.map { $0 / n }
    }

    /// The vote decoder lists TagVoter's tags first, in its order, then every other
    /// candidate; scores fall along the ranking and floor(score * S) is the vote count.
    @Test func voteDecoderReproducesTheVoterAndRanksEveryCandidate() throws {
        _ = try BLAS.backend()
        var random = SeededRandom(seed: 21)
        let words = Tensor.gaussian(shape: [40, 12], using: &random)
        let samples = Tensor.gaussian(shape: [5 * 30, 12], using: &random)
        let index = CosineIndex(words)
        for p in [1, 3, 20] {
            let voter = TagVoter(candidateVectors: words, perSample: p).vote(samples: samples, samplesPerImage: 30, top: 40)
            let decoded = SampleDecoder.vote(perSample: p).rank(samples: samples, samplesPerImage: 30, candidates: index, top: 40)
            for (v, d) in zip(voter, decoded) {
                #expect(Array(d.tags.prefix(v.tags.count)) == v.tags)
                #expect(d.tags.sorted() == Array(0..<40))
                #expect(zip(d.scores, d.scores.dropFirst()).allSatisfy { $0 >= $1 })
                for (n, score) in v.scores.enumerated() { #expect(Int((d.scores[n] * 30).rounded(.down)) == Int((score * 30).rounded())) }
            }
        }
        // Blocks of one image or many, and labels mapping rows to tag ids, agree.
        let labels = (0..<40).map { 1000 + $0 }
        let one = SampleDecoder.vote(perSample: 2).rank(samples: samples, samplesPerImage: 30, candidates: index, top: 10, blockImages: 1)
        let many = SampleDecoder.vote(perSample: 2).rank(samples: samples, samplesPerImage: 30, candidates: index, top: 10, labels: labels)
        #expect(one.map { $0.tags.map { $0 + 1000 } } == many.map(\.tags) && one.map(\.scores) == many.map(\.scores))
    }

    /// Words no sample voted for are ordered by their summed cosine: with one word per
    /// sample and both samples at word 0, word 1 (cosine 0.8) comes before word 2 (0).
    @Test func wordsWithoutVotesAreOrderedBySimilarity() throws {
        _ = try BLAS.backend()
        let words = Tensor(shape: [3, 2], values: [1, 0, 0.8, 0.6, 0, 1])
        let samples = Tensor(shape: [2, 2], values: [1, 0, 1, 0])
        let ranked = SampleDecoder.vote(perSample: 1).rank(samples: samples, samplesPerImage: 2, candidates: CosineIndex(words), top: 3)[0]
        #expect(ranked.tags == [0, 1, 2])
        // Word 0: 2 votes of cosine 1 -> (2 + 0.999) / 2; word 1: mean cosine 0.8 ->
        // 0.999 * 0.9 / 2; word 2: mean cosine 0 -> 0.999 * 0.5 / 2.
        #expect(abs(ranked.scores[0] - 2.999 / 2) < 1e-5 && abs(ranked.scores[1] - 0.8991 / 2) < 1e-5
                && abs(ranked.scores[2] - 0.4995 / 2) < 1e-5)
    }

    /// The doc comment's example, and a word at which samples crowd beating one that only
    /// the nearest sample reaches.
    @Test func densityScoresByHand() throws {
        _ = try BLAS.backend()
        let words = Tensor(shape: [2, 2], values: [1, 0, 0, 1])
        let samples = Tensor(shape: [2, 2], values: [1, 0, 0, 1])
        let ranked = SampleDecoder.density(kappa: 2).rank(samples: samples, samplesPerImage: 2, candidates: CosineIndex(words), top: 2)[0]
        let expected = Float((1 + Foundation.exp(-2.0)) / 2)   // 0.568
        #expect(ranked.tags == [0, 1] && abs(ranked.scores[0] - expected) < 1e-6 && abs(ranked.scores[1] - expected) < 1e-6)
        // Three samples at 30 degrees from word 1 against one exactly at word 0.
        let c = Float(0.5), s = Float(0.75).squareRoot()
        let crowd = Tensor(shape: [4, 2], values: [1, 0, c, s, c, s, c, s])
        let order = SampleDecoder.density(kappa: 2).rank(samples: crowd, samplesPerImage: 4, candidates: CosineIndex(words), top: 2)[0]
        #expect(order.tags == [1, 0])
        #expect(SampleDecoder.density(kappa: 100).rank(samples: crowd, samplesPerImage: 4, candidates: CosineIndex(words), top: 2)[0].tags == [0, 1])
    }

    /// Four images whose samples each lie near their own word e_i and nearer still to six
    /// hub words near the centre of all of them: without the correction the hubs fill
    /// every top 5; with it (beta 1, all reference images) each image's own word leads.
    static func hubs(seed: UInt64) -> (words: Tensor, samples: Tensor, truth: [Set<Int>]) {
        let d = 10
        func e(_ i: Int) -> [Float] { (0..<d).map { $0 == i ? 1 : 0 } }
        let centre = (0..<d).map { $0 < 4 ? Float(0.5) : 0 }
        var words: [Float] = []
        for i in 0..<4 { words += e(i) }
        for j in 0..<6 { words += unit(zip(centre, e(4 + j)).map { $0 + 0.3 * $1 }) }
        var random = SeededRandom(seed: seed)
        var samples: [Float] = []
        for i in 0..<4 {
            for _ in 0..<5 { samples += zip(centre, e(i)).map { $0 + 0.5 * $1 + 0.01 * random.gaussian() } }
        }
        return (Tensor(shape: [10, d], values: words), Tensor(shape: [20, d], values: samples), [[0], [1], [2], [3]])
    }

    @Test func hubnessCorrectionDiscountsWordsNearEveryImage() throws {
        _ = try BLAS.backend()
        let data = Self.hubs(seed: 3)
        let index = CosineIndex(data.words)
        let plain = SampleDecoder.density(kappa: 10).rank(samples: data.samples, samplesPerImage: 5, candidates: index, top: 10)
        #expect(plain.allSatisfy { Set($0.tags.prefix(5)).isSubset(of: Set(4..<10)) })
        let hubness = HubnessCorrection.fit(samples: data.samples, samplesPerImage: 5, candidates: index, kappa: 10, beta: 1, neighbours: 0)
        #expect(hubness.penalty.count == 10 && hubness.penalty[4] > 5 * hubness.penalty[0])
        let decoder = SampleDecoder.densityCSLS(kappa: 10, hubness: hubness)
        #expect(decoder.candidateCount == 10)
        let corrected = decoder.rank(samples: data.samples, samplesPerImage: 5, candidates: index, top: 10)
        #expect(corrected.map { $0.tags[0] } == [0, 1, 2, 3])
        // K = 1 nearest reference image: a word's penalty is its best image's score.
        let nearest = HubnessCorrection.fit(samples: data.samples, samplesPerImage: 5, candidates: index, kappa: 10, beta: 1, neighbours: 1)
        let own = SampleDecoder.density(kappa: 10).rank(samples: data.samples, samplesPerImage: 5, candidates: index, top: 10)
        let best0 = own.map { r in r.scores[r.tags.firstIndex(of: 0)!] }.max()!
        #expect(abs(nearest.penalty[0] - best0) < 1e-6)
    }

    /// Every decoder's oracle: the image's own tag vectors as samples put its tags first.
    @Test func ceilingsRankTheImagesOwnTagsFirst() throws {
        _ = try BLAS.backend()
        let words = Tensor(shape: [4, 3], values: [1, 0, 0, 0.9, 0.1, 0, 0, 0, 1, -1, 0, 0])
        let index = CosineIndex(words)
        let hub = HubnessCorrection(beta: 0.5, neighbours: 0, penalty: [0, 0, 0, 0])
        for decoder in [SampleDecoder.vote(perSample: 1), .density(kappa: 20), .densityCSLS(kappa: 20, hubness: hub)] {
            let ceiling = decoder.ceiling(tagRows: [[0, 2], [], [3]], candidates: index, samples: 10, top: 4, labels: [10, 11, 12, 13])
            #expect(Set(ceiling[0].tags.prefix(2)) == [10, 12], "\(decoder)")
            #expect(ceiling[1].tags.isEmpty && ceiling[2].tags.first == 13, "\(decoder)")
        }
        // The vote's ceiling is TagVoter's.
        let voter = TagVoter(candidateVectors: words).ceiling(tagRows: [[0, 2], [3]], samples: 10, perSample: 2)
        let vote = SampleDecoder.vote(perSample: 2).ceiling(tagRows: [[0, 2], [3]], candidates: index, samples: 10)
        #expect(zip(voter, vote).allSatisfy { Array($1.tags.prefix($0.tags.count)) == $0.tags })
    }

    /// On the hub collection only the corrected densities get the images' tags into the
    /// top 5, so one of them is chosen; the vote kept for old readers is the first vote setting
    /// (all votes tie at 0); every setting is scored; samples are drawn once per noise scale.
    @Test func choiceOnValidationPicksTheCorrectedDensityAndKeepsOldFilesReadable() throws {
        _ = try BLAS.backend()
        let data = Self.hubs(seed: 5)
        let index = CosineIndex(data.words)
        var draws: [Double] = []
        let grid = DecoderGrid(noiseScales: [1, 0.5], perSample: [1, 5], kappas: [2, 10], hubness: [(0.5, 10), (1, 0)])
        let labels = (0..<10).map { $0 * 2 }
        let choice = SampleDecoder.chooseOnValidation(truth: data.truth.map { Set($0.map { $0 * 2 }) }, samplesPerImage: 5,
                                                      candidates: index, labels: labels, grid: grid) { noise in
            draws.append(noise)
            return data.samples
        }
        #expect(draws == [1, 0.5])
        #expect(choice.validationPrecisionAt5.count == 2 * (2 + 2 + 4))
        #expect(choice.setting == VotingSetting(noiseScale: 1, perSample: 1))
        let best = try #require(choice.decoder)
        guard case .densityCSLS(let kappa, let hubness) = best.decoder else {
            Issue.record("chose \(best)")
            return
        }
        // Both corrections reach P@5 0.2 at kappa 2; the grid's first one wins the tie.
        #expect(best.noiseScale == 1 && kappa == 2 && hubness.beta == 0.5 && hubness.neighbours == 10)
        #expect(choice.validationPrecisionAt5[best.description] == 0.2)
        #expect(choice.validationPrecisionAt5["noise 1, 5 words/sample"] == 0)
        #expect(choice.validationPrecisionAt5["noise 0.5, density kappa 10"] == 0)
        #expect(best.description == "noise 1, density kappa 2 CSLS (beta 0.5, 10 nearest images)")
        #expect(choice.bestDecoder == best)
        #expect(choice.decoderNote == "vote: noise 0.5, 1 word/sample 0.000; density: noise 0.5, density kappa 10 0.000; "
                + "density CSLS: \(best.description) 0.200")

        // Written and read back; a voting.json from before decoders reads as a vote.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-decoder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try choice.write(to: folder)
        #expect(try VotingChoice.read(from: folder) == choice)
        let old = #"{"setting":{"noiseScale":0.5,"perSample":3},"validationPrecisionAt5":{"noise 0.5, 3 words/sample":0.25}}"#
        try Data(old.utf8).write(to: folder.appendingPathComponent(VotingChoice.fileName))
        let read = try #require(try VotingChoice.read(from: folder))
        #expect(read.decoder == nil && read.bestDecoder == DecoderSetting(noiseScale: 0.5, decoder: .vote(perSample: 3)))
        #expect(read.bestDecoder.votingSetting == VotingSetting(noiseScale: 0.5, perSample: 3))
    }
}
