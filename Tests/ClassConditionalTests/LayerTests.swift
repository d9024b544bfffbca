import Testing
import TagganCore
@testable import TagGAN

/// Central differences (L(p + eps) - L(p - eps)) / 2 eps against the analytic gradient,
/// eps = 1e-3 in Float32 (a smaller step than Tests/TagGANTests/GradientTests.swift, because the sigmoid is curved); coordinates
/// where a maxout tie or ReLU kink lies within eps (forward and backward differences
/// disagree by more than the sigmoid's curvature explains) are skipped, at most a quarter.
/// Tolerance: |numeric - analytic| <= 2e-2 * max(|numeric|, |analytic|) + 2e-3.
struct FiniteDifferences {
    static let epsilon: Float = 1e-3
    var checked = 0

    mutating func check(_ name: String, value: inout Tensor, analytic: Tensor, limit: Int = 30,
                        loss: (Tensor) -> Float, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(analytic.count == value.count, "\(name): \(analytic.count) gradient values for \(value.count)",
                sourceLocation: sourceLocation)
        guard analytic.count == value.count else { return }
        var local = 0, skipped = 0
        for i in stride(from: 0, to: value.count, by: max(1, value.count / limit)) {
            let original = value[i]
            let centre = loss(value)
            value[i] = original + Self.epsilon
            let plus = loss(value)
            value[i] = original - Self.epsilon
            let minus = loss(value)
            value[i] = original
            let forward = (plus - centre) / Self.epsilon, backward = (centre - minus) / Self.epsilon
            if abs(forward - backward) > 0.05 * max(abs(forward), abs(backward)) + 3e-3 {
                skipped += 1
                continue
            }
            let numeric = (plus - minus) / (2 * Self.epsilon)
            #expect(abs(numeric - analytic[i]) <= 2e-2 * max(abs(numeric), abs(analytic[i])) + 2e-3,
                    "\(name)[\(i)]: numeric \(numeric), analytic \(analytic[i])", sourceLocation: sourceLocation)
            local += 1
        }
        #expect(skipped * 4 <= local + skipped, "\(name): \(skipped) kinks skipped", sourceLocation: sourceLocation)
        checked += local
    }
}

func dotProduct(_ y: Tensor, _ r: Tensor) -> Float {
    var total: Double = 0
    for i in 0..<y.count { total += Double(y[i]) * Double(r[i]) }
    return Float(total)
}

func gaussianTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var random = SeededRandom(seed: seed)
    return Tensor.gaussian(shape: shape, deviation: scale, using: &random)
}

/// Small sizes for gradient checks: every branch of the paper's networks, few units.
func tinySizes(classes: Int) -> ImageNetworkSizes {
    var s = ImageNetworkSizes(imageSize: 6, classes: classes)
    s.noiseSize = 4
    s.generatorNoiseHidden = 5
    s.generatorLabelHidden = 4
    s.generatorJointHidden = 7
    s.discriminatorImageUnits = 4
    s.discriminatorImagePieces = 3
    s.discriminatorLabelUnits = 3
    s.discriminatorLabelPieces = 2
    s.discriminatorJointUnits = 4
    s.discriminatorJointPieces = 2
    s.generatorDropout = 0.5
    return s
}

@Suite("Class-conditional layers and networks: finite-difference gradients")
struct ClassConditionalLayerTests {
    @Test func sigmoidGradientMatchesFiniteDifferences() {
        var x = gaussianTensor([4, 5], seed: 1, scale: 2)
        let r = gaussianTensor([4, 5], seed: 2)
        var y = x
        Sigmoid.forward(&y)
        var dy = r
        Sigmoid.backward(output: y, gradient: &dy)
        var check = FiniteDifferences()
        check.check("sigmoid dx", value: &x, analytic: dy) { x in
            var y = x; Sigmoid.forward(&y); return dotProduct(y, r)
        }
        #expect(check.checked >= 15)
        // Worked values: sigmoid(0) = 0.5 with slope 0.25; saturation gives 0 and 1, never NaN.
        var t = Tensor(shape: [1, 3], values: [0, 100, -100])
        Sigmoid.forward(&t)
        #expect(t[0] == 0.5 && t[1] == 1 && t[2] >= 0 && t[2] < 1e-40)
        var g = Tensor(shape: [1, 3], values: [1, 1, 1])
        Sigmoid.backward(output: t, gradient: &g)
        #expect(g[0] == 0.25 && g[1] == 0 && g[2] >= 0 && g[2] < 1e-40)
    }

