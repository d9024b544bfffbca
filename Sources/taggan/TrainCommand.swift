import Foundation
import Ingest
import SkipGram
import TagGAN
import TagganCore

/// `taggan train`: reads the workspace, trains the GAN (TagGAN), keeps checkpoints in
/// W/models/<mode>/.
enum TrainCommand {
    static let options: [OptionSpec] = [
        OptionSpec(name: "--workspace", value: "W", help: "workspace folder", required: true),
        OptionSpec(name: "--vectors", value: "V.bin", help: "word vectors", required: true),
        OptionSpec(name: "--mode", value: "M", help: "cgan (the paper) or icgan (neighbourhoods; default cgan)"),
        OptionSpec(name: "--neighbours", value: "K", help: "neighbourhood size for icgan (default 20)"),
        OptionSpec(name: "--steps", value: "N", help: "training steps (default \(TrainingConfiguration.defaultSteps))"),
        OptionSpec(name: "--resume", help: "continue from the last checkpoint, with its recorded settings"),
        OptionSpec(name: "--training-set", value: "F", help: "train on W/embeddings.npy rows listed in F instead of the catalog"),
        OptionSpec(name: "--batch-size", value: "N", help: "examples per step (default 100)"),
        OptionSpec(name: "--optimizer", value: "O", help: "adam (default) or sgd (the paper's schedule)"),
        OptionSpec(name: "--learning-rate", value: "R", help: "initial rate (default 0.0003 for adam, 0.1 for sgd)"),
        OptionSpec(name: "--centre-features", value: "on|off", help: "subtract the mean training feature (default on)"),
        OptionSpec(name: "--mismatch", value: "W", help: "weight of mismatched (image, wrong tag) pairs in D's loss (default 0.5; 0: the paper's D)"),
        OptionSpec(name: "--own-tags", value: "P", help: "icgan: share of real examples that keep the image's own tag instead of a neighbour's (default 0)"),
        OptionSpec(name: "--ranking-weight", value: "W", help: "weight of the hinge ranking term in G's loss (default \(TrainCommand.defaultRankingWeight); 0: the paper's G loss)"),
        OptionSpec(name: "--ranking-margin", value: "M", help: "the ranking term's margin in cosine (default 0.1)"),
        OptionSpec(name: "--checkpoint-every", value: "N", help: "steps between checkpoints (default 500)"),
        OptionSpec(name: "--seed", value: "N", help: "random seed (default 1)"),
        OptionSpec(name: "--threads", value: "N", help: "worker and BLAS threads (default: all cores)"),
    ]

