import Foundation
import TagganCore

/// The feature space the retrieval and regression anchors share: raw conv-net features
/// minus the TRAINING mean, each row then scaled to unit length,
///
///     x'_i = (x_i - mu) / |x_i - mu|,   mu = (1/N) sum_{j in train} x_j.
///
/// Pooled ReLU features all sit in the positive orthant, so their raw cosines are high
/// for every pair (~0.7 on EfficientNet-Lite0); centring spreads them so that cosine
/// ranks neighbours by what differs between images. The mean comes from the training
/// split only, so validation and test images never shape it. A row equal to the mean
/// stays zero (cosine 0 with everything).
public struct FeatureCentring: Sendable, Equatable {
    /// mu, one value per feature column.
    public let mean: [Float]

    public init(mean: [Float]) { self.mean = mean }

    /// The mean of `train`'s rows, accumulated in Double.
    public init(train: Tensor) {
        var sum = [Double](repeating: 0, count: train.columns)
        let columns = train.columns, rows = train.rows
        // Each column summed row by row, as always; through pointers, so that the loop over
        // columns vectorises (lanes are columns: the same sums in the same order).
        train.withUnsafeBufferPointer { values in
            sum.withUnsafeMutableBufferPointer { total in
                guard let s = total.baseAddress, let v = values.baseAddress else { return }
                for row in 0..<rows {
                    let x = v + row * columns
                    for c in 0..<columns { s[c] += Double(x[c]) }
                }
            }
        }
        mean = sum.map { Float($0 / Double(max(train.rows, 1))) }
    }

    /// (x - mu) / |x - mu| for every row of `features`.
    public func apply(_ features: Tensor) -> Tensor {
        precondition(features.columns == mean.count, "features have \(features.columns) columns, the mean \(mean.count)")
        var centred = features
        let columns = features.columns
        centred.withUnsafeMutableBufferPointer { values in
            mean.withUnsafeBufferPointer { mu in
                for row in 0..<features.rows {
                    VectorKernels.axpy(-1, mu, UnsafeMutableBufferPointer(rebasing: values[row * columns ..< (row + 1) * columns]))
                }
            }
        }
        return CosineIndex.normalisedRows(consume centred)   // (in place: the only copy is `centred`)
    }
}

/// A hyper-parameter chosen on the validation split: the value kept and the validation
/// precision@5 of every value tried, in the order tried (for the report's note).
public struct ValidationChoice<Value: Hashable & Sendable>: Sendable {
    public let value: Value
    public let tried: [(value: Value, precisionAt5: Double)]

    /// Keeps the value with the highest validation P@5; ties go to the earlier candidate.
    public init(tried: [(value: Value, precisionAt5: Double)]) {
        precondition(!tried.isEmpty, "no candidate values to choose from")
        var best = tried[0]
        for candidate in tried.dropFirst() where candidate.precisionAt5 > best.precisionAt5 + 1e-12 { best = candidate }
        value = best.value
        self.tried = tried
    }

    public var bestPrecisionAt5: Double { tried.first { $0.value == value }!.precisionAt5 }

    /// "lambda 1: 0.454, lambda 10: 0.449" with `label` naming each value.
    public func note(_ label: (Value) -> String) -> String {
        tried.map { label($0.value) + String(format: ": %.3f", $0.precisionAt5) }.joined(separator: ", ")
    }
}

extension RankedTags {
    /// Every candidate tag ranked by `scores[tag]`, best first; ties go to the lower tag id;
    /// NaN scores and tags with `isCandidate(tag) == false` are left out. `top` keeps only
    /// the first `top` (nil: all of them, the full ranking mAP needs).
    public static func ranking(scores: UnsafeBufferPointer<Float>, top: Int? = nil,
                               isCandidate: ((Int) -> Bool)? = nil) -> RankedTags {
        let chosen = TopK.select(scores, k: min(top ?? scores.count, scores.count)) { !(isCandidate?($0) ?? true) }
        return RankedTags(tags: chosen.map(\.index), scores: chosen.map(\.similarity))
    }

    /// `ranking(scores:top:isCandidate:)` for every row of a [Q, T] score matrix, in parallel.
    public static func rankingRows(_ scores: Tensor, top: Int? = nil, isCandidate: ((Int) -> Bool)? = nil) -> [RankedTags] {
        let t = scores.columns
        let results = ParallelSlots<RankedTags>(count: scores.rows)
        scores.withUnsafeBufferPointer { s in
            nonisolated(unsafe) let s = s
            Parallel.forEach(scores.rows, grain: 16) { r in
                results[r] = ranking(scores: UnsafeBufferPointer(rebasing: s[r * t ..< (r + 1) * t]), top: top, isCandidate: isCandidate)
            }
        }
        return results.values(scores.rows).map { $0! }
    }
}

/// Runs `body` over consecutive blocks of `count` query rows and joins the results in
/// order, so a method's [blockRows, T] score block is the only large buffer it keeps.
func rankInBlocks(_ count: Int, blockRows: Int, _ body: (Range<Int>) -> [RankedTags]) -> [RankedTags] {
    var result: [RankedTags] = []
    result.reserveCapacity(count)
    var start = 0
    while start < count {
        let end = min(start + blockRows, count)
        result += body(start ..< end)
        start = end
    }
    return result
}
