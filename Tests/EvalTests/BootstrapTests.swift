import Foundation
import Testing
import TagganCore
@testable import Eval

@Suite("Bootstrap intervals of mAP and the seen / unseen split")
struct BootstrapTests {
    /// Every image lists every tag; `positive(i, t)` says whether image i has tag t, and
    /// scores come from `score(positive, random)`.
    static func collection(images: Int, tags: Int, seed: UInt64, positive: (Int, Int, inout SeededRandom) -> Bool,
                           score: (Int, Bool, inout SeededRandom) -> Float) -> (ranked: [RankedTags], truth: [Set<Int>]) {
        var random = SeededRandom(seed: seed)
        var ranked: [RankedTags] = [], truth: [Set<Int>] = []
        for i in 0..<images {
            var own = Set<Int>(), scores: [Float] = []
            for t in 0..<tags {
                let p = positive(i, t, &random)
                if p { own.insert(t) }
                scores.append(score(t, p, &random))
            }
            ranked.append(RankedTags(tags: Array(0..<tags), scores: scores))
            truth.append(own)
        }
        return (ranked, truth)
    }

    /// Five common tags ranked well and twenty tags with 4 test images each (below mAP's
    /// 5) ranked badly. Resampling images used to let duplicates push the rare tags over
    /// the threshold, dragging the draws far below the point estimate (the interval
    /// ended at the value); with the tag set fixed on the original sample the point
    /// estimate sits inside its interval.
    @Test func mapIntervalIsNotPulledBelowThePointEstimateByRareTags() {
        let data = Self.collection(images: 100, tags: 25, seed: 11, positive: { i, t, _ in
            t < 5 ? (i + t) % 5 == 0 : (i % 25 == t && i < 100)   // common: 20 images each; rare: 4 each
        }, score: { t, positive, random in
            t < 5 ? (positive ? random.uniform(in: 0.3 ..< 1) : random.uniform(in: 0 ..< 0.7))
                : (positive ? random.uniform(in: 0 ..< 0.4) : random.uniform(in: 0 ..< 1))
        })
        #expect(data.truth.reduce(0) { $0 + ($1.contains(7) ? 1 : 0) } == 4)
        let report = TagEvaluation.evaluate(method: "m", ranked: data.ranked, truth: data.truth, resamples: 1000)
        let map = report.metrics["map"]!
        #expect(report.tagsForMAP == 5)
        let width = map.high - map.low
        #expect(width > 0.01)
        #expect(map.value - map.low > 0.2 * width && map.high - map.value > 0.2 * width, "\(map)")
    }

    /// Many test sets drawn from one known model (8 tags; an image has tag t with
    /// probability 0.2 + 0.03 t; positives score N(1, 1), negatives N(0, 1)): the 95%
    /// interval of each set's mAP covers the population's mAP (measured on 20,000 images)
    /// in most of the sets: 53 of 60 here. Percentile intervals from 100 draws of a
    /// statistic with a small upward bias on 150 images (AP) cover a little less than
    /// 95%; the bar is 85%.
    @Test func mapIntervalCoversThePopulationValue() {
        func draw(_ images: Int, seed: UInt64) -> (ranked: [RankedTags], truth: [Set<Int>]) {
            Self.collection(images: images, tags: 8, seed: seed, positive: { _, t, random in
                random.uniform() < 0.2 + 0.03 * Float(t)
            }, score: { _, positive, random in random.gaussian() + (positive ? 1 : 0) })
        }
        let population = draw(20_000, seed: 1)
        let aps = TagMetrics.averagePrecisions(population.ranked, truth: population.truth)
        #expect(aps.count == 8)
        let value = aps.values.reduce(0, +) / Double(aps.count)
        let sets = 60
        var covered = 0, below = 0
        for s in 0..<sets {
            let sample = draw(150, seed: 100 + UInt64(s))
            let map = TagEvaluation.evaluate(method: "m", ranked: sample.ranked, truth: sample.truth, resamples: 500,
                                          seed: UInt64(s)).metrics["map"]!
            if map.low <= value && value <= map.high { covered += 1 }
            if map.value < value { below += 1 }
        }
        // The estimate itself falls on either side of the population value (23 of 60 below).
        #expect(covered >= 51, "covered \(covered) of \(sets)")
        #expect(below > 10 && below < 50, "below \(below) of \(sets)")
    }

