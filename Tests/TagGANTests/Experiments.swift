import Foundation
import Testing
import TagganCore
@testable import TagGAN

/// Measurements behind design choices, not checks: off unless TAGGAN_EXPERIMENTS is set.
///
///     TAGGAN_EXPERIMENTS=1 swift test --filter TagGANTests.Experiments 2>&1 | grep EXPERIMENT
///
/// Knobs: TAGGAN_EXP_STEPS (default 600), TAGGAN_EXP_UNITFEAT=0|1 (unit-length
/// features), TAGGAN_EXP_MAXNORM, TAGGAN_EXP_SCALE (initial weight scale),
/// TAGGAN_EXP_HISTORY=1 (print the loss history of the last seed).
///
/// Unit-length tag vectors: the synthetic task of `SyntheticTaskTests` (tag-vector
/// lengths spread like word2vec's, e^N(0, 0.5)) over three seeds, with and without
/// scaling tag vectors to unit length; the score is the share of held-out samples whose
/// nearest tag by cosine is right. Results are in BENCHMARKS.md (TagGAN).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["TAGGAN_EXPERIMENTS"] != nil))
struct Experiments {
    @Test(arguments: [(TrainingMode.cgan, true), (.cgan, false), (.icgan, true), (.icgan, false)])
    func unitTagVectors(mode: TrainingMode, unit: Bool) throws {
        var accuracies: [Double] = []
        var lastHistory = ""
        for seed in [70, 80, 90] as [UInt64] {
            let task = try syntheticSplit(training: 400, heldOut: 80, classes: 8, featureSize: 32, wordSize: 16, seed: seed)
            let data = task.training, heldOut = task.heldOut!, heldOutClass = task.heldOutClass
            var configuration = syntheticConfiguration(seed: seed + 1)
            configuration.mode = mode
            configuration.steps = Int(ProcessInfo.processInfo.environment["TAGGAN_EXP_STEPS"] ?? "600")!
            configuration.unitTagVectors = unit
            if let v = ProcessInfo.processInfo.environment["TAGGAN_EXP_UNITFEAT"] { configuration.unitFeatures = v == "1" }
            if let v = ProcessInfo.processInfo.environment["TAGGAN_EXP_SCALE"] { configuration.sizes.initialScale = Float(v)! }
            if let v = ProcessInfo.processInfo.environment["TAGGAN_EXP_MAXNORM"] { configuration.maxColumnNorm = Double(v)! }
            let neighbours = mode == .icgan ? NeighbourSearch.nearest(data.features, k: 5) : nil
            let trainer = try GANTrainer(data: data, configuration: configuration, neighbours: neighbours)
            try trainer.train(checkpointEvery: 0, folder: nil)
            let sampler = TagSampler(generator: trainer.generator, configuration: trainer.configuration)
            let samples = sampler.sample(features: heldOut.features, samplesPerImage: 20, seed: 72)
            lastHistory = trainer.history.map { String(format: "%d D %.3f G %.3f", $0.step, $0.discriminatorLoss, $0.generatorLoss) }.joined(separator: "; ")
            accuracies.append(nearestTagAccuracy(samples: samples, samplesPerImage: 20,
                                                 vectors: trainer.data.tagVectors, classOf: heldOutClass))
        }
        print("EXPERIMENT unit tag vectors: mode \(mode) unit \(unit) accuracy per seed \(accuracies)")
        if ProcessInfo.processInfo.environment["TAGGAN_EXP_HISTORY"] != nil { print("EXPERIMENT history \(lastHistory)") }
    }
}
