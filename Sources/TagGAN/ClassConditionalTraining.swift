import Foundation
import TagganCore

/// `cgan`: G and D see the class y (Mirza & Osindero 2014, section 4.1). `gan`: the same
/// networks without y (Goodfellow et al. 2014), Table 1's GAN row.
public enum ClassConditionalModel: String, Codable, Sendable, CaseIterable {
    case cgan, gan
}

/// Images (N x pixels, values in [0, 1]) with one class label each: what the command
/// hands the trainer. It reads no file format itself.
public struct LabelledImageData: Sendable {
    public let images: Tensor
    public let labels: [Int]
    public let classes: Int

    public init(images: Tensor, labels: [Int], classes: Int) throws {
        guard images.rank == 2, images.rows == labels.count, images.rows > 0 else {
            throw TagganError.failure("\(images.rows) images for \(labels.count) labels")
        }
        if let bad = labels.first(where: { !(0..<classes).contains($0) }) {
            throw TagganError.failure("label \(bad) is not one of the \(classes) classes")
        }
        self.images = images
        self.labels = labels
        self.classes = classes
    }

    public var count: Int { labels.count }
    public var imageSize: Int { images.columns }

    /// FNV-1a over shape, pixel bits and labels: a resumed run checks it trains on the
    /// same data.
    public var fingerprint: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ value: UInt64) {
            var v = value
            for _ in 0..<8 {
                hash = (hash ^ (v & 0xFF)) &* 0x0000_0100_0000_01B3
                v >>= 8
            }
        }
        images.shape.forEach { mix(UInt64($0)) }
        images.withUnsafeBufferPointer { $0.forEach { mix(UInt64($0.bitPattern)) } }
        labels.forEach { mix(UInt64($0)) }
        mix(UInt64(classes))
        return hash
    }
}

/// Everything that defines a class-conditional training run. The defaults are the
/// paper's (section 4.1): SGD, batch 100, rate 0.1 divided by 1.00004 every step down to
/// 1e-6, momentum 0.5 rising to 0.7; dropout 0.5 in D (`ImageNetworkSizes`).
public struct ClassConditionalConfiguration: Codable, Sendable, Equatable {
    public var model: ClassConditionalModel = .cgan
    public var sizes: ImageNetworkSizes
    public var batchSize = 100
    /// Total steps (one D update and one G update each).
    public var steps = ClassConditionalConfiguration.defaultSteps
    public var optimizer: OptimizerKind = .sgd
    /// rate(s) = max(learningRate / learningRateDecay^s, minimumLearningRate).
    public var learningRate = 0.1
    public var learningRateDecay = 1.00004
    public var minimumLearningRate = 1e-6
    /// SGD momentum rises linearly from `initialMomentum` to `finalMomentum` over the first
    /// `momentumRampSteps` steps (pylearn2's MomentumAdjustor).
    public var initialMomentum = 0.5
    public var finalMomentum = 0.7
    public var momentumRampSteps = 5000
    public var adamBeta1 = 0.5
    public var adamBeta2 = 0.999
    public var adamEpsilon = 1e-8
    /// D's weight columns longer than this are scaled back after each update (pylearn2's
    /// `max_col_norm` 1.9365, as in Goodfellow et al.'s MNIST discriminator); 0: off.
    public var discriminatorMaxColumnNorm = 1.9365
    /// G's output bias starts at logit(mean training pixel) (`marginalLogits`), so G
    /// starts from the mean image rather than from grey 0.5 everywhere.
    public var outputBiasFromMarginals = true
    public var seed: UInt64 = 1
    /// Steps between loss-history records.
    public var historyEvery = 50

    /// The default run: 10,000 steps of batch 100, 20 epochs of Fashion-MNIST's 50,000
    /// training images.
    public static let defaultSteps = 10_000

    public init(model: ClassConditionalModel, imageSize: Int, classes: Int) {
        self.model = model
        sizes = ImageNetworkSizes(imageSize: imageSize, classes: model == .cgan ? classes : 0)
    }

    public func learningRate(atStep step: Int) -> Double {
        max(learningRate / pow(learningRateDecay, Double(step)), minimumLearningRate)
    }

    public func momentum(atStep step: Int) -> Double {
        guard momentumRampSteps > 0 else { return finalMomentum }
        let t = min(Double(step) / Double(momentumRampSteps), 1)
        return initialMomentum + (finalMomentum - initialMomentum) * t
    }
}

