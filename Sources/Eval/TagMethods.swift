import Foundation
import TagganCore

/// The tagging methods `taggan eval` compares and `taggan annotate --method` can use.
/// Retrieval and regression methods learn from the train split's features and tags
/// alone; `cgan` and `icgan` need a trained generator; `fusion` joins the best of each.
public enum TagMethod: String, Codable, Sendable, CaseIterable {
    case prior, knn, tagprop, linear, regression, conse, cgan, icgan, fusion

    /// The name in reports.
    public var title: String {
        switch self {
        case .prior: return "frequency prior"
        case .knn: return "k-NN transfer"
        case .tagprop: return "TagProp"
        case .linear: return "linear head"
        case .regression: return "word-space regression"
        case .conse: return "ConSE"
        case .cgan: return "CGAN"
        case .icgan: return "IC-GAN"
        case .fusion: return "fusion"
        }
    }

    /// Methods that need a trained generator (W/models/<method>).
    public var isGenerator: Bool { self == .cgan || self == .icgan }
    /// The retrieval methods fusion may join with a generator.
    public static let retrievals: [TagMethod] = [.tagprop, .linear, .knn]
}

/// A method with every setting it needs, as `taggan eval` chose them on the validation
/// split, and the calibration of its scores there (`Calibration`): enough for
/// `taggan annotate` to rebuild the method from the workspace and tag new images.
public struct MethodSetting: Codable, Sendable {
    public var method: TagMethod
    /// k for k-NN transfer and ConSE.
    public var k: Int?
    /// The ridge penalty of the linear head and the word-space regression.
    public var lambda: Double?
    public var tagprop: TagProp.Setting?
    /// A generator's noise scale and decoder.
    public var decoder: DecoderSetting?
    /// Fusion: lambda x retrieval + (1 - lambda) x generator.
    public var retrieval: TagMethod?
    public var generator: TagMethod?
    public var fusionWeight: Double?
    /// Fusion: the settings of its two parts.
    public var parts: [MethodSetting]?
    /// Score -> precision on validation; nil when the split had no images.
    public var calibration: Calibration?
    public var validationPrecisionAt5: Double
    public var validationMAP: Double?
    /// How the setting was chosen (every value tried, for the report's notes).
    public var note: String

    public init(method: TagMethod, validationPrecisionAt5: Double = 0, note: String = "") {
        self.method = method
        self.validationPrecisionAt5 = validationPrecisionAt5
        self.note = note
    }

    /// "k 5", "lambda 1", "K 20, rank, sigma-ML", "noise 0.5, density kappa 20", "tagprop + icgan, lambda 0.7".
    public var summary: String {
        switch method {
        case .prior: return "training tag frequencies"
        case .knn, .conse: return "k \(k ?? 0)"
        case .linear, .regression: return String(format: "lambda %g", lambda ?? 0)
        case .tagprop: return tagprop?.description ?? ""
        case .cgan, .icgan: return decoder?.description ?? ""
        case .fusion:
            return "\(retrieval?.rawValue ?? "?") + \(generator?.rawValue ?? "?"), " + String(format: "lambda %g", fusionWeight ?? 0)
        }
    }
}

/// `W/methods.json`: every method's setting chosen on validation and the best of them,
/// written by `taggan eval`, read by `taggan annotate --method auto`.
public struct MethodChoice: Codable, Sendable {
    public static let fileName = "methods.json"

    /// The method with the best validation precision@5 (ties: the earlier in `methods`).
    public var best: TagMethod
    public var methods: [MethodSetting]
    /// What the choice was made on, e.g. "validation split, 538 images".
    public var chosenOn: String

    public init(methods: [MethodSetting], chosenOn: String) {
        self.methods = methods
        self.chosenOn = chosenOn
        var best = methods.first?.method ?? .knn, score = -1.0
        for m in methods where m.validationPrecisionAt5 > score + 1e-12 { (best, score) = (m.method, m.validationPrecisionAt5) }
        self.best = best
    }

    public func setting(_ method: TagMethod) -> MethodSetting? { methods.first { $0.method == method } }

