import Foundation
import TagganCore

/// A linear multi-label head: ridge regression from centred unit features (plus a bias)
/// to the multi-hot tag vector, the simplest learned anchor a reviewer asks for,
///
///     W = (Xc^T Xc + lambda I)^-1 Xc^T Yc,   b = ybar - W^T xbar,   score(x, w) = (W^T x + b)_w,
///
/// with x the image's feature centred on the training mean and scaled to unit length
/// (`FeatureCentring`) and y_iw = 1 when training image i carries tag w (`RidgeRegression`
/// has the solver and its source). Scores are not probabilities; they rank every tag of
/// `tagCount` (a tag absent from training scores its bias, 0).
///
/// Cost: fitting is one pass over the training rows (N F^2 + N F * tags per image) plus,
/// per lambda, F^3 / 6 + F^2 T Double multiply-adds (F = 1280, T = 2,074 tags: about 3.7 G,
/// a few seconds on 2 cores); memory F^2 + 2 F T values. Ranking is one row-stable product per block of
/// `blockRows` queries (Q F T) and keeps a block of scores, blockRows x T.
public struct LinearTagHead: Sendable {
    public let centring: FeatureCentring
    public let map: RidgeMap
    public let lambda: Double
    public var tagCount: Int { map.bias.count }

    /// Ridge penalties tried by `chooseOnValidation`. With unit rows the Gram matrix's
    /// trace is about N, so lambda 1 is light on a few thousand images.
    public static let lambdaCandidates: [Double] = [0.01, 0.1, 1, 10, 100]

    public init(centring: FeatureCentring, map: RidgeMap, lambda: Double) {
        self.centring = centring
        self.map = map
        self.lambda = lambda
    }

    public static func fit(trainFeatures: Tensor, trainTags: [Set<Int>], tagCount: Int, lambda: Double) throws -> LinearTagHead {
        let centring = FeatureCentring(train: trainFeatures)
        let system = RidgeRegression(features: centring.apply(trainFeatures), tagSets: trainTags, tagCount: tagCount)
        return LinearTagHead(centring: centring, map: try system.solve(lambda: lambda), lambda: lambda)
    }

    /// Every tag's score for each query row, [Q, T].
    public func scores(queries: Tensor) -> Tensor { map.apply(centring.apply(queries)) }

    /// Every tag ranked by score for each query (or the first `top`).
    public func rank(queries: Tensor, top: Int? = nil, blockRows: Int = 1024) -> [RankedTags] {
        rankInBlocks(queries.rows, blockRows: blockRows) { rows in
            RankedTags.rankingRows(scores(queries: RidgeRegression.gather(queries, Array(rows))), top: top)
        }
    }

    /// Builds the training statistics once, solves for every lambda, and keeps the one with
    /// the best validation precision@5 (ties: the earlier, smaller lambda).
    public static func chooseOnValidation(trainFeatures: Tensor, trainTags: [Set<Int>], tagCount: Int,
                                          validationFeatures: Tensor, validationTags: [Set<Int>],
                                          lambdas: [Double] = lambdaCandidates) throws
        -> (model: LinearTagHead, choice: ValidationChoice<Double>) {
        let centring = FeatureCentring(train: trainFeatures)
        let system = RidgeRegression(features: centring.apply(trainFeatures), tagSets: trainTags, tagCount: tagCount)
        var models: [Double: LinearTagHead] = [:]
        var tried: [(value: Double, precisionAt5: Double)] = []
        for lambda in lambdas {
            let model = LinearTagHead(centring: centring, map: try system.solve(lambda: lambda), lambda: lambda)
            models[lambda] = model
            tried.append((lambda, TagMetrics.meanPrecision(model.rank(queries: validationFeatures, top: 5), truth: validationTags)))
        }
        let choice = ValidationChoice(tried: tried)
        return (models[choice.value]!, choice)
    }
}
