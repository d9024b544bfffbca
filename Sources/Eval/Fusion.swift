import Foundation
import TagganCore

/// Late fusion of two methods' rankings (e.g. k-NN transfer and a generator):
///
///     fused_w = lambda a'_w + (1 - lambda) b'_w
///
/// over the union of the two lists' tags, where x'_w is the image's score of w min-max
/// normalised over that image's list, x' = (x - min) / (max - min) in [0, 1] (1 for
/// every tag when all its scores are equal), and a tag absent from a list scores 0 in it,
/// as low as the list's lowest tag. Min-max, not division by the maximum, because some
/// scores are negative (the CSLS-corrected density) and because it puts lists of any
/// scale on one footing. Fused lists are ordered by fused score, ties to the lower tag id.
///
/// Worked example: a = {1: 3, 2: 1}, b = {2: 0.5, 3: 0.25}, lambda 0.5:
/// a' = {1: 1, 2: 0}, b' = {2: 1, 3: 0}; fused = {1: 0.5, 2: 0.5, 3: 0} -> [1, 2, 3].
public enum Fusion {
    /// The weights `choose` tries: 0, 0.1, ..., 1.
    public static let lambdas = (0...10).map { Double($0) / 10 }

    /// One image's scores, min-max normalised (see the type's comment).
    public static func normalised(_ ranked: RankedTags) -> [Int: Double] {
        guard let low = ranked.scores.min(), let high = ranked.scores.max() else { return [:] }
        var result: [Int: Double] = [:]
        for (tag, score) in zip(ranked.tags, ranked.scores) {
            result[tag] = high > low ? (Double(score) - Double(low)) / (Double(high) - Double(low)) : 1
        }
        return result
    }

    /// `lambda` * a + (1 - `lambda`) * b per image; the `top` best tags (all of the union
    /// when nil).
    public static func combine(_ a: [RankedTags], _ b: [RankedTags], lambda: Double, top: Int? = nil) -> [RankedTags] {
        precondition(a.count == b.count, "\(a.count) and \(b.count) images")
        return zip(a, b).map { x, y in
            let nx = normalised(x), ny = normalised(y)
            var fused: [Int: Double] = [:]
            for (tag, v) in nx { fused[tag, default: 0] += lambda * v }
            for (tag, v) in ny { fused[tag, default: 0] += (1 - lambda) * v }
            let order = fused.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(top ?? fused.count)
            return RankedTags(tags: order.map(\.key), scores: order.map { Float($0.value) })
        }
    }

    /// Tries every weight in `lambdas` on the validation images and keeps the best by
    /// mean precision@5; ties go to the larger lambda (more weight on retrieval, which
    /// needs no trained generator).
    public static func choose(retrieval: [RankedTags], generator: [RankedTags], truth: [Set<Int>],
                              lambdas: [Double] = Fusion.lambdas) -> FusionChoice {
        var scores: [String: Double] = [:]
        var best = lambdas.max() ?? 1, bestScore = -1.0
        for lambda in lambdas.sorted(by: >) {
            let score = TagMetrics.meanPrecision(combine(retrieval, generator, lambda: lambda, top: 5), truth: truth)
            scores[FusionChoice.key(lambda)] = score
            if score > bestScore + 1e-12 { (best, bestScore) = (lambda, score) }
        }
        return FusionChoice(lambda: best, validationPrecisionAt5: scores)
    }

    /// Chooses the retrieval method too: `choose` for each of `retrievals` (name and
    /// validation rankings, in order of preference), keeping the best by validation P@5;
    /// ties go to the earlier method. The result's `retrieval` names it and its scores are
    /// keyed "name, lambda 0.3".
    public static func choose(retrievals: [(name: String, ranked: [RankedTags])], generator: [RankedTags], truth: [Set<Int>],
                              lambdas: [Double] = Fusion.lambdas) -> FusionChoice {
        var best: (FusionChoice, Double)?
        var scores: [String: Double] = [:]
        for retrieval in retrievals {
            let choice = choose(retrieval: retrieval.ranked, generator: generator, truth: truth, lambdas: lambdas)
            for (key, value) in choice.validationPrecisionAt5 { scores["\(retrieval.name), \(key)"] = value }
            let score = choice.validationPrecisionAt5[FusionChoice.key(choice.lambda)] ?? -1
            if score > (best?.1 ?? -1) + 1e-12 {
                best = (FusionChoice(lambda: choice.lambda, validationPrecisionAt5: [:], retrieval: retrieval.name), score)
            }
        }
        var result = best?.0 ?? FusionChoice(lambda: 1, validationPrecisionAt5: [:])
        result.validationPrecisionAt5 = scores
        return result
    }
}

/// The fusion weight chosen on the validation split and every weight's validation P@5.
public struct FusionChoice: Codable, Sendable, Equatable {
    /// The weight of the retrieval method's normalised scores.
    public var lambda: Double
    /// By `FusionChoice.key(lambda)`: "lambda 0.3" (prefixed "name, " when the retrieval
    /// method was chosen too).
    public var validationPrecisionAt5: [String: Double]
    /// The retrieval method chosen with it (`choose(retrievals:...)`), nil when one was given.
    public var retrieval: String?

    public init(lambda: Double, validationPrecisionAt5: [String: Double], retrieval: String? = nil) {
        self.lambda = lambda
        self.validationPrecisionAt5 = validationPrecisionAt5
        self.retrieval = retrieval
    }

    public static func key(_ lambda: Double) -> String { String(format: "lambda %g", lambda) }
}
