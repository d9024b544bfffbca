import Foundation
import TagganCore

/// A method's ranked tags for one image: tag indices, best first, with scores
/// (a confidence in [0, 1] for the GAN protocol and the density decoder, a similarity
/// sum for k-NN transfer, possibly negative for the CSLS-corrected density; a
/// validation precision after `Calibration.apply`).
public struct RankedTags: Sendable, Equatable {
    public var tags: [Int]
    public var scores: [Float]
    public init(tags: [Int], scores: [Float]) {
        precondition(tags.count == scores.count, "\(tags.count) tags, \(scores.count) scores")
        self.tags = tags
        self.scores = scores
    }
}

/// Tag-prediction metrics against ground truth, averaged over images:
///
/// - precision@k = |top-k ∩ truth| / k
/// - recall@k    = |top-k ∩ truth| / |truth|
/// - F1@k        = 2 P R / (P + R), from the image's own P and R (0 when both are 0)
/// - AP of a tag: rank all test images by the tag's score (an image that did not list
///   the tag scores -inf and ranks last, ties broken by image order); AP = mean over
///   the images that truly have the tag of precision at that image's rank. mAP is the
///   mean AP over tags with at least `minimumImagesForAP` (5) test images.
/// - N+ = number of distinct tags recalled at least once in some image's top 5.
///
/// Worked example: truth {a, b}, ranking [a, c, b]: P@1 = 1, P@2 = 0.5, R@2 = 0.5,
/// R@3 = 1.
public enum TagMetrics {
    public static let minimumImagesForAP = 5

    public struct PerImage: Sendable {
        public let precision: [Int: Double]
        public let recall: [Int: Double]
        public let f1: [Int: Double]
    }

    /// P, R and F1 at each k for one image.
    public static func perImage(_ ranked: RankedTags, truth: Set<Int>, ks: [Int]) -> PerImage {
        var precision: [Int: Double] = [:], recall: [Int: Double] = [:], f1: [Int: Double] = [:]
        for k in ks {
            let hits = ranked.tags.prefix(k).filter { truth.contains($0) }.count
            let p = Double(hits) / Double(k)
            let r = truth.isEmpty ? 0 : Double(hits) / Double(truth.count)
            precision[k] = p
            recall[k] = r
            f1[k] = p + r > 0 ? 2 * p * r / (p + r) : 0
        }
        return PerImage(precision: precision, recall: recall, f1: f1)
    }

    /// The mean of per-tag values (average precisions) summed in tag order: a
    /// dictionary's own order changes from process to process (Swift seeds its hashing
    /// per run), and a float sum in that order gave the same workspace's report different
    /// last digits on every run.
    public static func meanInTagOrder(_ values: [Int: Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        return values.keys.sorted().reduce(0.0) { $0 + values[$1]! } / Double(values.count)
    }

    /// Average precision per tag over `images` (indices into `ranked` and `truth`).
    public static func averagePrecisions(_ ranked: [RankedTags], truth: [Set<Int>], images: [Int]? = nil,
                                         minimumImages: Int = minimumImagesForAP) -> [Int: Double] {
        let pool = images ?? Array(ranked.indices)
        var listed: [Int: [(score: Float, position: Int)]] = [:]
        var positives: [Int: Int] = [:]
        for (position, image) in pool.enumerated() {
            for (tag, score) in zip(ranked[image].tags, ranked[image].scores) {
                listed[tag, default: []].append((score, position))
            }
            for tag in truth[image] { positives[tag, default: 0] += 1 }
        }
        var result: [Int: Double] = [:]
        var isListed = [Bool](repeating: false, count: pool.count)
        for (tag, count) in positives where count >= minimumImages {
            let entries = (listed[tag] ?? []).sorted {
                $0.score != $1.score ? $0.score > $1.score : $0.position < $1.position
            }
            // Full ranking: listed images by score, then the rest in pool order.
            for entry in entries { isListed[entry.position] = true }
            var ranking = entries.map(\.position)
            for position in pool.indices where !isListed[position] { ranking.append(position) }
            for entry in entries { isListed[entry.position] = false }
            var hits = 0, sum = 0.0
            for (rank, position) in ranking.enumerated() where truth[pool[position]].contains(tag) {
                hits += 1
                sum += Double(hits) / Double(rank + 1)
            }
            result[tag] = sum / Double(count)
        }
        return result
    }

    /// Tags recalled at least once in the top 5.
    /// Mean precision@k over images: how baselines and voting settings are chosen on the
    /// validation split.
    public static func meanPrecision(_ ranked: [RankedTags], truth: [Set<Int>], k: Int = 5) -> Double {
        zip(ranked, truth).reduce(0.0) { $0 + perImage($1.0, truth: $1.1, ks: [k]).precision[k]! } / Double(max(truth.count, 1))
    }

    public static func nPlus(_ ranked: [RankedTags], truth: [Set<Int>], images: [Int]? = nil, k: Int = 5) -> Int {
        var recalled = Set<Int>()
        for image in images ?? Array(ranked.indices) {
            for tag in ranked[image].tags.prefix(k) where truth[image].contains(tag) { recalled.insert(tag) }
        }
        return recalled.count
    }
}