/// Trains the image G and D, checkpoints, and resumes exactly.
///
/// One step, with B = batch size and the next B images of this epoch's order:
/// 1. x = the real images, y their classes (one-hot), z ~ U[0, 1)^100, fake = G(z, y);
/// 2. D sees the 2B rows [x; fake] with [y; y], loss = BCE(D(x, y), 1) + BCE(D(fake, y), 0)
///    (means), D's parameters step, then its column norms are capped;
/// 3. D (updated) sees fake again with fresh dropout; G's loss is the non-saturating
///    -mean log D(G(z, y), y); the gradient flows through D into G; G's parameters step.
/// The unconditional `gan` model is the same with no y anywhere.
///
/// Every random number of step s comes from `SeededRandom(seed).split(stream: s)`, epoch
/// e's order from `split(stream: 2^62 + e)`, the initial weights from
/// `split(stream: 2^61)`: a resumed run draws exactly what the uninterrupted run drew.
public final class ClassConditionalTrainer {
    public let configuration: ClassConditionalConfiguration
    public let data: LabelledImageData
    public internal(set) var generator: ImageGenerator
    public internal(set) var discriminator: ImageDiscriminator
    public internal(set) var step = 0
    public internal(set) var history: [LossRecord] = []
    var optimizer = OptimizerState()
    var pending = PendingLosses()
    var epochOrder: (epoch: Int, order: [Int32]) = (-1, [])

    var realAndFake: Tensor
    var labels: Tensor
    var batchLabels: Tensor
    var noise: Tensor
    var logitGradient: Tensor
    var fakeLogitGradient: Tensor

    public init(data: LabelledImageData, configuration: ClassConditionalConfiguration) throws {
        var configuration = configuration
        configuration.sizes.imageSize = data.imageSize
        configuration.sizes.classes = configuration.model == .cgan ? data.classes : 0
        guard configuration.batchSize > 0 else { throw TagganError.failure("batch size must be positive") }
        guard configuration.steps > 0 else { throw TagganError.failure("steps must be positive") }
        self.configuration = configuration
        self.data = data
        var random = SeededRandom(seed: configuration.seed).split(stream: 1 << 61)
        generator = ImageGenerator(sizes: configuration.sizes, random: &random)
        discriminator = ImageDiscriminator(sizes: configuration.sizes, random: &random)
        if configuration.outputBiasFromMarginals { generator.outputLayer.bias = Self.marginalLogits(data.images) }
        let b = configuration.batchSize, s = configuration.sizes
        realAndFake = Tensor(zeros: [2 * b, s.imageSize])
        labels = Tensor(zeros: [2 * b, max(s.classes, 1)])
        batchLabels = Tensor(zeros: [b, max(s.classes, 1)])
        noise = Tensor(zeros: [b, s.noiseSize])
        logitGradient = Tensor(zeros: [2 * b, 1])
        fakeLogitGradient = Tensor(zeros: [b, 1])
    }

    /// The image index at `position` of the endless sequence of shuffled epochs.
    func example(at position: Int) -> Int {
        let epoch = position / data.count
        if epochOrder.epoch != epoch {
            var order = (0 ..< Int32(data.count)).map { $0 }
            var random = SeededRandom(seed: configuration.seed).split(stream: 1 << 62 + UInt64(epoch))
            random.shuffle(&order)
            epochOrder = (epoch, order)
        }
        return Int(epochOrder.order[position % data.count])
    }

    /// logit(mean pixel) per pixel, the mean clamped to [1e-3, 1 - 1e-3]: G's output bias
    /// that makes its first images the data's mean image (pylearn2's
    /// `init_sigmoid_bias_from_marginals`, used by Goodfellow et al.'s MNIST generator).
    public static func marginalLogits(_ images: Tensor) -> Tensor {
        let d = images.columns
        var mean = [Double](repeating: 0, count: d)
        images.withUnsafeBufferPointer { p in
            for r in 0 ..< images.rows { for c in 0 ..< d { mean[c] += Double(p[r * d + c]) } }
        }
        let logits = mean.map { sum -> Float in
            let m = min(max(sum / Double(images.rows), 1e-3), 1 - 1e-3)
            return Float(Foundation.log(m / (1 - m)))
        }
        return Tensor(shape: [1, d], values: logits)
    }

    /// One-hot rows for `classes` (a [rows, 1] placeholder when unconditional).
    public static func oneHot(_ classes: [Int], count: Int) -> Tensor {
        var t = Tensor(zeros: [classes.count, max(count, 1)])
        if count > 0 { for (r, c) in classes.enumerated() { t[r, c] = 1 } }
        return t
    }

