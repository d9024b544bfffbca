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
    /// The method's metrics on the test tags seen in the train split ("seen") and never in
    /// it ("unseen"), when the evaluation was given the seen tags (`KindMetrics`); nil in
    /// reports written before the split existed.
    public var byKind: [String: KindMetrics]? = nil
    /// How well the method's scores, as reported, predict precision on the test images
    /// (for calibrated scores: `Calibration.apply` before `Reliability.measure`); nil
    /// when not measured.
    public var reliability: Reliability? = nil
}

/// A method's metrics on one kind of test tag occurrence: occurrences (image, tag) of
/// the truth whose tag is of the kind (seen in the train split, or never in it).
///
/// - precision@k of the kind = mean over all images of |top-k ∩ truth ∩ kind| / k: only
///   hits of the kind count, so the seen and unseen precisions add up to precision@k.
/// - recall@k of the kind = sum_i |top-k(i) ∩ truth(i) ∩ kind| / sum_i |truth(i) ∩ kind|:
///   the share of the kind's occurrences found in the top k (occurrence-weighted, so a
///   handful of images with one unseen tag each count as much as their tags).
/// - map of the kind = mean AP over the tags of the kind among the tags mAP averages over
///   (>= 5 test images); 0 when there are none.
/// Intervals: the bootstrap draws of `TagEvaluation.evaluate`, shared with the other metrics.
public struct KindMetrics: Sendable, Codable, Equatable {
    /// Truth occurrences of the kind.
    public let occurrences: Int
    /// Distinct tags of the kind in the truth.
    public let tags: Int
    /// Tags of the kind that mAP averages over.
    public let tagsForMAP: Int
    /// "precision@5", "precision@10", "recall@5", "recall@10", "map".
    public let metrics: [String: Estimate]
}

/// Computes every metric for a method, with bootstrap intervals over test images:
/// `resamples` times, draw the test images with replacement, recompute each metric, and
/// take the 2.5th and 97.5th percentiles (mAP uses the first `resamples / 5` draws: it
/// ranks every image per tag and costs more).
///
/// mAP's tag set is fixed on the original sample: the tags with >= 5 test images. Each
/// draw recomputes those tags' APs over the drawn images (an image drawn m times counts m
/// times; a fixed tag with no positive in a draw is left out of that draw's mean), so a
/// duplicate never lets a rarer tag, usually a low-AP one, cross the threshold and pull
/// the draws below the point estimate. A draw ranks its images as the point estimate
/// ranks the test set (`APBootstrap`).
public enum TagEvaluation {
    public static let ks = [5, 10]
    /// The kinds of `MethodReport.byKind`.
    public static let kinds = ["seen", "unseen"]

    /// `seenTags`: the tags that occur in the train split; when given, the report carries
    /// `byKind`.
    public static func evaluate(method: String, note: String = "", ranked: [RankedTags], truth: [Set<Int>],
                                resamples: Int = 1000, seed: UInt64 = 1, seenTags: Set<Int>? = nil) -> MethodReport {
        precondition(ranked.count == truth.count, "\(ranked.count) rankings for \(truth.count) images")
        let n = ranked.count
        let curves = (1...10).map { k in ranked.indices.map { TagMetrics.perImage(ranked[$0], truth: truth[$0], ks: [k]) } }
        let perImage = ranked.indices.map { TagMetrics.perImage(ranked[$0], truth: truth[$0], ks: ks) }
        // Means of per-image columns; ratios of sums (the kinds' recalls) as numerator and
        // denominator columns.
        var columns: [String: [Double]] = [:]
        var ratios: [String: (numerator: [Double], denominator: [Double])] = [:]
        for k in ks {
            columns["precision@\(k)"] = perImage.map { $0.precision[k]! }
            columns["recall@\(k)"] = perImage.map { $0.recall[k]! }
            columns["f1@\(k)"] = perImage.map { $0.f1[k]! }
        }
        if let seenTags {
            for kind in kinds {
                let ofKind = { (tag: Int) in seenTags.contains(tag) == (kind == "seen") }
                let occurrences = truth.map { Double($0.filter(ofKind).count) }
                for k in ks {
                    let hits = ranked.indices.map { i in Double(ranked[i].tags.prefix(k).filter { truth[i].contains($0) && ofKind($0) }.count) }
                    columns["\(kind) precision@\(k)"] = hits.map { $0 / Double(k) }
                    ratios["\(kind) recall@\(k)"] = (hits, occurrences)
                }
            }
        }
        var random = SeededRandom(seed: seed)
        let draws = (0..<(n > 0 ? resamples : 0)).map { _ in (0..<n).map { _ in random.index(below: n) } }
        var metrics: [String: Estimate] = [:]
        for (name, values) in columns {
            let mean = values.reduce(0, +) / Double(max(n, 1))
            metrics[name] = interval(mean, draws.map { sample in sample.reduce(0.0) { $0 + values[$1] } / Double(n) })
        }
        for (name, (numerator, denominator)) in ratios {
            func ratio(_ images: [Int]) -> Double {
                let total = images.reduce(0.0) { $0 + denominator[$1] }
                return total > 0 ? images.reduce(0.0) { $0 + numerator[$1] } / total : 0
            }
            metrics[name] = interval(ratio(Array(0..<n)), draws.map(ratio))
        }
        let aps = TagMetrics.averagePrecisions(ranked, truth: truth)
        let mean = TagMetrics.meanInTagOrder
        let bootstrap = APBootstrap(ranked: ranked, truth: truth, tags: Set(aps.keys))
        let apDraws = draws.prefix(max(resamples / 5, 1)).map { bootstrap.averagePrecisions(draw: $0) }
        // No tag with `minimumImagesForAP` test images: no mAP (absent, shown as "–" / null),
        // rather than a 0 that reads as a method that ranks every tag last.
        if !aps.isEmpty { metrics["map"] = interval(mean(aps), apDraws.filter { !$0.isEmpty }.map(mean)) }
        var byKind: [String: KindMetrics]?
        if let seenTags {
            byKind = [:]
            for kind in kinds {
                let ofKind = { (tag: Int) in seenTags.contains(tag) == (kind == "seen") }
                let kindAPs = aps.filter { ofKind($0.key) }
                var kindMetrics: [String: Estimate] = [:]
                for k in ks {
                    kindMetrics["precision@\(k)"] = metrics.removeValue(forKey: "\(kind) precision@\(k)")
                    kindMetrics["recall@\(k)"] = metrics.removeValue(forKey: "\(kind) recall@\(k)")
                }
                let mapDraws = kindAPs.isEmpty ? [] : apDraws.map { $0.filter { ofKind($0.key) } }.filter { !$0.isEmpty }.map(mean)
                if !kindAPs.isEmpty { kindMetrics["map"] = interval(mean(kindAPs), mapDraws) }
                let occurrences = truth.reduce(0) { $0 + $1.filter(ofKind).count }
                byKind![kind] = KindMetrics(occurrences: occurrences, tags: Set(truth.joined()).filter(ofKind).count,
                                            tagsForMAP: kindAPs.count, metrics: kindMetrics)
            }
        }
        return MethodReport(
            method: method, note: note, images: n, metrics: metrics,
            precisionAtK: curves.enumerated().map { k, rows in rows.reduce(0) { $0 + $1.precision[k + 1]! } / Double(max(n, 1)) },
            recallAtK: curves.enumerated().map { k, rows in rows.reduce(0) { $0 + $1.recall[k + 1]! } / Double(max(n, 1)) },
            nPlus: TagMetrics.nPlus(ranked, truth: truth), tagsForMAP: aps.count, byKind: byKind)
    }

