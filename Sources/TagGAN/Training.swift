import Foundation
import TagganCore

/// `cgan`: the paper. `icgan`: G and D are conditioned on image i's embedding h_i, and the
/// real tag vector shown to D with h_i is a tag of a neighbour drawn uniformly from the
/// k nearest images to i (Casanova et al. 2021), which gives images with few or noisy
/// tags a denser target.
public enum TrainingMode: String, Codable, Sendable, CaseIterable {
    case cgan, icgan
}

/// Everything that defines a training run. The defaults are the paper's schedule;
/// `taggan train` departs from it where OpenClipart showed it must (Adam at 1e-4,
/// `featureMean`, `mismatchWeight` 0.5: BENCHMARKS.md, TagGAN).
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    public var mode: TrainingMode = .cgan
    public var sizes: NetworkSizes
    public var batchSize = 100
    /// Total steps (one D update and one G update each).
    public var steps = TrainingConfiguration.defaultSteps
    public var optimizer: OptimizerKind = .sgd
    /// Initial learning rate; divided by `learningRateDecay` every step, never below
    /// `minimumLearningRate`: rate(s) = max(rate / decay^s, minimum).
    public var learningRate = 0.1
    public var learningRateDecay = 1.00004
    public var minimumLearningRate = 1e-6
    /// SGD momentum rises linearly from `initialMomentum` to `finalMomentum` over the
    /// first `momentumRampSteps` steps (pylearn2's MomentumAdjustor, as in the paper).
    public var initialMomentum = 0.5
    public var finalMomentum = 0.7
    public var momentumRampSteps = 2000
    public var adamBeta1 = 0.5
    public var adamBeta2 = 0.999
    public var adamEpsilon = 1e-8
    /// After each update, weight columns of G and D (the weights into one unit) longer
    /// than this are scaled back to this length: pylearn2's `max_col_norm`, the
    /// constraint of the GAN paper's configurations (1.9365). It bounds how steep D and
    /// how large G's outputs can become: without it, the paper's rate of 0.1 let G's
    /// output lengths run away (1e5 after 400 steps on an OpenClipart-sized synthetic
    /// workspace) while the real tag vectors have length 1. At initialisation columns
    /// are about sqrt(2) long, so it only acts once weights grow. 0 turns it off.
    public var maxColumnNorm = 1.9365
    /// IC-GAN neighbourhood size k.
    public var neighbours = 20
    /// IC-GAN: the share of steps' real examples that keep the image's own tag instead of
    /// a neighbour's (nil or 0: always a neighbour's, as IC-GAN; 1 is the CGAN target).
    public var ownTagShare: Double?
    public var seed: UInt64 = 1
    /// Steps between loss-history records.
    public var historyEvery = 50
    /// Tag vectors scaled to unit length before training. Chosen by measurement (the
    /// TagGAN section of BENCHMARKS.md): tags are later found by cosine similarity, so a
    /// vector's length carries nothing the sampler uses, and word2vec lengths vary with
    /// word frequency.
    public var unitTagVectors = true
    /// Image features scaled to unit length before G and D see them (and before
    /// sampling). A layer's effective step is about rate x |input|^2; pooled conv-net
    /// features have lengths in the tens, which made the paper's rate of 0.1 blow G's
    /// outputs up within 200 steps; unit rows keep the rate meaningful whatever the
    /// feature extractor's scale. Cosine neighbourhoods are unchanged by it.
    public var unitFeatures = true
    /// The mean training feature, subtracted from every feature row before the unit
    /// scaling (nil: no centring). Pooled conv-net features are all non-negative, so unit
    /// rows share one large common direction (cosine ~0.7 between unrelated images) and the
    /// part that tells images apart is small beside it; centring leaves only that part.
    /// Set by `taggan train` (`--centre-features`, default on), saved with the model, and
    /// applied by the sampler too.
    public var featureMean: [Float]?
    /// Weight of mismatched pairs in D's loss (Reed et al. 2016's matching-aware
    /// discriminator): besides (image, its tag) as real and (image, G's vector) as fake, D
    /// sees (image, a tag the image does not have) as fake, and its loss is
    /// BCE(real, 1) + (1 - w) BCE(fake, 0) + w BCE(mismatched, 0). Without it D can score a
    /// pair by the word alone (is it a real tag vector?), and G learns to emit plausible
    /// tags whatever the image. nil or 0: the paper's D.
    public var mismatchWeight: Double?
    /// Weight of the hinge ranking term in G's loss (`RankingLoss`, DeViSE-style): G's
    /// loss is the non-saturating adversarial loss + w L_rank, where L_rank asks every
    /// generated vector to be nearer to its example's tag than to each tag the image does
    /// not have, by `rankingMargin` in cosine. A departure from the paper, chosen by
    /// measurement (BENCHMARKS.md, TagGAN). nil or 0: the paper's G loss.
    public var rankingWeight: Double?
    /// The ranking term's margin m in cosine (default 0.1).
    public var rankingMargin: Double?

    /// Throws, naming `model` and both widths, unless features of `columns` columns (from
    /// `source`, e.g. the embeddings file) fit these networks and the saved feature mean:
    /// a user can point a command at a model trained on other features.
    public func checkFeatureWidth(_ columns: Int, from source: String, model: String) throws {
        guard columns == sizes.featureSize else {
            throw TagganError.file(model, "the model takes \(sizes.featureSize)-d features, but \(source) has \(columns)")
        }
        if let mean = featureMean, mean.count != columns {
            throw TagganError.file(model, "the saved feature mean has \(mean.count) entries, but \(source) has \(columns) columns")
        }
    }

    /// Features as G and D see them: centred by `featureMean` when set, then scaled to
    /// unit length when `unitFeatures`.
    public func conditioned(features: Tensor) -> Tensor {
        var result = features
        if let mean = featureMean {
            precondition(mean.count == features.columns, "feature mean has \(mean.count) entries, features \(features.columns) columns")
            let f = features.columns
            result.withUnsafeMutableBufferPointer { p in
                mean.withUnsafeBufferPointer { m in
                    for r in 0 ..< features.rows { VectorKernels.axpy(-1, m.baseAddress!, p.baseAddress! + r * f, count: f) }
                }
            }
        }
        return unitFeatures ? result.withUnitRows() : result
    }

    /// The default schedule: 5,000 steps of batch 100, about 30 epochs of OpenClipart's
    /// train split (4,300 images x 3.7 tags = 16,000 examples): about 10 minutes at the
    /// 8-9 steps/s measured on 2 cores (BENCHMARKS.md, TagGAN).
    public static let defaultSteps = 5000

    public init(sizes: NetworkSizes) { self.sizes = sizes }

    public func learningRate(atStep step: Int) -> Double {
        max(learningRate / pow(learningRateDecay, Double(step)), minimumLearningRate)
    }

    public func momentum(atStep step: Int) -> Double {
        guard momentumRampSteps > 0 else { return finalMomentum }
        let t = min(Double(step) / Double(momentumRampSteps), 1)
        return initialMomentum + (finalMomentum - initialMomentum) * t
    }
}