    /// One D update and one G update. Throws, before any parameter moves, when a loss is
    /// not finite.
    @discardableResult
    public func trainStep() throws -> StepStatistics {
        let b = configuration.batchSize, d = data.imageSize, k = configuration.sizes.classes
        var random = SeededRandom(seed: configuration.seed).split(stream: UInt64(step))
        // 1. The batch: real images and their classes, noise, fakes of the same classes.
        var classes = [Int](repeating: 0, count: b)
        data.images.withUnsafeBufferPointer { images in
            realAndFake.withUnsafeMutableBufferPointer { x in
                for row in 0..<b {
                    let i = example(at: step * b + row)
                    classes[row] = data.labels[i]
                    (x.baseAddress! + row * d).update(from: images.baseAddress! + i * d, count: d)
                }
            }
        }
        if k > 0 {
            batchLabels = Self.oneHot(classes, count: k)
            labels = Self.oneHot(classes + classes, count: k)
        }
        UniformNoise.fill(&noise, minimum: configuration.sizes.noiseMinimum, random: &random)
        generator.forward(noise: noise, labels: batchLabels, training: true, random: &random)
        generator.output.withUnsafeBufferPointer { fake in
            realAndFake.withUnsafeMutableBufferPointer { x in
                (x.baseAddress! + b * d).update(from: fake.baseAddress!, count: b * d)
            }
        }

        // 2. D's step on [real; fake].
        discriminator.forward(images: realAndFake, labels: labels, training: true, random: &random)
        let scale = 1 / Float(b)
        let real = SigmoidCrossEntropy.meanLoss(logits: discriminator.logits, range: 0..<b, target: 1,
                                                gradientScale: scale, gradient: &logitGradient)
        let fake = SigmoidCrossEntropy.meanLoss(logits: discriminator.logits, range: b ..< 2 * b, target: 0,
                                                gradientScale: scale, gradient: &logitGradient)
        let discriminatorLoss = real.loss + fake.loss
        guard discriminatorLoss.isFinite else { throw diverged("discriminator loss is \(discriminatorLoss)") }
        discriminator.backward(images: realAndFake, labels: labels, logitGradient: logitGradient,
                               parameters: true, inputGradient: false)
        let rate = configuration.learningRate(atStep: step)
        var state = optimizer
        discriminator.visitParameters { name, w, g in applyOptimizer(&state, "discriminator." + name, &w, &g, rate) }
        if configuration.discriminatorMaxColumnNorm > 0 {
            let limit = Float(configuration.discriminatorMaxColumnNorm)
            discriminator.visitParameters { name, w, _ in
                guard name.hasSuffix(".weight") else { return }
                let (rows, columns) = (w.rows, w.columns)
                w.withUnsafeMutableBufferPointer {
                    LayerKernels.limitColumnNorms($0.baseAddress!, rows: rows, columns: columns, limit: limit,
                                                  threads: Parallel.defaultThreads)
                }
            }
        }

        // 3. G's step through the updated D.
        discriminator.forward(images: generator.output, labels: batchLabels, training: true, random: &random)
        let generated = SigmoidCrossEntropy.meanLoss(logits: discriminator.logits, range: 0..<b, target: 1,
                                                     gradientScale: scale, gradient: &fakeLogitGradient)
        guard generated.loss.isFinite else { throw diverged("generator loss is \(generated.loss)") }
        discriminator.backward(images: generator.output, labels: batchLabels, logitGradient: fakeLogitGradient,
                               parameters: false, inputGradient: true)
        generator.backward(noise: noise, labels: batchLabels, outputGradient: discriminator.inputGradient)
        generator.visitParameters { name, w, g in applyOptimizer(&state, "generator." + name, &w, &g, rate) }
        optimizer = state

        let statistics = StepStatistics(discriminatorLoss: discriminatorLoss, generatorLoss: generated.loss,
                                        realProbability: real.meanProbability, fakeProbability: fake.meanProbability)
        step += 1
        pending.add(statistics)
        if step % configuration.historyEvery == 0 { flushHistory() }
        return statistics
    }

    private func applyOptimizer(_ state: inout OptimizerState, _ name: String, _ weight: inout Tensor,
                                _ gradient: inout Tensor, _ rate: Double) {
        switch configuration.optimizer {
        case .sgd:
            state.sgdStep(name, weight: &weight, gradient: gradient, rate: Float(rate),
                          momentum: Float(configuration.momentum(atStep: step)))
        case .adam:
            state.adamStep(name, weight: &weight, gradient: &gradient, rate: rate, t: step + 1,
                           beta1: configuration.adamBeta1, beta2: configuration.adamBeta2,
                           epsilon: configuration.adamEpsilon)
        }
    }

