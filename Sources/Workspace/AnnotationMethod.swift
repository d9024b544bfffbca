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
public struct AnnotationMethod: CustomStringConvertible, Sendable {
    /// What the user asked for (annotate's options).
    public struct Request: Sendable {
        /// nil: auto.
        public var method: TagMethod?
        public var samples = 100
        /// Word vectors (default: those the generator was trained with, else W/vectors.bin).
        public var vectors: String?
        /// `--vocab tags|all|FILE`.
        public var vocabulary: String?
        /// A generator decoded by the vote with this many words per sample / this noise scale.
        public var perSample: Int?
        public var noiseScale: Double?
        public init() {}
    }

    /// A method that cannot be built from this workspace as asked.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    public let method: TagMethod
    public let setting: MethodSetting
    /// "eval's validation-best method", "--method", or why the default was taken.
    public let chosenBy: String
    public var calibrated: Bool { setting.calibration != nil }
    /// What an annotation depends on besides the image (the catalog keeps tags under it):
    /// the method, its setting and calibration, and the content of what it learnt from.
    public let key: String
    private let ranker: @Sendable (Tensor) -> [RankedTags]
    private let names: [String]
    /// With --vocab, every method names only those words (the word-space methods and the
    /// generators rank them alone; the others are filtered to them).
    private let allowed: Set<Int>?

    /// Those of `words` this method never gives (not among its tags, or outside --vocab),
    /// sorted: an --include word among them matches nothing.
    public func wordsNeverGiven(_ words: Set<String>) -> [String] {
        let given = Set((allowed.map(Array.init) ?? Array(names.indices)).map { names[$0] })
        return words.subtracting(given).sorted()
    }