/// What one step measured.
public struct StepStatistics: Sendable, Equatable {
    public var discriminatorLoss: Float
    /// The non-saturating generator loss, -mean log D(G(z, x), x).
    public var generatorLoss: Float
    /// Mean D(real) and D(fake) over the batch (before D's update).
    public var realProbability: Float
    public var fakeProbability: Float
    /// The ranking term of G's loss before its weight (0 when off).
    public var rankingLoss: Float = 0
}

/// Mean losses over a stretch of steps, kept in the checkpoint for reports.
public struct LossRecord: Codable, Sendable, Equatable {
    /// The step the stretch ends at (exclusive), and how many steps it averages.
    public var step: Int
    public var steps: Int
    public var discriminatorLoss: Double
    public var generatorLoss: Double
    public var realProbability: Double
    public var fakeProbability: Double
    public var learningRate: Double
    /// Mean ranking term (nil in checkpoints from before it existed, or when off).
    public var rankingLoss: Double?
}

/// Trains G and D on `TrainingData`, checkpoints, and resumes exactly.
///
/// One step, with B = batch size and the B examples next in this epoch's order:
/// 1. the real tag vector of each example (cgan: its own tag; icgan: a tag of a uniformly
///    chosen neighbour), z ~ N(0, I), fake = G(z, x) with dropout;
/// 2. D sees the 2B rows [real; fake] with the same B images (the image branch computed
///    once), loss = BCE(D(real), 1) + BCE(D(fake), 0) (means), D's parameters step;
/// 3. D (updated) sees fake again with fresh dropout; G's loss is the non-saturating
///    BCE(D(fake), 1); the gradient flows through D into G; G's parameters step.
///
/// Every random number of step s comes from the stream `split(stream: s)` of the seed,
/// and epoch e's order from `split(stream: 2^62 + e)`, so the random state is (seed,
/// step): a run resumed from a checkpoint draws exactly what the uninterrupted run drew.
public final class GANTrainer {
    public let configuration: TrainingConfiguration
    public let data: TrainingData
    public internal(set) var generator: Generator
    public internal(set) var discriminator: Discriminator
    public internal(set) var step = 0
    public internal(set) var history: [LossRecord] = []
    var optimizer = OptimizerState()
    /// `TrainingData.fingerprint` of the data as given (before unit tag vectors).
    let inputFingerprint: UInt64
    let neighbours: NeighbourTable?
    /// The canonical example order (image, tag row), before each epoch's shuffle.
    let examples: [(image: Int32, tag: Int32)]
    var epochOrder: (epoch: Int, order: [Int32]) = (-1, [])
    /// Sums since the last history record: D loss, G loss, D(real), D(fake), steps.
    var pending = PendingLosses()