    /// Chosen by measurement on OpenClipart (BENCHMARKS.md, TagGAN).
    static let defaultRankingWeight = 10.0

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

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let workspace = URL(fileURLWithPath: try arguments.required("--workspace"))
        let vectors = URL(fileURLWithPath: try arguments.required("--vectors"))
        let modeName = arguments.value("--mode") ?? "cgan"
        guard let mode = TrainingMode(rawValue: modeName) else {
            throw TagganError.usage("taggan train: --mode must be cgan or icgan, got '\(modeName)'")
        }
        let optimizerName = arguments.value("--optimizer") ?? "adam"
        guard let optimizer = OptimizerKind(rawValue: optimizerName) else {
            throw TagganError.usage("taggan train: --optimizer must be sgd or adam, got '\(optimizerName)'")
        }
        let requestedNeighbours = try arguments.integer("--neighbours", default: 20)
        let steps = try arguments.value("--steps").map { _ in try arguments.integer("--steps", default: 0) }
        let batchSize = try arguments.integer("--batch-size", default: 100)
        let checkpointEvery = try arguments.integer("--checkpoint-every", default: 500)
        let seed = try arguments.integer("--seed", default: 1)
        let threads = try arguments.integer("--threads", default: Parallel.defaultThreads)
        let learningRate = try arguments.number("--learning-rate", default: optimizer == .sgd ? 0.1 : 3e-4)
        let mismatch = try arguments.number("--mismatch", default: 0.5)
        let rankingWeight = try arguments.number("--ranking-weight", default: defaultRankingWeight)
        let rankingMargin = try arguments.number("--ranking-margin", default: 0.1)
        let ownTagShare = try arguments.number("--own-tags", default: 0)
        guard (0...1).contains(ownTagShare) else { throw TagganError.usage("taggan train: --own-tags must be in [0, 1]") }
        guard rankingWeight >= 0, rankingMargin >= 0 else {
            throw TagganError.usage("taggan train: --ranking-weight and --ranking-margin must not be negative")
        }
        guard (0..<1).contains(mismatch) else { throw TagganError.usage("taggan train: --mismatch must be in [0, 1)") }
        let centring = arguments.value("--centre-features") ?? "on"
        guard ["on", "off"].contains(centring) else {
            throw TagganError.usage("taggan train: --centre-features must be on or off, got '\(centring)'")
        }
        for (name, value) in [("--neighbours", requestedNeighbours), ("--batch-size", batchSize), ("--threads", threads)] where value <= 0 {
            throw TagganError.usage("taggan train: \(name) must be positive")
        }
        if let steps, steps <= 0 { throw TagganError.usage("taggan train: --steps must be positive") }
        guard checkpointEvery >= 0, seed >= 0, learningRate > 0 else {
            throw TagganError.usage("taggan train: --checkpoint-every and --seed must be >= 0, --learning-rate > 0")
        }
        setenv("TAGGAN_THREADS", String(threads), 1)
        do { try BLAS.setThreads(threads) } catch { throw TagganError.failure("\(error)") }

