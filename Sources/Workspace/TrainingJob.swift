import Foundation
import TagGAN
import TagganCore

/// `taggan train`'s work: the workspace's training inputs, IC-GAN's neighbour table
/// (cached in W/cache/), a new or resumed trainer, and the training loop with progress,
/// checkpoints in W/models/<mode>/.
public struct TrainingJob {
    public var workspace: Workspace
    public var mode: TrainingMode
    public var vectors: URL
    /// A list of embedding rows and tags instead of the catalog (`--training-set`).
    public var trainingSet: URL?
    public var neighbours = 20
    public var centreFeatures = true
    public var checkpointEvery = 500

    public init(workspace: Workspace, mode: TrainingMode, vectors: URL) {
        (self.workspace, self.mode, self.vectors) = (workspace, mode, vectors)
    }

    /// IC-GAN's k is not below the number of training images (a usage problem: exit 2).
    public struct TooFewImages: Error, CustomStringConvertible { public let description: String }

    /// What a run did.
    public struct Result {
        public let inputs: TrainingInputs
        public let trainer: GANTrainer
        public let folder: URL
        public let firstStep: Int
        public let seconds: Double
        public let stepsPerSecond: Double
        public let recent: RecentLosses
    }

    /// Trains from `resumed` (its recorded configuration; `steps` extends or shortens)
    /// or afresh with `configure`'s configuration. The model folder is held for the run
    /// (`RunLock`): a second run on it is refused, once the inputs have shown the
    /// workspace is one (a mistyped W gets no models folder).
    public func run(resumed: CheckpointRecord?, steps: Int?, configure: (TrainingInputs) -> TrainingConfiguration) throws -> Result {
        let folder = workspace.modelFolder(mode.rawValue)
        let inputs = try loadTrainingInputs(workspace: workspace.url, vectors: vectors, trainingSet: trainingSet)
        return try RunLock.holding(folder: folder) { try run(inputs, folder: folder, resumed: resumed, steps: steps, configure: configure) }
    }

    func run(_ inputs: TrainingInputs, folder: URL, resumed: CheckpointRecord?, steps: Int?,
             configure: (TrainingInputs) -> TrainingConfiguration) throws -> Result {
        Log.info("train: \(inputs.data.imageCount) images, \(inputs.data.exampleCount) examples, "
                 + "\(inputs.data.tagVectors.rows) distinct tags, features \(inputs.data.featureSize)-d, "
                 + "vectors \(inputs.data.wordSize)-d" + inputs.droppedNote)
        let table = try neighbourTable(inputs: inputs, resumed: resumed)
        let trainer = resumed != nil
            ? try GANTrainer(resumingFrom: folder, data: inputs.data, neighbours: table, steps: steps)
            : try GANTrainer(data: inputs.data, configuration: configure(inputs), neighbours: table)
        if resumed != nil { Log.info("train: resuming \(mode.rawValue) at step \(trainer.step) of \(trainer.configuration.steps)") }
        return try train(trainer, folder: folder, inputs: inputs)
    }

    /// IC-GAN's neighbourhoods by cosine of the features G sees (centred when
    /// --centre-features is on: uncentred pooled features put unrelated images at cosine ~0.7).
    func neighbourTable(inputs: TrainingInputs, resumed: CheckpointRecord?) throws -> NeighbourTable? {
        guard mode == .icgan else { return nil }
        let k = resumed?.configuration.neighbours ?? neighbours
        guard k < inputs.data.imageCount else {
            throw TooFewImages(description: "taggan train: --neighbours \(k) needs more training images (have \(inputs.data.imageCount))")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var centred = TrainingConfiguration(sizes: NetworkSizes(featureSize: inputs.data.featureSize))
        if resumed.map({ $0.configuration.featureMean != nil }) ?? centreFeatures { centred.featureMean = inputs.data.featureMean }
        let (table, cached) = try NeighbourSearch.cached(centred.conditioned(features: inputs.data.features), k: k, folder: workspace.cacheFolder)
        Log.info(cached ? "train: neighbour table (k \(k)) read from W/cache"
                 : String(format: "train: neighbour table (k %d) computed in %.1f s, cached in W/cache",
                          k, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9))
        return table
    }

    func train(_ trainer: GANTrainer, folder: URL, inputs: TrainingInputs) throws -> Result {
        let first = trainer.step, total = trainer.configuration.steps
        let progress = ProgressLine("train \(mode.rawValue)", total: max(total - first, 0), unit: "steps")
        var recent = RecentLosses()
        let start = DispatchTime.now().uptimeNanoseconds
        var lastStep = start
        try trainer.train(checkpointEvery: checkpointEvery, folder: folder, source: inputs.source) { trainer, statistics in
            lastStep = DispatchTime.now().uptimeNanoseconds
            recent.add(statistics)
            progress.note(String(format: "D %.3f G %.3f D(real) %.2f D(fake) %.2f lr %.4g",
                                 recent.d, recent.g, recent.real, recent.fake,
                                 trainer.configuration.learningRate(atStep: trainer.step)))
            progress.advance()
        }
        progress.finish()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        // The rate counts training steps alone, not the final checkpoint's write.
        let rate = Double(trainer.step - first) / max(Double(lastStep - start) * 1e-9, 1e-9)
        return Result(inputs: inputs, trainer: trainer, folder: folder, firstStep: first, seconds: seconds,
                      stepsPerSecond: rate, recent: recent)
    }
}

/// Exponential moving averages of the step statistics for the progress line.
public struct RecentLosses: Sendable {
    public var d: Float = 0, g: Float = 0, real: Float = 0, fake: Float = 0
    var seen = 0
    public init() {}

    public mutating func add(_ s: StepStatistics) {
        let a: Float = seen == 0 ? 1 : 0.05
        d += a * (s.discriminatorLoss - d)
        g += a * (s.generatorLoss - g)
        real += a * (s.realProbability - real)
        fake += a * (s.fakeProbability - fake)
        seen += 1
    }
}

