import Foundation
import TagganCore

/// How a generator's S samples for an image become a score for every candidate word, so
/// that each image ranks all candidates (mAP then ranks every image per tag, instead of
/// the ten tags a vote lists). With c_sw = cos(g_s, v_w), the cosine of sample s and the
/// word vector of candidate w:
///
/// - `vote(perSample: p)`, the paper's protocol (Mirza & Osindero 2014, section 4.2):
///   each sample votes for its p nearest candidates; words are ordered by
///   (votes, summed similarity of their voters, sum_s c_sw, max_s c_sw, lower row). The
///   first two keys are `TagVoter`'s order, so the top of the ranking is the paper's tags;
///   the last three order the words no sample voted for. Score = (votes + t) / S with
///   t in [0, 1) the second key (or, with no votes, the third) as a mean cosine m mapped
///   by t = 0.999 (m + 1) / 2: the share of samples that voted, plus less than one vote
///   that orders words with equal votes.
/// - `density(kappa:)`, a kernel density estimate of the samples at the word, with a
///   von Mises-Fisher kernel: score_w = (1/S) sum_s exp(kappa (c_sw - 1)), in (0, 1]
///   (1 when every sample is the word's own vector). Large kappa approaches counting
///   exact hits; small kappa the mean cosine.
/// - `densityCSLS(kappa:, hubness:)`, the density with the hubness correction of
///   cross-domain similarity local scaling (CSLS, Conneau et al., "Word translation
///   without parallel data", ICLR 2018): CSLS(x, w) = 2 cos(x, w) - r_T(x) - r_S(w), where
///   r_S(w) is w's mean similarity to its K nearest points of the other side. Here the
///   image's own term is the same for every word and drops out of the ranking, and the
///   similarity is the density: score'_w = score_w - beta r_w, where r_w is the mean
///   density of w over the K reference images where it is highest (K = 0: all of them).
///   beta = 1/2 orders words as CSLS does ((2 s - r) / 2); beta = 1 subtracts the whole
///   reference score. A word near every image's samples (a hub) is discounted.
///
/// Worked example (density): two samples at cosine 1 and 0 to a word, kappa 2:
/// score = (exp(0) + exp(-2)) / 2 = 0.568.
public enum SampleDecoder: Codable, Sendable, Hashable, CustomStringConvertible {
    case vote(perSample: Int)
    case density(kappa: Double)
    case densityCSLS(kappa: Double, hubness: HubnessCorrection)

    /// "vote, 5 words/sample", "density kappa 10", "density kappa 10 CSLS (beta 0.5, 10 nearest images)".
    public var description: String {
        switch self {
        case .vote(let p): return "vote, \(p) " + (p == 1 ? "word/sample" : "words/sample")
        case .density(let kappa): return String(format: "density kappa %g", kappa)
        case .densityCSLS(let kappa, let hubness): return String(format: "density kappa %g CSLS ", kappa) + hubness.formDescription
        }
    }

    /// The decoder's candidate count, when it depends on one (the CSLS penalty has one
    /// value per candidate row): `rank` needs candidates with that many rows.
    public var candidateCount: Int? {
        if case .densityCSLS(_, let hubness) = self { return hubness.penalty.count }
        return nil
    }

