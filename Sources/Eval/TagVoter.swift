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
    public func vote(samples: Tensor, top: Int = 10, perSample: Int? = nil, threads: Int = Parallel.defaultThreads) -> RankedTags {
        var votes: [Int: (count: Int, similarity: Float)] = [:]
        for neighbours in index.nearest(samples, k: min(perSample ?? self.perSample, index.base.rows), threads: threads) {
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
            results[i] = vote(samples: block, top: top, perSample: perSample, threads: 1)
        }
        return results.values(images).map { $0! }
    }
}

/// How generated samples become tags: the scale of G's noise and how many nearest
/// words each sample votes for. The paper drew z from G's prior (scale 1) and let each
/// sample vote for its 20 nearest words. With a vocabulary of about a thousand tag words,
/// 20 neighbours reach far past a tag's own meaning, so words near the centre of an
/// image's tags outvote the tags themselves (on OpenClipart even an oracle that votes with
/// the image's own true tag vectors reaches only P@5 ~0.31 at 20 words per sample, against
/// ~0.64 at 1). And the paper's G adds its noise branch to its image branch linearly, so
/// noise moves every image's samples the same way and spreads them off the image's tags.
/// `taggan eval` therefore also chooses both on the validation split, as it chooses k for
/// k-NN transfer, reports the paper's setting beside the chosen one, and records the
/// choice beside the model for `taggan annotate`.
public struct VotingSetting: Codable, Sendable, Hashable, CustomStringConvertible {
    /// Multiplies z ~ N(0, I) (`TagSampler.sample(noiseScale:)`).
    public var noiseScale: Double
    /// Nearest words each sample votes for.
    public var perSample: Int

    public init(noiseScale: Double, perSample: Int) {
        self.noiseScale = noiseScale
        self.perSample = perSample
    }

    /// The paper's protocol.
    public static let paper = VotingSetting(noiseScale: 1, perSample: 20)
    /// The settings tried on the validation split.
    public static let candidates = [1.0, 0.5, 0.25].flatMap { noise in
        [1, 2, 3, 5, 10, 20].map { VotingSetting(noiseScale: noise, perSample: $0) }
    }

    /// "noise 0.5, 3 words/sample".
    public var description: String {
        String(format: "noise %g, %d ", noiseScale, perSample) + (perSample == 1 ? "word/sample" : "words/sample")
    }
}

/// The voting setting chosen on the validation split, as `taggan eval` records it in
/// `W/models/<mode>/voting.json`.
///
/// Files written before decoders other than the vote existed have no `decoder` and still
/// read (it is nil, and `bestDecoder` is the vote `setting`); readers that know only
/// `setting` keep getting the best vote setting from new files.
public struct VotingChoice: Codable, Sendable, Equatable {
    public static let fileName = "voting.json"

    /// The best vote setting tried.
    public var setting: VotingSetting
    /// Validation precision@5 of every setting tried, by `VotingSetting.description`
    /// (votes) or `DecoderSetting.description` (other decoders).
    public var validationPrecisionAt5: [String: Double]
    /// The best setting of every decoder tried (`SampleDecoder.chooseOnValidation`), or
    /// nil when only votes were tried.
    public var decoder: DecoderSetting?

    public init(setting: VotingSetting, validationPrecisionAt5: [String: Double], decoder: DecoderSetting? = nil) {
        self.setting = setting
        self.validationPrecisionAt5 = validationPrecisionAt5
        self.decoder = decoder
    }

    /// What to decode samples with: `decoder`, else the vote `setting`.
    public var bestDecoder: DecoderSetting { decoder ?? DecoderSetting(setting) }

    /// The best validation P@5 per noise scale, for reports.
    public var note: String {
        var bestPerNoise: [Double: (String, Double)] = [:]
        for setting in VotingSetting.candidates {
            guard let score = validationPrecisionAt5[setting.description] else { continue }
            if score > (bestPerNoise[setting.noiseScale]?.1 ?? -1) { bestPerNoise[setting.noiseScale] = (setting.description, score) }
        }
        return bestPerNoise.sorted { $0.key > $1.key }.map { $0.value.0 + String(format: ": %.3f", $0.value.1) }.joined(separator: "; ")
    }

    /// The best validation P@5 of each kind of decoder tried ("vote", "density",
    /// "density CSLS"), with its setting, for reports: "vote: noise 0.5, 3 words/sample
    /// 0.251; density: noise 1, density kappa 20 0.262". Empty for files without decoders.
    public var decoderNote: String {
        guard let decoder else { return "" }
        func kind(_ key: String) -> String { key.contains("CSLS") ? "density CSLS" : key.contains("density") ? "density" : "vote" }
        // Ties: the chosen setting for its kind, else the first key in sorted order.
        var best: [String: (String, Double)] = [:]
        if let score = validationPrecisionAt5[decoder.description] { best[kind(decoder.description)] = (decoder.description, score) }
        for (key, score) in validationPrecisionAt5.sorted(by: { $0.key < $1.key }) where score > (best[kind(key)]?.1 ?? -1) {
            best[kind(key)] = (key, score)
        }
        return ["vote", "density", "density CSLS"].compactMap { kind in
            best[kind].map { "\(kind): \($0.0) " + String(format: "%.3f", $0.1) }
        }.joined(separator: "; ")
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
