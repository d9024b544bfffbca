import ArgumentParsing
import Eval
import Foundation
import Ingest
import SkipGram
import TagGAN
import TagganCore
import Workspace

/// `taggan eval --workspace W --report DIR`: every tagging method (`TagMethod`) with its
/// settings chosen on the validation split, scored on the evaluated split with bootstrap
/// intervals; writes report.json, report.md, report.html and W/methods.json.
struct EvalCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["eval"], summary: "Tag the test split and report metrics beside baselines.", discussion: """
        Methods, each with its setting chosen on the validation split: the tag-frequency prior;
        k-NN tag transfer (k); TagProp (Guillaumin et al. 2009: K, rank or distance weights,
        sigma-ML); a linear head (ridge to the multi-hot tags, lambda); the word-space regression
        (ridge to the mean tag vector, tags by cosine: the generator's non-adversarial
        counterpart); ConSE (mean tag vector of the k nearest images); each trained model in
        W/models/ (cgan, icgan) with the paper's protocol (100 samples per image, each votes for
        its 20 nearest candidates, 10 most voted) and with its noise scale and decoder (vote,
        kernel density, density with a CSLS hubness correction) chosen on validation; and the
        fusion of the best generator with a retrieval method (weight on validation). Each
        method's scores are calibrated on validation (isotonic regression: score -> precision),
        with reliability plots in the HTML; every setting, calibration and the validation-best
        method go to W/methods.json, which taggan annotate --method auto uses. The notes give
        each decoder's ceiling (the decoder fed the images' own tag vectors). Metrics: P/R/F1
        at 5 and 10, mAP over tags with at least 5 test images, N+, each also for tags seen and
        never seen in the train split; bootstrap 95% intervals over test images.
        """)

    enum EvaluatedSplit: String, ArgumentChoice, CaseIterable { case validation, test }

    @Option(value: "W", help: "workspace folder") var workspace: String
    @Option(value: "S", help: "the split to score") var split = EvaluatedSplit.test
    @Option(value: "DIR", help: "folder for report.json, report.md, report.html") var report: String
    @Option(value: "V.bin", help: "word vectors (default: the file each model was trained with)") var vectors: String?
    @Option(help: "generator samples per image", check: .positive) var samples = 100
    @Option(help: "bootstrap resamples for the 95% intervals", check: .positive) var resamples = 1000
    @Option(help: "test images shown with thumbnails in the HTML", check: .notNegative) var examples = 24
    @Option(value: "V", help: "candidate words: tags (the training tags), all or a FILE of words") var vocab = "tags"
    var common = CommonOptions()

    /// What every step reads: the workspace's data, the methods, and the two splits' truth.
    struct Inputs {
        var data: WorkspaceData
        var space: TagSpace
        var train: TagTrainingSet
        var methods: TagMethods
        var validation: [Int], test: [Int]
        var notes: [String] = []
        var losses: [String: [EvaluationReport.LossPoint]] = [:]
    }

    func run() throws -> Int32 {
        let start = DispatchTime.now().uptimeNanoseconds
        let w = Workspace(path: workspace)
        var inputs = try load(w)
        let settings = try chooseSettings(&inputs)
        let choice = MethodChoice(methods: settings, chosenOn: "the validation split (\(inputs.validation.count) images)")
        try choice.write(to: w.url)
        let (reports, ranked) = try score(settings, best: choice.best, inputs)
        let notes = inputs.notes + closingNotes(settings, choice: choice, inputs, w)
        let evaluation = EvaluationReport(title: "taggan evaluation", dataset: w.path, split: split.rawValue, notes: notes,
                                          methods: reports, losses: inputs.losses, examples: exampleRows(ranked, inputs))
        try evaluation.write(to: URL(fileURLWithPath: report))
        printSummary(reports, notes: notes, best: choice.best, report: URL(fileURLWithPath: report), json: common.json,
                     seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9, images: inputs.test.count)
        return 0
    }

    /// The workspace's embedded images, the trained generators and the word vectors.
    func load(_ w: Workspace) throws -> Inputs {
        let data = try WorkspaceData.load(w.url)
        let splitName = Catalog.Split(rawValue: split.rawValue)!
        let validation = data.indices(.validation), test = data.indices(splitName)
        guard !data.indices(.train).isEmpty, !test.isEmpty else {
            throw TagganError.file(w.path, "needs tagged, embedded images in the train and \(split.rawValue) splits")
        }
        var notes: [String] = []
        var losses: [String: [EvaluationReport.LossPoint]] = [:]
        var generators: [TagMethod: GeneratorSource] = [:]
        for method in [TagMethod.cgan, .icgan] {
            guard w.hasModel(method.rawValue) else {
                notes.append("\(method.title): no model in \(w.modelFolder(method.rawValue).path) (run taggan train --mode \(method.rawValue))")
                continue
            }
            let record = try w.checkpoint(method.rawValue)
            generators[method] = try generatorSource(modelFolder: w.modelFolder(method.rawValue), samples: samples, featureWidth: data.features.columns)
            losses[method.rawValue] = record.history.map { .init(step: $0.step, discriminator: $0.discriminatorLoss, generator: $0.generatorLoss) }
        }
        let vectorsFile = try (vectors ?? w.recordedVectors()).map { try Word2VecFile.read($0) }
        if vectorsFile == nil { notes.append("no word vectors (give --vectors): the word-space methods and the generators are left out") }
        var space = data.tagSpace
        let train = try data.trainingSet(space: &space, vectors: vectorsFile, vocabulary: vocab, command: "taggan eval")
        let methods = TagMethods(train: train, generators: vectorsFile == nil ? [:] : generators)
        return Inputs(data: data, space: space, train: train, methods: methods, validation: validation, test: test,
                      notes: notes, losses: losses)
    }

    /// Settings chosen on validation (or each method's default without one).
    func chooseSettings(_ inputs: inout Inputs) throws -> [MethodSetting] {
        guard !inputs.validation.isEmpty else {
            inputs.notes.append("no validation split: every method runs with its default setting, uncalibrated")
            return inputs.methods.defaults
        }
        return try inputs.methods.choose(validation: inputs.data.features(inputs.validation),
                                         truth: inputs.data.truth(inputs.validation, in: inputs.space)) { Log.info("eval: \($0)") }
    }

    /// Each method on the evaluated split, and the generators with the paper's protocol too.
    func score(_ settings: [MethodSetting], best: TagMethod, _ inputs: Inputs) throws -> ([MethodReport], [(String, [RankedTags])]) {
        let features = inputs.data.features(inputs.test), truth = inputs.data.truth(inputs.test, in: inputs.space)
        var reports: [MethodReport] = [], ranked: [(String, [RankedTags])] = []
        func report(_ setting: MethodSetting, label: String, note: String) throws {
            let rankings = try inputs.methods.ranker(setting)(features)
            var result = TagEvaluation.evaluate(method: label, note: note, ranked: rankings, truth: truth,
                                                resamples: resamples, seenTags: inputs.train.seenTags)
            if let calibration = setting.calibration {
                result.reliability = Reliability.measure(ranked: calibration.apply(to: rankings), truth: truth)
            }
            reports.append(result)
            ranked.append((label, rankings))
        }
        for setting in settings {
            if setting.method.isGenerator {
                var paper = MethodSetting(method: setting.method)
                paper.decoder = DecoderSetting(.paper)
                try report(paper, label: "\(setting.method.title), paper's protocol",
                           note: "\(samples) samples per image from G's prior, each votes for its 20 nearest candidates; 10 most voted")
            }
            let suffix = setting.method == best ? " (validation-best: annotate's default)" : ""
            try report(setting, label: "\(setting.method.title), \(setting.summary)", note: setting.note + suffix)
        }
        return (reports, ranked)
    }

    func closingNotes(_ settings: [MethodSetting], choice: MethodChoice, _ inputs: Inputs, _ w: Workspace) -> [String] {
        var notes = DecoderCeilings.ceilings(settings: settings, train: inputs.train, truth: inputs.data.truth(inputs.test, in: inputs.space),
                                             samples: samples, split: split.rawValue)
        notes.append("The validation-best method, \(choice.best.title) (\(choice.setting(choice.best)?.summary ?? "")), is recorded with "
                     + "every method's setting and calibration in \(w.methodChoiceURL.path) for taggan annotate --method auto.")
        if split == .validation {
            notes.append("Every setting and calibration was chosen on this same validation split, so these rows are optimistic; the test split's report is the fair one.")
        }
        notes.append("\(inputs.data.images.count) tagged images with embeddings: \(inputs.data.indices(.train).count) train, "
                     + "\(inputs.validation.count) validation, \(inputs.test.count) \(split.rawValue); "
                     + "\(inputs.space.names.count) distinct tags and candidate words.")
        return notes
    }

    func exampleRows(_ ranked: [(String, [RankedTags])], _ inputs: Inputs) -> [EvaluationReport.Example] {
        inputs.test.prefix(examples).enumerated().map { n, i in
            let image = inputs.data.images[i]
            return .init(key: image.key, thumbnail: try? ImageEncoder.thumbnailDataURI(of: image.url), truth: image.tags,
                         predictions: ranked.map { name, list in
                .init(method: name, tags: list[n].tags.prefix(5).map { inputs.space.names[$0] }, confidences: list[n].scores.prefix(5).map(Double.init))
            })
        }
    }

    func printSummary(_ reports: [MethodReport], notes: [String], best: TagMethod, report: URL, json: Bool, seconds: Double, images: Int) {
        if json {
            JSONSummary.print([
                "command": "eval", "report": report.path, "images": images, "seconds": seconds, "best_method": best.rawValue,
                "methods": reports.map { m in
                    ["method": m.method, "precision@5": m.metrics["precision@5"]!.value, "precision@10": m.metrics["precision@10"]!.value,
                     "recall@10": m.metrics["recall@10"]!.value, "map": m.metrics["map"]!.value, "n_plus": m.nPlus] as [String: Any]
                },
            ])
            return
        }
        let width = max(30, (reports.map(\.method.count).max() ?? 0) + 2)
        func padded(_ text: String) -> String { text + String(repeating: " ", count: max(1, width - text.count)) }
        print(padded("method") + "   P@5    P@10   R@10   mAP")
        for m in reports {
            print(padded(m.method) + String(format: "%.3f  %.3f  %.3f  %.3f", m.metrics["precision@5"]!.value,
                                             m.metrics["precision@10"]!.value, m.metrics["recall@10"]!.value, m.metrics["map"]!.value))
        }
        for note in notes { print("note: \(note)") }
        print("report: \(report.path)/report.html (\(String(format: "%.1f", seconds)) s)")
    }
}
