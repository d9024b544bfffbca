import Foundation
import Testing
import TagganCore
@testable import Eval

@Suite("Ridge regression, the linear tag head, the word-space regression and ConSE")
struct RegressionAnchorTests {
    @Test func ridgeWorkedExampleFromTheDocComment() throws {
        _ = try BLAS.backend()
        // x = [1, 2, 3], y = [2, 4, 6]: w = 2, b = 0 at lambda 0; lambda 2 halves w
        // (Xc^T Xc = 2, so w = 4 / (2 + 2) = 1) and b = 4 - 1 * 2 = 2.
        let system = RidgeRegression(features: Tensor(shape: [3, 1], values: [1, 2, 3]),
                                     targets: Tensor(shape: [3, 1], values: [2, 4, 6]))
        let exact = try system.solve(lambda: 0)
        #expect(abs(exact.weightsTransposed[0] - 2) < 1e-5 && abs(exact.bias[0]) < 1e-5)
        let shrunk = try system.solve(lambda: 2)
        #expect(abs(shrunk.weightsTransposed[0] - 1) < 1e-5 && abs(shrunk.bias[0] - 2) < 1e-5)
    }

    @Test func choleskyFactorsAndRejectsIndefiniteMatrices() throws {
        // A = [[4, 2], [2, 3]] = L L^T with L = [[2, 0], [1, sqrt 2]].
        let l = try Cholesky.factor([4, 2, 2, 3], size: 2)
        #expect(abs(l[0] - 2) < 1e-12 && l[1] == 0 && abs(l[2] - 1) < 1e-12 && abs(l[3] - 2.0.squareRoot()) < 1e-12)
        // A X = B, B = [[8, 4], [7, 2]] (two right-hand sides) -> X = [[1.25, 1], [1.5, 0]].
        var x: [Double] = [8, 4, 7, 2]
        Cholesky.solve(lower: l, upper: [l[0], l[2], 0, l[3]], size: 2, &x, columns: 2)
        #expect(zip(x, [1.25, 1, 1.5, 0]).allSatisfy { abs($0 - $1) < 1e-12 }, "\(x)")
        #expect(throws: TagganError.self) { try Cholesky.factor([1, 2, 2, 1], size: 2) }
        let singular = RidgeRegression(features: Tensor(shape: [3, 2], values: [1, 1, 2, 2, 3, 3]),
                                       targets: Tensor(shape: [3, 1], values: [1, 2, 3]))
        #expect(throws: TagganError.self) { try singular.solve(lambda: 0) }
        #expect(throws: Never.self) { try singular.solve(lambda: 0.1) }
    }

    @Test func ridgeRecoversAKnownLinearMap() throws {
        _ = try BLAS.backend()
        var random = SeededRandom(seed: 3)
        let n = 400, f = 12, t = 5
        let x = Tensor.gaussian(shape: [n, f], using: &random)
        let w = Tensor.gaussian(shape: [f, t], using: &random)
        let b: [Float] = [0.5, -1, 2, 0, 3]
        var y = Tensor.matmul(x, w)
        for i in 0..<n { for c in 0..<t { y[i, c] += b[c] + 0.01 * random.gaussian() } }
        let map = try RidgeRegression(features: x, targets: y, blockRows: 64).solve(lambda: 1e-6)
        var largest: Float = 0
        for c in 0..<t { for j in 0..<f { largest = max(largest, abs(map.weightsTransposed[c, j] - w[j, c])) } }
        #expect(largest < 5e-3, "largest weight error \(largest)")
        #expect(zip(map.bias, b).allSatisfy { abs($0 - $1) < 5e-3 }, "bias \(map.bias)")
        // The multi-hot path and the dense path build the same statistics.
        let tags: [Set<Int>] = (0..<n).map { i in Set((0..<t).filter { y[i, $0] > 0 }) }
        var hot = Tensor(zeros: [n, t])
        for (i, set) in tags.enumerated() { for tag in set { hot[i, tag] = 1 } }
        let sparse = try RidgeRegression(features: x, tagSets: tags, tagCount: t).solve(lambda: 0.5)
        let dense = try RidgeRegression(features: x, targets: hot, blockRows: 100).solve(lambda: 0.5)
        #expect(zip(sparse.weightsTransposed.storage, dense.weightsTransposed.storage).allSatisfy { abs($0 - $1) < 1e-4 })
        #expect(zip(sparse.bias, dense.bias).allSatisfy { abs($0 - $1) < 1e-4 })
        // Only the rows asked for count.
        let firstHalf = try RidgeRegression(features: x, targets: y, rows: Array(0..<200)).solve(lambda: 1e-6)
        #expect(zip(firstHalf.weightsTransposed.storage, map.weightsTransposed.storage).allSatisfy { abs($0 - $1) < 5e-3 })
    }