        // A resumed run continues with its recorded configuration: read it before
        // anything (the neighbour table) depends on the settings.
        let folder = workspace.appendingPathComponent("models").appendingPathComponent(mode.rawValue)
        var resumed: CheckpointRecord?
        if arguments.flag("--resume") {
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(CheckpointRecord.fileName).path) else {
                throw TagganError.file(folder.path, "no checkpoint to resume (run without --resume to start)")
            }
            resumed = try CheckpointRecord.read(folder: folder)
            try checkResumeOptions(arguments, record: resumed!, path: folder.appendingPathComponent(CheckpointRecord.fileName).path)
        }
        let neighbourCount = resumed?.configuration.neighbours ?? requestedNeighbours

        let inputs = try loadTrainingInputs(workspace: workspace, vectors: vectors,
                                            trainingSet: arguments.value("--training-set").map { URL(fileURLWithPath: $0) })
        Log.info("train: \(inputs.data.imageCount) images, \(inputs.data.exampleCount) examples, "
                 + "\(inputs.data.tagVectors.rows) distinct tags, features \(inputs.data.featureSize)-d, "
                 + "vectors \(inputs.data.wordSize)-d" + inputs.droppedNote)

        var neighbours: NeighbourTable? = nil
        if mode == .icgan {
            guard neighbourCount < inputs.data.imageCount else {
                throw TagganError.usage("taggan train: --neighbours \(neighbourCount) needs more training images (have \(inputs.data.imageCount))")
            }
            let start = DispatchTime.now().uptimeNanoseconds
            // Neighbourhoods by cosine of the features G sees (centred when --centre-features
            // is on): uncentred pooled features put unrelated images at cosine ~0.7.
            var centred = TrainingConfiguration(sizes: NetworkSizes(featureSize: inputs.data.featureSize))
            if resumed.map({ $0.configuration.featureMean != nil }) ?? (centring == "on") { centred.featureMean = inputs.data.featureMean }
            let (table, cached) = try NeighbourSearch.cached(centred.conditioned(features: inputs.data.features), k: neighbourCount,
                                                             folder: workspace.appendingPathComponent("cache"))
            neighbours = table
            Log.info(cached ? "train: neighbour table (k \(neighbourCount)) read from W/cache"
                     : String(format: "train: neighbour table (k %d) computed in %.1f s, cached in W/cache",
                              neighbourCount, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9))
        }

        let trainer: GANTrainer
        if resumed != nil {
            trainer = try GANTrainer(resumingFrom: folder, data: inputs.data, neighbours: neighbours, steps: steps)
            Log.info("train: resuming \(mode.rawValue) at step \(trainer.step) of \(trainer.configuration.steps)")
        } else {
            var configuration = TrainingConfiguration(
                sizes: NetworkSizes(featureSize: inputs.data.featureSize, wordSize: inputs.data.wordSize))
            configuration.mode = mode
            configuration.optimizer = optimizer
            configuration.learningRate = learningRate
            configuration.batchSize = batchSize
            configuration.neighbours = neighbourCount
            configuration.mismatchWeight = mismatch
            if ownTagShare > 0 { configuration.ownTagShare = ownTagShare }
            if rankingWeight > 0 {
                configuration.rankingWeight = rankingWeight
                configuration.rankingMargin = rankingMargin
            }
            if centring == "on" { configuration.featureMean = inputs.data.featureMean }
            configuration.seed = UInt64(seed)
            if let steps { configuration.steps = steps }
            trainer = try GANTrainer(data: inputs.data, configuration: configuration, neighbours: neighbours)
        }

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
        if arguments.json {
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

/// Throws, naming the checkpoint and both values, when an option given with --resume
/// differs from the configuration the checkpoint recorded.
func checkResumeOptions(_ arguments: ParsedArguments, record: CheckpointRecord, path: String) throws {
    var requested = RequestedSettings()
    requested.neighbours = try arguments.value("--neighbours").map { _ in try arguments.integer("--neighbours", default: 0) }
    requested.batchSize = try arguments.value("--batch-size").map { _ in try arguments.integer("--batch-size", default: 0) }
    requested.optimizer = arguments.value("--optimizer").flatMap(OptimizerKind.init(rawValue:))
    requested.learningRate = try arguments.value("--learning-rate").map { _ in try arguments.number("--learning-rate", default: 0) }
    requested.mismatchWeight = try arguments.value("--mismatch").map { _ in try arguments.number("--mismatch", default: 0) }
    requested.centreFeatures = arguments.value("--centre-features").map { $0 == "on" }
    requested.seed = try arguments.value("--seed").map { _ in UInt64(try arguments.integer("--seed", default: 0)) }
    requested.rankingWeight = try arguments.value("--ranking-weight").map { _ in try arguments.number("--ranking-weight", default: 0) }
    requested.rankingMargin = try arguments.value("--ranking-margin").map { _ in try arguments.number("--ranking-margin", default: 0) }
    requested.ownTagShare = try arguments.value("--own-tags").map { _ in try arguments.number("--own-tags", default: 0) }
    let contradictions = record.configuration.contradictions(with: requested)
    guard contradictions.isEmpty else {
        throw TagganError.file(path, "--resume continues with the recorded settings: " + contradictions.joined(separator: "; ")
                               + " (drop the option, or start afresh without --resume)")
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

// MARK: - Reading the workspace

/// What `taggan train` needs from the workspace and the vectors file.
struct TrainingInputs {
    var data: TrainingData
    var droppedTags: Int
    var droppedImages: Int
    /// Provenance saved in the checkpoint.
    var source: [String: String]

    var droppedNote: String {
        droppedTags + droppedImages == 0 ? ""
            : " (\(droppedTags) tag uses without a word vector dropped, \(droppedImages) images left without tags dropped)"
    }
}

/// Reads the training split of the workspace and the tag words' vectors: the catalog's
/// train split and Features' embeddings (`WorkspaceData`), or, when `--training-set` names
/// one, a list of embedding rows and tags (embeddings of the user's own). Only an explicit
/// option selects the list: a file lying in the workspace never replaces the catalog.
func loadTrainingInputs(workspace: URL, vectors: URL, trainingSet: URL? = nil) throws -> TrainingInputs {
    let embeddingsURL = workspace.appendingPathComponent("embeddings.npy")
    let embeddings: Tensor
    var rows: [Int] = [], tagLists: [[String]] = []
    var source = ["vectors": vectors.path, "embeddings": embeddingsURL.path]
    if let listURL = trainingSet {
        guard FileManager.default.fileExists(atPath: listURL.path) else {
            throw TagganError.file(listURL.path, "no such training set (--training-set)")
        }
        (embeddings, rows, tagLists) = try readTrainingList(listURL, embeddings: embeddingsURL)
        source["training_set"] = listURL.path
    } else {
        let data = try WorkspaceData.load(workspace)
        let train = data.indices(.train)
        embeddings = data.features(train)
        rows = Array(train.indices)
        tagLists = train.map { data.images[$0].tags }
        source["catalog"] = workspace.appendingPathComponent(Catalog.fileName).path
        guard !rows.isEmpty else { throw TagganError.file(workspace.path, "no tagged, embedded images in the train split") }
    }
    let table = try Word2VecFile.read(vectors.path)

    var usedRows: [Int] = [], tags: [[Int]] = []
    var vectorRowOfTag: [Int: Int] = [:], names: [String] = [], vectorRows: [Int] = []
    var droppedTags = 0, droppedImages = 0
    for (row, list) in zip(rows, tagLists) {
        var ids: [Int] = []
        for tag in list {
            guard let v = table.id(of: tag) ?? table.id(of: tag.lowercased()) else {
                droppedTags += 1
                continue
            }
            if vectorRowOfTag[v] == nil {
                vectorRowOfTag[v] = names.count
                names.append(table.words[v])
                vectorRows.append(v)
            }
            let id = vectorRowOfTag[v]!
            if !ids.contains(id) { ids.append(id) }
        }
        if ids.isEmpty {
            droppedImages += 1
            continue
        }
        usedRows.append(row)
        tags.append(ids)
    }
    guard !usedRows.isEmpty else {
        throw TagganError.file(vectors.path, "none of the training set's tags has a vector in this file")
    }
    let f = embeddings.columns, d = table.dimension
    var features = [Float](), tagVectors = [Float]()
    features.reserveCapacity(usedRows.count * f)
    for row in usedRows { features += embeddings.storage[row * f ..< (row + 1) * f] }
    for v in vectorRows { tagVectors += table.values[v * d ..< (v + 1) * d] }
    let data = try TrainingData(features: Tensor(shape: [usedRows.count, f], values: features), tags: tags,
                                tagVectors: Tensor(shape: [vectorRows.count, d], values: tagVectors), tagNames: names)
    return TrainingInputs(data: data, droppedTags: droppedTags, droppedImages: droppedImages,
                          source: source)
}

/// The user-supplied training list: W/embeddings.npy and W/training-set.tsv (one image
/// per line: ROW<TAB>TAG<TAB>TAG..., ROW a 0-based row of embeddings.npy; '#' comments).
func readTrainingList(_ listURL: URL, embeddings embeddingsURL: URL) throws -> (Tensor, [Int], [[String]]) {
    guard FileManager.default.fileExists(atPath: embeddingsURL.path) else {
        throw TagganError.file(embeddingsURL.path, "missing: run `taggan features --workspace W` first")
    }
    let embeddings = try NPY.read(contentsOf: embeddingsURL)
    guard embeddings.rank == 2 else {
        throw TagganError.file(embeddingsURL.path, "expected an N x F matrix, got shape \(embeddings.shape)")
    }
    let text: String
    do { text = try String(contentsOf: listURL, encoding: .utf8) } catch {
        throw TagganError.file(listURL.path, "cannot read the training set: \(error.localizedDescription)")
    }
    var rows: [Int] = [], tagLists: [[String]] = []
    for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let row = Int(fields[0]), row >= 0, row < embeddings.rows else {
            throw TagganError.file(listURL.path, "line \(number + 1): '\(fields[0])' is not a row of embeddings.npy (0..<\(embeddings.rows))")
        }
        rows.append(row)
        tagLists.append(fields.dropFirst().filter { !$0.isEmpty })
    }
    guard !rows.isEmpty else { throw TagganError.file(listURL.path, "no training images listed") }
    return (embeddings, rows, tagLists)
}