    /// Ranked candidates for every image of an image-major [images * samplesPerImage, D]
    /// block of samples (TagGAN's `TagSampler.sample` layout): the `top` best candidate
    /// rows (all of them when `top` >= the candidate count), mapped through `labels`
    /// (the tag id of each candidate row) when given. Cosines come from one row-stable product per
    /// block of `blockImages` images; blocks run in parallel.
    public func rank(samples: Tensor, samplesPerImage s: Int, candidates: CosineIndex, top: Int,
                     labels: [Int]? = nil, blockImages: Int = 16) -> [RankedTags] {
        precondition(s > 0 && samples.rows % s == 0, "\(samples.rows) rows are not whole images of \(s) samples")
        if let count = candidateCount {
            precondition(count == candidates.base.rows, "the CSLS penalty has \(count) candidates, the index \(candidates.base.rows)")
        }
        let images = samples.rows / s, c = candidates.base.rows
        let results = ParallelSlots<RankedTags>(count: images)
        Self.withSimilarities(samples: samples, samplesPerImage: s, candidates: candidates, blockImages: blockImages) { image, sims in
            switch self {
            case .vote(let p):
                results[image] = SampleStatistics(sims, samples: s, candidates: c, nearest: min(p, c)).voteRanking(perSample: p, top: top)
            case .density(let kappa):
                results[image] = Self.ranking(Self.densityScores(sims, samples: s, candidates: c, kappa: kappa), top: top)
            case .densityCSLS(let kappa, let hubness):
                var scores = Self.densityScores(sims, samples: s, candidates: c, kappa: kappa)
                hubness.correct(&scores)
                results[image] = Self.ranking(scores, top: top)
            }
        }
        let ranked = results.values(images).map { $0! }
        guard let labels else { return ranked }
        return ranked.map { RankedTags(tags: $0.tags.map { labels[$0] }, scores: $0.scores) }
    }

    /// The decoder's ceiling: each image's S samples are its own true tag vectors, taken
    /// in turn (`TagVoter.ceiling`'s oracle for any decoder). No generator can do better
    /// than exact copies of the right tags. For `densityCSLS` the penalty is refitted on
    /// the oracle's own samples over all the images (same kappa, beta and K): a penalty
    /// fitted on a generator's samples says nothing about the oracle's hubs.
    /// `tagRows[i]`: candidate rows of image i's true tags (may be empty: no tags).
    public func ceiling(tagRows: [[Int]], candidates: CosineIndex, samples: Int, top: Int = 10,
                        labels: [Int]? = nil) -> [RankedTags] {
        let d = candidates.base.columns
        let tagged = tagRows.indices.filter { !tagRows[$0].isEmpty }
        var block = [Float](repeating: 0, count: tagged.count * samples * d)
        for (n, i) in tagged.enumerated() {
            let rows = tagRows[i]
            for s in 0..<samples {
                let r = rows[s % rows.count]
                block.replaceSubrange((n * samples + s) * d ..< (n * samples + s + 1) * d,
                                      with: candidates.base.storage[r * d ..< (r + 1) * d])
            }
        }
        let oracle = Tensor(shape: [tagged.count * samples, d], values: block)
        var decoder = self
        if case .densityCSLS(let kappa, let hubness) = self {
            decoder = .densityCSLS(kappa: kappa, hubness: HubnessCorrection.fit(
                samples: oracle, samplesPerImage: samples, candidates: candidates, kappa: kappa,
                beta: hubness.beta, neighbours: hubness.neighbours))
        }
        var result = [RankedTags](repeating: RankedTags(tags: [], scores: []), count: tagRows.count)
        guard !tagged.isEmpty else { return result }
        for (n, ranked) in decoder.rank(samples: oracle, samplesPerImage: samples, candidates: candidates, top: top,
                                        labels: labels).enumerated() {
            result[tagged[n]] = ranked
        }
        return result
    }

    // MARK: Scoring one image

    /// Calls `body(image, cosines)` for every image, in parallel over blocks of images;
    /// `cosines` is the image's S x C matrix, row-major.
    static func withSimilarities(samples: Tensor, samplesPerImage s: Int, candidates: CosineIndex, blockImages: Int,
                                 _ body: (Int, UnsafeBufferPointer<Float>) -> Void) {
        precondition(samples.columns == candidates.base.columns,
                     "samples have \(samples.columns) columns, candidates \(candidates.base.columns)")
        let images = samples.rows / s, d = samples.columns, c = candidates.base.rows
        let block = max(1, blockImages)
        Parallel.forEachChunk(images) { _, range in
            var cosines = Tensor(zeros: [0])
            var start = range.lowerBound
            while start < range.upperBound {
                let count = min(block, range.upperBound - start)
                let slice = CosineIndex.normalisedRows(Tensor(
                    shape: [count * s, d], values: Array(samples.storage[start * s * d ..< (start + count) * s * d])))
                cosines.assignRowStableProduct(slice, candidates.base, transposeB: true, threads: 1)
                cosines.withUnsafeBufferPointer { all in
                    for i in 0..<count {
                        body(start + i, UnsafeBufferPointer(rebasing: all[i * s * c ..< (i + 1) * s * c]))
                    }
                }
                start += count
            }
        }
    }