    @Test func uniformNoiseFillsTheUnitHypercube() {
        var z = Tensor(zeros: [200, 100])
        var random = SeededRandom(seed: 3)
        UniformNoise.fill(&z, random: &random)
        #expect(z.storage.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = Double(z.sum()) / Double(z.count)
        let variance = z.storage.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(z.count)
        // U[0, 1): mean 1/2, variance 1/12; 20,000 draws give standard errors ~0.002 and ~0.0006.
        #expect(abs(mean - 0.5) < 0.01)
        #expect(abs(variance - 1.0 / 12) < 0.003)
        var again = Tensor(zeros: [200, 100])
        var same = SeededRandom(seed: 3)
        UniformNoise.fill(&again, random: &same)
        #expect(again == z, "the same stream gives the same noise")
    }

    @Test(arguments: [3, 0])
    func generatorGradientsMatchFiniteDifferences(classes: Int) {
        let sizes = tinySizes(classes: classes)
        var init_ = SeededRandom(seed: 4)
        var g = ImageGenerator(sizes: sizes, random: &init_)
        // Non-zero biases: with zero ones, a row whose inputs dropout zeroed sits exactly on a ReLU kink.
        var seed: UInt64 = 20
        g.visitParameters { name, w, _ in if name.hasSuffix(".bias") { w = gaussianTensor(w.shape, seed: seed, scale: 0.3); seed += 1 } }
        let z = gaussianTensor([5, 4], seed: 5)
        let y = ClassConditionalTrainer.oneHot([0, 1, 2, 1, 0].map { classes > 0 ? $0 : 0 }, count: classes)
        let r = gaussianTensor([5, 6], seed: 6)
        func loss(_ g: ImageGenerator) -> Float {
            var g = g
            var random = SeededRandom(seed: 7)  // the same dropout masks every time
            g.forward(noise: z, labels: y, training: true, random: &random)
            return dotProduct(g.output, r)
        }
        var random = SeededRandom(seed: 7)
        g.forward(noise: z, labels: y, training: true, random: &random)
        g.backward(noise: z, labels: y, outputGradient: r)
        var check = FiniteDifferences()
        var names: [String] = []
        var copy = g
        copy.visitParameters { name, value, gradient in
            names.append(name)
            let analytic = gradient
            let original = g
            check.check("G " + name, value: &value, analytic: analytic) { v in
                var h = original
                h.visitParameters { n, w, _ in if n == name { w = v } }
                return loss(h)
            }
        }
        #expect(names.contains("label.weight") == (classes > 0), "the unconditional G has no label branch")
        #expect(check.checked > 60)
    }

    @Test(arguments: [3, 0])
    func discriminatorGradientsMatchFiniteDifferences(classes: Int) {
        let sizes = tinySizes(classes: classes)
        var init_ = SeededRandom(seed: 8)
        var d = ImageDiscriminator(sizes: sizes, random: &init_)
        var seed: UInt64 = 30
        d.visitParameters { name, w, _ in if name.hasSuffix(".bias") { w = gaussianTensor(w.shape, seed: seed, scale: 0.3); seed += 1 } }
        var x = gaussianTensor([6, 6], seed: 9)
        let y = ClassConditionalTrainer.oneHot([0, 1, 2, 0, 1, 2].map { classes > 0 ? $0 : 0 }, count: classes)
        let r = gaussianTensor([6, 1], seed: 10)
        func loss(_ d: ImageDiscriminator, _ x: Tensor) -> Float {
            var d = d
            var random = SeededRandom(seed: 11)
            d.forward(images: x, labels: y, training: true, random: &random)
            return dotProduct(d.logits, r)
        }
        var random = SeededRandom(seed: 11)
        d.forward(images: x, labels: y, training: true, random: &random)
        d.backward(images: x, labels: y, logitGradient: r, parameters: true, inputGradient: true)
        var check = FiniteDifferences()
        check.check("D dx", value: &x, analytic: d.inputGradient) { loss(d, $0) }
        var copy = d
        let original = d
        copy.visitParameters { name, value, gradient in
            let analytic = gradient
            check.check("D " + name, value: &value, analytic: analytic) { v in
                var h = original
                h.visitParameters { n, w, _ in if n == name { w = v } }
                return loss(h, x)
            }
        }
        // Without parameter gradients the input gradient is the same.
        var onlyInput = original
        var again = SeededRandom(seed: 11)
        onlyInput.forward(images: x, labels: y, training: true, random: &again)
        onlyInput.backward(images: x, labels: y, logitGradient: r, parameters: false, inputGradient: true)
        #expect(onlyInput.inputGradient == d.inputGradient)
        #expect(check.checked > 60)
    }
}
