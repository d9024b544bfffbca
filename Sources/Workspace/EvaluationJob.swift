import Eval
import Foundation
import Ingest
import SkipGram
import TagGAN
import TagganCore

/// `taggan eval`'s work: every tagging method (`TagMethod`) with its settings chosen on
/// the validation split, scored on the evaluated split with bootstrap intervals; writes
/// report.json, report.md, report.html and W/methods.json.
public struct EvaluationJob {
    public var workspace: Workspace
    /// validation or test.
    public var split: Catalog.Split
    /// Word vectors (default: those each model was trained with, else W/vectors.bin).
    public var vectors: String?
    public var samples = 100, resamples = 1000, examples = 24
    /// `--vocab tags|all|FILE`.
    public var vocabulary = "tags"

    public init(workspace: Workspace, split: Catalog.Split) { (self.workspace, self.split) = (workspace, split) }

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

    /// What a run wrote and found.
    public struct Result {
        public let reports: [MethodReport]
        public let notes: [String]
        public let best: TagMethod
        public let seconds: Double
        public let images: Int
    }

    /// Chooses every method's setting on validation (written to W/methods.json), scores
    /// each on the split, and writes the report to `report`.
    public func run(report: URL) throws -> Result {
        let start = DispatchTime.now().uptimeNanoseconds
        let w = workspace
        var inputs = try load(w)
        let settings = try chooseSettings(&inputs)
        var choice = MethodChoice(methods: settings, chosenOn: "the validation split (\(inputs.validation.count) images)")
        if inputs.validation.isEmpty {
            // Nothing was measured, so every validation score is 0 and the tie went to the
            // first method, the frequency prior: annotate --method auto gave every image the
            // same tags. Without a validation split auto stays what it is before any eval.
            choice.best = .knn
            choice.chosenOn = "no validation split: k-NN transfer, annotate's default before any eval"
        }
        let (reports, ranked) = try score(settings, best: choice.best, inputs)
        let notes = inputs.notes + closingNotes(settings, choice: choice, inputs, w)
        let evaluation = EvaluationReport(title: "taggan evaluation", dataset: w.path, split: split.rawValue, notes: notes,
                                          methods: reports, losses: inputs.losses, examples: exampleRows(ranked, inputs))
        try evaluation.write(to: report)
        // After the report: a run that could not write its report leaves the method
        // choice annotate --method auto reads as it was.
        try choice.write(to: w.url)
        return Result(reports: reports, notes: notes, best: choice.best,
                      seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9, images: inputs.test.count)
    }

    /// The workspace's embedded images, the trained generators and the word vectors.
    func load(_ w: Workspace) throws -> Inputs {
        let data = try WorkspaceData.load(w.url)
        let validation = data.indices(.validation), test = data.indices(split)
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
        let vectorsPath = vectors ?? w.recordedVectors()
        let vectorsFile = try vectorsPath.map { try Word2VecFile.read($0) }
        let tagNames = data.tagSpace.names
        if let vectorsFile, let vectorsPath {
            // The generators emit vectors of their training words' size; other vectors
            // would score every generated word against the wrong space (P@5 0, silently).
            for method in [TagMethod.cgan, .icgan] where generators[method] != nil {
                let record = try w.checkpoint(method.rawValue)
                let size = record.configuration.sizes.wordSize
                guard size == vectorsFile.dimension else {
                    throw TagganError.file(vectorsPath, "has \(vectorsFile.dimension)-d vectors, but the \(method.rawValue) model "
                                           + "generates \(size)-d ones (give the vectors it was trained with)")
                }
                try Self.checkSameVectors(vectorsFile, at: vectorsPath, source: record.data.source,
                                          model: method.rawValue, words: tagNames)
            }
        }
        if vectorsFile == nil { notes.append("no word vectors (give --vectors): the word-space methods and the generators are left out") }
        var space = data.tagSpace
        let train = try data.trainingSet(space: &space, vectors: vectorsFile, vocabulary: vocabulary, command: "taggan eval")
        let wordSpace = train.available.contains(true)
        if let vectorsPath, vectorsFile != nil, !wordSpace {
            notes.append("none of the \(train.tagCount) tags has a vector in \(vectorsPath): the word-space methods and the generators are left out")
        }
        let methods = TagMethods(train: train, generators: vectorsFile == nil || !wordSpace ? [:] : generators)
        return Inputs(data: data, space: space, train: train, methods: methods, validation: validation, test: test,
                      notes: notes, losses: losses)
    }

    /// Throws when `vectors` (read from `path`) give a tag word another vector than the
    /// file the model was trained with (`trainedWith`, its checkpoint's record) does: the
    /// generator emits vectors in its training space, and scored against another space of
    /// the same size every generated word is wrong (P@5 0.000 for the CGAN with vectors
    /// retrained on the same corpus, reported as the model's result without a word).
    /// Another file with the same vectors (a copy, a text export) passes; when the
    /// training file is gone there is nothing to compare and nothing is said.
    ///
    /// When `path` is the training file itself, what the model recorded of it
    /// (`VectorsFileRecord`: size, modification time, SHA-256; absent in older checkpoints)
    /// must still hold: vectors retrained into the same file are refused too.
    static func checkSameVectors(_ vectors: WordVectors, at path: String, source: [String: String], model: String, words: [String]) throws {
        guard let trainedWith = source["vectors"], FileManager.default.fileExists(atPath: trainedWith) else { return }
        guard URL(fileURLWithPath: trainedWith).resolvingSymlinksInPath() != URL(fileURLWithPath: path).resolvingSymlinksInPath() else {
            if try VectorsFileRecord.changed(path, since: source) {
                throw TagganError.file(path, "is not the file the \(model) model was trained with any more (its bytes changed since: "
                                       + "retrained?): its generated vectors mean nothing in the new space (retrain the model, or give the vectors it was trained with)")
            }
            return
        }
        let trained = try Word2VecFile.read(trainedWith)
        for word in words {
            guard let a = trained.vector(word), let b = vectors.vector(word) else { continue }
            if zip(a, b).contains(where: { abs($0 - $1) > 1e-4 * max(1, abs($0)) }) {
                throw TagganError.file(path, "gives '\(word)' another vector than \(trainedWith), which the \(model) model was trained "
                                       + "with: its generated vectors mean nothing in this space (give those vectors, or retrain the model)")
            }
        }
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
            let suffix = setting.method != best ? "" : inputs.validation.isEmpty ? " (annotate's default)" : " (validation-best: annotate's default)"
            try report(setting, label: "\(setting.method.title), \(setting.summary)", note: setting.note + suffix)
        }
        return (reports, ranked)
    }

    func closingNotes(_ settings: [MethodSetting], choice: MethodChoice, _ inputs: Inputs, _ w: Workspace) -> [String] {
        var notes = DecoderCeilings.ceilings(settings: settings, train: inputs.train, truth: inputs.data.truth(inputs.test, in: inputs.space),
                                             samples: samples, split: split.rawValue)
        if inputs.validation.isEmpty {
            notes.append("With no validation split nothing was chosen: taggan annotate --method auto uses \(choice.best.title) "
                         + "(\(choice.setting(choice.best)?.summary ?? "")), as before any eval, recorded in \(w.methodChoiceURL.path).")
        } else {
            notes.append("The validation-best method, \(choice.best.title) (\(choice.setting(choice.best)?.summary ?? "")), is recorded with "
                         + "every method's setting and calibration in \(w.methodChoiceURL.path) for taggan annotate --method auto.")
        }
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
}