    /// A draw that takes every image once, in order, reproduces the original APs exactly;
    /// an image drawn twice counts as two positives; equal scores keep the draw's order.
    @Test func bootstrapAPOfTheOriginalDrawIsTheOriginalAP() {
        let data = Self.collection(images: 40, tags: 6, seed: 4, positive: { i, t, _ in (i * 7 + t) % 3 == 0 },
                                   score: { t, positive, random in
                                       t == 5 ? 1 : random.uniform(in: 0 ..< 1) + (positive ? 0.3 : 0)   // tag 5: all tied
                                   })
        let aps = TagMetrics.averagePrecisions(data.ranked, truth: data.truth)
        let bootstrap = APBootstrap(ranked: data.ranked, truth: data.truth, tags: Set(aps.keys))
        let once = bootstrap.averagePrecisions(draw: Array(0..<40))
        #expect(aps.count == 6 && once.keys.sorted() == aps.keys.sorted())
        for (tag, ap) in aps { #expect(abs(once[tag]! - ap) < 1e-12) }
        // Any draw agrees with ranking the drawn pool directly.
        var random = SeededRandom(seed: 9)
        let draw = (0..<40).map { _ in random.index(below: 40) }
        let pooled = TagMetrics.averagePrecisions(data.ranked, truth: data.truth, images: draw, minimumImages: 1)
        for (tag, ap) in bootstrap.averagePrecisions(draw: draw) { #expect(abs(pooled[tag]! - ap) < 1e-12, "tag \(tag)") }
        // Two images, one tag: image 0 (negative) scores 0.9, image 1 (positive) 0.5.
        // Drawn [1, 0, 1]: ranks 1 negative, 2 and 3 positive -> AP = (1/2 + 2/3) / 2.
        let small = APBootstrap(ranked: [RankedTags(tags: [0], scores: [0.9]), RankedTags(tags: [0], scores: [0.5])],
                                truth: [[], [0]], tags: [0])
        #expect(abs(small.averagePrecisions(draw: [1, 0, 1])[0]! - (0.5 + 2.0 / 3) / 2) < 1e-12)
        #expect(small.averagePrecisions(draw: [0, 0]).isEmpty)   // no positive drawn
        // Tied (here: unlisted) images keep the draw's order: [1, 0] puts the positive first.
        let tied = APBootstrap(ranked: [RankedTags(tags: [], scores: []), RankedTags(tags: [], scores: [])], truth: [[], [0]], tags: [0])
        #expect(tied.averagePrecisions(draw: [1, 0])[0] == 1 && tied.averagePrecisions(draw: [0, 1])[0] == 0.5)
    }

    /// Tags 0 and 1 occur in training, 2 never. Three images: truth {0, 2}, {1}, {2};
    /// rankings put 2 first on image 0, 0 first on image 1, nothing of the truth on image 2.
    @Test func seenAndUnseenOccurrencesAreScoredApart() throws {
        let ranked = [RankedTags(tags: [2, 0], scores: [1, 0.5]), RankedTags(tags: [0, 1], scores: [1, 0.5]),
                      RankedTags(tags: [0], scores: [1])]
        let truth: [Set<Int>] = [[0, 2], [1], [2]]
        let report = TagEvaluation.evaluate(method: "m", ranked: ranked, truth: truth, resamples: 50, seenTags: [0, 1])
        let kinds = try #require(report.byKind)
        let seen = kinds["seen"]!, unseen = kinds["unseen"]!
        #expect(seen.occurrences == 2 && unseen.occurrences == 2 && seen.tags == 2 && unseen.tags == 1)
        // Seen hits in the top 5: image 0 tag 0, image 1 tag 1 -> precision (1 + 1 + 0) / 5 / 3,
        // recall 2 / 2. Unseen: image 0 tag 2 -> precision 1 / 15, recall 1 / 2.
        #expect(abs(seen.metrics["precision@5"]!.value - 2.0 / 15) < 1e-12)
        #expect(abs(unseen.metrics["precision@5"]!.value - 1.0 / 15) < 1e-12)
        #expect(abs(seen.metrics["precision@5"]!.value + unseen.metrics["precision@5"]!.value
                    - report.metrics["precision@5"]!.value) < 1e-12)
        #expect(seen.metrics["recall@10"]!.value == 1 && unseen.metrics["recall@10"]!.value == 0.5)
        let u = unseen.metrics["recall@5"]!
        #expect(u.low <= u.value && u.value <= u.high)
        // No tag of either kind has 5 images: no mAP (absent, "–" in the report), not 0.
        #expect(seen.tagsForMAP == 0 && unseen.tagsForMAP == 0 && seen.metrics["map"] == nil && unseen.metrics["map"] == nil)
        #expect(report.metrics["seen precision@5"] == nil)                   // kept out of the headline metrics
        // Without the seen tags there is no split, and old reports (no field) still decode.
        #expect(TagEvaluation.evaluate(method: "m", ranked: ranked, truth: truth, resamples: 5).byKind == nil)
        let encoded = try JSONEncoder().encode(TagEvaluation.evaluate(method: "m", ranked: ranked, truth: truth, resamples: 5))
        var object = try #require(JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        object.removeValue(forKey: "byKind")
        object.removeValue(forKey: "reliability")
        let old = try JSONDecoder().decode(MethodReport.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(old.byKind == nil && old.reliability == nil)
    }
}