    var batchFeatures: Tensor
    var words: Tensor
    var noise: Tensor
    var logitGradient: Tensor
    var fakeLogitGradient: Tensor
    /// dL/d G's output: D's word gradient plus the weighted ranking term's.
    var generatorGradient = Tensor(zeros: [0])
    var ranking: RankingLoss?
    /// This step's positive tag and image per batch row (for the ranking term).
    var batchTags: [Int]
    var batchImages: [Int]

    /// A fresh run. `data` should already carry the tag vectors the run trains on (see
    /// `unitTagVectors` and `unitFeatures`: the trainer applies them). icgan mode needs `neighbours` for the
    /// same images.
    public init(data: TrainingData, configuration: TrainingConfiguration, neighbours: NeighbourTable? = nil) throws {
        var configuration = configuration
        configuration.sizes.featureSize = data.featureSize
        configuration.sizes.wordSize = data.wordSize
        guard configuration.batchSize > 0 else { throw TagganError.failure("batch size must be positive") }
        if configuration.mode == .icgan {
            guard let neighbours, neighbours.imageCount == data.imageCount else {
                throw TagganError.failure("icgan mode needs a neighbour table for the \(data.imageCount) training images")
            }
        }
        try configuration.checkFeatureWidth(data.featureSize, from: "the training features", model: "the training configuration")
        self.configuration = configuration
        inputFingerprint = data.fingerprint
        self.data = try TrainingData(features: configuration.conditioned(features: data.features), tags: data.tags,
                                     tagVectors: configuration.unitTagVectors ? data.tagVectors.withUnitRows() : data.tagVectors,
                                     tagNames: data.tagNames)
        self.neighbours = configuration.mode == .icgan ? neighbours : nil
        var random = SeededRandom(seed: configuration.seed).split(stream: 1 << 61)
        generator = Generator(sizes: configuration.sizes, random: &random)
        discriminator = Discriminator(sizes: configuration.sizes, random: &random)
        var list: [(image: Int32, tag: Int32)] = []
        list.reserveCapacity(data.exampleCount)
        for (image, tags) in data.tags.enumerated() {
            for tag in tags { list.append((Int32(image), Int32(tag))) }
        }
        examples = list
        let b = configuration.batchSize, s = configuration.sizes
        batchFeatures = Tensor(zeros: [b, s.featureSize])
        let blocks = (configuration.mismatchWeight ?? 0) > 0 ? 3 : 2
        words = Tensor(zeros: [blocks * b, s.wordSize])
        noise = Tensor(zeros: [b, s.noiseSize])
        logitGradient = Tensor(zeros: [blocks * b, 1])
        fakeLogitGradient = Tensor(zeros: [b, 1])
        batchTags = [Int](repeating: 0, count: b)
        batchImages = [Int](repeating: 0, count: b)
        if let weight = configuration.rankingWeight, weight > 0 {
            ranking = RankingLoss(tagVectors: self.data.tagVectors.withUnitRows(), margin: Float(configuration.rankingMargin ?? 0.1))
        }
    }

