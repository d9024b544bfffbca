import Foundation
import Testing
import TagganCore
@testable import Eval

@Suite("Calibration: isotonic regression and reliability")
struct CalibrationTests {
    /// The doc comment's example, and pooled ties.
    @Test func poolAdjacentViolatorsByHand() {
        let fit = Calibration.fit(pairs: [(1, false), (2, true), (3, false), (4, true)], top: 10)
        #expect(fit.thresholds == [1, 2, 4] && fit.precisions == [0, 0.5, 1] && fit.counts == [1, 2, 1])
        #expect(fit.calibrated(2.5) == 0.5 && fit.calibrated(0) == 0 && fit.calibrated(9) == 1 && fit.calibrated(2) == 0.5)
        // (1, right), (2, wrong), (2, wrong), (3, right), (3, wrong), (5, right):
        // ties pooled first: 1 | 0 (2 pairs) | 0.5 (2) | 1. 1 > 0 pools the first two into
        // 1/3 (3 pairs); 1/3 <= 0.5 <= 1: done.
        let tied = Calibration.fit(pairs: [(3, true), (2, false), (1, true), (5, true), (2, false), (3, false)], top: 10)
        #expect(tied.thresholds == [1, 3, 5] && tied.counts == [3, 2, 1])
        #expect(abs(tied.precisions[0] - 1.0 / 3) < 1e-12 && tied.precisions[1] == 0.5 && tied.precisions[2] == 1)
        // Ties never straddle blocks: both pairs at 3 get 0.5.
        #expect(tied.calibrated(3) == 0.5 && tied.calibrated(4.9) == 0.5)
        #expect(Calibration.fit(pairs: [], top: 10).calibrated(1) == 0)
        // Values are non-decreasing on any data.
        var random = SeededRandom(seed: 2)
        let noisy = Calibration.fit(pairs: (0..<500).map { _ in (random.uniform(), random.uniform() < 0.5) }, top: 10)
        #expect(zip(noisy.precisions, noisy.precisions.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(noisy.counts.reduce(0, +) == 500)
    }

    /// Rankings whose tags are right with probability score^4 (an overconfident method):
    /// tag ids are distinct per image, scores uniform.
    static func overconfident(images: Int, seed: UInt64) -> (ranked: [RankedTags], truth: [Set<Int>]) {
        var random = SeededRandom(seed: seed)
        var ranked: [RankedTags] = [], truth: [Set<Int>] = []
        for _ in 0..<images {
            let scores = (0..<10).map { _ in random.uniform() }.sorted(by: >)
            var own = Set<Int>()
            for (tag, score) in scores.enumerated() where random.uniform() < score * score * score * score { own.insert(tag) }
            own.insert(100)   // a true tag no ranking names
            ranked.append(RankedTags(tags: Array(0..<10), scores: scores))
            truth.append(own)
        }
        return (ranked, truth)
    }

    /// Where P(correct | score) is known (score^4), the fitted map is close to it.
    @Test func calibratedScoresApproachTheKnownPrecision() {
        let data = Self.overconfident(images: 3000, seed: 7)
        let fit = Calibration.fit(ranked: data.ranked, truth: data.truth, top: 10)
        #expect(fit.top == 10 && fit.counts.reduce(0, +) == 30_000)
        for s in stride(from: Float(0.1), through: 0.95, by: 0.05) {
            #expect(abs(fit.calibrated(s) - Double(s * s * s * s)) < 0.06, "at \(s): \(fit.calibrated(s))")
        }
    }

    /// Fitted on one set, applied to another: raw scores above 0.5 are right only about
    /// 39% of the time (the mean of s^4 over (0.5, 1]), calibrated scores above 0.5 at least about half the time, and the
    /// calibration error falls.
    @Test func tagsAboveOneHalfAreRightAboutHalfTheTimeOnHeldOutImages() {
        let validation = Self.overconfident(images: 2000, seed: 1), test = Self.overconfident(images: 2000, seed: 2)
        let fit = Calibration.fit(ranked: validation.ranked, truth: validation.truth)
        let calibrated = fit.apply(to: test.ranked)
        #expect(calibrated.map(\.tags) == test.ranked.map(\.tags))
        func precision(above threshold: Float, _ ranked: [RankedTags]) -> (Double, Int) {
            var right = 0, total = 0
            for (r, t) in zip(ranked, test.truth) {
                for (tag, score) in zip(r.tags, r.scores) where score > threshold {
                    total += 1
                    if t.contains(tag) { right += 1 }
                }
            }
            return (Double(right) / Double(max(total, 1)), total)
        }
        let raw = precision(above: 0.5, test.ranked), kept = precision(above: 0.5, calibrated)
        #expect(raw.0 < 0.45)
        #expect(kept.0 >= 0.45 && kept.1 > 500, "\(kept)")
        let before = Reliability.measure(ranked: test.ranked, truth: test.truth)
        let after = Reliability.measure(ranked: calibrated, truth: test.truth)
        #expect(before.expectedCalibrationError > 0.15 && after.expectedCalibrationError < 0.05,
                "\(before.expectedCalibrationError) -> \(after.expectedCalibrationError)")
        // Round trip through JSON (annotate keeps it in W/methods.json).
        let decoded = try? JSONDecoder().decode(Calibration.self, from: JSONEncoder().encode(fit))
        #expect(decoded == fit)
    }

    /// The doc comment's example: ECE 0.35.
    @Test func reliabilityBinsAndExpectedCalibrationError() {
        let r = Reliability.measure(pairs: [(0.95, true), (0.95, false), (0.15, false)], top: 10)
        #expect(r.bins.count == 2 && r.pairs == 3)
        #expect(r.bins[0].count == 1 && abs(r.bins[0].lower - 0.1) < 1e-12 && r.bins[0].precision == 0)
        #expect(abs(r.bins[0].meanConfidence - 0.15) < 1e-6)
        #expect(r.bins[1].count == 2 && r.bins[1].upper == 1 && r.bins[1].precision == 0.5)
        #expect(abs(r.expectedCalibrationError - 0.35) < 1e-6)
        // Scores outside [0, 1] are clamped into the end bins; 1 falls in the last bin.
        let clamped = Reliability.measure(pairs: [(1, true), (7, true), (-2, false)], top: 10, bins: 4)
        #expect(clamped.bins.map(\.count) == [1, 2] && clamped.expectedCalibrationError == 0)
    }
}
