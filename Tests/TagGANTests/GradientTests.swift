import Testing
import TagganCore
@testable import TagGAN

/// Finite-difference checks of every backward pass.
///
/// Method: perturb one value by +-eps (eps = 5e-3, Float32), central difference
/// (L(p + eps) - L(p - eps)) / 2 eps against the analytic gradient. The networks are
/// piecewise linear in any single parameter (linear layers, ReLU, maxout, fixed dropout
/// masks), so the central difference is exact up to rounding unless a kink (a ReLU at 0,
/// a maxout tie) lies within eps; such coordinates are detected by the forward and
/// backward differences disagreeing and skipped (at most a quarter of a tensor's
/// coordinates may be: in the tiny test networks one weight feeds every row).
/// Tolerance: |numeric - analytic| <= 1e-2 * max(|numeric|, |analytic|) + 1e-3.
struct GradientCheck {
    static let epsilon: Float = 5e-3
    static let relativeTolerance: Float = 1e-2
    static let absoluteTolerance: Float = 1e-3

    var checked = 0
    var skipped = 0
    var worst: Float = 0

    /// Checks `analytic` (the gradient of `loss` w.r.t. `value`) at up to `limit` coordinates.
    mutating func check(_ name: String, value: inout Tensor, analytic: Tensor, limit: Int = 40,
                        loss: (Tensor) -> Float, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(analytic.count == value.count, "\(name): gradient has \(analytic.count) values for \(value.count)")
        let stride = max(1, value.count / limit)
        var localChecked = 0, localSkipped = 0
        for i in Swift.stride(from: 0, to: value.count, by: stride) {
            let original = value[i]
            let center = loss(value)
            value[i] = original + Self.epsilon
            let plus = loss(value)
            value[i] = original - Self.epsilon
            let minus = loss(value)
            value[i] = original
            let forward = (plus - center) / Self.epsilon, backward = (center - minus) / Self.epsilon
            if abs(forward - backward) > 0.05 * max(abs(forward), abs(backward)) + 2e-3 {
                localSkipped += 1
                continue
            }
            let numeric = (plus - minus) / (2 * Self.epsilon)
            let difference = abs(numeric - analytic[i])
            worst = max(worst, difference / (max(abs(numeric), abs(analytic[i])) + 1e-6))
            #expect(difference <= Self.relativeTolerance * max(abs(numeric), abs(analytic[i])) + Self.absoluteTolerance,
                    "\(name)[\(i)]: numeric \(numeric), analytic \(analytic[i])", sourceLocation: sourceLocation)
            localChecked += 1
        }
        #expect(localSkipped * 4 <= localChecked + localSkipped, "\(name): \(localSkipped) kinks skipped of \(localChecked + localSkipped)",
                sourceLocation: sourceLocation)
        checked += localChecked
        skipped += localSkipped
    }
}

/// sum(y * r): a loss whose gradient w.r.t. y is r, generic enough to exercise every path.
func projection(_ y: Tensor, _ r: Tensor) -> Float {
    var total: Double = 0
    for i in 0..<y.count { total += Double(y[i]) * Double(r[i]) }
    return Float(total)
}

func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var random = SeededRandom(seed: seed)
    return Tensor.gaussian(shape: shape, deviation: scale, using: &random)
}