    public func write(to workspace: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: workspace.appendingPathComponent(Self.fileName))
    }

    /// The choice in `workspace`, or nil before any `taggan eval`.
    public static func read(from workspace: URL) throws -> MethodChoice? {
        let url = workspace.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        do { return try JSONDecoder().decode(MethodChoice.self, from: data) } catch {
            throw TagganError.file(url.path, "not a method choice written by taggan eval: \(error)")
        }
    }
}

/// What every method learns from: the train split's features and tags, and the word
/// space the generator and the word-space methods work in.
public struct TagTrainingSet: Sendable {
    /// Raw image features of the train split, [N, F] (each method centres them itself).
    public let features: Tensor
    public let tags: [Set<Int>]
    /// Tag ids run over 0 ..< tagCount.
    public let tagCount: Int
    /// One row per tag id (zero where `available` is false).
    public let tagVectors: Tensor
    public let available: [Bool]
    /// Tag ids the word-space methods and the generators may name (those with a vector),
    /// in the row order of `candidateIndex`.
    public let candidates: [Int]
    public let candidateIndex: CosineIndex
    /// The train split's features centred and indexed once, shared by every neighbour method.
    public let neighbours: TrainingNeighbours

    public init(features: Tensor, tags: [Set<Int>], tagCount: Int, tagVectors: Tensor, available: [Bool], candidates: [Int]) {
        self.features = features
        self.tags = tags
        self.tagCount = tagCount
        self.tagVectors = tagVectors
        self.available = available
        self.candidates = candidates
        var rows: [Float] = []
        rows.reserveCapacity(candidates.count * tagVectors.columns)
        for tag in candidates { rows += tagVectors.row(tag) }
        candidateIndex = CosineIndex(Tensor(shape: [candidates.count, tagVectors.columns], values: rows))
        neighbours = TrainingNeighbours(trainFeatures: features)
    }

    /// The tags of the train split (seen tags), for the report's seen/unseen split.
    public var seenTags: Set<Int> { Set(tags.joined()) }
}

/// A trained generator as the methods see it: draws `samplesPerImage` vectors per row of
/// raw features at a noise scale, image-major (`TagSampler.sample`'s layout).
public struct GeneratorSource: Sendable {
    public let samplesPerImage: Int
    public let sample: @Sendable (_ features: Tensor, _ noiseScale: Double) -> Tensor

    public init(samplesPerImage: Int, sample: @escaping @Sendable (Tensor, Double) -> Tensor) {
        self.samplesPerImage = samplesPerImage
        self.sample = sample
    }
}

/// Builds each method from its setting, and chooses the settings on a validation split.
/// One place for both, so `taggan eval` reports exactly what `taggan annotate` runs.
public struct TagMethods: Sendable {
    public let train: TagTrainingSet
    public let generators: [TagMethod: GeneratorSource]

    public init(train: TagTrainingSet, generators: [TagMethod: GeneratorSource]) {
        self.train = train
        self.generators = generators
    }

    /// Whether any tag has a word vector. Without one (no vectors file, or none of the
    /// catalog's tags in it) the word-space methods have nothing to rank: they scored 0 on
    /// every image and stood in the report as methods that had run and failed, under a
    /// note saying they were left out.
    public var hasWordSpace: Bool { train.available.contains(true) }

    /// The methods that can run here: the generators only where a model exists, the
    /// word-space methods only where some tag has a vector.
    public var available: [TagMethod] {
        TagMethod.allCases.filter { !$0.isGenerator || generators[$0] != nil }
            .filter { ($0 != .regression && $0 != .conse) || hasWordSpace }
            .filter { $0 != .fusion || TagMethod.allCases.contains { $0.isGenerator && generators[$0] != nil } }
    }

    public enum Failure: Error, CustomStringConvertible {
        case missingSetting(TagMethod, String)
        case noGenerator(TagMethod)
        public var description: String {
            switch self {
            case .missingSetting(let m, let what): return "\(m.rawValue): the setting has no \(what)"
            case .noGenerator(let m): return "\(m.rawValue): no trained model"
            }
        }
    }