    /// score_w = (1/S) sum_s exp(kappa (c_sw - 1)).
    static func densityScores(_ sims: UnsafeBufferPointer<Float>, samples s: Int, candidates c: Int, kappa: Double) -> [Float] {
        var scores = [Float](repeating: 0, count: c)
        let k = Float(kappa)
        for row in 0..<s {
            let base = row * c
            for w in 0..<c { scores[w] += Foundation.exp(k * (sims[base + w] - 1)) }
        }
        let inverse = 1 / Float(s)
        for w in 0..<c { scores[w] *= inverse }
        return scores
    }

    /// The `top` highest scores, best first; ties go to the lower row.
    static func ranking(_ scores: [Float], top: Int) -> RankedTags {
        let best = scores.withUnsafeBufferPointer { TopK.select($0, k: min(top, scores.count)) }
        return RankedTags(tags: best.map(\.index), scores: best.map(\.similarity))
    }
}

/// Per-word statistics of one image's samples that the vote needs: each sample's
/// `nearest` candidates, and per candidate the sum and the maximum of its cosines.
struct SampleStatistics {
    let samples: Int
    let candidates: Int
    /// Per sample, its nearest candidates, best first.
    var nearest: [[(index: Int, similarity: Float)]]
    var cosineSum: [Double]
    var cosineMax: [Float]

    init(_ sims: UnsafeBufferPointer<Float>, samples s: Int, candidates c: Int, nearest k: Int) {
        samples = s
        candidates = c
        nearest = []
        nearest.reserveCapacity(s)
        cosineSum = [Double](repeating: 0, count: c)
        cosineMax = [Float](repeating: -.infinity, count: c)
        for row in 0..<s {
            let values = UnsafeBufferPointer(rebasing: sims[row * c ..< (row + 1) * c])
            nearest.append(TopK.select(values, k: k))
            for w in 0..<c {
                cosineSum[w] += Double(values[w])
                if values[w] > cosineMax[w] { cosineMax[w] = values[w] }
            }
        }
    }

    /// `SampleDecoder.vote`'s ranking at `perSample` (<= the statistics' `nearest`).
    func voteRanking(perSample p: Int, top: Int) -> RankedTags {
        var votes = [Int](repeating: 0, count: candidates)
        var voterSum = [Double](repeating: 0, count: candidates)
        for list in nearest {
            for n in list.prefix(p) {
                votes[n.index] += 1
                voterSum[n.index] += Double(n.similarity)
            }
        }
        let order = (0..<candidates).sorted { a, b in
            if votes[a] != votes[b] { return votes[a] > votes[b] }
            if voterSum[a] != voterSum[b] { return voterSum[a] > voterSum[b] }
            if cosineSum[a] != cosineSum[b] { return cosineSum[a] > cosineSum[b] }
            if cosineMax[a] != cosineMax[b] { return cosineMax[a] > cosineMax[b] }
            return a < b
        }.prefix(top)
        let s = Double(max(samples, 1))
        return RankedTags(tags: Array(order), scores: order.map { w in
            let mean = votes[w] > 0 ? voterSum[w] / Double(votes[w]) : cosineSum[w] / s
            let t = 0.999 * (min(max(mean, -1), 1) + 1) / 2
            return Float((Double(votes[w]) + t) / s)
        })
    }
}

/// The CSLS-style hubness penalty of `SampleDecoder.densityCSLS`: r_w, the mean density
/// score of candidate w over the `neighbours` reference images where it is highest
/// (0: all reference images), and the weight beta of score'_w = score_w - beta r_w.
/// `penalty[w]` = beta r_w, one value per candidate row of the index it was fitted with.
public struct HubnessCorrection: Codable, Sendable, Hashable {
    public var beta: Double
    public var neighbours: Int
    public var penalty: [Float]

    public init(beta: Double, neighbours: Int, penalty: [Float]) {
        self.beta = beta
        self.neighbours = neighbours
        self.penalty = penalty
    }

