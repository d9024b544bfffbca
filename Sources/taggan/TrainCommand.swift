import Foundation
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
        OptionSpec(name: "--resume", help: "continue from the last checkpoint"),
        OptionSpec(name: "--batch-size", value: "N", help: "examples per step (default 100)"),
        OptionSpec(name: "--optimizer", value: "O", help: "sgd (the paper's, default) or adam"),
        OptionSpec(name: "--learning-rate", value: "R", help: "initial rate (default 0.1 for sgd, 0.0002 for adam)"),
        OptionSpec(name: "--checkpoint-every", value: "N", help: "steps between checkpoints (default 500)"),
        OptionSpec(name: "--seed", value: "N", help: "random seed (default 1)"),
        OptionSpec(name: "--threads", value: "N", help: "worker and BLAS threads (default: all cores)"),
    ]

    static let discussion = """
        Trains the paper's generator and discriminator (Mirza & Osindero 2014): SGD, batch
        100, learning rate 0.1 divided by 1.00004 per step (floor 1e-6), momentum 0.5 rising
        to 0.7 over 2,000 steps, dropout 0.5. Examples are (image, tag) pairs, each image
        once per tag, reshuffled every epoch. The default \(TrainingConfiguration.defaultSteps) steps (about 25 epochs of
        OpenClipart's ~5,400 images x 3.7 tags) take about 10 minutes on 2 cores (7-9
        steps/s). Features and tag vectors are scaled to unit length and weight columns
        capped at length 1.9365 (pylearn2's max_col_norm). Measured on OpenClipart, the
        paper's rate collapsed G onto a few tags within 250 steps, while --learning-rate
        0.01 learned (BENCHMARKS.md, TagGAN). --mode icgan conditions on the image and
        shows D a tag of one of its K nearest images (cosine of embeddings; the table is
        cached in W/cache/).

        Reads W/embeddings.npy (N x F float32, one row per image) and W/training-set.tsv
        (one training image per line: ROW<TAB>TAG<TAB>TAG..., ROW a 0-based row of
        embeddings.npy; '#' starts a comment). Tags missing from the vectors are dropped,
        and images left without tags. The model goes to W/models/<mode>/ (checkpoint.json
        + weights-<step>.safetensors), written atomically every --checkpoint-every steps
        and at the end; --resume continues exactly where the last checkpoint stopped.
        """

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let workspace = URL(fileURLWithPath: try arguments.required("--workspace"))
        let vectors = URL(fileURLWithPath: try arguments.required("--vectors"))
        let modeName = arguments.value("--mode") ?? "cgan"
        guard let mode = TrainingMode(rawValue: modeName) else {
            throw TagganError.usage("taggan train: --mode must be cgan or icgan, got '\(modeName)'")
        }
        let optimizerName = arguments.value("--optimizer") ?? "sgd"
        guard let optimizer = OptimizerKind(rawValue: optimizerName) else {
            throw TagganError.usage("taggan train: --optimizer must be sgd or adam, got '\(optimizerName)'")
        }
        let neighbourCount = try arguments.integer("--neighbours", default: 20)
        let steps = try arguments.value("--steps").map { _ in try arguments.integer("--steps", default: 0) }
        let batchSize = try arguments.integer("--batch-size", default: 100)
        let checkpointEvery = try arguments.integer("--checkpoint-every", default: 500)
        let seed = try arguments.integer("--seed", default: 1)
        let threads = try arguments.integer("--threads", default: Parallel.defaultThreads)
        let learningRate = try arguments.number("--learning-rate", default: optimizer == .sgd ? 0.1 : 2e-4)
        for (name, value) in [("--neighbours", neighbourCount), ("--batch-size", batchSize), ("--threads", threads)] where value <= 0 {
            throw TagganError.usage("taggan train: \(name) must be positive")
        }
        if let steps, steps <= 0 { throw TagganError.usage("taggan train: --steps must be positive") }
        guard checkpointEvery >= 0, seed >= 0, learningRate > 0 else {
            throw TagganError.usage("taggan train: --checkpoint-every and --seed must be >= 0, --learning-rate > 0")
        }
        setenv("TAGGAN_THREADS", String(threads), 1)
        do { try BLAS.setThreads(threads) } catch { throw TagganError.failure("\(error)") }

        let inputs = try loadTrainingInputs(workspace: workspace, vectors: vectors)
        Log.info("train: \(inputs.data.imageCount) images, \(inputs.data.exampleCount) examples, "
                 + "\(inputs.data.tagVectors.rows) distinct tags, features \(inputs.data.featureSize)-d, "
                 + "vectors \(inputs.data.wordSize)-d" + inputs.droppedNote)

        var neighbours: NeighbourTable? = nil
        if mode == .icgan {
            guard neighbourCount < inputs.data.imageCount else {
                throw TagganError.usage("taggan train: --neighbours \(neighbourCount) needs more training images (have \(inputs.data.imageCount))")
            }
            let start = DispatchTime.now().uptimeNanoseconds
            let (table, cached) = try NeighbourSearch.cached(inputs.data.features, k: neighbourCount,
                                                             folder: workspace.appendingPathComponent("cache"))
            neighbours = table
            Log.info(cached ? "train: neighbour table (k \(neighbourCount)) read from W/cache"
                     : String(format: "train: neighbour table (k %d) computed in %.1f s, cached in W/cache",
                              neighbourCount, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9))
        }

        let folder = workspace.appendingPathComponent("models").appendingPathComponent(mode.rawValue)
        let trainer: GANTrainer
        if arguments.flag("--resume") {
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(CheckpointRecord.fileName).path) else {
                throw TagganError.file(folder.path, "no checkpoint to resume (run without --resume to start)")
            }
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

