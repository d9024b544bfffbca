import Testing
import TagganCore
@testable import TagGAN

/// The hinge ranking term of G's loss (`RankingLoss`): its value on the worked example of
/// its doc comment, own tags never counted as negatives, its gradient against central
/// differences, and that the gradient is added to what the caller already holds (D's).
struct RankingLossTests {
    /// Unit rows of a [rows, columns] tensor from a seeded draw.
    static func unitRows(_ rows: Int, _ columns: Int, seed: UInt64) -> Tensor {
        var random = SeededRandom(seed: seed)
        return Tensor.gaussian(shape: [rows, columns], using: &random).withUnitRows()
    }

    @Test func valueMatchesTheWorkedExampleOfItsDocComment() {
        // Tags in 2-d: the positive at angle 0, negatives with cosines 0.45 and 0.2 to g.
        let g = Tensor(shape: [1, 2], values: [2, 0])  // length 2: the loss is scale-free
        func at(_ cosine: Float) -> [Float] { [cosine, (1 - cosine * cosine).squareRoot()] }
        let tags = Tensor(shape: [3, 2], values: at(0.5) + at(0.45) + at(0.2))
        var loss = RankingLoss(tagVectors: tags, margin: 0.1)
        var gradient = Tensor(zeros: [1, 2])
        let value = loss.add(generated: g, positives: [0], ownTags: { _ in [0] }, weight: 1, into: &gradient)
        #expect(abs(value - 0.05) < 1e-5, "loss \(value), expected 0.1 - 0.5 + 0.45 = 0.05")
        // An own tag other than the positive is never a negative: declaring tag 1 the
        // image's removes the only active hinge.
        var none = Tensor(zeros: [1, 2])
        let excluded = loss.add(generated: g, positives: [0], ownTags: { _ in [0, 1] }, weight: 1, into: &none)
        #expect(excluded == 0)
        #expect(none.storage.allSatisfy { $0 == 0 })
    }

    @Test func gradientMatchesCentralDifferences() {
        let b = 6, d = 5, t = 9
        let tags = Self.unitRows(t, d, seed: 3)
        var random = SeededRandom(seed: 4)
        var generated = Tensor.gaussian(shape: [b, d], using: &random)
        let positives = (0..<b).map { ($0 * 7) % t }
        let own: [[Int]] = (0..<b).map { [($0 * 7) % t, ($0 * 7 + 2) % t] }
        // A large margin keeps most hinges active, so few coordinates sit on a kink.
        var loss = RankingLoss(tagVectors: tags, margin: 0.8)
        var analytic = Tensor(zeros: [b, d])
        _ = loss.add(generated: generated, positives: positives, ownTags: { own[$0] }, weight: 2.5, into: &analytic)
        var check = GradientCheck()
        check.check("ranking", value: &generated, analytic: analytic, limit: b * d) { g in
            var scratch = loss
            var unused = Tensor(zeros: [b, d])
            return 2.5 * scratch.add(generated: g, positives: positives, ownTags: { own[$0] }, weight: 1, into: &unused)
        }
        #expect(check.checked >= b * d / 2, "only \(check.checked) coordinates checked")
    }

    @Test func gradientIsAddedToWhatIsAlreadyThere() {
        let tags = Self.unitRows(4, 3, seed: 5)
        var random = SeededRandom(seed: 6)
        let generated = Tensor.gaussian(shape: [2, 3], using: &random)
        var loss = RankingLoss(tagVectors: tags, margin: 0.5)
        var alone = Tensor(zeros: [2, 3])
        _ = loss.add(generated: generated, positives: [0, 1], ownTags: { [$0] }, weight: 1, into: &alone)
        var offset = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        _ = loss.add(generated: generated, positives: [0, 1], ownTags: { [$0] }, weight: 1, into: &offset)
        for i in 0..<6 { #expect(abs(offset[i] - (alone[i] + Float(i + 1))) < 1e-5) }
    }
}