    public init(_ request: Request, workspace w: Workspace, featureWidth: Int) throws {
        let workspace = w.url, samples = request.samples
        let choice = try w.methodChoice()
        // The catalog's embedded training images, which every method but a generator learns
        // from (a generator trained on a list of its own needs none: --training-set).
        let catalogued = w.hasCatalog
        // (annotate keeps its own table in the catalog, so a catalog alone proves nothing.)
        let data = catalogued ? try? WorkspaceTrainingRows.load(workspace) : nil
        let trained = [TagMethod.icgan, .cgan].filter { w.hasModel($0.rawValue) }
        if let named = request.method {
            method = named
            chosenBy = "--method \(named.rawValue)"
        } else {
            if let choice {
                method = choice.best
                chosenBy = "eval's validation-best method (\(MethodChoice.fileName))"
            } else if data.map({ !$0.train.isEmpty }) ?? trained.isEmpty {
                method = .knn
                chosenBy = "no taggan eval yet, so k-NN transfer (run taggan eval to choose and calibrate)"
            } else {
                method = trained[0]
                chosenBy = "no catalog to learn from, so the trained \(trained[0].title)"
            }
        }
        if !method.isGenerator, (data?.train.isEmpty ?? true) {
            if catalogued, data == nil { _ = try WorkspaceTrainingRows.load(workspace) }   // says what is missing
            throw TagganError.file(workspace.path, data == nil ? "no \(Catalog.fileName) here (run taggan ingest and taggan features first)"
                                   : "has no tagged, embedded training images to learn tags from")
        }
        // Generators this method needs, and the word vectors (the generators' own by default).
        var needed: [TagMethod] = method.isGenerator ? [method] : []
        if method == .fusion, let generator = choice?.setting(.fusion)?.generator { needed.append(generator) }
        var generators: [TagMethod: GeneratorSource] = [:]
        var vectorsPath = request.vectors
        var weightsDigest = ""
        for generator in needed {
            let folder = w.modelFolder(generator.rawValue)
            // One checkpoint's record and weights, read once, even while `taggan train` commits
            // new ones: the generator and the digest the annotations record are of the same bytes.
            let (record, bytes) = try w.checkpointWithWeights(generator.rawValue)
            vectorsPath = vectorsPath ?? record.data.source["vectors"]
            generators[generator] = try generatorSource(TagSampler(record: record, weights: bytes, modelFolder: folder),
                                                        modelFolder: folder, samples: samples, featureWidth: featureWidth,
                                                        from: "efficientnet-lite0 (taggan annotate embeds the images with it)")
            weightsDigest += SHA256.hex(bytes).prefix(16)
        }
        // --vocab names candidate words, so it needs the vectors file for any method.
        let needsVectors = [.regression, .conse, .fusion].contains(method) || !needed.isEmpty || request.vocabulary != nil
        if needsVectors, vectorsPath == nil { vectorsPath = w.recordedVectors(models: trained.map(\.rawValue)) }
        if needsVectors, vectorsPath == nil {
            throw Unavailable(description: "\(workspace.path): \(method.title) needs word vectors, and no model recorded any and there is no vectors.bin (give --vectors V.bin)")
        }
        let vectors = try needsVectors ? vectorsPath.map { try Word2VecFile.read($0) } : nil
        var space = data?.tagSpace ?? TagSpace([])
        // A generator's vectors mean nothing in another word space of the same size (eval's check).
        if let vectors, let vectorsPath {
            for generator in needed {
                try EvaluationJob.checkSameVectors(vectors, at: vectorsPath, source: try w.checkpoint(generator.rawValue).data.source,
                                                   model: generator.rawValue, words: vectors.words)
            }
        }
        let train = try (data ?? WorkspaceTrainingRows(workspace: workspace, images: [], train: [], trainFeatures: Tensor(zeros: [0, featureWidth])))
            .trainingSet(space: &space, vectors: vectors, vocabulary: request.vocabulary, command: "taggan annotate")
        if needsVectors, train.candidates.isEmpty { throw TagganError.file(vectorsPath ?? "", "no candidate word has a vector") }
        let methods = TagMethods(train: train, generators: generators)

        // eval's setting; --per-sample / --noise-scale replace a generator's decoder by a vote.
        var setting = choice?.setting(method) ?? methods.fallback(method)
        guard var chosen = setting else {
            throw Unavailable(description: "\(w.methodChoiceURL.path): missing; fusion needs taggan eval first (it chooses the parts and their weight)")
        }
        if method.isGenerator, request.perSample != nil || request.noiseScale != nil {
            let current = chosen.decoder ?? DecoderSetting(.paper)
            let perSample = request.perSample ?? current.votingSetting?.perSample ?? 20
            let noise = request.noiseScale ?? current.noiseScale
            chosen.decoder = DecoderSetting(noiseScale: noise, decoder: .vote(perSample: perSample))
            chosen.calibration = nil   // calibrated for eval's decoder, not this one
        }
        for decoder in ([chosen.decoder] + (chosen.parts ?? []).map(\.decoder)).compactMap({ $0 }) {
            if let count = decoder.decoder.candidateCount, count != train.candidates.count {
                throw TagganError.file(w.methodChoiceURL.path,
                                       "\(decoder.decoder) was fitted for \(count) candidate words, this --vocab gives \(train.candidates.count): "
                                       + "run taggan eval with the same --vocab, or decode by the vote (--per-sample N)")
            }
        }
        setting = chosen
        self.setting = chosen
        ranker = try methods.ranker(chosen)
        names = space.names
        allowed = request.vocabulary == nil ? nil : Set(train.candidates)

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // The digest of the setting's JSON, the training features, tags and tag vectors (and
        // --vocab's words), one after another, hashed in place rather than copied together.
        let learnt = SHA256()
        learnt.update(Data(Self.scoringScheme.utf8))
        learnt.update(try encoder.encode(chosen))
        train.features.storage.withUnsafeBytes { learnt.update($0) }
        learnt.update(Data(train.tags.map { $0.sorted().map { space.names[$0] }.joined(separator: ",") }.joined(separator: "\n").utf8))
        train.tagVectors.storage.withUnsafeBytes { learnt.update($0) }
        if let allowed { learnt.update(Data(allowed.sorted().map { space.names[$0] }.joined(separator: "\n").utf8)) }
        key = "\(method.rawValue) \(SHA256.hex(digest: learnt.finalize()).prefix(16)) samples:\(samples) weights:\(weightsDigest)"
    }

    /// How scores are computed, part of every key: tags a run stored under an older scheme
    /// are not reused (a resumed or repeated run redoes them), so a folder is never tagged
    /// half one way and half the other. Scheme 2: row-stable products and a generator's
    /// noise seeded by a hash of the image's features (scheme 1 took sgemm, and noise by
    /// the image's place in its batch).
    static let scoringScheme = "scoring scheme 2"

    /// Each row's `top` tags, best first, with confidences: calibrated precisions when
    /// eval calibrated the method, else its raw scores.
    public func tag(_ features: Tensor, top: Int) -> [(tags: [String], confidences: [Double])] {
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

    public var description: String {
        "\(method.title) (\(setting.summary); \(chosenBy)" + (calibrated ? ", confidences calibrated on validation)" : ", raw scores)")
    }
}
