import Eval
import Foundation
import Ingest
import SkipGram
import TagGAN
import TagganCore

/// The tagging method `taggan annotate` runs, rebuilt from the workspace: `--method`
/// (or `--mode cgan|icgan`, its older name for a generator), else `auto` = the method
/// `taggan eval` found best on the validation split (W/methods.json), else k-NN transfer.
/// Each method takes eval's setting for it (k, lambda, TagProp's K and weights, a
/// generator's noise scale and decoder, fusion's parts and weight) and eval's calibration,
/// so a confidence is the precision tags of that score had on held-back images.
struct AnnotationMethod: CustomStringConvertible {
    let method: TagMethod
    let setting: MethodSetting
    /// "eval's validation-best method", "--method", or why the default was taken.
    let chosenBy: String
    var calibrated: Bool { setting.calibration != nil }
    /// What an annotation depends on besides the image (the catalog keeps tags under it):
    /// the method, its setting and calibration, and the content of what it learnt from.
    let key: String
    private let ranker: @Sendable (Tensor) -> [RankedTags]
    private let names: [String]
    /// With --vocab, every method names only those words (the word-space methods and the
    /// generators rank them alone; the others are filtered to them).
    private let allowed: Set<Int>?

    static let methodNames = TagMethod.allCases.map(\.rawValue).joined(separator: "|")

    init(_ arguments: ParsedArguments, workspace: URL, samples: Int, featureWidth: Int) throws {
        for (option, valid) in [("--per-sample", { (v: Double) in v > 0 && v == v.rounded() }), ("--noise-scale", { (v: Double) in v >= 0 })] {
            if let text = arguments.value(option), !(Double(text).map(valid) ?? false) {
                throw TagganError.usage("taggan annotate: --per-sample must be positive, --noise-scale not negative")
            }
        }
        let choice = try MethodChoice.read(from: workspace)
        // The catalog's embedded training images, which every method but a generator learns
        // from (a generator trained on a list of its own needs none: --training-set).
        let catalogued = FileManager.default.fileExists(atPath: workspace.appendingPathComponent(Catalog.fileName).path)
        // (annotate keeps its own table in the catalog, so a catalog alone proves nothing.)
        let data = catalogued ? try? WorkspaceData.load(workspace) : nil
        let trained = [TagMethod.icgan, .cgan].filter {
            FileManager.default.fileExists(atPath: workspace.appendingPathComponent("models/\($0.rawValue)/\(CheckpointRecord.fileName)").path)
        }
        let requested = arguments.value("--method") ?? arguments.value("--mode") ?? "auto"
        if requested == "auto" {
            if let choice {
                method = choice.best
                chosenBy = "eval's validation-best method (\(MethodChoice.fileName))"
            } else if data.map({ !$0.indices(.train).isEmpty }) ?? trained.isEmpty {
                method = .knn
                chosenBy = "no taggan eval yet, so k-NN transfer (run taggan eval to choose and calibrate)"
            } else {
                method = trained[0]
                chosenBy = "no catalog to learn from, so the trained \(trained[0].title)"
            }
        } else {
            guard let named = TagMethod(rawValue: requested) else {
                throw TagganError.usage("taggan annotate: --method must be auto or one of \(Self.methodNames), got '\(requested)'")
            }
            method = named
            chosenBy = "--method \(requested)"
        }
        if !method.isGenerator, (data?.indices(.train).isEmpty ?? true) {
            if catalogued, data == nil { _ = try WorkspaceData.load(workspace) }   // says what is missing
            throw TagganError.file(workspace.path, data == nil ? "no \(Catalog.fileName) here (run taggan ingest and taggan features first)"
                                   : "has no tagged, embedded training images to learn tags from")
        }
        // Generators this method needs, and the word vectors (the generators' own by default).
        var needed: [TagMethod] = method.isGenerator ? [method] : []
        if method == .fusion, let generator = choice?.setting(.fusion)?.generator { needed.append(generator) }
        var generators: [TagMethod: GeneratorSource] = [:]
        var vectorsPath = arguments.value("--vectors")
        var weightsDigest = ""
        for generator in needed {
            let folder = workspace.appendingPathComponent("models/\(generator.rawValue)")
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(CheckpointRecord.fileName).path) else {
                throw TagganError.file(folder.path, "no trained model (run taggan train --workspace \(workspace.path) --mode \(generator.rawValue))")
            }
            let record = try CheckpointRecord.read(folder: folder)
            vectorsPath = vectorsPath ?? record.data.source["vectors"]
            generators[generator] = try generatorSource(modelFolder: folder, samples: samples, featureWidth: featureWidth,
                                                        from: "efficientnet-lite0 (taggan annotate embeds the images with it)")
            guard let bytes = FileManager.default.contents(atPath: folder.appendingPathComponent(record.weights).path) else {
                throw TagganError.file(folder.appendingPathComponent(record.weights).path, "cannot read the model's weights")
            }
            weightsDigest += SHA256.hex(bytes).prefix(16)
        }
        // --vocab names candidate words, so it needs the vectors file for any method.
        let needsVectors = [.regression, .conse, .fusion].contains(method) || !needed.isEmpty || arguments.value("--vocab") != nil
        for generator in trained where needsVectors && vectorsPath == nil {
            vectorsPath = try CheckpointRecord.read(folder: workspace.appendingPathComponent("models/\(generator.rawValue)")).data.source["vectors"]
        }
        if needsVectors, vectorsPath == nil, FileManager.default.fileExists(atPath: workspace.appendingPathComponent("vectors.bin").path) {
            vectorsPath = workspace.appendingPathComponent("vectors.bin").path
        }
        if needsVectors, vectorsPath == nil {
            throw TagganError.usage("taggan annotate: --method \(method.rawValue) needs word vectors: give --vectors V.bin")
        }
        let vectors = try needsVectors ? vectorsPath.map { try Word2VecFile.read($0) } : nil
        var space = data?.tagSpace ?? TagSpace([])
        let train = try (data ?? WorkspaceData(workspace: workspace, images: [], features: Tensor(zeros: [0, featureWidth])))
            .trainingSet(space: &space, vectors: vectors, vocabulary: arguments.value("--vocab"), command: "taggan annotate")
        if needsVectors, train.candidates.isEmpty { throw TagganError.file(vectorsPath ?? "", "no candidate word has a vector") }
        let methods = TagMethods(train: train, generators: generators)

