import Eval
import Foundation
import Ingest
import SkipGram
import TagGAN
import TagganCore

/// `taggan eval --workspace W --report DIR`: every method on the same split, beside the
/// baselines, with bootstrap intervals; writes report.json, report.md, report.html.
enum EvalCommand {
    static let modes = [("cgan", "CGAN (Mirza & Osindero)"), ("icgan", "IC-GAN neighbourhoods")]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let workspace = URL(fileURLWithPath: try arguments.required("--workspace"))
        let reportFolder = URL(fileURLWithPath: try arguments.required("--report"))
        let splitName = arguments.value("--split") ?? "test"
        guard let split = Catalog.Split(rawValue: splitName), split != .train else {
            throw TagganError.usage("taggan eval: --split must be validation or test, got '\(splitName)'")
        }
        let samples = try arguments.integer("--samples", default: 100)
        let resamples = try arguments.integer("--resamples", default: 1000)
        let exampleCount = try arguments.integer("--examples", default: 24)
        guard samples > 0, resamples > 0, exampleCount >= 0 else {
            throw TagganError.usage("taggan eval: --samples and --resamples must be positive, --examples not negative")
        }
        _ = try BLAS.backend()
        let start = DispatchTime.now().uptimeNanoseconds
        let data = try WorkspaceData.load(workspace)
        let train = data.indices(.train), validation = data.indices(.validation), test = data.indices(split)
        guard !train.isEmpty, !test.isEmpty else {
            throw TagganError.file(workspace.path, "needs tagged, embedded images in the train and \(split.rawValue) splits")
        }
        // One index for every tag in the catalog, so truth counts tags no method can name.
        var tagIndex: [String: Int] = [:], tagNames: [String] = []
        for image in data.images { for tag in image.tags where tagIndex[tag] == nil { tagIndex[tag] = tagNames.count; tagNames.append(tag) } }
        func truth(_ indices: [Int]) -> [Set<Int>] { indices.map { Set(data.images[$0].tags.compactMap { tagIndex[$0] }) } }
        let trainTruth = truth(train), testTruth = truth(test), validationTruth = truth(validation)

        var methods: [MethodReport] = []
        var ranked: [(String, [RankedTags])] = []
        let prior = Baselines.frequencyPrior(trainTags: trainTruth, top: 10)
        let priorRanked = Array(repeating: prior, count: test.count)
        methods.append(Evaluation.evaluate(method: "frequency prior", note: "the 10 most frequent training tags for every image",
                                           ranked: priorRanked, truth: testTruth, resamples: resamples))
        ranked.append(("frequency prior", priorRanked))

        let index = CosineIndex(data.features(train))
        let chosen = validation.isEmpty ? (k: 10, precisionAt5: [:])
            : Baselines.chooseK(index: index, trainTags: trainTruth, validation: data.features(validation), validationTags: validationTruth)
        let knn = Baselines.knnTransfer(index: index, trainTags: trainTruth, queries: data.features(test), k: chosen.k, top: 10)
        let kNote = chosen.precisionAt5.sorted { $0.key < $1.key }.map { String(format: "k=%d: %.3f", $0.key, $0.value) }.joined(separator: ", ")
        methods.append(Evaluation.evaluate(
            method: "k-NN transfer (k=\(chosen.k))",
            note: "summed cosine similarity of the k nearest training images; k chosen by validation P@5 (\(kNote))",
            ranked: knn, truth: testTruth, resamples: resamples))
        ranked.append(("k-NN transfer", knn))

