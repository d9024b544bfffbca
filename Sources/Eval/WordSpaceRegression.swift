import Foundation
import TagganCore

/// Candidate tags in a word space: tag w's vector v_w (row w of a [tagCount, D] matrix)
/// when `available[w]`, and the nearest-word decoder the GAN's protocol uses, cosine
/// similarity, here over every candidate so mAP ranks fully:
///
///     score(p, w) = p . v_w / (|p| |v_w|)   for each available w.
///
/// Tags without a vector are no candidates: they are left out of every ranking (the
/// metrics rank such a tag's images last).
public struct TagVectorSpace: Sendable {
    /// Unit rows (zero rows for tags without a vector).
    public let unitVectors: Tensor
    public let available: [Bool]
    public var tagCount: Int { available.count }
    public var dimension: Int { unitVectors.columns }

    public init(tagVectors: Tensor, available: [Bool]) {
        precondition(tagVectors.rows == available.count, "\(tagVectors.rows) tag vectors, \(available.count) availability flags")
        var vectors = CosineIndex.normalisedRows(tagVectors)
        let d = vectors.columns
        vectors.withUnsafeMutableBufferPointer { v in
            for (tag, has) in available.enumerated() where !has { for c in 0..<d { v[tag * d + c] = 0 } }
        }
        unitVectors = vectors
        self.available = available
    }

    /// The unit mean of the unit vectors of `tags` that have one,
    /// m = sum_w v_w / |sum_w v_w|; nil when none of them has a vector.
    public func unitMean(of tags: Set<Int>) -> [Float]? {
        let d = dimension
        var sum = [Float](repeating: 0, count: d), any = false
        // In tag order: a Set's order changes from run to run, and so would the sum's
        // last bits (and with them ties between tags, as ConSE at k 1 showed).
        for tag in tags.sorted() where available[tag] {
            any = true
            for c in 0..<d { sum[c] += unitVectors[tag, c] }
        }
        guard any else { return nil }
        let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? sum.map { $0 / norm } : nil
    }

    /// Every candidate ranked by cosine with each row of `predictions` ([Q, D]).
    public func rank(predictions: Tensor, top: Int? = nil, blockRows: Int = 1024) -> [RankedTags] {
        precondition(predictions.columns == dimension, "predictions have \(predictions.columns) columns, the tag vectors \(dimension)")
        let available = available
        return rankInBlocks(predictions.rows, blockRows: blockRows) { rows in
            let block = CosineIndex.normalisedRows(RidgeRegression.gather(predictions, Array(rows)))
            return RankedTags.rankingRows(Tensor.rowStableProduct(block, unitVectors, transposeB: true), top: top) { available[$0] }
        }
    }
}

/// The GAN's non-adversarial counterpart: ridge regression from the same centred unit
/// features to the same word space, decoded by the same nearest-word search. The target
/// of training image i is the unit mean of its tags' unit vectors,
///
///     t_i = sum_{w in Y_i} v_w / |sum_{w in Y_i} v_w|,
///     W = ridge(X', T; lambda), through the origin (no intercept: see `system`)   (`RidgeRegression`),
///     score(q, w) = cos(W^T x'_q, v_w),
///
/// so whatever it reaches measures the word space and the decoder, with no generator.
/// Training images none of whose tags has a vector are left out of the fit.
///
/// Cost: as `LinearTagHead` with T = D (200): one pass N F^2 + N F D through own products, per
/// lambda F^3 / 6 + F^2 D; ranking Q (F D + D T) for T candidate tags.
public struct WordSpaceRegression: Sendable {
    public let centring: FeatureCentring
    public let map: RidgeMap
    public let lambda: Double
    public let space: TagVectorSpace

    public static let lambdaCandidates: [Double] = [0.01, 0.1, 1, 10, 100]

    public init(centring: FeatureCentring, map: RidgeMap, lambda: Double, space: TagVectorSpace) {
        self.centring = centring
        self.map = map
        self.lambda = lambda
        self.space = space
    }

    /// The ridge statistics of the training rows that have a target.
    static func system(trainFeatures: Tensor, trainTags: [Set<Int>], space: TagVectorSpace)
        -> (FeatureCentring, RidgeRegression) {
        precondition(trainFeatures.rows == trainTags.count, "\(trainFeatures.rows) feature rows, \(trainTags.count) tag sets")
        let centring = FeatureCentring(train: trainFeatures)
        let d = space.dimension
        var targets = [Float](repeating: 0, count: trainTags.count * d)
        var rows: [Int] = []
        for (i, tags) in trainTags.enumerated() {
            guard let mean = space.unitMean(of: tags) else { continue }
            rows.append(i)
            targets.replaceSubrange(i * d ..< (i + 1) * d, with: mean)
        }
        // No intercept: b would be the mean tag vector, a direction shared by every word2vec
        // tag vector (hubness), so every image's prediction would lean to the same hub
        // words under cosine decoding (OpenClipart, lambda on validation: test P@5 0.19
        // with an intercept, ~0.30 without; bench/wordspace_probe.py fits without one).
        let system = RidgeRegression(features: centring.apply(trainFeatures),
                                     targets: Tensor(shape: [trainTags.count, d], values: targets), rows: rows, intercept: false)
        return (centring, system)
    }

    public static func fit(trainFeatures: Tensor, trainTags: [Set<Int>], tagVectors: Tensor, available: [Bool],
                           lambda: Double) throws -> WordSpaceRegression {
        let space = TagVectorSpace(tagVectors: tagVectors, available: available)
        let (centring, system) = system(trainFeatures: trainFeatures, trainTags: trainTags, space: space)
        return WordSpaceRegression(centring: centring, map: try system.solve(lambda: lambda), lambda: lambda, space: space)
    }

    /// The predicted word vector W^T x' + b for each query row, [Q, D].
    public func predict(queries: Tensor) -> Tensor { map.apply(centring.apply(queries)) }

    public func rank(queries: Tensor, top: Int? = nil) -> [RankedTags] {
        space.rank(predictions: predict(queries: queries), top: top)
    }

    public static func chooseOnValidation(trainFeatures: Tensor, trainTags: [Set<Int>], tagVectors: Tensor, available: [Bool],
                                          validationFeatures: Tensor, validationTags: [Set<Int>],
                                          lambdas: [Double] = lambdaCandidates) throws
        -> (model: WordSpaceRegression, choice: ValidationChoice<Double>) {
        let space = TagVectorSpace(tagVectors: tagVectors, available: available)
        let (centring, system) = system(trainFeatures: trainFeatures, trainTags: trainTags, space: space)
        var models: [Double: WordSpaceRegression] = [:]
        var tried: [(value: Double, precisionAt5: Double)] = []
        for lambda in lambdas {
            let model = WordSpaceRegression(centring: centring, map: try system.solve(lambda: lambda), lambda: lambda, space: space)
            models[lambda] = model
            tried.append((lambda, TagMetrics.meanPrecision(model.rank(queries: validationFeatures, top: 5), truth: validationTags)))
        }
        let choice = ValidationChoice(tried: tried)
        return (models[choice.value]!, choice)
    }
}