    /// Images whose tags are the two of eight with the largest (A x)_w, x the centred unit
    /// feature: a linear head should find them, a huge lambda should not.
    static func linearlyTagged(_ n: Int, a: Tensor, random: inout SeededRandom) -> (Tensor, [Set<Int>]) {
        let f = a.columns
        // An offset shared by every image: centring must remove it.
        let x = Tensor.gaussian(shape: [n, f], using: &random) + Tensor(shape: [n, f], repeating: 3)
        let unit = CosineIndex.normalisedRows(x - Tensor(shape: [n, f], repeating: 3))
        let scores = Tensor.matmul(unit, a, transposeB: true)
        let tags = (0..<n).map { i -> Set<Int> in
            Set((0..<a.rows).sorted { scores[i, $0] > scores[i, $1] }.prefix(2))
        }
        return (x, tags)
    }

    @Test func linearHeadLearnsLinearTagsAndValidationRejectsAHugeLambda() throws {
        _ = try BLAS.backend()
        var random = SeededRandom(seed: 11)
        let a = Tensor.gaussian(shape: [8, 16], using: &random)
        let (train, trainTags) = Self.linearlyTagged(600, a: a, random: &random)
        let (validation, validationTags) = Self.linearlyTagged(150, a: a, random: &random)
        let (test, testTags) = Self.linearlyTagged(150, a: a, random: &random)
        let (model, choice) = try LinearTagHead.chooseOnValidation(
            trainFeatures: train, trainTags: trainTags, tagCount: 10, validationFeatures: validation,
            validationTags: validationTags, lambdas: [0.1, 1, 1e5])
        #expect(choice.tried.map(\.value) == [0.1, 1, 1e5])
        #expect(choice.value != 1e5 && model.lambda == choice.value)
        let huge = choice.tried.first { $0.value == 1e5 }!.precisionAt5
        #expect(choice.bestPrecisionAt5 > huge + 0.05, "validation P@5 \(choice.note { "lambda \($0)" })")
        let ranked = model.rank(queries: test)
        #expect(ranked.allSatisfy { $0.tags.count == 10 && Set($0.tags).count == 10 })   // every tag, tags 8 and 9 never seen
        #expect(ranked.allSatisfy { zip($0.scores, $0.scores.dropFirst()).allSatisfy { $0 >= $1 } })
        let p2 = TagMetrics.meanPrecision(ranked, truth: testTags, k: 2)
        let prior = Baselines.frequencyPrior(trainTags: trainTags, top: 2)
        let priorP2 = TagMetrics.meanPrecision(Array(repeating: prior, count: testTags.count), truth: testTags, k: 2)
        #expect(p2 > 0.8 && p2 > priorP2 + 0.3, "test P@2 \(p2), prior \(priorP2)")
        #expect(model.rank(queries: test, top: 3).map(\.tags) == ranked.map { Array($0.tags.prefix(3)) })
    }

    /// Tag vectors in 8 dimensions for 12 tags (tag 11 has none); each image's features are
    /// a fixed linear image of the mean of its two tags' vectors, plus noise.
    static func wordSpaceData(_ n: Int, vectors: Tensor, lift: Tensor, random: inout SeededRandom) -> (Tensor, [Set<Int>]) {
        var tags: [Set<Int>] = []
        var means = Tensor(zeros: [n, vectors.columns])
        for i in 0..<n {
            let first = random.index(below: 11)
            var second = random.index(below: 11)
            while second == first { second = random.index(below: 11) }
            tags.append([first, second])
            for c in 0..<vectors.columns { means[i, c] = vectors[first, c] + vectors[second, c] }
        }
        var x = Tensor.matmul(means, lift)
        x.addScaled(Tensor.gaussian(shape: x.shape, deviation: 0.05, using: &random), by: 1)
        return (x, tags)
    }

    @Test func wordSpaceRegressionFindsTheTagsWhoseVectorsItPredicts() throws {
        _ = try BLAS.backend()
        var random = SeededRandom(seed: 17)
        let vectors = Tensor.gaussian(shape: [12, 8], using: &random)
        let available = (0..<12).map { $0 != 11 }
        let lift = Tensor.gaussian(shape: [8, 20], using: &random)
        let (train, trainTags) = Self.wordSpaceData(500, vectors: vectors, lift: lift, random: &random)
        let (validation, validationTags) = Self.wordSpaceData(100, vectors: vectors, lift: lift, random: &random)
        let (test, testTags) = Self.wordSpaceData(100, vectors: vectors, lift: lift, random: &random)
        let (model, choice) = try WordSpaceRegression.chooseOnValidation(
            trainFeatures: train, trainTags: trainTags, tagVectors: vectors, available: available,
            validationFeatures: validation, validationTags: validationTags, lambdas: [0.01, 1, 1e5])
        #expect(choice.tried.count == 3 && choice.value != 1e5)
        let ranked = model.rank(queries: test)
        #expect(ranked.allSatisfy { $0.tags.count == 11 && !$0.tags.contains(11) })   // every tag with a vector
        let p2 = TagMetrics.meanPrecision(ranked, truth: testTags, k: 2)
        #expect(p2 > 0.7, "test P@2 \(p2)")
        // The decoder is cosine: the top score is the cosine of the prediction with that tag.
        let prediction = model.predict(queries: Tensor(shape: [1, 20], values: test.row(0))).row(0)
        let top = ranked[0].tags[0]
        let v = vectors.row(top)
        let cosine = zip(prediction, v).reduce(0) { $0 + $1.0 * $1.1 }
            / (prediction.reduce(0) { $0 + $1 * $1 }.squareRoot() * v.reduce(0) { $0 + $1 * $1 }.squareRoot())
        #expect(abs(ranked[0].scores[0] - cosine) < 1e-4)
    }