    /// Trains until `configuration.steps`, writing a checkpoint into `folder` every
    /// `checkpointEvery` steps and at the end. A divergence throws and leaves the last
    /// checkpoint in place.
    public func train(checkpointEvery: Int, folder: URL?, source: [String: String] = [:],
                      observer: (ClassConditionalTrainer, StepStatistics) -> Void = { _, _ in }) throws {
        // BLAS's thread count held steady for the run (another trainer of the process, the
        // tagging GAN's, sets it to 1 for its steps; the sums would change with it).
        try BLAS.withThreadCount(nil) {
            while step < configuration.steps {
                let statistics = try trainStep()
                observer(self, statistics)
                if let folder, checkpointEvery > 0, step % checkpointEvery == 0, step < configuration.steps {
                    try saveCheckpoint(to: folder, source: source)
                }
            }
        }
        flushHistory()
        if let folder { try saveCheckpoint(to: folder, source: source) }
    }

    func flushHistory() {
        guard pending.steps > 0 else { return }
        let n = Double(pending.steps)
        history.append(LossRecord(step: step, steps: pending.steps, discriminatorLoss: pending.discriminator / n,
                                  generatorLoss: pending.generator / n, realProbability: pending.real / n,
                                  fakeProbability: pending.fake / n,
                                  learningRate: configuration.learningRate(atStep: step - 1)))
        pending = PendingLosses()
    }

    func diverged(_ what: String) -> TagganError {
        .failure("training diverged at step \(step + 1): \(what). Parameters were not updated; "
                 + "the last checkpoint (if any) is intact. Try a lower --learning-rate or --optimizer adam.")
    }

    /// True when every parameter of G and D is finite.
    public func parametersAreFinite() -> Bool {
        var finite = true
        var g = generator, d = discriminator
        g.visitParameters { _, w, _ in finite = finite && w.withUnsafeBufferPointer { LayerKernels.allFinite($0) } }
        d.visitParameters { _, w, _ in finite = finite && w.withUnsafeBufferPointer { LayerKernels.allFinite($0) } }
        return finite
    }

    /// Generates one image per entry of `classes` (ignored by the unconditional model;
    /// pass any list of the wanted length) without dropout, the noise drawn from
    /// `SeededRandom(seed)`, in batches of 500 rows. Returns rows x imageSize in (0, 1).
    public func generate(classes: [Int], seed: UInt64) -> Tensor {
        var sampler = ImageSampler(generator: generator)
        return sampler.generate(classes: classes, seed: seed)
    }
}

/// Draws images from a trained generator (the model folder's or a trainer's).
public struct ImageSampler {
    public var generator: ImageGenerator

    public init(generator: ImageGenerator) { self.generator = generator }

    /// Reads the generator of the checkpoint in `folder`.
    public init(folder: URL) throws {
        let record = try ClassConditionalCheckpoint.read(folder: folder)
        var random = SeededRandom(seed: 0)
        var generator = ImageGenerator(sizes: record.configuration.sizes, random: &random)
        let url = folder.appendingPathComponent(record.weights)
        let file = try SafeTensors.read(contentsOf: url)
        try generator.visitParameters { name, w, _ in
            w = try file.tensor("generator." + name, shape: w.shape, in: url.path)
        }
        self.generator = generator
    }

    public mutating func generate(classes: [Int], seed: UInt64) -> Tensor {
        let sizes = generator.sizes, d = sizes.imageSize, chunk = 500
        var output = [Float](repeating: 0, count: classes.count * d)
        var random = SeededRandom(seed: seed)
        var start = 0
        while start < classes.count {
            let rows = min(chunk, classes.count - start)
            var z = Tensor(zeros: [rows, sizes.noiseSize])
            UniformNoise.fill(&z, minimum: sizes.noiseMinimum, random: &random)
            let y = ClassConditionalTrainer.oneHot(Array(classes[start ..< start + rows]), count: sizes.classes)
            generator.forward(noise: z, labels: y, training: false, random: &random)
            generator.output.withUnsafeBufferPointer { p in
                output.withUnsafeMutableBufferPointer { o in
                    (o.baseAddress! + start * d).update(from: p.baseAddress!, count: rows * d)
                }
            }
            start += rows
        }
        return Tensor(shape: [classes.count, d], values: output)
    }
}