@Suite("TagGAN layers: finite-difference gradients")
struct LayerGradientTests {
    @Test func linear() {
        var random = SeededRandom(seed: 1)
        var layer = Linear(inputs: 5, outputs: 4, random: &random)
        layer.bias = randomTensor([1, 4], seed: 2)
        var x = randomTensor([3, 5], seed: 3)
        let r = randomTensor([3, 4], seed: 4)
        var y = Tensor(zeros: [0])
        layer.forward(x, into: &y)
        layer.backwardParameters(input: x, outputGradient: r)
        var dx = Tensor(zeros: [0])
        layer.backwardInput(outputGradient: r, into: &dx)
        var check = GradientCheck()
        let analyticW = layer.weightGradient, analyticB = layer.biasGradient
        check.check("dx", value: &x, analytic: dx) { x in
            var y = Tensor(zeros: [0]); layer.forward(x, into: &y); return projection(y, r)
        }
        var w = layer.weight
        check.check("dW", value: &w, analytic: analyticW) { w in
            var l = layer; l.weight = w; var y = Tensor(zeros: [0]); l.forward(x, into: &y); return projection(y, r)
        }
        var b = layer.bias
        check.check("db", value: &b, analytic: analyticB) { b in
            var l = layer; l.bias = b; var y = Tensor(zeros: [0]); l.forward(x, into: &y); return projection(y, r)
        }
        // Accumulation adds to what is there.
        layer.backwardParameters(input: x, outputGradient: r, accumulate: true)
        #expect(layer.weightGradient == analyticW + analyticW)
    }

    @Test func reluAndItsSubgradientAtZero() {
        var x = randomTensor([4, 6], seed: 5)
        x[0] = 0
        let r = randomTensor([4, 6], seed: 6)
        var y = x
        ReLU.forward(&y)
        var dy = r
        ReLU.backward(output: y, gradient: &dy)
        #expect(dy[0] == 0, "the subgradient at 0 is 0")
        x[0] = 0.5
        var check = GradientCheck()
        check.check("relu dx", value: &x, analytic: { var y = x; ReLU.forward(&y); var d = r; ReLU.backward(output: y, gradient: &d); return d }()) { x in
            var y = x; ReLU.forward(&y); return projection(y, r)
        }
    }

    @Test func dropoutWithAFixedMask() {
        var x = randomTensor([5, 8], seed: 7)
        let r = randomTensor([5, 8], seed: 8)
        func run(_ x: Tensor) -> (Tensor, Dropout) {
            var layer = Dropout(rate: 0.5)
            var random = SeededRandom(seed: 9)
            var y = x
            layer.forward(&y, training: true, random: &random)
            return (y, layer)
        }
        let (y, layer) = run(x)
        var dy = r
        layer.backward(&dy)
        var check = GradientCheck()
        check.check("dropout dx", value: &x, analytic: dy) { projection(run($0).0, r) }
        // Kept values are scaled by 1 / (1 - rate); about half are dropped.
        let kept = layer.mask.storage.filter { $0 != 0 }
        #expect(kept.allSatisfy { $0 == 2 })
        #expect(kept.count > 10 && kept.count < 30)
        #expect(y.storage.indices.allSatisfy { y[$0] == x[$0] * layer.mask[$0] })
        // Inference leaves values alone.
        var inference = Dropout(rate: 0.5)
        var random = SeededRandom(seed: 1)
        var same = x
        inference.forward(&same, training: false, random: &random)
        #expect(same == x)
    }

    @Test func dropoutKeepsTheRequestedShare() {
        var random = SeededRandom(seed: 3)
        var mask = [Float](repeating: 0, count: 100_003)
        mask.withUnsafeMutableBufferPointer {
            LayerKernels.dropoutMask($0.baseAddress!, count: $0.count, rate: 0.3, random: &random)
        }
        let share = Double(mask.filter { $0 != 0 }.count) / Double(mask.count)
        #expect(abs(share - 0.7) < 0.01, "kept \(share)")
    }

    @Test func maxout() {
        var z = randomTensor([3, 12], seed: 10)
        let r = randomTensor([3, 4], seed: 11)
        var layer = Maxout(units: 4, pieces: 3)
        var y = Tensor(zeros: [0])
        layer.forward(z, into: &y)
        #expect(y.shape == [3, 4])
        #expect(y[1, 2] == max(z[1, 6], z[1, 7], z[1, 8]))
        var dz = Tensor(zeros: [0])
        layer.backward(r, into: &dz)
        var check = GradientCheck()
        check.check("maxout dz", value: &z, analytic: dz) { z in
            var l = Maxout(units: 4, pieces: 3); var y = Tensor(zeros: [0]); l.forward(z, into: &y); return projection(y, r)
        }
    }