    @Test func conseNamesATagThatNeverOccursInTraining() throws {
        _ = try BLAS.backend()
        var random = SeededRandom(seed: 23)
        // Tags 0-5 have random vectors; tag 6, in no training image, lies exactly between
        // tags 0 and 1; tag 7 has no vector.
        var vectors = Tensor.gaussian(shape: [8, 10], using: &random)
        let unit0 = CosineIndex.normalisedRows(Tensor(shape: [1, 10], values: vectors.row(0))).storage
        let unit1 = CosineIndex.normalisedRows(Tensor(shape: [1, 10], values: vectors.row(1))).storage
        for c in 0..<10 { vectors[6, c] = unit0[c] + unit1[c] }
        let available = (0..<8).map { $0 != 7 }
        // Three groups of training images: {0, 1}, {2, 3}, {4, 5}, around three centres.
        let centres = Tensor.gaussian(shape: [3, 16], using: &random)
        func images(_ count: Int, group: Int) -> [Float] {
            (0..<count).flatMap { _ in centres.row(group).map { $0 + 0.1 * random.gaussian() } }
        }
        var values: [Float] = [], trainTags: [Set<Int>] = []
        for group in 0..<3 {
            values += images(10, group: group)
            trainTags += Array(repeating: [2 * group, 2 * group + 1], count: 10)
        }
        let train = Tensor(shape: [30, 16], values: values)
        let model = ConSE.fit(trainFeatures: train, trainTags: trainTags, tagVectors: vectors, available: available)
        let query = Tensor(shape: [2, 16], values: images(1, group: 0) + images(1, group: 2))
        let ranked = model.rank(queries: query, k: 5)
        #expect(ranked[0].tags.first == 6, "ranking \(ranked[0].tags)")   // the unseen tag, nearest the neighbours' mean
        #expect(Set(ranked[0].tags.prefix(3)) == [0, 1, 6])
        #expect(ranked.allSatisfy { $0.tags.count == 7 && !$0.tags.contains(7) })
        #expect(Set(ranked[1].tags.prefix(2)) == [4, 5])
        // k-NN transfer and TagProp can only name tags seen in training.
        let shared = model.neighbours(queries: query, k: 5)
        let knn = Baselines.knnTransfer(neighbours: shared, trainTags: trainTags, k: 5, top: 10)
        #expect(!knn[0].tags.contains(6))
        #expect(model.rank(neighbours: shared, k: 5) == ranked)   // shared lists give the same ranking
        // Validation choice of k reports every k tried.
        let (_, choice) = ConSE.chooseOnValidation(trainFeatures: train, trainTags: trainTags, tagVectors: vectors,
                                                   available: available, validationFeatures: query,
                                                   validationTags: [[0, 1, 6], [4, 5]], ks: [1, 5, 50])
        #expect(choice.tried.map(\.value) == [1, 5])   // 50 > the 30 training images
    }

    @Test func centringUsesTheTrainingMeanAndUnitRows() {
        let train = Tensor(shape: [2, 2], values: [1, 3, 3, 5])   // mean (2, 4)
        let centring = FeatureCentring(train: train)
        #expect(centring.mean == [2, 4])
        let out = centring.apply(Tensor(shape: [2, 2], values: [5, 8, 2, 4]))   // (3, 4) -> (0.6, 0.8); the mean -> 0
        #expect(abs(out[0, 0] - 0.6) < 1e-6 && abs(out[0, 1] - 0.8) < 1e-6 && out[1, 0] == 0 && out[1, 1] == 0)
    }

    @Test func fullRankingKeepsEveryCandidateBestFirstWithStableTies() {
        let scores: [Float] = [0.2, 0.9, 0.2, .nan, 0.5]
        let all = scores.withUnsafeBufferPointer { RankedTags.ranking(scores: $0) }
        #expect(all.tags == [1, 4, 0, 2])
        let some = scores.withUnsafeBufferPointer { RankedTags.ranking(scores: $0, top: 2) { $0 != 1 } }
        #expect(some.tags == [4, 0] && some.scores == [0.5, 0.2])
    }
}