        // eval's setting; --per-sample / --noise-scale replace a generator's decoder by a vote.
        var setting = choice?.setting(method) ?? methods.fallback(method)
        guard var chosen = setting else {
            throw TagganError.usage("taggan annotate: --method fusion needs taggan eval first (it chooses the parts and their weight)")
        }
        if method.isGenerator, arguments.value("--per-sample") != nil || arguments.value("--noise-scale") != nil {
            let current = chosen.decoder ?? DecoderSetting(.paper)
            let perSample = try arguments.integer("--per-sample", default: current.votingSetting?.perSample ?? 20)
            let noise = try arguments.number("--noise-scale", default: current.noiseScale)
            guard perSample > 0, noise >= 0 else {
                throw TagganError.usage("taggan annotate: --per-sample must be positive, --noise-scale not negative")
            }
            chosen.decoder = DecoderSetting(noiseScale: noise, decoder: .vote(perSample: perSample))
            chosen.calibration = nil   // calibrated for eval's decoder, not this one
        }
        for decoder in ([chosen.decoder] + (chosen.parts ?? []).map(\.decoder)).compactMap({ $0 }) {
            if let count = decoder.decoder.candidateCount, count != train.candidates.count {
                throw TagganError.file(workspace.appendingPathComponent(MethodChoice.fileName).path,
                                       "\(decoder.decoder) was fitted for \(count) candidate words, this --vocab gives \(train.candidates.count): "
                                       + "run taggan eval with the same --vocab, or decode by the vote (--per-sample N)")
            }
        }
        setting = chosen
        self.setting = chosen
        ranker = try methods.ranker(chosen)
        names = space.names
        allowed = arguments.value("--vocab") == nil ? nil : Set(train.candidates)

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var learnt = Data(try encoder.encode(chosen))
        learnt += train.features.storage.withUnsafeBufferPointer { Data(buffer: $0) }
        learnt += Data(train.tags.map { $0.sorted().map { space.names[$0] }.joined(separator: ",") }.joined(separator: "\n").utf8)
        learnt += train.tagVectors.storage.withUnsafeBufferPointer { Data(buffer: $0) }
        if let allowed { learnt += Data(allowed.sorted().map { space.names[$0] }.joined(separator: "\n").utf8) }
        key = "\(method.rawValue) \(SHA256.hex(learnt).prefix(16)) samples:\(samples) weights:\(weightsDigest)"
    }

    /// Each row's `top` tags, best first, with confidences: calibrated precisions when
    /// eval calibrated the method, else its raw scores.
    func tag(_ features: Tensor, top: Int) -> [(tags: [String], confidences: [Double])] {
        ranker(features).map { full in
            var ranked = full
            if let allowed {
                let kept = full.tags.indices.filter { allowed.contains(full.tags[$0]) }
                ranked = RankedTags(tags: kept.map { full.tags[$0] }, scores: kept.map { full.scores[$0] })
            }
            let n = min(top, ranked.tags.count)
            let scores = ranked.scores.prefix(n).map { score in setting.calibration.map { $0.calibrated(score) } ?? Double(score) }
            return (ranked.tags.prefix(n).map { names[$0] }, scores)
        }
    }

    var description: String {
        "\(method.title) (\(setting.summary); \(chosenBy)" + (calibrated ? ", confidences calibrated on validation)" : ", raw scores)")
    }
}