    @Test func concatenation() {
        var a = randomTensor([3, 2], seed: 12), b = randomTensor([3, 5], seed: 13)
        let r = randomTensor([3, 7], seed: 14)
        var y = Tensor(zeros: [0])
        Concatenation.forward(a, b, into: &y)
        #expect(y.row(1) == a.row(1) + b.row(1))
        var da = Tensor(zeros: [0]), db = Tensor(zeros: [0])
        Concatenation.backward(r, firstColumns: 2, into: &da, &db)
        var check = GradientCheck()
        check.check("concat da", value: &a, analytic: da) { a in
            var y = Tensor(zeros: [0]); Concatenation.forward(a, b, into: &y); return projection(y, r)
        }
        check.check("concat db", value: &b, analytic: db) { b in
            var y = Tensor(zeros: [0]); Concatenation.forward(a, b, into: &y); return projection(y, r)
        }
    }

    @Test func sigmoidCrossEntropyIsStableAndItsGradientIsRight() {
        // Extreme logits: finite, and equal to |l| when the label disagrees.
        #expect(SigmoidCrossEntropy.loss(logit: 100, target: 0) == 100)
        #expect(SigmoidCrossEntropy.loss(logit: -100, target: 1) == 100)
        #expect(SigmoidCrossEntropy.loss(logit: 100, target: 1) == 0)
        #expect(SigmoidCrossEntropy.sigmoid(-200) == 0 && SigmoidCrossEntropy.sigmoid(200) == 1)
        #expect(abs(SigmoidCrossEntropy.loss(logit: 0, target: 1) - 0.693147) < 1e-6)
        var logits = Tensor(shape: [6, 1], values: [-3, -0.5, 0.2, 1.5, 4, -1])
        var gradient = Tensor(zeros: [6, 1])
        func loss(_ l: Tensor) -> Float {
            var g = Tensor(zeros: [6, 1])
            return SigmoidCrossEntropy.meanLoss(logits: l, range: 0..<3, target: 1, gradientScale: 1.0 / 3, gradient: &g).loss
                + SigmoidCrossEntropy.meanLoss(logits: l, range: 3..<6, target: 0, gradientScale: 1.0 / 3, gradient: &g).loss
        }
        _ = SigmoidCrossEntropy.meanLoss(logits: logits, range: 0..<3, target: 1, gradientScale: 1.0 / 3, gradient: &gradient)
        _ = SigmoidCrossEntropy.meanLoss(logits: logits, range: 3..<6, target: 0, gradientScale: 1.0 / 3, gradient: &gradient)
        var check = GradientCheck()
        check.check("bce dl", value: &logits, analytic: gradient, loss: loss)
    }
}

/// Small sizes for the assembled networks: every branch and the maxout stay in play.
func smallSizes() -> NetworkSizes {
    var sizes = NetworkSizes(featureSize: 6, wordSize: 4)
    sizes.noiseSize = 3
    sizes.generatorNoiseHidden = 5
    sizes.generatorFeatureHidden = 7
    sizes.discriminatorWordHidden = 5
    sizes.discriminatorFeatureHidden = 6
    sizes.maxoutUnits = 4
    sizes.maxoutPieces = 3
    return sizes
}

/// Names and values of every parameter, and of every gradient.
func parameters(_ g: inout Generator) -> [(String, Tensor, Tensor)] {
    var list: [(String, Tensor, Tensor)] = []
    g.visitParameters { name, w, dw in list.append((name, w, dw)) }
    return list
}

func parameters(_ d: inout Discriminator) -> [(String, Tensor, Tensor)] {
    var list: [(String, Tensor, Tensor)] = []
    d.visitParameters { name, w, dw in list.append((name, w, dw)) }
    return list
}