    /// "(beta 0.5, 10 nearest images)" or "(beta 1, all images)".
    public var formDescription: String {
        String(format: "(beta %g, ", beta) + (neighbours > 0 ? "\(neighbours) nearest images)" : "all images)")
    }

    /// Fits r_w on reference samples (e.g. the validation images' samples), image-major
    /// as for `SampleDecoder.rank`.
    public static func fit(samples: Tensor, samplesPerImage s: Int, candidates: CosineIndex, kappa: Double,
                           beta: Double, neighbours: Int, blockImages: Int = 16) -> HubnessCorrection {
        precondition(s > 0 && samples.rows % s == 0, "\(samples.rows) rows are not whole images of \(s) samples")
        let images = samples.rows / s, c = candidates.base.rows
        let rows = ParallelSlots<[Float]>(count: images)
        SampleDecoder.withSimilarities(samples: samples, samplesPerImage: s, candidates: candidates, blockImages: blockImages) { image, sims in
            rows[image] = SampleDecoder.densityScores(sims, samples: s, candidates: c, kappa: kappa)
        }
        let matrix = rows.values(images).flatMap { $0! }
        return fit(referenceScores: matrix, images: images, candidates: c, beta: beta, neighbours: neighbours)
    }

    /// From a reference images x candidates matrix of density scores (row-major).
    static func fit(referenceScores: [Float], images: Int, candidates c: Int, beta: Double, neighbours: Int) -> HubnessCorrection {
        let k = neighbours > 0 ? min(neighbours, images) : images
        var penalty = [Float](repeating: 0, count: c)
        var column = [Float](repeating: 0, count: images)
        for w in 0..<c where images > 0 {
            for i in 0..<images { column[i] = referenceScores[i * c + w] }
            let best = column.withUnsafeBufferPointer { TopK.select($0, k: k) }
            let mean = best.reduce(0.0) { $0 + Double($1.similarity) } / Double(max(best.count, 1))
            penalty[w] = Float(beta * mean)
        }
        return HubnessCorrection(beta: beta, neighbours: neighbours, penalty: penalty)
    }

    func correct(_ scores: inout [Float]) {
        for w in scores.indices { scores[w] -= penalty[w] }
    }
}

/// A noise scale for G's samples and the decoder that turns them into tags.
public struct DecoderSetting: Codable, Sendable, Hashable, CustomStringConvertible {
    public var noiseScale: Double
    public var decoder: SampleDecoder

    public init(noiseScale: Double, decoder: SampleDecoder) {
        self.noiseScale = noiseScale
        self.decoder = decoder
    }

    /// A vote setting's decoder ("noise 0.5, 3 words/sample" decodes as `.vote(perSample: 3)`).
    public init(_ voting: VotingSetting) {
        self.init(noiseScale: voting.noiseScale, decoder: .vote(perSample: voting.perSample))
    }

    /// The vote setting this is, or nil for another decoder.
    public var votingSetting: VotingSetting? {
        if case .vote(let p) = decoder { return VotingSetting(noiseScale: noiseScale, perSample: p) }
        return nil
    }

    /// Vote settings print as `VotingSetting` does (the keys of old voting.json files);
    /// others as "noise 1, density kappa 10".
    public var description: String {
        votingSetting?.description ?? String(format: "noise %g, ", noiseScale) + decoder.description
    }
}

/// The decoder settings `SampleDecoder.chooseOnValidation` tries: every noise scale with
/// every vote (words per sample), every density kappa, and every kappa with every
/// hubness correction (beta, K).
public struct DecoderGrid: Sendable {
    public var noiseScales: [Double]
    public var perSample: [Int]
    public var kappas: [Double]
    public var hubness: [(beta: Double, neighbours: Int)]

    public init(noiseScales: [Double] = [1, 0.5, 0.25], perSample: [Int] = [1, 2, 3, 5, 10, 20],
                kappas: [Double] = [2, 5, 10, 20, 50, 100], hubness: [(beta: Double, neighbours: Int)] = [(0.5, 10), (1, 0)]) {
        self.noiseScales = noiseScales
        self.perSample = perSample
        self.kappas = kappas
        self.hubness = hubness
    }
}

