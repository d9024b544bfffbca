import Foundation
import Testing
import TagganCore
@testable import Eval

@Suite("Tag metrics, baselines and the voting protocol")
struct MetricsTests {
    @Test func precisionRecallF1WorkedExample() {
        // truth {a=0, b=1}, ranking [a, c, b]: P@1 1, P@2 .5, R@2 .5, P@3 2/3, R@3 1.
        let ranked = RankedTags(tags: [0, 2, 1], scores: [0.9, 0.8, 0.7])
        let m = TagMetrics.perImage(ranked, truth: [0, 1], ks: [1, 2, 3, 5])
        #expect(m.precision[1] == 1 && m.precision[2] == 0.5 && m.recall[2] == 0.5)
        #expect(abs(m.precision[3]! - 2.0 / 3) < 1e-12 && m.recall[3] == 1)
        #expect(abs(m.f1[3]! - 0.8) < 1e-12)            // 2 (2/3)(1) / (2/3 + 1)
        #expect(m.precision[5] == 0.4)                   // fewer than k predictions still divide by k
        let none = TagMetrics.perImage(RankedTags(tags: [5], scores: [1]), truth: [0], ks: [1])
        #expect(none.f1[1] == 0)
    }

    @Test func averagePrecisionByHand() {
        // Tag 0 over 6 images; truth has it in images 0, 2, 5. Scores for tag 0:
        // image 2: .9, image 1: .8, image 0: .3; images 3-5 do not list it (rank last,
        // in image order: 3, 4, 5). Ranking: 2, 1, 0, 3, 4, 5 -> hits at ranks 1, 3, 6:
        // AP = (1/1 + 2/3 + 3/6) / 3 = 0.72222.
        let ranked = [
            RankedTags(tags: [0], scores: [0.3]), RankedTags(tags: [0], scores: [0.8]),
            RankedTags(tags: [0, 1], scores: [0.9, 0.1]), RankedTags(tags: [], scores: []),
            RankedTags(tags: [1], scores: [0.5]), RankedTags(tags: [], scores: []),
        ]
        let truth: [Set<Int>] = [[0], [], [0], [], [], [0]]
        let aps = TagMetrics.averagePrecisions(ranked, truth: truth, minimumImages: 3)
        #expect(abs(aps[0]! - (1 + 2.0 / 3 + 0.5) / 3) < 1e-12)
        #expect(aps[1] == nil)   // no true images
        #expect(TagMetrics.averagePrecisions(ranked, truth: truth).isEmpty)   // fewer than 5
        #expect(TagMetrics.nPlus(ranked, truth: truth) == 1)
    }

    @Test func topKSelectsTheLargestWithStableTies() {
        let values: [Float] = [0.1, 0.9, 0.5, 0.9, .nan, -1, 0.7]
        let top = values.withUnsafeBufferPointer { TopK.select($0, k: 3) }
        #expect(top.map(\.index) == [1, 3, 6])
        let skipped = values.withUnsafeBufferPointer { TopK.select($0, k: 2) { $0 == 1 } }
        #expect(skipped.map(\.index) == [3, 6])
        #expect(values.withUnsafeBufferPointer { TopK.select($0, k: 50) }.count == 6)
    }

    @Test func cosineIndexAgreesWithBruteForce() throws {
        _ = try BLAS.backend()
        var random = SeededRandom(seed: 9)
        let base = Tensor.gaussian(shape: [300, 16], using: &random)
        let queries = Tensor.gaussian(shape: [37, 16], using: &random)
        let index = CosineIndex(base)
        let found = index.nearest(queries, k: 5, blockRows: 8)
        for q in 0..<queries.rows {
            let qv = queries.row(q)
            let sims = (0..<base.rows).map { b -> (Int, Double) in
                let bv = base.row(b)
                let dot = zip(qv, bv).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let nq = qv.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot()
                let nb = bv.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot()
                return (b, dot / (nq * nb))
            }.sorted { $0.1 > $1.1 }
            #expect(found[q].map(\.index) == sims.prefix(5).map(\.0))
            #expect(abs(Double(found[q][0].similarity) - sims[0].1) < 1e-5)
        }
        // Excluding the query itself when base and queries are one set.
        let selfSearch = index.nearest(base, k: 1) { $0 == $1 }
        #expect(selfSearch.enumerated().allSatisfy { $0.element[0].index != $0.offset })
    }

