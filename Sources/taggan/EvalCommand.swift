import Eval
import Foundation
import Ingest
import SkipGram
import TagGAN
import TagganCore

/// `taggan eval --workspace W --report DIR`: every tagging method (`TagMethod`) with its
/// settings chosen on the validation split, scored on the evaluated split with bootstrap
/// intervals; writes report.json, report.md, report.html and W/methods.json.
enum EvalCommand {
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
        let validation = data.indices(.validation), test = data.indices(split)
        guard !data.indices(.train).isEmpty, !test.isEmpty else {
            throw TagganError.file(workspace.path, "needs tagged, embedded images in the train and \(split.rawValue) splits")
        }
        var notes: [String] = []
        var losses: [String: [EvaluationReport.LossPoint]] = [:]
        var generators: [TagMethod: GeneratorSource] = [:]
        var vectorsPath = arguments.value("--vectors")
        for method in [TagMethod.cgan, .icgan] {
            let folder = workspace.appendingPathComponent("models/\(method.rawValue)")
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(CheckpointRecord.fileName).path) else {
                notes.append("\(method.title): no model in \(folder.path) (run taggan train --mode \(method.rawValue))")
                continue
            }
            let record = try CheckpointRecord.read(folder: folder)
            vectorsPath = vectorsPath ?? record.data.source["vectors"]
            generators[method] = try generatorSource(modelFolder: folder, samples: samples, featureWidth: data.features.columns)
            losses[method.rawValue] = record.history.map { .init(step: $0.step, discriminator: $0.discriminatorLoss, generator: $0.generatorLoss) }
        }
        if vectorsPath == nil, FileManager.default.fileExists(atPath: workspace.appendingPathComponent("vectors.bin").path) {
            vectorsPath = workspace.appendingPathComponent("vectors.bin").path
        }
        let vectors = try vectorsPath.map { try Word2VecFile.read($0) }
        if vectors == nil { notes.append("no word vectors (give --vectors): the word-space methods and the generators are left out") }
        var space = data.tagSpace
        let train = try data.trainingSet(space: &space, vectors: vectors, vocabulary: arguments.value("--vocab"), command: "taggan eval")
        let methods = TagMethods(train: train, generators: vectors == nil ? [:] : generators)
        let validationTruth = data.truth(validation, in: space), testTruth = data.truth(test, in: space)

        // Settings chosen on validation (or each method's default without one).
        let settings: [MethodSetting]
        if validation.isEmpty {
            settings = methods.defaults
            notes.append("no validation split: every method runs with its default setting, uncalibrated")
        } else {
            settings = try methods.choose(validation: data.features(validation), truth: validationTruth) { Log.info("eval: \($0)") }
        }
        let choice = MethodChoice(methods: settings, chosenOn: "the validation split (\(validation.count) images)")
        try choice.write(to: workspace)

        // Each method on the evaluated split, and the generators with the paper's protocol too.
        let features = data.features(test)
        var reports: [MethodReport] = [], ranked: [(String, [RankedTags])] = []
        func report(_ setting: MethodSetting, label: String, note: String) throws {
            let rankings = try methods.ranker(setting)(features)
            var result = Evaluation.evaluate(method: label, note: note, ranked: rankings, truth: testTruth,
                                             resamples: resamples, seenTags: train.seenTags)
            if let calibration = setting.calibration {
                result.reliability = Reliability.measure(ranked: calibration.apply(to: rankings), truth: testTruth)
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
            let best = setting.method == choice.best ? " (validation-best: annotate's default)" : ""
            try report(setting, label: "\(setting.method.title), \(setting.summary)", note: setting.note + best)
        }
        notes += ceilings(settings: settings, train: train, truth: testTruth, samples: samples, split: split)
        notes.append("The validation-best method, \(choice.best.title) (\(choice.setting(choice.best)?.summary ?? "")), is recorded with "
                     + "every method's setting and calibration in \(workspace.appendingPathComponent(MethodChoice.fileName).path) "
                     + "for taggan annotate --method auto.")
        if split == .validation {
            notes.append("Every setting and calibration was chosen on this same validation split, so these rows are optimistic; the test split's report is the fair one.")
        }
        notes.append("\(data.images.count) tagged images with embeddings: \(data.indices(.train).count) train, \(validation.count) validation, "
                     + "\(test.count) \(split.rawValue); \(space.names.count) distinct tags and candidate words.")

        var examples: [EvaluationReport.Example] = []
        for (n, i) in test.prefix(exampleCount).enumerated() {
            let image = data.images[i]
            examples.append(.init(key: image.key, thumbnail: try? ImageEncoder.thumbnailDataURI(of: image.url), truth: image.tags,
                                  predictions: ranked.map { name, list in
                .init(method: name, tags: list[n].tags.prefix(5).map { space.names[$0] }, confidences: list[n].scores.prefix(5).map(Double.init))
            }))
        }
        let evaluation = EvaluationReport(title: "taggan evaluation", dataset: workspace.path, split: split.rawValue,
                                          notes: notes, methods: reports, losses: losses, examples: examples)
        try evaluation.write(to: reportFolder)
        printSummary(reports, notes: notes, best: choice.best, report: reportFolder, json: arguments.json,
                     seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9, images: test.count)
        return 0
    }

    /// Each generator decoder's ceiling: the decoder run on each image's own true tag vectors.
    static func ceilings(settings: [MethodSetting], train: TagTrainingSet, truth: [Set<Int>], samples: Int, split: Catalog.Split) -> [String] {
        var row: [Int: Int] = [:]
        for (r, tag) in train.candidates.enumerated() { row[tag] = r }
        let tagRows = truth.map { $0.sorted().compactMap { row[$0] } }
        var decoders = [DecoderSetting(.paper)]
        for setting in settings where setting.method.isGenerator {
            if let decoder = setting.decoder, !decoders.contains(decoder) { decoders.append(decoder) }
        }
        guard !train.candidates.isEmpty, settings.contains(where: { $0.method.isGenerator }) else { return [] }
        let figures = decoders.map { decoder in
            let ranked = decoder.decoder.ceiling(tagRows: tagRows, candidates: train.candidateIndex, samples: samples, labels: train.candidates)
            return String(format: "%@ %.3f", decoder.decoder.description, TagMetrics.meanPrecision(ranked, truth: truth))
        }
        return ["Ceilings of the generator's decoders with these word vectors (each decoder fed each \(split.rawValue) image's own true tag "
                + "vectors as its samples), P@5: " + figures.joined(separator: "; ") + "."]
    }

    static func printSummary(_ reports: [MethodReport], notes: [String], best: TagMethod, report: URL, json: Bool, seconds: Double, images: Int) {
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
