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
        index.nearest(queries, k: k, exclude: exclude).map { neighbours in
            var scores: [Int: Float] = [:]
            for neighbour in neighbours {
                for tag in trainTags[neighbour.index] { scores[tag, default: 0] += neighbour.similarity }
            }
            let order = scores.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(top)
            return RankedTags(tags: order.map(\.key), scores: order.map(\.value))
        }
    }

    /// Chooses k for k-NN transfer on the validation split by precision@5.
    public static func chooseK(index: CosineIndex, trainTags: [Set<Int>], validation: Tensor,
                               validationTags: [Set<Int>], candidates: [Int] = [1, 3, 5, 10, 20, 50])
        -> (k: Int, precisionAt5: [Int: Double]) {
        var scores: [Int: Double] = [:]
        for k in candidates where k <= trainTags.count {
            let ranked = knnTransfer(index: index, trainTags: trainTags, queries: validation, k: k, top: 5)
            let total = zip(ranked, validationTags).reduce(0.0) {
                $0 + TagMetrics.perImage($1.0, truth: $1.1, ks: [5]).precision[5]!
            }
            scores[k] = total / Double(max(validationTags.count, 1))
        }
        let best = scores.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key ?? 5
        return (best, scores)
    }
}

/// The paper's tagging protocol over generated word vectors: each of an image's S
/// samples votes for its `perSample` (20) nearest candidate words by cosine; the `top`
/// (10) words with the most votes are the tags, and votes / S is each tag's confidence.
/// Ties in votes go to the higher summed similarity.
public struct TagVoter: Sendable {
    /// L2-normalised candidate word vectors (one row per candidate).
    public let index: CosineIndex
    public let perSample: Int

    public init(candidateVectors: Tensor, perSample: Int = 20) {
        index = CosineIndex(candidateVectors)
        self.perSample = perSample
    }

    /// `samples`: S x D generated vectors for one image.
    public func vote(samples: Tensor, top: Int = 10) -> RankedTags {
        var votes: [Int: (count: Int, similarity: Float)] = [:]
        for neighbours in index.nearest(samples, k: perSample) {
            for n in neighbours {
                let current = votes[n.index] ?? (0, 0)
                votes[n.index] = (current.count + 1, current.similarity + n.similarity)
            }
        }
        let order = votes.sorted {
            $0.value.count != $1.value.count ? $0.value.count > $1.value.count
                : ($0.value.similarity != $1.value.similarity ? $0.value.similarity > $1.value.similarity : $0.key < $1.key)
        }.prefix(top)
        return RankedTags(tags: order.map(\.key), scores: order.map { Float($0.value.count) / Float(max(samples.rows, 1)) })
    }

    /// Votes for every image of an image-major [images * samplesPerImage, D] block of
    /// generated vectors (the layout TagGAN's sampler returns), in parallel over images.
    public func vote(samples: Tensor, samplesPerImage s: Int, top: Int = 10) -> [RankedTags] {
        precondition(s > 0 && samples.rows % s == 0, "\(samples.rows) rows are not whole images of \(s) samples")
        let images = samples.rows / s, d = samples.columns
        let results = ParallelSlots<RankedTags>(count: images)
        Parallel.forEach(images) { i in
            let block = Tensor(shape: [s, d], values: Array(samples.storage[i * s * d ..< (i + 1) * s * d]))
            results[i] = vote(samples: block, top: top)
        }
        return results.values(images).map { $0! }
    }
}