    static func interval(_ value: Double, _ draws: [Double]) -> Estimate {
        guard !draws.isEmpty else { return Estimate(value: value, low: value, high: value) }
        let sorted = draws.sorted()
        func quantile(_ q: Double) -> Double { sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count - 1)).rounded())))] }
        return Estimate(value: value, low: quantile(0.025), high: quantile(0.975))
    }
}

/// Average precision of a fixed set of tags over bootstrap draws of the test images,
/// ranking each draw as `TagMetrics.averagePrecisions` ranks a pool: images that list the
/// tag by score, then the rest; equal scores (and the unlisted rest) in pool order, here
/// the order of the draw. Each tag's groups of equal score are found once; a draw is then
/// placed by a counting sort on (group, position in the draw), O(images) per tag, and
/// AP = (1/P) sum over positives of hits so far / rank, P = the drawn positives. The
/// draw 0, 1, ..., n-1 gives the original APs.
struct APBootstrap {
    let tags: [Int]
    let images: Int
    /// Per tag (same order as `tags`): each image's group (0 = highest score), the group
    /// count, and each image's truth.
    let groups: [[Int]]
    let groupCounts: [Int]
    let positive: [[Bool]]

    init(ranked: [RankedTags], truth: [Set<Int>], tags: Set<Int>) {
        self.tags = tags.sorted()
        images = ranked.count
        var listed: [Int: [(score: Float, image: Int)]] = [:]
        for (image, r) in ranked.enumerated() {
            for (tag, score) in zip(r.tags, r.scores) where tags.contains(tag) { listed[tag, default: []].append((score, image)) }
        }
        var groups: [[Int]] = [], counts: [Int] = []
        for tag in self.tags {
            let entries = (listed[tag] ?? []).sorted { $0.score > $1.score }
            var group = [Int](repeating: -1, count: ranked.count)
            var next = 0
            for (n, entry) in entries.enumerated() {
                if n > 0, entry.score != entries[n - 1].score { next += 1 }
                group[entry.image] = next
            }
            let unlisted = entries.isEmpty ? 0 : next + 1
            for image in group.indices where group[image] < 0 { group[image] = unlisted }
            groups.append(group)
            counts.append(unlisted + 1)
        }
        self.groups = groups
        groupCounts = counts
        positive = self.tags.map { tag in truth.map { $0.contains(tag) } }
    }

    /// Per tag with at least one drawn positive, its AP on the draw (original image
    /// indices in draw order).
    func averagePrecisions(draw: [Int]) -> [Int: Double] {
        var result: [Int: Double] = [:]
        var start: [Int] = [], order = [Int](repeating: 0, count: draw.count)
        for (t, tag) in tags.enumerated() {
            let group = groups[t], isPositive = positive[t]
            start = [Int](repeating: 0, count: groupCounts[t] + 1)
            for image in draw { start[group[image] + 1] += 1 }
            for g in 0..<groupCounts[t] { start[g + 1] += start[g] }
            for image in draw {
                order[start[group[image]]] = image
                start[group[image]] += 1
            }
            var hits = 0, sum = 0.0
            for (rank, image) in order.enumerated() where isPositive[image] {
                hits += 1
                sum += Double(hits) / Double(rank + 1)
            }
            if hits > 0 { result[tag] = sum / Double(hits) }
        }
        return result
    }
}