    /// A function from raw features ([N, F]) to each image's ranked tags (`top` of them;
    /// every tag the method can name when nil), with raw (uncalibrated) scores.
    public func ranker(_ setting: MethodSetting, top: Int? = nil) throws -> @Sendable (Tensor) -> [RankedTags] {
        let train = self.train
        switch setting.method {
        case .prior:
            let prior = Baselines.frequencyPrior(trainTags: train.tags, top: top ?? train.tagCount)
            return { Array(repeating: prior, count: $0.rows) }
        case .knn:
            guard let k = setting.k else { throw Failure.missingSetting(.knn, "k") }
            return { Baselines.knnTransfer(neighbours: train.neighbours.nearest($0, k: k), trainTags: train.tags, k: k, top: top ?? train.tagCount) }
        case .tagprop:
            guard let chosen = setting.tagprop else { throw Failure.missingSetting(.tagprop, "TagProp setting") }
            let model = TagProp.fit(space: train.neighbours, trainNeighbours: train.neighbours.leaveOneOut(k: chosen.neighbours),
                                    trainTags: train.tags, tagCount: train.tagCount, setting: chosen)
            return { model.rank(queries: $0, top: top) }
        case .linear:
            guard let lambda = setting.lambda else { throw Failure.missingSetting(.linear, "lambda") }
            let head = try LinearTagHead.fit(trainFeatures: train.features, trainTags: train.tags, tagCount: train.tagCount, lambda: lambda)
            return { head.rank(queries: $0, top: top) }
        case .regression:
            guard let lambda = setting.lambda else { throw Failure.missingSetting(.regression, "lambda") }
            let model = try WordSpaceRegression.fit(trainFeatures: train.features, trainTags: train.tags, tagVectors: train.tagVectors,
                                                    available: train.available, lambda: lambda)
            return { model.rank(queries: $0, top: top) }
        case .conse:
            guard let k = setting.k else { throw Failure.missingSetting(.conse, "k") }
            let model = ConSE.fit(space: train.neighbours, trainTags: train.tags, tagVectors: train.tagVectors, available: train.available)
            return { model.rank(queries: $0, k: k, top: top) }
        case .cgan, .icgan:
            guard let generator = generators[setting.method] else { throw Failure.noGenerator(setting.method) }
            guard let decoder = setting.decoder else { throw Failure.missingSetting(setting.method, "decoder") }
            let index = train.candidateIndex, labels = train.candidates
            return { queries in
                let samples = generator.sample(queries, decoder.noiseScale)
                return decoder.decoder.rank(samples: samples, samplesPerImage: generator.samplesPerImage, candidates: index,
                                            top: top ?? labels.count, labels: labels)
            }
        case .fusion:
            guard let retrieval = setting.retrieval, let generator = setting.generator, let lambda = setting.fusionWeight else {
                throw Failure.missingSetting(.fusion, "retrieval method, generator and weight")
            }
            let a = try ranker(MethodSetting(method: retrieval), settings: setting, top: Self.fusionDepth)
            let b = try ranker(MethodSetting(method: generator), settings: setting, top: Self.fusionDepth)
            return { queries in Fusion.combine(a(queries), b(queries), lambda: lambda, top: top) }
        }
    }

    /// Fusion joins each part's best `fusionDepth` tags (a tag beyond both parts' top 100
    /// is never among the best ten of the fused ranking in practice, and dictionaries of a
    /// few thousand tags per image would dominate the cost).
    public static let fusionDepth = 100

    /// Fusion's parts carry their own settings inside the fusion setting's `parts`.
    func ranker(_ part: MethodSetting, settings fusion: MethodSetting, top: Int?) throws -> @Sendable (Tensor) -> [RankedTags] {
        guard let full = fusion.parts?.first(where: { $0.method == part.method }) else {
            throw Failure.missingSetting(.fusion, "setting for \(part.method.rawValue)")
        }
        return try ranker(full, top: top)
    }
}

extension TagMethods {
    /// The k values k-NN transfer tries.
    public static let kCandidates = [1, 3, 5, 10, 20, 50]

