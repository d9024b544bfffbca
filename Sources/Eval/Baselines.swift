import Foundation
import TagganCore

/// The baselines every method is compared with, on the same embeddings and split.
public enum Baselines {
    /// The tag-frequency prior: every image gets the `top` most frequent training tags,
    /// scored by their share of training images.
    public static func frequencyPrior(trainTags: [Set<Int>], top: Int) -> RankedTags {
        var counts: [Int: Int] = [:]
        for tags in trainTags { for tag in tags { counts[tag, default: 0] += 1 } }
        let order = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(top)
        return RankedTags(tags: order.map(\.key),
                          scores: order.map { Float($0.value) / Float(max(trainTags.count, 1)) })
    }

    /// k-NN tag transfer: a tag's score for a query is the summed cosine similarity of
    /// the query's k nearest training images that carry the tag (Makadia et al.'s
    /// transfer in its simplest form; what TagProp-style systems improve on).
    public static func knnTransfer(index: CosineIndex, trainTags: [Set<Int>], queries: Tensor, k: Int, top: Int,
                                   exclude: ((Int, Int) -> Bool)? = nil) -> [RankedTags] {
        knnTransfer(neighbours: index.nearest(queries, k: k, exclude: exclude), trainTags: trainTags, k: k, top: top)
    }

    /// The same from precomputed neighbour lists (e.g. `TrainingNeighbours.nearest`, shared
    /// with TagProp and ConSE): the first `k` of each list vote.
    public static func knnTransfer(neighbours: NeighbourLists, trainTags: [Set<Int>], k: Int, top: Int) -> [RankedTags] {
        neighbours.map { list in
            var scores: [Int: Float] = [:]
            for neighbour in list.prefix(k) {
                for tag in trainTags[neighbour.index] { scores[tag, default: 0] += neighbour.similarity }
            }
            let order = scores.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(top)
            return RankedTags(tags: order.map(\.key), scores: order.map(\.value))
        }
    }
}