    @Test func baselinesOnAToyCollection() throws {
        _ = try BLAS.backend()
        // Two clusters: images near (1, 0) carry tag 0 ("cat"), near (0, 1) tag 1 ("sea");
        // tag 2 is on every image.
        let train = Tensor(shape: [6, 2], values: [1, 0.1, 0.9, 0, 1, -0.1, 0.1, 1, 0, 0.9, -0.1, 1])
        let trainTags: [Set<Int>] = [[0, 2], [0, 2], [0, 2], [1, 2], [1, 2], [1]]
        let prior = Baselines.frequencyPrior(trainTags: trainTags, top: 2)
        #expect(prior.tags == [2, 0] && abs(prior.scores[0] - 5.0 / 6) < 1e-6)
        let queries = Tensor(shape: [2, 2], values: [1, 0.05, 0.05, 1])
        let index = CosineIndex(train)
        let knn = Baselines.knnTransfer(index: index, trainTags: trainTags, queries: queries, k: 3, top: 2)
        #expect(knn[0].tags == [0, 2] && knn[1].tags.first == 1)
    }

    @Test func votingProtocolCountsSamplesNearestWords() throws {
        _ = try BLAS.backend()
        // Candidate words along the axes; 100 samples, 70 near word 0, 30 near word 2.
        let words = Tensor(shape: [4, 3], values: [1, 0, 0, 0, 1, 0, 0, 0, 1, -1, 0, 0])
        var values: [Float] = []
        for s in 0..<100 { values += s < 70 ? [1, 0.1, 0.2] : [0.1, 0.2, 1] }
        let voter = TagVoter(candidateVectors: words, perSample: 1)
        let ranked = voter.vote(samples: Tensor(shape: [100, 3], values: values), top: 10)
        #expect(ranked.tags == [0, 2])
        #expect(ranked.scores == [0.7, 0.3])
        // With 2 words per sample every sample also votes for its second nearest.
        let two = TagVoter(candidateVectors: words, perSample: 2).vote(samples: Tensor(shape: [100, 3], values: values))
        #expect(two.tags.prefix(2).sorted() == [0, 2] && two.scores[0] == 1)
    }

    /// The ceiling votes with an image's own tag vectors: at one word per sample its
    /// tags are exactly the image's tags, each with an equal share of the votes.
    @Test func votingCeilingAndTheRecordedChoiceOfWordsPerSample() throws {
        _ = try BLAS.backend()
        let words = Tensor(shape: [4, 3], values: [1, 0, 0, 0.9, 0.1, 0, 0, 0, 1, -1, 0, 0])
        let voter = TagVoter(candidateVectors: words)
        let ceiling = voter.ceiling(tagRows: [[0, 2], [], [3]], samples: 10, perSample: 1)
        #expect(ceiling[0].tags.sorted() == [0, 2] && ceiling[0].scores == [0.5, 0.5])
        #expect(ceiling[1].tags.isEmpty && ceiling[2].tags == [3])
        // At two words per sample, word 1 (next to word 0) takes votes too.
        #expect(voter.ceiling(tagRows: [[0, 2]], samples: 10, perSample: 2)[0].tags.contains(1))

        // A recorded choice reads back as written; a damaged file is an error.
        let choice = VotingChoice(setting: VotingSetting(noiseScale: 0.5, perSample: 2),
                                  validationPrecisionAt5: ["noise 1, 20 words/sample": 0, "noise 0.5, 2 words/sample": 0.2])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-voting-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try VotingChoice.read(from: folder) == nil)
        try choice.write(to: folder)
        #expect(try VotingChoice.read(from: folder) == choice)
        try Data("{".utf8).write(to: folder.appendingPathComponent(VotingChoice.fileName))
        #expect(throws: TagganError.self) { try VotingChoice.read(from: folder) }
    }

    @Test func bootstrapIntervalsBracketTheValue() {
        var random = SeededRandom(seed: 3)
        let truth: [Set<Int>] = (0..<200).map { _ in [random.index(below: 10)] }
        let ranked = truth.enumerated().map { i, t in
            RankedTags(tags: i % 2 == 0 ? [t.first!] + [99] : [98, 97], scores: [1, 0.5])
        }
        let report = TagEvaluation.evaluate(method: "half right", ranked: ranked, truth: truth, resamples: 300)
        let p5 = report.metrics["precision@5"]!
        #expect(abs(p5.value - 0.1) < 1e-12)                  // half the images have 1 hit in 5
        #expect(p5.low < p5.value && p5.value < p5.high && p5.high - p5.low < 0.05)
        #expect(abs(report.metrics["recall@5"]!.value - 0.5) < 1e-12)
        #expect(report.precisionAtK.count == 10 && abs(report.precisionAtK[0] - 0.5) < 1e-12)
        #expect(report.nPlus == 10)
        let map = report.metrics["map"]!
        #expect(map.low <= map.value && map.value <= map.high)
    }
}
