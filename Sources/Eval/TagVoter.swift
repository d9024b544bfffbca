import Foundation
import TagganCore

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

    /// `samples`: S x D generated vectors for one image. `perSample` overrides the
    /// voter's count of words each sample votes for.
    public func vote(samples: Tensor, top: Int = 10, perSample: Int? = nil) -> RankedTags {
        var votes: [Int: (count: Int, similarity: Float)] = [:]
        for neighbours in index.nearest(samples, k: min(perSample ?? self.perSample, index.base.rows)) {
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
    public func vote(samples: Tensor, samplesPerImage s: Int, top: Int = 10, perSample: Int? = nil) -> [RankedTags] {
        precondition(s > 0 && samples.rows % s == 0, "\(samples.rows) rows are not whole images of \(s) samples")
        let images = samples.rows / s, d = samples.columns
        let results = ParallelSlots<RankedTags>(count: images)
        Parallel.forEach(images) { i in
            let block = Tensor(shape: [s, d], values: Array(samples.storage[i * s * d ..< (i + 1) * s * d]))
            results[i] = vote(samples: block, top: top, perSample: perSample)
        }
        return results.values(images).map { $0! }
    }
}

/// How many nearest words each generated sample votes for. The paper used 20; with a
/// vocabulary of about a thousand tag words, 20 neighbours reach far past a tag's own
/// meaning, so words near the centre of an image's tags outvote the tags themselves
/// (on OpenClipart even an oracle that votes with the image's own true tag vectors
/// reaches only P@5 ~0.25 at 20 words per sample, against ~0.63 at 1). `taggan eval`
/// therefore also chooses the count on the validation split, as it chooses k for k-NN
/// transfer, reports both, and records the choice beside the model for `taggan annotate`.
public struct VotingChoice: Codable, Sendable, Equatable {
    /// The paper's words per sample.
    public static let paper = 20
    /// The counts tried on the validation split.
    public static let candidates = [1, 2, 3, 5, 10, 20]
    public static let fileName = "voting.json"

    /// The chosen words per sample.
    public var perSample: Int
    /// Validation precision@5 of every count tried.
    public var validationPrecisionAt5: [Int: Double]

    public init(perSample: Int, validationPrecisionAt5: [Int: Double]) {
        self.perSample = perSample
        self.validationPrecisionAt5 = validationPrecisionAt5
    }

    /// Tries every candidate count with `tag(count)` (the validation images' rankings) and
    /// keeps the best by precision@5; ties go to the larger count (closer to the paper).
    public static func choose(validationTags: [Set<Int>], candidates: [Int] = candidates,
                              tag: (Int) -> [RankedTags]) -> VotingChoice {
        var scores: [Int: Double] = [:]
        for count in candidates {
            let ranked = tag(count)
            scores[count] = zip(ranked, validationTags).reduce(0.0) {
                $0 + TagMetrics.perImage($1.0, truth: $1.1, ks: [5]).precision[5]!
            } / Double(max(validationTags.count, 1))
        }
        let best = scores.max { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }?.key ?? paper
        return VotingChoice(perSample: best, validationPrecisionAt5: scores)
    }

    /// "1: 0.412, 2: 0.398, ..." for reports.
    public var note: String {
        validationPrecisionAt5.sorted { $0.key < $1.key }.map { String(format: "%d: %.3f", $0.key, $0.value) }.joined(separator: ", ")
    }

    public func write(to modelFolder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: modelFolder.appendingPathComponent(Self.fileName))
    }

    /// The choice recorded in `modelFolder`, or nil when eval has not run.
    public static func read(from modelFolder: URL) throws -> VotingChoice? {
        let url = modelFolder.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        do { return try JSONDecoder().decode(VotingChoice.self, from: data) } catch {
            throw TagganError.file(url.path, "not a voting choice written by taggan eval: \(error)")
        }
    }
}

extension TagVoter {
    /// The protocol's ceiling: each image's samples are its own true tag vectors, taken in
    /// turn (`samples` of them). No generator can do better than exact copies of the
    /// right tags, so this bounds what the vote can reach with these word vectors.
    /// `tagRows[i]`: candidate rows of image i's true tags (may be empty).
    public func ceiling(tagRows: [[Int]], samples: Int, perSample: Int, top: Int = 10) -> [RankedTags] {
        let d = index.base.columns
        return tagRows.map { rows in
            guard !rows.isEmpty else { return RankedTags(tags: [], scores: []) }
            var block = [Float](repeating: 0, count: samples * d)
            for s in 0..<samples {
                let r = rows[s % rows.count]
                block.replaceSubrange(s * d ..< (s + 1) * d, with: index.base.storage[r * d ..< (r + 1) * d])
            }
            return vote(samples: Tensor(shape: [samples, d], values: block), top: top, perSample: perSample)
        }
    }
}