    /// The example at position `position` of the endless sequence of shuffled epochs.
    func example(at position: Int) -> (image: Int32, tag: Int32) {
        let epoch = position / examples.count
        if epochOrder.epoch != epoch {
            var order = (0 ..< Int32(examples.count)).map { $0 }
            var random = SeededRandom(seed: configuration.seed).split(stream: 1 << 62 + UInt64(epoch))
            random.shuffle(&order)
            epochOrder = (epoch, order)
        }
        return examples[Int(epochOrder.order[position % examples.count])]
    }

    /// One D update and one G update. Throws, before any parameter moves, when a loss is
    /// not finite.
    @discardableResult
    public func trainStep() throws -> StepStatistics {
        // The products split themselves over two one-thread sgemm calls (`Products.split`).
        // `train` sets BLAS to one thread for the whole run; a step called on its own sets
        // it for the step and restores it.
        return try withOneBLASThreadWhenSplitting { try trainStepOnce() }
    }

    /// Runs `body` with the BLAS library at one thread when the products split themselves
    /// (`Products.splitting`, two or more workers), restoring the count afterwards; no
    /// other trainer of the process changes the count meanwhile (`BLAS.withThreadCount`).
    func withOneBLASThreadWhenSplitting<T>(_ body: () throws -> T) throws -> T {
        try BLAS.withThreadCount(Products.splitting && Parallel.defaultThreads >= 2 ? 1 : nil, body)
    }

