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
    @Option(value: "K", help: "neighbourhood size for icgan", check: .within(1...10_000)) var neighbours = 20
    @Option(help: "training steps", check: .within(1...100_000_000)) var steps = TrainingConfiguration.defaultSteps
    @Flag(help: "continue from the last checkpoint, with its recorded settings") var resume: Bool
    @Option(value: "F", help: "train on W/embeddings.npy rows listed in F instead of the catalog") var trainingSet: String?
    @Option(help: "examples per step", check: .within(1...10_000)) var batchSize = 100
    @Option(value: "O", help: "the optimiser (sgd: the paper's schedule)") var optimizer = OptimizerKind.adam
    @Option(value: "R", help: "initial rate (default \(Self.adamRate) for adam, \(Self.sgdRate) for sgd)", check: Check("must be in (0, 10]") { $0 > 0 && $0 <= 10 })
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
        \(adamRate) (beta1 0.5), features centred on the training mean and scaled to unit length,
        D also shown (image, a tag it does not have) as fake (--mismatch \(TrainCommand().mismatch)), and a hinge
        ranking term in G's loss (--ranking-weight \(Int(TrainCommand().rankingWeight)): each generated vector nearer to its
        tag than to any tag the image lacks, by \(TrainCommand().rankingMargin) in cosine; a departure from the paper,
        which trained G by the adversarial loss alone and tagged below a plain regression). The
        paper's schedule is --optimizer sgd (rate \(sgdRate) divided by 1.00004 per step, floor
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
        var job = TrainingJob(workspace: Workspace(path: workspace), mode: mode, vectors: URL(fileURLWithPath: vectors))
        job.trainingSet = trainingSet.map { URL(fileURLWithPath: $0) }
        job.neighbours = neighbours
        job.centreFeatures = centreFeatures == .on
        job.checkpointEvery = checkpointEvery
        let resumed = try resumedRecord(job.workspace)
        let result = try job.run(resumed: resumed, steps: $steps.given ? steps : nil, configure: newConfiguration)
        printSummary(result, threads: threads)
        return 0
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

    /// A new run's configuration from the options.
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

    func printSummary(_ result: TrainingJob.Result, threads: Int) {
        let inputs = result.inputs, trainer = result.trainer, recent = result.recent, first = result.firstStep
        let folder = result.folder, seconds = result.seconds, rate = result.stepsPerSecond
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
    }
}