    /// Chooses every available method's setting on a validation split (features [N, F]
    /// and their true tags), each the way its own type documents (`chooseOnValidation`),
    /// fits each chosen method's calibration on the same split, and measures its
    /// validation P@5 and mAP. Generators' decoders are chosen from `grid`; fusion joins
    /// the generator with the best validation P@5 to each retrieval method in turn.
    /// `log` hears each method as it is done.
    public func choose(validation features: Tensor, truth: [Set<Int>], grid: DecoderGrid = DecoderGrid(),
                       log: (String) -> Void = { _ in }) throws -> [MethodSetting] {
        var settings: [MethodSetting] = []
        var rankings: [TagMethod: [RankedTags]] = [:]
        func finish(_ setting: MethodSetting, _ ranked: [RankedTags]? = nil) throws {
            var setting = setting
            let ranked = try ranked ?? ranker(setting)(features)
            rankings[setting.method] = ranked
            setting.validationPrecisionAt5 = TagMetrics.meanPrecision(ranked, truth: truth)
            let aps = TagMetrics.averagePrecisions(ranked, truth: truth)
            setting.validationMAP = aps.isEmpty ? nil : TagMetrics.meanInTagOrder(aps)
            setting.calibration = Calibration.fit(ranked: ranked, truth: truth)
            settings.append(setting)
            log(String(format: "%@: %@ (validation P@5 %.3f)", setting.method.title, setting.summary, setting.validationPrecisionAt5))
        }
        func note<V>(_ choice: ValidationChoice<V>, _ label: (V) -> String) -> String {
            "chosen by validation P@5 (" + choice.note(label) + ")"
        }
        try finish(MethodSetting(method: .prior, note: "the most frequent training tags for every image"))

        let deepest = max(Self.kCandidates.max()!, TagProp.Setting.candidates.map(\.neighbours).max() ?? 1)
        let validationNeighbours = train.neighbours.nearest(features, k: deepest)
        let knnTried = Self.kCandidates.filter { $0 <= train.tags.count }.map { k in
            (value: k, precisionAt5: TagMetrics.meanPrecision(
                Baselines.knnTransfer(neighbours: validationNeighbours, trainTags: train.tags, k: k, top: 5), truth: truth))
        }
        let kChoice = ValidationChoice(tried: knnTried)
        var knn = MethodSetting(method: .knn, note: "summed cosine similarity of the k nearest training images (centred features); k "
                                + note(kChoice) { "k=\($0)" })
        knn.k = kChoice.value
        try finish(knn)

        let (tagprop, tagpropChoice) = TagProp.chooseOnValidation(
            space: train.neighbours, trainNeighbours: train.neighbours.leaveOneOut(k: deepest), trainTags: train.tags,
            tagCount: train.tagCount, validationNeighbours: validationNeighbours, validationTags: truth)
        var tagpropSetting = MethodSetting(method: .tagprop, note: "Guillaumin et al. 2009, neighbour weights by maximum likelihood; "
                                           + note(tagpropChoice) { $0.description })
        tagpropSetting.tagprop = tagpropChoice.value
        try finish(tagpropSetting, tagprop.rank(neighbours: validationNeighbours))

        let (head, headChoice) = try LinearTagHead.chooseOnValidation(
            trainFeatures: train.features, trainTags: train.tags, tagCount: train.tagCount,
            validationFeatures: features, validationTags: truth)
        var linear = MethodSetting(method: .linear, note: "ridge regression to the multi-hot tag vector; lambda "
                                   + note(headChoice) { String(format: "%g", $0) })
        linear.lambda = headChoice.value
        try finish(linear, head.rank(queries: features))

        if hasWordSpace {
            let (regression, regressionChoice) = try WordSpaceRegression.chooseOnValidation(
                trainFeatures: train.features, trainTags: train.tags, tagVectors: train.tagVectors, available: train.available,
                validationFeatures: features, validationTags: truth)
            var regressionSetting = MethodSetting(method: .regression, note: "ridge regression to the unit mean of the image's tag vectors, "
                                                  + "tags by cosine (the generator's non-adversarial counterpart); lambda "
                                                  + note(regressionChoice) { String(format: "%g", $0) })
            regressionSetting.lambda = regressionChoice.value
            try finish(regressionSetting, regression.rank(queries: features))

            let conse = ConSE.fit(space: train.neighbours, trainTags: train.tags, tagVectors: train.tagVectors, available: train.available)
            let conseTried = ConSE.kCandidates.filter { $0 <= train.tags.count }.map { k in
                (value: k, precisionAt5: TagMetrics.meanPrecision(conse.rank(neighbours: validationNeighbours, k: k, top: 5), truth: truth))
            }
            let conseChoice = ValidationChoice(tried: conseTried)
            var conseSetting = MethodSetting(method: .conse, note: "similarity-weighted mean tag vector of the k nearest training images, "
                                             + "tags by cosine (Norouzi et al. 2014); k " + note(conseChoice) { "k=\($0)" })
            conseSetting.k = conseChoice.value
            try finish(conseSetting, conse.rank(neighbours: validationNeighbours, k: conseChoice.value))
        }

        var bestGenerator: MethodSetting?
        for method in [TagMethod.cgan, .icgan] {
            guard let generator = generators[method] else { continue }
            let choice = SampleDecoder.chooseOnValidation(truth: truth, samplesPerImage: generator.samplesPerImage,
                                                          candidates: train.candidateIndex, labels: train.candidates, grid: grid) {
                generator.sample(features, $0)
            }
            var setting = MethodSetting(method: method, note: "noise scale and decoder chosen by validation P@5 (" + choice.decoderNote + ")")
            setting.decoder = choice.decoder ?? DecoderSetting(choice.setting)
            try finish(setting)
            if setting.validationPrecisionAt5 > (bestGenerator?.validationPrecisionAt5 ?? -1) { bestGenerator = settings.last }
        }
        if let generator = bestGenerator {
            let depth = Self.fusionDepth
            let parts = settings.filter { TagMethod.retrievals.contains($0.method) }
            let retrievals = try parts.map { (name: $0.method.rawValue, ranked: try ranker($0, top: depth)(features)) }
            let generated = rankings[generator.method].map { $0.map { RankedTags(tags: Array($0.tags.prefix(depth)), scores: Array($0.scores.prefix(depth))) } }!
            let choice = Fusion.choose(retrievals: retrievals, generator: generated, truth: truth)
            var fusion = MethodSetting(method: .fusion, note: "lambda x retrieval + (1 - lambda) x \(generator.method.title), each image's scores "
                                       + "min-max normalised; retrieval method and lambda chosen by validation P@5")
            fusion.retrieval = choice.retrieval.flatMap(TagMethod.init(rawValue:)) ?? .knn
            fusion.generator = generator.method
            fusion.fusionWeight = choice.lambda
            fusion.parts = parts.filter { $0.method == fusion.retrieval } + [generator]
            try finish(fusion)
        }
        return settings
    }
}

extension TagMethods {
    /// Each available method with a default setting, for a workspace without a validation
    /// split (nothing to choose on, nothing to calibrate): k 5, lambda 1, TagProp K 20
    /// rank-based with sigma-ML, the paper's vote; no fusion.
    public var defaults: [MethodSetting] {
        available.compactMap { method -> MethodSetting? in
            var setting = MethodSetting(method: method, note: "default setting (no validation split to choose on)")
            switch method {
            case .prior: break
            case .knn, .conse: setting.k = 5
            case .linear, .regression: setting.lambda = 1
            case .tagprop: setting.tagprop = TagProp.Setting(neighbours: 20, weighting: .rank, sigmoid: true)
            case .cgan, .icgan: setting.decoder = DecoderSetting(.paper)
            case .fusion: return nil
            }
            return setting
        }
    }

    /// The setting `taggan annotate` uses for `method` when `taggan eval` has chosen none.
    public func fallback(_ method: TagMethod) -> MethodSetting? { defaults.first { $0.method == method } }
}