@Suite("TagGAN networks: finite-difference gradients of G and D")
struct NetworkGradientTests {
    @Test func generatorWithDropout() {
        var random = SeededRandom(seed: 20)
        var generator = Generator(sizes: smallSizes(), random: &random)
        generator.visitParameters { name, w, _ in if name.hasSuffix("bias") { w = randomTensor(w.shape, seed: 21, scale: 0.3) } }
        let z = randomTensor([5, 3], seed: 22), x = randomTensor([5, 6], seed: 23)
        let r = randomTensor([5, 4], seed: 24)
        func loss(_ g: Generator) -> Float {
            var g = g
            var masks = SeededRandom(seed: 25)
            g.forward(noise: z, features: x, training: true, random: &masks)
            return projection(g.output, r)
        }
        var masks = SeededRandom(seed: 25)
        generator.forward(noise: z, features: x, training: true, random: &masks)
        generator.backward(noise: z, features: x, outputGradient: r)
        var check = GradientCheck()
        for (name, value, gradient) in parameters(&generator) {
            var value = value
            check.check("G." + name, value: &value, analytic: gradient) { v in
                var g = generator
                g.visitParameters { n, w, _ in if n == name { w = v } }
                return loss(g)
            }
        }
        #expect(check.checked > 100)
    }

