import Foundation
import TagganCore

/// A metric's value on the test images with a bootstrap 95% interval.
public struct Estimate: Sendable, Equatable, Codable {
    public let value: Double
    public let low: Double
    public let high: Double
}

/// One method's results on a split.
public struct MethodReport: Sendable, Codable {
    public let method: String
    public let note: String
    public let images: Int
    /// "precision@5", "recall@10", "f1@5", "map", ... -> estimate.
    public let metrics: [String: Estimate]
    /// Mean precision and recall at k = 1...10, for the curve.
    public let precisionAtK: [Double]
    public let recallAtK: [Double]
    /// Tags with at least one recall in some image's top 5.
    public let nPlus: Int
    /// Tags with >= 5 test images, over which mAP averages.
    public let tagsForMAP: Int
}

/// Computes every metric for a method, with bootstrap intervals over test images:
/// `resamples` times, draw the test images with replacement, recompute each metric, and
/// take the 2.5th and 97.5th percentiles (mAP uses `resamples / 5` draws: it ranks every
/// image per tag and costs more).
public enum Evaluation {
    public static let ks = [5, 10]

    public static func evaluate(method: String, note: String = "", ranked: [RankedTags], truth: [Set<Int>],
                                resamples: Int = 1000, seed: UInt64 = 1) -> MethodReport {
        precondition(ranked.count == truth.count, "\(ranked.count) rankings for \(truth.count) images")
        let n = ranked.count
        let curves = (1...10).map { k in ranked.indices.map { TagMetrics.perImage(ranked[$0], truth: truth[$0], ks: [k]) } }
        let perImage = ranked.indices.map { TagMetrics.perImage(ranked[$0], truth: truth[$0], ks: ks) }
        var columns: [String: [Double]] = [:]
        for k in ks {
            columns["precision@\(k)"] = perImage.map { $0.precision[k]! }
            columns["recall@\(k)"] = perImage.map { $0.recall[k]! }
            columns["f1@\(k)"] = perImage.map { $0.f1[k]! }
        }
        var random = SeededRandom(seed: seed)
        var metrics: [String: Estimate] = [:]
        for (name, values) in columns {
            let mean = values.reduce(0, +) / Double(max(n, 1))
            var draws: [Double] = []
            for _ in 0..<resamples {
                var total = 0.0
                for _ in 0..<n { total += values[random.index(below: n)] }
                draws.append(total / Double(max(n, 1)))
            }
            metrics[name] = interval(mean, draws)
        }
        let aps = TagMetrics.averagePrecisions(ranked, truth: truth)
        let map = aps.isEmpty ? 0 : aps.values.reduce(0, +) / Double(aps.count)
        var mapDraws: [Double] = []
        for _ in 0..<max(resamples / 5, 1) where n > 0 {
            let sample = (0..<n).map { _ in random.index(below: n) }
            let drawn = TagMetrics.averagePrecisions(ranked, truth: truth, images: sample)
            if !drawn.isEmpty { mapDraws.append(drawn.values.reduce(0, +) / Double(drawn.count)) }
        }
        metrics["map"] = interval(map, mapDraws)
        return MethodReport(
            method: method, note: note, images: n, metrics: metrics,
            precisionAtK: curves.enumerated().map { k, rows in rows.reduce(0) { $0 + $1.precision[k + 1]! } / Double(max(n, 1)) },
            recallAtK: curves.enumerated().map { k, rows in rows.reduce(0) { $0 + $1.recall[k + 1]! } / Double(max(n, 1)) },
            nPlus: TagMetrics.nPlus(ranked, truth: truth), tagsForMAP: aps.count)
    }

    static func interval(_ value: Double, _ draws: [Double]) -> Estimate {
        guard !draws.isEmpty else { return Estimate(value: value, low: value, high: value) }
        let sorted = draws.sorted()
        func quantile(_ q: Double) -> Double { sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count - 1)).rounded())))] }
        return Estimate(value: value, low: quantile(0.025), high: quantile(0.975))
    }
}