/// Reads the training split of the workspace and the tag words' vectors.
///
/// TODO(merge): the training split and its tags belong to Ingest's catalog
/// (W/catalog.sqlite), the row of each image to Features' row-to-image mapping, and the
/// word2vec reader to SkipGram. Until those land, this reads the documented stand-in
/// layout: W/embeddings.npy + W/training-set.tsv (see `TrainCommand.discussion`), and
/// word2vec files with `readWord2Vec`. The lead rewires this one function at merge.
func loadTrainingInputs(workspace: URL, vectors: URL) throws -> TrainingInputs {
    let embeddingsURL = workspace.appendingPathComponent("embeddings.npy")
    let listURL = workspace.appendingPathComponent("training-set.tsv")
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

    let wanted = Set(tagLists.joined().flatMap { [$0, $0.lowercased()] })
    let table = try readWord2Vec(vectors, keeping: wanted)
    var index: [String: Int] = [:]
    for (i, word) in table.words.enumerated() where index[word] == nil { index[word] = i }

    var usedRows: [Int] = [], tags: [[Int]] = []
    var vectorRowOfTag: [Int: Int] = [:], names: [String] = [], vectorRows: [Int] = []
    var droppedTags = 0, droppedImages = 0
    for (row, list) in zip(rows, tagLists) {
        var ids: [Int] = []
        for tag in list {
            guard let v = index[tag] ?? index[tag.lowercased()] else {
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
    let f = embeddings.columns, d = table.vectors.columns
    var features = [Float](), tagVectors = [Float]()
    features.reserveCapacity(usedRows.count * f)
    for row in usedRows { features += embeddings.storage[row * f ..< (row + 1) * f] }
    for v in vectorRows { tagVectors += table.vectors.storage[v * d ..< (v + 1) * d] }
    let data = try TrainingData(features: Tensor(shape: [usedRows.count, f], values: features), tags: tags,
                                tagVectors: Tensor(shape: [vectorRows.count, d], values: tagVectors), tagNames: names)
    return TrainingInputs(data: data, droppedTags: droppedTags, droppedImages: droppedImages,
                          source: ["vectors": vectors.path, "embeddings": embeddingsURL.path, "training_set": listURL.path])
}

/// Reads word2vec vectors (Mikolov's C tool's formats, which gensim also writes), keeping
/// only the words in `keeping` (all when nil).
///
/// Both formats start with a text line "V D". Text: then one line per word, "word v1 ...
/// vD". Binary: then per word, the word's bytes up to a space, D little-endian float32,
/// and (in files from the C tool and gensim) a newline, skipped before the next word.
/// The format is detected from the first entry: text when it parses as a word and D
/// numbers on one line.
///
/// TODO(merge): SkipGram owns word2vec I/O; replace with its reader at merge.
func readWord2Vec(_ url: URL, keeping: Set<String>? = nil) throws -> (words: [String], vectors: Tensor) {
    let data: Data
    do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
        throw TagganError.file(url.path, "cannot read word vectors: \(error.localizedDescription)")
    }
    return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> ([String], Tensor) in
        let bytes = raw.bindMemory(to: UInt8.self)
        var position = 0
        func line() -> Substring? {
            guard position < bytes.count else { return nil }
            let start = position
            while position < bytes.count && bytes[position] != 0x0A { position += 1 }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start ..< position]), as: UTF8.self)
            position += 1
            return Substring(text)
        }
        guard let header = line() else { throw TagganError.file(url.path, "empty word-vector file") }
        let counts = header.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard counts.count == 2, counts[0] >= 0, counts[1] > 0 else {
            throw TagganError.file(url.path, "not a word2vec file: first line '\(header.prefix(40))' is not 'VOCABULARY DIMENSION'")
        }
        let (vocabulary, dimension) = (counts[0], counts[1])
        let afterHeader = position
        let isText: Bool = {
            guard let first = line() else { return true }
            let fields = first.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count == dimension + 1 && fields.dropFirst().allSatisfy { Float($0.trimmingCharacters(in: .whitespacesAndNewlines)) != nil }
        }()
        position = afterHeader
        var words: [String] = [], values: [Float] = []
        for entry in 0..<vocabulary {
            let word: String
            if isText {
                guard let text = line() else {
                    throw TagganError.file(url.path, "text vectors end after \(entry) of \(vocabulary) words")
                }
                let fields = text.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count == dimension + 1 else {
                    throw TagganError.file(url.path, "entry \(entry + 1) has \(fields.count - 1) values, expected \(dimension)")
                }
                word = String(fields[0])
                if let keeping, !keeping.contains(word) { continue }
                for field in fields.dropFirst() {
                    guard let value = Float(field.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                        throw TagganError.file(url.path, "entry \(entry + 1) ('\(word)'): '\(field)' is not a number")
                    }
                    values.append(value)
                }
            } else {
                while position < bytes.count && (bytes[position] == 0x0A || bytes[position] == 0x20) { position += 1 }
                let start = position
                while position < bytes.count && bytes[position] != 0x20 { position += 1 }
                guard position + 1 + 4 * dimension <= bytes.count else {
                    throw TagganError.file(url.path, "binary vectors truncated at word \(entry + 1) of \(vocabulary)")
                }
                word = String(decoding: UnsafeBufferPointer(rebasing: bytes[start ..< position]), as: UTF8.self)
                position += 1
                let base = position
                position += 4 * dimension
                if let keeping, !keeping.contains(word) { continue }
                for i in 0..<dimension {
                    values.append(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * i, as: UInt32.self))))
                }
            }
            words.append(word)
        }
        return (words, Tensor(shape: [words.count, dimension], values: values))
    }
}