        var losses: [String: [EvaluationReport.LossPoint]] = [:]
        var notes: [String] = []
        var vectorsCache: [String: WordVectors] = [:]
        var ceilingNoted = false
        for (mode, title) in modes {
            let folder = workspace.appendingPathComponent("models/\(mode)")
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(CheckpointRecord.fileName).path) else {
                notes.append("\(title): no model in \(folder.path) (run taggan train --mode \(mode))")
                continue
            }
            let record = try CheckpointRecord.read(folder: folder)
            guard let vectorsPath = arguments.value("--vectors") ?? record.data.source["vectors"] else {
                throw TagganError.usage("taggan eval: give --vectors: the \(mode) model does not record its vectors file")
            }
            let vectors = try vectorsCache[vectorsPath] ?? Word2VecFile.read(vectorsPath)
            vectorsCache[vectorsPath] = vectors
            // Candidates (--vocab): by default the training split's tags that have a vector;
            // words that are no catalog tag get ids of their own (never in the truth).
            let trainTags = Set(trainTruth.joined()).sorted()
            let vocabulary = try candidateVocabulary(arguments.value("--vocab"), trainTags: trainTags.map { tagNames[$0] },
                                                     vectors: vectors, command: "taggan eval")
            let (kept, matrix) = candidateWords(vocabulary, vectors: vectors)
            let candidates = kept.map { row -> Int in
                let word = vocabulary[row]
                if let id = tagIndex[word] { return id }
                tagIndex[word] = tagNames.count
                tagNames.append(word)
                return tagNames.count - 1
            }
            guard !candidates.isEmpty else { throw TagganError.file(vectorsPath, "no candidate word has a vector") }
            let voter = TagVoter(candidateVectors: matrix)
            /// The voter's candidate rows as tag ids.
            func asTags(_ rankings: [RankedTags]) -> [RankedTags] {
                rankings.map { RankedTags(tags: $0.tags.map { candidates[$0] }, scores: $0.scores) }
            }
            if !ceilingNoted {
                ceilingNoted = true
                var row: [Int: Int] = [:]
                for (r, tag) in candidates.enumerated() { row[tag] = r }
                let tagRows = testTruth.map { $0.sorted().compactMap { row[$0] } }
                let figures = [VotingSetting.paper.perSample, 5, 1].map { perSample -> String in
                    let metrics = Evaluation.evaluate(method: "ceiling", note: "",
                                                      ranked: asTags(voter.ceiling(tagRows: tagRows, samples: samples, perSample: perSample)),
                                                      truth: testTruth, resamples: 1)
                    return String(format: "%.3f at %d ", metrics.metrics["precision@5"]!.value, perSample) + (perSample == 1 ? "word/sample" : "words/sample")
                }
                notes.append("Ceiling of the voting protocol with these word vectors: voting with each \(split.rawValue) image's own true tag vectors gives P@5 "
                             + figures.joined(separator: ", ") + ".")
            }
            let sampler = try TagSampler(modelFolder: folder)
            try sampler.checkFeatureWidth(data.features.columns, from: "the workspace's embeddings",
                                          model: folder.appendingPathComponent(CheckpointRecord.fileName).path)
            /// Rankings of `images` under a setting; samples are drawn once per noise scale.
            func tagger(_ images: [Int]) -> (VotingSetting) -> [RankedTags] {
                let features = data.features(images)
                var drawn: [Double: Tensor] = [:]
                return { setting in
                    let generated = drawn[setting.noiseScale] ?? sampler.sample(features: features, samplesPerImage: samples, seed: 2014,
                                                                                noiseScale: Float(setting.noiseScale))
                    drawn[setting.noiseScale] = generated
                    return asTags(voter.vote(samples: generated, samplesPerImage: samples, perSample: setting.perSample))
                }
            }
            // The paper's setting, and the noise scale and words per sample chosen on the
            // validation split (as k is for k-NN transfer), which eval records for annotate.
            var settings = [VotingSetting.paper]
            var choiceNote = ""
            if !validation.isEmpty {
                let choice = VotingChoice.choose(validationTags: validationTruth, tag: tagger(validation))
                try choice.write(to: folder)
                choiceNote = "; best validation P@5 per noise scale: " + choice.note
                if choice.setting != .paper { settings.append(choice.setting) }
            }
            let name = mode == "cgan" ? "CGAN" : "IC-GAN (k=\(record.configuration.neighbours))"
            let tagTest = tagger(test)
            for setting in settings {
                let gan = tagTest(setting)
                let paper = setting == .paper
                let label = paper ? name : "\(name), \(setting)"
                let how = paper ? "the paper's protocol: noise from G's prior, " : "the setting chosen on validation: noise x\(setting.noiseScale), "
                methods.append(Evaluation.evaluate(
                    method: label,
                    note: "\(title): \(how)\(samples) samples per image, \(setting.perSample) nearest of \(candidates.count) candidate tags each, "
                        + "10 most voted; \(record.step) training steps" + (paper ? choiceNote : ""),
                    ranked: gan, truth: testTruth, resamples: resamples))
                ranked.append((label, gan))
            }
            losses[mode] = record.history.map { .init(step: $0.step, discriminator: $0.discriminatorLoss, generator: $0.generatorLoss) }
        }

        var examples: [EvaluationReport.Example] = []
        for (n, i) in test.prefix(exampleCount).enumerated() {
            let image = data.images[i]
            let thumbnail = try? ImageEncoder.thumbnailDataURI(of: image.url)
            examples.append(.init(key: image.key, thumbnail: thumbnail, truth: image.tags, predictions: ranked.map { name, list in
                .init(method: name, tags: list[n].tags.prefix(5).map { tagNames[$0] }, confidences: list[n].scores.prefix(5).map(Double.init))
            }))
        }
        if split == .validation {
            notes.append("k for k-NN transfer and each model's chosen voting setting were tuned on this same validation split, so those rows are optimistic; the test split's report is the fair one.")
        }
        notes.append("\(data.images.count) tagged images with embeddings: \(train.count) train, \(validation.count) validation, \(test.count) \(split.rawValue); \(tagNames.count) distinct tags.")
        let report = EvaluationReport(title: "taggan evaluation", dataset: workspace.path, split: split.rawValue,
                                      notes: notes, methods: methods, losses: losses, examples: examples)
        try report.write(to: reportFolder)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        if arguments.json {
            JSONSummary.print([
                "command": "eval", "report": reportFolder.path, "images": test.count, "seconds": seconds,
                "methods": methods.map { m in
                    ["method": m.method, "precision@5": m.metrics["precision@5"]!.value, "precision@10": m.metrics["precision@10"]!.value,
                     "recall@10": m.metrics["recall@10"]!.value, "map": m.metrics["map"]!.value, "n_plus": m.nPlus] as [String: Any]
                },
            ])
        } else {
            func padded(_ text: String) -> String { text + String(repeating: " ", count: max(1, 30 - text.count)) }
            print(padded("method") + "   P@5    P@10   R@10   mAP")
            for m in methods {
                print(padded(m.method) + String(format: "%.3f  %.3f  %.3f  %.3f", m.metrics["precision@5"]!.value,
                                                 m.metrics["precision@10"]!.value, m.metrics["recall@10"]!.value, m.metrics["map"]!.value))
            }
            for note in notes { print("note: \(note)") }
            print("report: \(reportFolder.path)/report.html (\(String(format: "%.1f", seconds)) s)")
        }
        return 0
    }
}