extension SampleDecoder {
    /// Tries every setting of `grid` on the validation images and keeps the best by mean
    /// precision@5; ties go to the earlier setting (per noise scale, in the grid's order:
    /// votes, densities, corrected densities). `samples(noiseScale)` draws the validation
    /// images' samples (image-major, `samplesPerImage` each), once per noise scale; every
    /// decoder is scored from one pass of cosines. A CSLS penalty is fitted on these same
    /// validation samples, and the choice carries it for the test split and annotate.
    /// `truth[i]`: image i's true tags in the ids of `labels` (candidate rows without it).
    ///
    /// Returns a `VotingChoice` that old readers understand: `setting` is the best vote
    /// setting, `decoder` the best setting of all, `validationPrecisionAt5` every setting's
    /// score by `DecoderSetting.description`.
    public static func chooseOnValidation(truth: [Set<Int>], samplesPerImage s: Int, candidates: CosineIndex,
                                          labels: [Int]? = nil, grid: DecoderGrid = DecoderGrid(),
                                          samples: (Double) -> Tensor) -> VotingChoice {
        let c = candidates.base.rows, maxVote = min(grid.perSample.max() ?? 1, c)
        var tried: [(DecoderSetting, Double)] = []
        func precision(_ ranked: [RankedTags]) -> Double {
            let mapped = labels.map { l in ranked.map { RankedTags(tags: $0.tags.map { l[$0] }, scores: $0.scores) } } ?? ranked
            return TagMetrics.meanPrecision(mapped, truth: truth)
        }
        for noise in grid.noiseScales {
            let drawn = samples(noise)
            precondition(drawn.rows == truth.count * s, "\(drawn.rows) samples for \(truth.count) images of \(s)")
            let images = truth.count
            let votes = ParallelSlots<[RankedTags]>(count: images)
            let densities = ParallelSlots<[[Float]]>(count: images)
            withSimilarities(samples: drawn, samplesPerImage: s, candidates: candidates, blockImages: 16) { image, sims in
                let statistics = SampleStatistics(sims, samples: s, candidates: c, nearest: maxVote)
                votes[image] = grid.perSample.map { statistics.voteRanking(perSample: $0, top: 5) }
                densities[image] = grid.kappas.map { densityScores(sims, samples: s, candidates: c, kappa: $0) }
            }
            let voteRankings = votes.values(images).map { $0! }, densityRows = densities.values(images).map { $0! }
            for (n, p) in grid.perSample.enumerated() {
                tried.append((DecoderSetting(noiseScale: noise, decoder: .vote(perSample: p)), precision(voteRankings.map { $0[n] })))
            }
            for (n, kappa) in grid.kappas.enumerated() {
                tried.append((DecoderSetting(noiseScale: noise, decoder: .density(kappa: kappa)),
                              precision(densityRows.map { ranking($0[n], top: 5) })))
            }
            for form in grid.hubness {
                for (n, kappa) in grid.kappas.enumerated() {
                    let hubness = HubnessCorrection.fit(referenceScores: densityRows.flatMap { $0[n] }, images: images,
                                                        candidates: c, beta: form.beta, neighbours: form.neighbours)
                    let ranked = densityRows.map { row -> RankedTags in
                        var scores = row[n]
                        hubness.correct(&scores)
                        return ranking(scores, top: 5)
                    }
                    tried.append((DecoderSetting(noiseScale: noise, decoder: .densityCSLS(kappa: kappa, hubness: hubness)), precision(ranked)))
                }
            }
        }
        func best(_ list: [(DecoderSetting, Double)]) -> DecoderSetting? {
            var chosen: (DecoderSetting, Double)?
            for entry in list where entry.1 > (chosen?.1 ?? -1) + 1e-12 { chosen = entry }
            return chosen?.0
        }
        let overall = best(tried) ?? DecoderSetting(.paper)
        let vote = best(tried.filter { $0.0.votingSetting != nil })?.votingSetting ?? .paper
        return VotingChoice(setting: vote, validationPrecisionAt5: Dictionary(tried.map { ($0.0.description, $0.1) }) { a, _ in a },
                            decoder: overall)
    }
}