    private func trainStepOnce() throws -> StepStatistics {
        let b = configuration.batchSize, f = data.featureSize, d = data.wordSize
        var random = SeededRandom(seed: configuration.seed).split(stream: UInt64(step))
        let ownShare = neighbours == nil ? 0 : configuration.ownTagShare ?? 0
        // 1. The batch: conditions, real tag vectors, noise.
        data.features.withUnsafeBufferPointer { features in
            data.tagVectors.withUnsafeBufferPointer { vectors in
                batchFeatures.withUnsafeMutableBufferPointer { x in
                    words.withUnsafeMutableBufferPointer { w in
                        for row in 0..<b {
                            let (image, ownTag) = example(at: step * b + row)
                            var tag = Int(ownTag)
                            batchTags[row] = tag
                            batchImages[row] = Int(image)
                            let keepOwn = ownShare > 0 && Double(random.uniform()) < ownShare
                            if let neighbours, !keepOwn {
                                let neighbour = Int(neighbours.indices[Int(image) * neighbours.k
                                    + random.index(below: neighbours.k)])
                                let theirs = data.tags[neighbour]
                                tag = theirs[random.index(below: theirs.count)]
                            }
                            (x.baseAddress! + row * f).update(from: features.baseAddress! + Int(image) * f, count: f)
                            (w.baseAddress! + row * d).update(from: vectors.baseAddress! + tag * d, count: d)
                        }
                    }
                }
            }
        }
        let mismatch = Float(configuration.mismatchWeight ?? 0)
        if mismatch > 0 {
            // Mismatched pairs: each image with the tag of a random example that is not
            // one of the tags D sees as real for it (the image's own; in icgan mode, also
            // its neighbours'), a few tries, then any tag.
            data.tagVectors.withUnsafeBufferPointer { vectors in
                words.withUnsafeMutableBufferPointer { w in
                    for row in 0..<b {
                        let image = Int(example(at: step * b + row).image)
                        func isReal(_ tag: Int) -> Bool {
                            if data.tags[image].contains(tag) { return true }
                            guard let neighbours else { return false }
                            for j in 0 ..< neighbours.k where data.tags[Int(neighbours.indices[image * neighbours.k + j])].contains(tag) {
                                return true
                            }
                            return false
                        }
                        var tag = Int(examples[random.index(below: examples.count)].tag)
                        for _ in 0..<8 where isReal(tag) {
                            tag = Int(examples[random.index(below: examples.count)].tag)
                        }
                        (w.baseAddress! + (2 * b + row) * d).update(from: vectors.baseAddress! + tag * d, count: d)
                    }
                }
            }
        }
        noise.withUnsafeMutableBufferPointer { random.fillGaussian($0) }
        generator.forward(noise: noise, features: batchFeatures, training: true, random: &random)
        generator.output.withUnsafeBufferPointer { fake in
            words.withUnsafeMutableBufferPointer { w in
                (w.baseAddress! + b * d).update(from: fake.baseAddress!, count: b * d)
            }
        }

        // 2. The discriminator's step on [real; fake] (and mismatched pairs when on).
        discriminator.forward(words: words, features: batchFeatures, training: true, random: &random)
        let scale = 1 / Float(b)
        let real = SigmoidCrossEntropy.meanLoss(logits: discriminator.logits, range: 0..<b, target: 1,
                                                gradientScale: scale, gradient: &logitGradient)
        let fake = SigmoidCrossEntropy.meanLoss(logits: discriminator.logits, range: b ..< 2 * b, target: 0,
                                                gradientScale: scale * (1 - mismatch), gradient: &logitGradient)
        var discriminatorLoss = real.loss + (1 - mismatch) * fake.loss
        if mismatch > 0 {
            let wrong = SigmoidCrossEntropy.meanLoss(logits: discriminator.logits, range: 2 * b ..< 3 * b, target: 0,
                                                     gradientScale: scale * mismatch, gradient: &logitGradient)
            discriminatorLoss += mismatch * wrong.loss
        }
        guard discriminatorLoss.isFinite else { throw diverged("discriminator loss is \(discriminatorLoss)") }
        let rate = configuration.learningRate(atStep: step)
        let fusedMomentum = fusedSGDMomentum()
        if let fusedMomentum { lendVelocities(to: &discriminator, prefix: "discriminator", rate: rate, momentum: fusedMomentum) }
        if clearsAdamGradients { prepareAccumulation(&discriminator, cleared: &discriminatorGradientsCleared) }
        discriminator.backward(words: words, features: batchFeatures, logitGradient: logitGradient,
                               parameters: true, wordGradient: false)
        update(&discriminator, prefix: "discriminator", rate: rate, fusedMomentum: fusedMomentum)
        if clearsAdamGradients { discriminatorGradientsCleared = true }

        // 3. The generator's step through the updated discriminator.
        discriminator.forward(words: generator.output, features: batchFeatures, training: true, random: &random)
        let generated = SigmoidCrossEntropy.meanLoss(logits: discriminator.logits, range: 0..<b, target: 1,
                                                     gradientScale: scale, gradient: &fakeLogitGradient)
        guard generated.loss.isFinite else { throw diverged("generator loss is \(generated.loss)") }
        discriminator.backward(words: generator.output, features: batchFeatures, logitGradient: fakeLogitGradient,
                               parameters: false, wordGradient: true)
        var rankingLoss: Float = 0
        if let fusedMomentum { lendVelocities(to: &generator, prefix: "generator", rate: rate, momentum: fusedMomentum) }
        if clearsAdamGradients { prepareAccumulation(&generator, cleared: &generatorGradientsCleared) }
        if ranking != nil {
            generatorGradient = discriminator.wordGradient
            let images = batchImages, tags = data.tags
            rankingLoss = ranking!.add(generated: generator.output, positives: batchTags, ownTags: { tags[images[$0]] },
                                       weight: Float(configuration.rankingWeight ?? 0), into: &generatorGradient)
            guard rankingLoss.isFinite else { throw diverged("ranking loss is \(rankingLoss)") }
            generator.backward(noise: noise, features: batchFeatures, outputGradient: generatorGradient)
        } else {
            generator.backward(noise: noise, features: batchFeatures, outputGradient: discriminator.wordGradient)
        }
        update(&generator, prefix: "generator", rate: rate, fusedMomentum: fusedMomentum)
        if clearsAdamGradients { generatorGradientsCleared = true }

        let statistics = StepStatistics(discriminatorLoss: discriminatorLoss, generatorLoss: generated.loss,
                                        realProbability: real.meanProbability, fakeProbability: fake.meanProbability,
                                        rankingLoss: rankingLoss)
        step += 1
        pending.add(statistics)
        if step % configuration.historyEvery == 0 { flushHistory() }
        return statistics
    }