    /// D on [real; fake] rows that share their images, with the paper's loss.
    @Test func discriminatorWithSharedImagesAndDropout() {
        var random = SeededRandom(seed: 30)
        var discriminator = Discriminator(sizes: smallSizes(), random: &random)
        discriminator.visitParameters { name, w, _ in if name.hasSuffix("bias") { w = randomTensor(w.shape, seed: 31, scale: 0.3) } }
        var words = randomTensor([8, 4], seed: 32)
        let features = randomTensor([4, 6], seed: 33)
        func loss(_ d: Discriminator, _ words: Tensor) -> (Float, Tensor) {
            var d = d
            var masks = SeededRandom(seed: 34)
            d.forward(words: words, features: features, training: true, random: &masks)
            var gradient = Tensor(zeros: [8, 1])
            let real = SigmoidCrossEntropy.meanLoss(logits: d.logits, range: 0..<4, target: 1, gradientScale: 0.25, gradient: &gradient)
            let fake = SigmoidCrossEntropy.meanLoss(logits: d.logits, range: 4..<8, target: 0, gradientScale: 0.25, gradient: &gradient)
            return (real.loss + fake.loss, gradient)
        }
        var masks = SeededRandom(seed: 34)
        discriminator.forward(words: words, features: features, training: true, random: &masks)
        let logitGradient = loss(discriminator, words).1
        discriminator.backward(words: words, features: features, logitGradient: logitGradient,
                               parameters: true, wordGradient: true)
        var check = GradientCheck()
        for (name, value, gradient) in parameters(&discriminator) {
            var value = value
            check.check("D." + name, value: &value, analytic: gradient) { v in
                var d = discriminator
                d.visitParameters { n, w, _ in if n == name { w = v } }
                return loss(d, words).0
            }
        }
        let wordGradient = discriminator.wordGradient
        check.check("D.words", value: &words, analytic: wordGradient) { loss(discriminator, $0).0 }
        #expect(check.checked > 150)

        // The generator's path (no parameter gradients, the word branch alone) gives
        // the same word gradient.
        var again = discriminator
        var masks2 = SeededRandom(seed: 34)
        again.forward(words: words, features: features, training: true, random: &masks2)
        again.backward(words: words, features: features, logitGradient: logitGradient, parameters: false, wordGradient: true)
        for i in 0..<wordGradient.count { #expect(abs(again.wordGradient[i] - wordGradient[i]) <= 1e-6) }
    }

    /// With a weight-gradient scale s and accumulation on (what the trainer's fused SGD
    /// sets), every weight's gradient becomes what it held plus s times the plain
    /// gradient, in G and in D (whose maxout weight takes two products, word rows and
    /// image rows); the biases keep their plain gradients.
    @Test func scaledAccumulatedWeightGradientsAddToWhatTheLayerHeld() {
        var random = SeededRandom(seed: 50)
        var plainD = Discriminator(sizes: smallSizes(), random: &random)
        var plainG = Generator(sizes: smallSizes(), random: &random)
        var fusedD = plainD, fusedG = plainG
        let scale: Float = -0.37
        var held: [String: Tensor] = [:]
        fusedD.visitParameters { name, _, dw in
            if name.hasSuffix("weight") { dw = randomTensor(dw.shape, seed: 51); held["D." + name] = dw }
        }
        fusedG.visitParameters { name, _, dw in
            if name.hasSuffix("weight") { dw = randomTensor(dw.shape, seed: 52); held["G." + name] = dw }
        }
        fusedD.setWeightGradientProducts(scale: scale, accumulate: true)
        fusedG.setWeightGradientProducts(scale: scale, accumulate: true)
        let words = randomTensor([6, 4], seed: 53), features = randomTensor([3, 6], seed: 54)
        let logitGradient = randomTensor([6, 1], seed: 55)
        let z = randomTensor([3, 3], seed: 56), r = randomTensor([3, 4], seed: 57)
        var masks = SeededRandom(seed: 58)
        plainD.forward(words: words, features: features, training: true, random: &masks)
        plainD.backward(words: words, features: features, logitGradient: logitGradient, parameters: true, wordGradient: false)
        masks = SeededRandom(seed: 58)
        fusedD.forward(words: words, features: features, training: true, random: &masks)
        fusedD.backward(words: words, features: features, logitGradient: logitGradient, parameters: true, wordGradient: false)
        masks = SeededRandom(seed: 59)
        plainG.forward(noise: z, features: features, training: true, random: &masks)
        plainG.backward(noise: z, features: features, outputGradient: r)
        masks = SeededRandom(seed: 59)
        fusedG.forward(noise: z, features: features, training: true, random: &masks)
        fusedG.backward(noise: z, features: features, outputGradient: r)
        var compared = 0
        for (prefix, plain, fused) in [("D.", parameters(&plainD), parameters(&fusedD)), ("G.", parameters(&plainG), parameters(&fusedG))] {
            for ((name, _, g), (_, _, f)) in zip(plain, fused) {
                #expect(g.storage.contains { $0 != 0 }, "\(prefix)\(name): the plain gradient is not all zero")
                for i in 0..<g.count {
                    let expected = name.hasSuffix("weight") ? held[prefix + name]![i] + scale * g[i] : g[i]
                    #expect(abs(f[i] - expected) <= 1e-5 * max(1, abs(expected)), "\(prefix)\(name)[\(i)]")
                }
                compared += 1
            }
        }
        #expect(compared == 14, "8 parameters of D and 6 of G")
    }

    /// Sharing the image branch over repeated rows equals repeating the features.
    @Test func sharedImageBranchEqualsRepeatedFeatures() {
        var sizes = smallSizes()
        sizes.dropout = 0
        var random = SeededRandom(seed: 40)
        var shared = Discriminator(sizes: sizes, random: &random)
        var repeated = shared
        let words = randomTensor([6, 4], seed: 41), features = randomTensor([3, 6], seed: 42)
        let twice = Tensor(shape: [6, 6], values: features.storage + features.storage)
        var masks = SeededRandom(seed: 1)
        shared.forward(words: words, features: features, training: true, random: &masks)
        repeated.forward(words: words, features: twice, training: true, random: &masks)
        for i in 0..<6 { #expect(abs(shared.logits[i] - repeated.logits[i]) < 1e-5) }
        let g = randomTensor([6, 1], seed: 43)
        shared.backward(words: words, features: features, logitGradient: g, parameters: true, wordGradient: false)
        repeated.backward(words: words, features: twice, logitGradient: g, parameters: true, wordGradient: false)
        let a = parameters(&shared), b = parameters(&repeated)
        for (x, y) in zip(a, b) {
            for i in 0..<x.2.count { #expect(abs(x.2[i] - y.2[i]) < 1e-5, "\(x.0)[\(i)]") }
        }
    }
}
