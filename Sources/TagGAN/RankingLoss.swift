import TagganCore

/// A hinge ranking term for G's loss: every generated vector should be nearer (by cosine)
/// to the tag it was generated for than to any tag the image does not have, by a margin.
/// DeViSE (Frome et al., NeurIPS 2013) and Fast0Tag (Zhang et al., CVPR 2016) train an
/// image-to-word-space map with this loss alone; here it is added to the adversarial
/// loss, a departure from the paper (BENCHMARKS.md, TagGAN, has why: the adversarial game
/// alone leaves G tagging below a plain regression into the same space).
///
/// For generated vectors g_b (b = 1..B), unit tag vectors v_t, the positive tag p_b of row
/// b and the set T_b of row b's image's own tags (never counted as negatives):
///
///     c_bt = cos(g_b, v_t) = (g_b / |g_b|) . v_t
///     L    = (1 / B) sum_b sum_{t not in T_b} max(0, m - c_{b p_b} + c_bt)
///
/// and, with a_bt = 1 where the hinge is active, dL/dc_bt = a_bt / B for negatives,
/// dL/dc_{b p_b} = -(sum_t a_bt) / B, then through the normalisation
/// dL/dg_b = (I - u_b u_b^T) (sum_t dL/dc_bt v_t) / |g_b| with u_b = g_b / |g_b|.
/// Worked example: m = 0.1, cosines to the positive 0.5 and to two negatives 0.45 and 0.2:
/// only the first negative is inside the margin (0.1 - 0.5 + 0.45 = 0.05), so L = 0.05.
///
/// Cost: two products with the tag matrix, [B, D] x [D, T] and [B, T] x [T, D].
public struct RankingLoss: Sendable {
    /// Unit tag vectors, one row per tag id.
    public let tagVectors: Tensor
    public let margin: Float
    var cosines = Tensor(zeros: [0])
    var cosineGradient = Tensor(zeros: [0])
    var directionGradient = Tensor(zeros: [0])

    public init(tagVectors: Tensor, margin: Float) {
        self.tagVectors = tagVectors
        self.margin = margin
    }

    /// The loss of `generated` ([B, D]) and dL/d generated added into `gradient` times
    /// `weight` (`gradient` has `generated`'s shape). `positives[b]` is row b's tag id,
    /// `ownTags(b)` the tag ids that are not negatives for row b.
    public mutating func add(generated: Tensor, positives: [Int], ownTags: (Int) -> [Int], weight: Float,
                             into gradient: inout Tensor) -> Float {
        let b = generated.rows, d = generated.columns, t = tagVectors.rows
        precondition(positives.count == b && gradient.shape == generated.shape && tagVectors.columns == d,
                     "ranking loss: \(positives.count) positives, gradient \(gradient.shape), generated \(generated.shape)")
        var norms = [Float](repeating: 0, count: b)
        var directions = generated
        directions.withUnsafeMutableBufferPointer { p in
            for r in 0..<b {
                let row = p.baseAddress! + r * d
                let norm = VectorKernels.dot(row, row, count: d).squareRoot()
                norms[r] = norm
                if norm > 0 { VectorKernels.scale(UnsafeMutableBufferPointer(start: row, count: d), by: 1 / norm) }
            }
        }
        cosines.assignProduct(directions, tagVectors, transposeB: true)
        if cosineGradient.shape != [b, t] { cosineGradient = Tensor(zeros: [b, t]) }
        let scale = 1 / Float(max(b, 1))
        var total: Double = 0
        cosines.withUnsafeBufferPointer { c in
            cosineGradient.withUnsafeMutableBufferPointer { g in
                for r in 0..<b {
                    let row = c.baseAddress! + r * t, out = g.baseAddress! + r * t
                    let positive = positives[r]
                    let threshold = row[positive] - margin
                    var active: Float = 0
                    for j in 0..<t {
                        let h = row[j] - threshold
                        if h > 0 {
                            total += Double(h)
                            out[j] = scale
                            active += 1
                        } else {
                            out[j] = 0
                        }
                    }
                    // The positive and the image's other tags are not negatives.
                    for own in ownTags(r) + [positive] where own >= 0 && own < t && out[own] != 0 {
                        total -= Double(row[own] - threshold)
                        out[own] = 0
                        active -= 1
                    }
                    out[positive] = -active * scale
                }
            }
        }
        directionGradient.assignProduct(cosineGradient, tagVectors)
        directions.withUnsafeBufferPointer { u in
            directionGradient.withUnsafeBufferPointer { du in
                gradient.withUnsafeMutableBufferPointer { out in
                    for r in 0..<b where norms[r] > 0 {
                        let ur = u.baseAddress! + r * d, dur = du.baseAddress! + r * d, o = out.baseAddress! + r * d
                        let along = VectorKernels.dot(ur, dur, count: d)
                        let factor = weight / norms[r]
                        for i in 0..<d { o[i] += factor * (dur[i] - along * ur[i]) }
                    }
                }
            }
        }
        return Float(total) * scale
    }
}