    /// Trains until `configuration.steps`, writing a checkpoint into `folder` every
    /// `checkpointEvery` steps and at the end. `observer` sees every step. A divergence
    /// (non-finite loss or parameter) throws and leaves the last checkpoint in place.
    public func train(checkpointEvery: Int, folder: URL?, source: [String: String] = [:],
                      observer: (GANTrainer, StepStatistics) -> Void = { _, _ in }) throws {
        try withOneBLASThreadWhenSplitting {
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
                                  learningRate: configuration.learningRate(atStep: step - 1),
                                  rankingLoss: pending.ranking.map { $0 / n }))
        pending = PendingLosses()
    }

    func diverged(_ what: String) -> TagganError {
        .failure("training diverged at step \(step + 1): \(what). Parameters were not updated; "
                 + "the last checkpoint (if any) is intact. Try a lower --learning-rate or --optimizer adam.")
    }

    /// Whether SGD steps take the velocity as the weight-gradient products' output
    /// (`OptimizerState.lendVelocity`): measured in the paper's step (BENCHMARKS.md,
    /// the Zen 4 table of session 16). On unless `TAGGAN_GAN_FUSED_SGD=0`; tests compare both.
    var fusesSGD = ProcessInfo.processInfo.environment["TAGGAN_GAN_FUSED_SGD"] != "0"

    /// Whether Adam steps leave the weight gradients at zero (`LayerKernels.adamStep`'s
    /// `clearing`) so that the next backward pass's weight-gradient products add to them
    /// (sgemm beta 1) instead of zeroing them first: OpenBLAS's beta-0 pass over C
    /// (`sgemm_beta`, a write of every gradient, 39 MB a step) is replaced by a store to
    /// lines the Adam pass has just read. The gradients are the same values (x + 0 = x).
    /// On for Adam unless `TAGGAN_GAN_ADAM_CLEARS=0`; tests compare both.
    var clearsAdamGradients: Bool {
        configuration.optimizer == .adam && adamClearsGradients
    }
    var adamClearsGradients = ProcessInfo.processInfo.environment["TAGGAN_GAN_ADAM_CLEARS"] != "0"
    /// Whether every weight gradient of D (of G) is zero: true from the start (the layers
    /// start with zero gradients) and after each clearing Adam step; false from the
    /// backward pass that adds to them until that step.
    var discriminatorGradientsCleared = true
    var generatorGradientsCleared = true

    /// Sets `network`'s weight-gradient products to add to the gradients, zeroing them
    /// first if a step stopped between its backward pass and its update (`cleared` false).
    /// `update` clears what they add and sets the products back to plain gradients.
    private func prepareAccumulation<Network: TrainableNetwork>(_ network: inout Network, cleared: inout Bool) {
        if !cleared {
            network.visitParameters { name, _, gradient in
                if name.hasSuffix(".weight") { gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
            }
        }
        cleared = false
        network.setWeightGradientProducts(scale: 1, accumulate: true)
    }

    /// This step's momentum when its SGD step is fused (SGD, `fusesSGD`, momentum above
    /// 0: the products' scale is -rate / momentum), else nil.
    private func fusedSGDMomentum() -> Float? {
        guard fusesSGD, configuration.optimizer == .sgd else { return nil }
        let momentum = Float(configuration.momentum(atStep: step))
        return momentum > 0 ? momentum : nil
    }

    /// Lends every weight's velocity to its layer's gradient and sets the layers'
    /// weight-gradient products to add -(rate / momentum) x^T dy to it, for the backward
    /// pass that `update(..., fusedMomentum:)` then finishes.
    private func lendVelocities<Network: TrainableNetwork>(to network: inout Network, prefix: String, rate: Double,
                                                           momentum: Float) {
        var state = OptimizerState()
        swap(&state, &optimizer)
        network.visitParameters { name, _, gradient in
            if name.hasSuffix(".weight") { state.lendVelocity(prefix + "." + name, to: &gradient) }
        }
        optimizer = state
        network.setWeightGradientProducts(scale: -(Float(rate) / momentum), accumulate: true)
    }

    /// The optimiser state is moved out of `self` while it is updated, not copied: a copy
    /// would share every slot's storage with the original, so the first write to a slot
    /// would copy the whole tensor (two of the size of every parameter per Adam step).
    /// With `fusedMomentum`, the weights' velocities were lent (`lendVelocities`) and
    /// their step is finished here; the biases take `sgdStep` as ever.
    private func update<Network: TrainableNetwork>(_ network: inout Network, prefix: String, rate: Double,
                                                   fusedMomentum: Float?) {
        var state = OptimizerState()
        swap(&state, &optimizer)
        network.visitParameters { name, weight, gradient in
            if let fusedMomentum, name.hasSuffix(".weight") {
                state.fusedSGDStep(prefix + "." + name, weight: &weight, gradient: &gradient, momentum: fusedMomentum,
                                   columnLimit: columnLimit(name, weight))
            } else {
                applyOptimizer(&state, prefix + "." + name, &weight, &gradient, rate)
            }
        }
        optimizer = state
        if fusedMomentum != nil || clearsAdamGradients { network.setWeightGradientProducts(scale: 1, accumulate: false) }
    }

    /// The column-norm limit of a weight (`*.weight`, when `maxColumnNorm` is set), else nil.
    private func columnLimit(_ name: String, _ weight: Tensor) -> OptimizerState.ColumnLimit? {
        guard configuration.maxColumnNorm > 0 && name.hasSuffix(".weight") else { return nil }
        return .init(rows: weight.rows, columns: weight.columns, limit: Float(configuration.maxColumnNorm))
    }

    /// One parameter's step. Weights (`*.weight`) have their column norms limited
    /// (`maxColumnNorm`) in the same pass over memory as the update.
    private func applyOptimizer(_ state: inout OptimizerState, _ name: String, _ weight: inout Tensor,
                                _ gradient: inout Tensor, _ rate: Double) {
        let limit = columnLimit(name, weight)
        switch configuration.optimizer {
        case .sgd:
            state.sgdStep(name, weight: &weight, gradient: gradient, rate: Float(rate),
                          momentum: Float(configuration.momentum(atStep: step)), columnLimit: limit)
        case .adam:
            state.adamStep(name, weight: &weight, gradient: &gradient, rate: rate, t: step + 1,
                           beta1: configuration.adamBeta1, beta2: configuration.adamBeta2,
                           epsilon: configuration.adamEpsilon, columnLimit: limit,
                           clearing: clearsAdamGradients && name.hasSuffix(".weight"))
        }
    }

    /// True when every parameter of G and D is finite.
    public func parametersAreFinite() -> Bool {
        var finite = true
        var g = generator, d = discriminator
        g.visitParameters { _, w, _ in finite = finite && w.withUnsafeBufferPointer { LayerKernels.allFinite($0) } }
        d.visitParameters { _, w, _ in finite = finite && w.withUnsafeBufferPointer { LayerKernels.allFinite($0) } }
        return finite
    }
}

struct PendingLosses: Codable, Equatable {
    var steps = 0
    var discriminator = 0.0, generator = 0.0, real = 0.0, fake = 0.0
    /// nil until a step with the ranking term (and in checkpoints from before it).
    var ranking: Double?

    mutating func add(_ s: StepStatistics) {
        steps += 1
        discriminator += Double(s.discriminatorLoss)
        generator += Double(s.generatorLoss)
        real += Double(s.realProbability)
        fake += Double(s.fakeProbability)
        if s.rankingLoss != 0 || ranking != nil { ranking = (ranking ?? 0) + Double(s.rankingLoss) }
    }
}
