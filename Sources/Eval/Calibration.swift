import Foundation
import TagganCore

/// Maps a method's score to the precision its tags had at that score on validation
/// images: isotonic regression (Zadrozny & Elkan, "Transforming classifier scores into
/// accurate multiclass probability estimates", KDD 2002) of is-correct on score, fitted
/// by pool-adjacent-violators (Ayer et al. 1955).
///
/// Data: every (image, tag) in the top `top` (10, what annotate writes) of each
/// validation image's ranking, as (score, y) with y = 1 when the tag is one of the
/// image's true tags. Sorted by score, equal scores are pooled into one block first;
/// then, left to right, a block whose mean y is above its right neighbour's is merged
/// with it (weights = pair counts) until the block means are non-decreasing. The fit is
/// piecewise constant: a score maps to the mean y of the last block whose lowest score is
/// at or below it (scores below every block map to the first block's mean), so the
/// calibrated value is monotone non-decreasing in the score and never extrapolates.
///
/// Worked example: (score, y) = (1, 0), (2, 1), (3, 0), (4, 1): blocks 0, 1, 0, 1; 1 > 0
/// at scores 2 and 3 pools them into 0.5: the fit is 0 from 1, 0.5 from 2, 1 from 4;
/// calibrated(2.5) = 0.5, calibrated(0) = 0, calibrated(9) = 1.
public struct Calibration: Codable, Sendable, Equatable {
    /// Each block's lowest score, increasing.
    public let thresholds: [Float]
    /// Each block's share of correct tags, non-decreasing.
    public let precisions: [Double]
    /// Pairs in each block.
    public let counts: [Int]
    /// Ranks per image the fit used.
    public let top: Int

    public init(thresholds: [Float], precisions: [Double], counts: [Int], top: Int) {
        precondition(thresholds.count == precisions.count && precisions.count == counts.count, "one precision and count per threshold")
        self.thresholds = thresholds
        self.precisions = precisions
        self.counts = counts
        self.top = top
    }

    /// The (score, is-correct) pairs of the top `top` tags of every image.
    public static func pairs(ranked: [RankedTags], truth: [Set<Int>], top: Int) -> [(score: Float, correct: Bool)] {
        precondition(ranked.count == truth.count, "\(ranked.count) rankings for \(truth.count) images")
        var result: [(score: Float, correct: Bool)] = []
        for (r, t) in zip(ranked, truth) {
            for (tag, score) in zip(r.tags.prefix(top), r.scores.prefix(top)) where !score.isNaN {
                result.append((score, t.contains(tag)))
            }
        }
        return result
    }

    /// Fits on validation rankings (see the type's comment).
    public static func fit(ranked: [RankedTags], truth: [Set<Int>], top: Int = 10) -> Calibration {
        fit(pairs: pairs(ranked: ranked, truth: truth, top: top), top: top)
    }

    /// Pool-adjacent-violators over (score, is-correct) pairs.
    public static func fit(pairs: [(score: Float, correct: Bool)], top: Int) -> Calibration {
        // Equal scores first form one block each, so they always get one value.
        var tied: [(low: Float, correct: Double, count: Int)] = []
        for pair in pairs.sorted(by: { $0.score < $1.score }) {
            let y = pair.correct ? 1.0 : 0.0
            if let last = tied.last, last.low == pair.score {
                tied[tied.count - 1] = (last.low, last.correct + y, last.count + 1)
            } else {
                tied.append((pair.score, y, 1))
            }
        }
        var blocks: [(low: Float, correct: Double, count: Int)] = []
        for block in tied {
            blocks.append(block)
            // Merge while the previous block's mean exceeds the last's (cross-multiplied).
            while blocks.count >= 2 {
                let b = blocks[blocks.count - 1], a = blocks[blocks.count - 2]
                guard a.correct * Double(b.count) > b.correct * Double(a.count) else { break }
                blocks.removeLast(2)
                blocks.append((a.low, a.correct + b.correct, a.count + b.count))
            }
        }
        return Calibration(thresholds: blocks.map(\.low), precisions: blocks.map { $0.correct / Double($0.count) },
                           counts: blocks.map(\.count), top: top)
    }

    /// The validation precision at `score` (0 for a fit on no data).
    public func calibrated(_ score: Float) -> Double {
        guard !precisions.isEmpty else { return 0 }
        guard !score.isNaN else { return precisions[0] }
        // The last threshold <= score, by binary search.
        var low = 0, high = thresholds.count
        while low < high {
            let mid = (low + high) / 2
            if thresholds[mid] <= score { low = mid + 1 } else { high = mid }
        }
        return precisions[max(low - 1, 0)]
    }

    /// The same rankings with calibrated scores. The order is kept: calibration is
    /// monotone, so it only makes some neighbours tie.
    public func apply(to ranked: [RankedTags]) -> [RankedTags] {
        ranked.map { RankedTags(tags: $0.tags, scores: $0.scores.map { Float(calibrated($0)) }) }
    }
}

/// A reliability diagram's data: (image, tag) pairs of the top `top` of each ranking,
/// binned by predicted confidence (the score, clamped to [0, 1]) into `bins` equal-width
/// bins; per bin the pair count, the mean confidence and the observed precision (share
/// of correct tags). Expected calibration error (Naeini et al., AAAI 2015):
///
///     ECE = sum_b (n_b / N) |precision_b - confidence_b|
///
/// Bins are [lower, upper), the last one closed. Worked example: pairs (0.95, right),
/// (0.95, wrong), (0.15, wrong), 10 bins: bins [0.1, 0.2) and [0.9, 1];
/// ECE = (1/3) |0 - 0.15| + (2/3) |0.5 - 0.95| = 0.35.
public struct Reliability: Codable, Sendable, Equatable {
    public struct Bin: Codable, Sendable, Equatable {
        public let lower: Double
        public let upper: Double
        public let count: Int
        public let meanConfidence: Double
        public let precision: Double
    }

    /// The non-empty bins, in increasing confidence.
    public let bins: [Bin]
    public let expectedCalibrationError: Double
    public let pairs: Int
    public let top: Int

    public static func measure(ranked: [RankedTags], truth: [Set<Int>], top: Int = 10, bins: Int = 10) -> Reliability {
        measure(pairs: Calibration.pairs(ranked: ranked, truth: truth, top: top), top: top, bins: bins)
    }

    public static func measure(pairs: [(score: Float, correct: Bool)], top: Int, bins binCount: Int = 10) -> Reliability {
        precondition(binCount > 0, "at least one bin")
        var count = [Int](repeating: 0, count: binCount), confidence = [Double](repeating: 0, count: binCount)
        var correct = [Int](repeating: 0, count: binCount)
        for pair in pairs {
            let p = min(max(Double(pair.score), 0), 1)
            let b = min(Int(p * Double(binCount)), binCount - 1)
            count[b] += 1
            confidence[b] += p
            if pair.correct { correct[b] += 1 }
        }
        var result: [Bin] = [], ece = 0.0
        for b in 0..<binCount where count[b] > 0 {
            let n = Double(count[b])
            let bin = Bin(lower: Double(b) / Double(binCount), upper: Double(b + 1) / Double(binCount), count: count[b],
                          meanConfidence: confidence[b] / n, precision: Double(correct[b]) / n)
            ece += n / Double(pairs.count) * abs(bin.precision - bin.meanConfidence)
            result.append(bin)
        }
        return Reliability(bins: result, expectedCalibrationError: ece, pairs: pairs.count, top: top)
    }
}
