import Foundation
import Testing
import TagganCore
@testable import Eval

/// `TagMethods`: every method chosen on validation and rebuilt from its recorded setting
/// (what `taggan annotate` does with W/methods.json) ranks exactly as the one eval
/// scored, and the informative methods beat the frequency prior.
@Suite("Tagging methods: choice on validation, methods.json, rebuilt rankers")
struct TagMethodsTests {
    @Test func theCentringMeanIsEachColumnsSumInRowOrderAndTheIndexIsBuiltFromIt() {
        var random = SeededRandom(seed: 5)
        let train = Tensor.gaussian(shape: [301, 37], using: &random)
        var mean: [Float] = []
        for c in 0..<37 {
            var sum = 0.0
            for r in 0..<301 { sum += Double(train[r, c]) }
            mean.append(Float(sum / 301))
        }
        let centring = FeatureCentring(train: train)
        #expect(centring.mean.map(\.bitPattern) == mean.map(\.bitPattern))
        // The index's rows: the centred unit rows, normalised once more (in place now, as before by copy).
        let neighbours = TrainingNeighbours(trainFeatures: train)
        let expected = CosineIndex.normalisedRows(centring.apply(train))
        #expect(neighbours.index.base.storage.map(\.bitPattern) == expected.storage.map(\.bitPattern))
    }

    /// 6 classes in a 16-d feature space; each image has its class tag (0-5) and one of
    /// two noise tags (6, 7). Tag vectors in 8-d: one random direction per tag.
    struct World {
        var train: TagTrainingSet
        var validation: (Tensor, [Set<Int>])
        var test: (Tensor, [Set<Int>])
        var generator: GeneratorSource
    }

    static func world(seed: UInt64) -> World {
        var random = SeededRandom(seed: seed)
        let classes = 6, f = 16, d = 8, tags = 8
        let centres = Tensor.gaussian(shape: [classes, f], deviation: 1, using: &random)
        let vectors = Tensor.gaussian(shape: [tags, d], using: &random)
        func draw(_ n: Int) -> (Tensor, [Set<Int>]) {
            var values: [Float] = [], truth: [Set<Int>] = []
            for _ in 0..<n {
                let c = random.index(below: classes)
                values += (0..<f).map { centres[c, $0] + 0.6 * random.gaussian() }
                truth.append([c, 6 + random.index(below: 2)])
            }
            return (Tensor(shape: [n, f], values: values), truth)
        }
        let (trainFeatures, trainTags) = draw(300)
        let train = TagTrainingSet(features: trainFeatures, tags: trainTags, tagCount: tags, tagVectors: vectors,
                                   available: Array(repeating: true, count: tags), candidates: Array(0..<tags))
        // A generator that knows the classes: samples near the vector of the nearest centre's tag.
        let generator = GeneratorSource(samplesPerImage: 5) { features, noise in
            var out: [Float] = []
            var local = SeededRandom(seed: 99)
            for r in 0..<features.rows {
                var best = 0, bestDistance = Float.infinity
                for c in 0..<classes {
                    let distance = (0..<f).reduce(Float(0)) { $0 + (features[r, $1] - centres[c, $1]) * (features[r, $1] - centres[c, $1]) }
                    if distance < bestDistance { (best, bestDistance) = (c, distance) }
                }
                for _ in 0..<5 { out += (0..<d).map { vectors[best, $0] + Float(noise) * 0.3 * local.gaussian() } }
            }
            return Tensor(shape: [features.rows * 5, d], values: out)
        }
        return World(train: train, validation: draw(120), test: draw(120), generator: generator)
    }

    @Test func everyMethodIsChosenCalibratedAndBeatsThePrior() throws {
        _ = try BLAS.backend()
        let w = Self.world(seed: 5)
        let methods = TagMethods(train: w.train, generators: [.cgan: w.generator])
        let grid = DecoderGrid(noiseScales: [1, 0.5], perSample: [1, 2], kappas: [5, 20], hubness: [])
        let settings = try methods.choose(validation: w.validation.0, truth: w.validation.1, grid: grid)
        #expect(Set(settings.map(\.method)) == Set(TagMethod.allCases.filter { $0 != .icgan }))
        #expect(settings.allSatisfy { $0.calibration != nil && $0.validationMAP != nil })
        let prior = try methods.ranker(settings.first { $0.method == .prior }!)(w.test.0)
        let priorP5 = TagMetrics.meanPrecision(prior, truth: w.test.1, k: 2)
        for setting in settings where [.knn, .tagprop, .linear, .cgan, .fusion].contains(setting.method) {
            let ranked = try methods.ranker(setting)(w.test.0)
            let p = TagMetrics.meanPrecision(ranked, truth: w.test.1, k: 2)
            // The prior gets one of the two noise tags (P@2 ~0.5); knowing the class adds it
            // (~0.75, the most any method can reach: the noise tag is a coin flip).
            #expect(p > priorP5 + 0.1, "\(setting.method): test P@2 \(p) against the prior's \(priorP5)")
        }
        let fusion = settings.first { $0.method == .fusion }!
        #expect(fusion.generator == .cgan && fusion.parts?.count == 2 && fusion.fusionWeight != nil)
        let choice = MethodChoice(methods: settings, chosenOn: "test")
        #expect(choice.setting(choice.best)!.validationPrecisionAt5 == settings.map(\.validationPrecisionAt5).max())
    }

    @Test func methodsFileRebuildsTheSameRankings() throws {
        _ = try BLAS.backend()
        let w = Self.world(seed: 6)
        let methods = TagMethods(train: w.train, generators: [.icgan: w.generator])
        let grid = DecoderGrid(noiseScales: [1], perSample: [1], kappas: [10], hubness: [(1, 0)])
        let settings = try methods.choose(validation: w.validation.0, truth: w.validation.1, grid: grid)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-methods-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try MethodChoice(methods: settings, chosenOn: "validation").write(to: folder)
        let read = try #require(try MethodChoice.read(from: folder))
        #expect(read.methods.map(\.method) == settings.map(\.method))
        for (original, decoded) in zip(settings, read.methods) {
            let a = try methods.ranker(original)(w.test.0), b = try methods.ranker(decoded)(w.test.0)
            #expect(a == b, "\(original.method): the decoded setting ranks differently")
            #expect(decoded.summary == original.summary)
        }
        #expect(try MethodChoice.read(from: folder.appendingPathComponent("none")) == nil)
    }

    @Test func withoutValidationEveryMethodHasADefaultButFusion() throws {
        let w = Self.world(seed: 7)
        let methods = TagMethods(train: w.train, generators: [:])
        #expect(Set(methods.defaults.map(\.method)) == [.prior, .knn, .tagprop, .linear, .regression, .conse])
        #expect(methods.fallback(.fusion) == nil && methods.fallback(.cgan) == nil)
        #expect(throws: TagMethods.Failure.self) { try methods.ranker(MethodSetting(method: .knn)) }
        var generator = MethodSetting(method: .cgan)
        generator.decoder = DecoderSetting(.paper)
        #expect(throws: TagMethods.Failure.self) { try methods.ranker(generator) }
    }
}
