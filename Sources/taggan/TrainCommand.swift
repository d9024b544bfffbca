import ArgumentParsing
import Foundation
import TagGAN
import TagganCore
import Workspace

/// `taggan train`: reads the workspace, trains the GAN (TagGAN), keeps checkpoints in
/// W/models/<mode>/.
struct TrainCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["train"], summary: "Train the conditional GAN that generates tag vectors for an image.", discussion: discussion)

    @Option(value: "W", help: "workspace folder") var workspace: String
    @Option(value: "V.bin", help: "word vectors") var vectors: String
    @Option(value: "M", help: "the paper's CGAN or IC-GAN's neighbourhoods") var mode = TrainingMode.cgan
    @Option(value: "K", help: "neighbourhood size for icgan", check: .positive) var neighbours = 20
    @Option(help: "training steps", check: .positive) var steps = TrainingConfiguration.defaultSteps
    @Flag(help: "continue from the last checkpoint, with its recorded settings") var resume: Bool
    @Option(value: "F", help: "train on W/embeddings.npy rows listed in F instead of the catalog") var trainingSet: String?
    @Option(help: "examples per step", check: .positive) var batchSize = 100
    @Option(value: "O", help: "the optimiser (sgd: the paper's schedule)") var optimizer = OptimizerKind.adam
    @Option(value: "R", help: "initial rate (default \(Self.adamRate) for adam, \(Self.sgdRate) for sgd)", check: .positive)
    var learningRate: Double?
    @Option(value: "on|off", help: "subtract the mean training feature") var centreFeatures = Switch.on
    @Option(value: "W", help: "weight of mismatched (image, wrong tag) pairs in D's loss (0: the paper's D)", check: .within(0.0..<1.0))
    var mismatch = 0.5
    @Option(value: "P", help: "icgan: share of real examples that keep the image's own tag instead of a neighbour's", check: .within(0.0...1.0))
    var ownTags = 0.0
    @Option(value: "W", help: "weight of the hinge ranking term in G's loss (0: the paper's G loss)", check: .notNegative)
    var rankingWeight = 10.0
    @Option(value: "M", help: "the ranking term's margin in cosine", check: .notNegative) var rankingMargin = 0.1
    @Option(help: "steps between checkpoints", check: .notNegative) var checkpointEvery = 500
    @Option(help: "random seed", check: .notNegative) var seed = 1
    @Option(help: "worker and BLAS threads (default: all cores)", check: .positive) var threads: Int?
    var common = CommonOptions()

    /// Adam's rate, chosen by measurement on OpenClipart (BENCHMARKS.md, TagGAN), and the paper's SGD rate.
    static let adamRate = 3e-4, sgdRate = 0.1

    static let discussion = """
        Trains the paper's generator and discriminator (Mirza & Osindero 2014): G: z (100) ->
        500 ReLU, image -> 2000 ReLU, joined linearly into a 200-d tag vector; D: tag vector ->
        500 ReLU, image -> 1200 ReLU, maxout 1000 x 3, sigmoid; dropout 0.5; batch 100.
        Examples are (image, tag) pairs, each image once per tag, reshuffled every epoch.
        Defaults, chosen by measurement on OpenClipart (BENCHMARKS.md, TagGAN): Adam at
        3e-4 (beta1 0.5), features centred on the training mean and scaled to unit length,
        D also shown (image, a tag it does not have) as fake (--mismatch 0.5), and a hinge
        ranking term in G's loss (--ranking-weight 10: each generated vector nearer to its
        tag than to any tag the image lacks, by 0.1 in cosine; a departure from the paper,
        which trained G by the adversarial loss alone and tagged below a plain regression). The
        paper's schedule is --optimizer sgd (rate 0.1 divided by 1.00004 per step, floor
        1e-6, momentum 0.5 rising to 0.7 over 2,000 steps): on OpenClipart it collapses G
        onto a few tags within 250 steps, which is why it is not the default. The default
        \(TrainingConfiguration.defaultSteps) steps (about 30 epochs of OpenClipart's ~16,000 training (image, tag)
        pairs) take about 10 minutes on 2 cores (8-9 steps/s). Tag vectors are scaled to
        unit length and weight columns capped at length 1.9365 (pylearn2's max_col_norm). --mode icgan conditions on the image and shows D a tag of
        one of its K nearest images (cosine of embeddings; the table is cached in W/cache/).

        Trains on the catalog's train split (taggan ingest) with the embeddings of
        taggan features (W/embeddings.npy and its row map W/embeddings.tsv). To train on
        embeddings of your own instead, put W/embeddings.npy (N x F float32) in W and pass
        --training-set F (one image per line: ROW<TAB>TAG<TAB>TAG..., ROW a 0-based row;
        '#' starts a comment); it is then used instead of the catalog.
        Tags missing from the vectors are dropped, and images left without tags. The model
        goes to W/models/<mode>/ (checkpoint.json + weights-<step>.safetensors), written
        atomically every --checkpoint-every steps and at the end; --resume continues
        exactly where the last checkpoint stopped, with the settings it recorded (an option
        that contradicts them is an error naming both values; --steps extends or shortens).
        """

    func run() throws -> Int32 {
        let threads = self.threads ?? Parallel.defaultThreads
        setenv("TAGGAN_THREADS", String(threads), 1)
        try BLAS.setThreads(threads)
        let w = Workspace(path: workspace)
        let folder = w.modelFolder(mode.rawValue)
        let resumed = try resumedRecord(w)
        let inputs = try loadTrainingInputs(workspace: w.url, vectors: URL(fileURLWithPath: vectors),
                                            trainingSet: trainingSet.map { URL(fileURLWithPath: $0) })
        Log.info("train: \(inputs.data.imageCount) images, \(inputs.data.exampleCount) examples, "
                 + "\(inputs.data.tagVectors.rows) distinct tags, features \(inputs.data.featureSize)-d, "
                 + "vectors \(inputs.data.wordSize)-d" + inputs.droppedNote)
        let neighbours = try neighbourTable(w, inputs: inputs, resumed: resumed)
        let trainer = resumed != nil
            ? try GANTrainer(resumingFrom: folder, data: inputs.data, neighbours: neighbours, steps: $steps.given ? steps : nil)
            : try GANTrainer(data: inputs.data, configuration: newConfiguration(inputs), neighbours: neighbours)
        if resumed != nil { Log.info("train: resuming \(mode.rawValue) at step \(trainer.step) of \(trainer.configuration.steps)") }
        return try train(trainer, folder: folder, inputs: inputs, threads: threads)
    }

    /// A resumed run continues with its recorded configuration: read it before anything
    /// (the neighbour table) depends on the settings; an option that contradicts it is an
    /// error naming both values.
    func resumedRecord(_ w: Workspace) throws -> CheckpointRecord? {
        guard resume else { return nil }
        guard w.hasModel(mode.rawValue) else {
            throw TagganError.file(w.modelFolder(mode.rawValue).path, "no checkpoint to resume (run without --resume to start)")
        }
        let record = try w.checkpoint(mode.rawValue)
        var requested = RequestedSettings()
        if $neighbours.given { requested.neighbours = neighbours }
        if $batchSize.given { requested.batchSize = batchSize }
        if $optimizer.given { requested.optimizer = optimizer }
        requested.learningRate = learningRate
        if $mismatch.given { requested.mismatchWeight = mismatch }
        if $centreFeatures.given { requested.centreFeatures = centreFeatures == .on }
        if $seed.given { requested.seed = UInt64(seed) }
        if $rankingWeight.given { requested.rankingWeight = rankingWeight }
        if $rankingMargin.given { requested.rankingMargin = rankingMargin }
        if $ownTags.given { requested.ownTagShare = ownTags }
        let flags: [ResumableSetting: String] = [
            .neighbours: "--neighbours", .batchSize: "--batch-size", .optimizer: "--optimizer", .learningRate: "--learning-rate",
            .mismatchWeight: "--mismatch", .centreFeatures: "--centre-features", .seed: "--seed",
            .rankingWeight: "--ranking-weight", .rankingMargin: "--ranking-margin", .ownTagShare: "--own-tags",
        ]
        let contradictions = record.configuration.contradictions(with: requested)
        guard contradictions.isEmpty else {
            throw TagganError.file(w.checkpointFile(mode.rawValue).path, "--resume continues with the recorded settings: "
                                   + contradictions.map { "\(flags[$0.setting]!) \($0.requested), but the checkpoint has \($0.recorded)" }
                                       .joined(separator: "; ")
                                   + " (drop the option, or start afresh without --resume)")
        }
        return record
    }

    /// IC-GAN's neighbourhoods by cosine of the features G sees (centred when
    /// --centre-features is on: uncentred pooled features put unrelated images at cosine ~0.7).
    func neighbourTable(_ w: Workspace, inputs: TrainingInputs, resumed: CheckpointRecord?) throws -> NeighbourTable? {
        guard mode == .icgan else { return nil }
        let k = resumed?.configuration.neighbours ?? neighbours
        guard k < inputs.data.imageCount else {
            throw usage("--neighbours \(k) needs more training images (have \(inputs.data.imageCount))")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var centred = TrainingConfiguration(sizes: NetworkSizes(featureSize: inputs.data.featureSize))
        if resumed.map({ $0.configuration.featureMean != nil }) ?? (centreFeatures == .on) { centred.featureMean = inputs.data.featureMean }
        let (table, cached) = try NeighbourSearch.cached(centred.conditioned(features: inputs.data.features), k: k, folder: w.cacheFolder)
        Log.info(cached ? "train: neighbour table (k \(k)) read from W/cache"
                 : String(format: "train: neighbour table (k %d) computed in %.1f s, cached in W/cache",
                          k, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9))
        return table
    }

    func newConfiguration(_ inputs: TrainingInputs) -> TrainingConfiguration {
        var configuration = TrainingConfiguration(sizes: NetworkSizes(featureSize: inputs.data.featureSize, wordSize: inputs.data.wordSize))
        configuration.mode = mode
        configuration.optimizer = optimizer
        configuration.learningRate = learningRate ?? (optimizer == .sgd ? Self.sgdRate : Self.adamRate)
        configuration.batchSize = batchSize
        configuration.neighbours = neighbours
        configuration.mismatchWeight = mismatch
        if ownTags > 0 { configuration.ownTagShare = ownTags }
        if rankingWeight > 0 {
            configuration.rankingWeight = rankingWeight
            configuration.rankingMargin = rankingMargin
        }
        if centreFeatures == .on { configuration.featureMean = inputs.data.featureMean }
        configuration.seed = UInt64(seed)
        configuration.steps = steps
        return configuration
    }

    func train(_ trainer: GANTrainer, folder: URL, inputs: TrainingInputs, threads: Int) throws -> Int32 {
        let first = trainer.step, total = trainer.configuration.steps
        let progress = Progress("train \(mode.rawValue)", total: max(total - first, 0), unit: "steps")
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
        if common.json {
            JSONSummary.print([
                "command": "train", "mode": mode.rawValue, "model": folder.path,
                "images": inputs.data.imageCount, "examples": inputs.data.exampleCount,
                "tags": inputs.data.tagVectors.rows, "dropped_tags": inputs.droppedTags,
                "dropped_images": inputs.droppedImages, "feature_size": inputs.data.featureSize,
                "word_size": inputs.data.wordSize, "first_step": first, "steps": trainer.step,
                "seconds": seconds, "steps_per_second": rate, "threads": threads,
                "discriminator_loss": Double(recent.d), "generator_loss": Double(recent.g),
                "d_real": Double(recent.real), "d_fake": Double(recent.fake),
            ])
        } else {
            print(String(format: "trained %@ to step %d in %.1f s (%.2f steps/s); model in %@",
                         mode.rawValue, trainer.step, seconds, rate, folder.path))
        }
        return 0
    }
}

/// Exponential moving averages of the step statistics for the progress line.
struct RecentLosses {
    var d: Float = 0, g: Float = 0, real: Float = 0, fake: Float = 0
    var seen = 0

    mutating func add(_ s: StepStatistics) {
        let a: Float = seen == 0 ? 1 : 0.05
        d += a * (s.discriminatorLoss - d)
        g += a * (s.generatorLoss - g)
        real += a * (s.realProbability - real)
        fake += a * (s.fakeProbability - fake)
        seen += 1
    }
}

