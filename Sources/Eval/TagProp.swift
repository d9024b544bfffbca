import Foundation
import TagganCore

/// TagProp (Guillaumin, Mensink, Verbeek, Schmid, "TagProp: Discriminative metric learning
/// in nearest neighbor models for image auto-annotation", ICCV 2009): weighted nearest
/// neighbour tag transfer whose weights are learned by maximising the training tags'
/// likelihood.
///
/// Model. For image i and tag w, with y_jw in {0, 1} whether training image j carries w
/// and j running over i's K nearest training images (cosine of centred unit features,
/// `FeatureCentring`; a training image is never its own neighbour: leave-one-out),
///
///     p(y_iw = +1) = sum_j pi_ij p(y_jw = +1),   p(y_jw = +1) = 1 - eps if y_jw = 1, else eps,
///
/// eps = 1e-5 (the paper's value), with neighbour weights pi_ij >= 0, sum_j pi_ij = 1:
/// - rank-based: pi_ij = gamma_k when j is i's k-th neighbour (gamma on the simplex);
/// - distance-based: pi_ij = exp(-d_theta(i, j)) / sum_j' exp(-d_theta(i, j')) over the K
///   neighbours, with the single-parameter distance d_theta(i, j) = theta (1 - cos(i, j)).
/// sigma-ML ("word-specific logistic discriminant", section 2.3 of the paper) replaces the
/// mixture by
///
///     p(y_iw = +1) = sigma(alpha_w x_iw + beta_w),   x_iw = sum_j pi_ij y_jw,
///
/// (the paper writes x with y in {-1, +1}; that is 2x - 1 for these x, absorbed by alpha
/// and beta) so frequent tags are damped and rare ones boosted.
///
/// Fit. Maximise L = sum_{i,w} c_iw ln p(y_iw) over the training images and the W tags that
/// occur in training, with c_iw = 1/n+ for the i's tags and 1/n- for the others (n+, n- the
/// numbers of positive and negative labels; the paper's balancing). Gradients, with
/// q_jw = p(y_jw = y_iw) and rho_ijw = pi_ij q_jw / p(y_iw):
///
///     dL/dgamma_k = sum_{i,w} c_iw q_{j_k(i) w} / p(y_iw)
///     dL/dtheta   = sum_{i,j} (C_i pi_ij - sum_w c_iw rho_ijw) (1 - cos(i, j)),  C_i = sum_w c_iw
///
/// and for sigma-ML, with t_iw in {0, 1} the label and sigma_iw = sigma(alpha_w x_iw + beta_w),
///
///     dL/dalpha_w = sum_i c_iw (t_iw - sigma_iw) x_iw,    dL/dbeta_w = sum_i c_iw (t_iw - sigma_iw),
///     dL/dpi_ij   = sum_w c_iw (t_iw - sigma_iw) alpha_w y_jw.
///
/// Optimisation: projected gradient ascent for gamma (Euclidean projection onto the simplex,
/// Duchi et al., ICML 2008) and gradient ascent on ln theta, both with a backtracking step;
/// for sigma-ML it alternates with Newton steps on each tag's (alpha_w, beta_w) (the
/// per-tag problem is concave), as the paper alternates. Departure: sigma-ML adds a weak
/// Gaussian prior -(kappa c+ / 2) (alpha_w^2 + beta_w^2) (worth kappa = 0.01 positive labels
/// by default) so a tag seen once, whose ML alpha is infinite, stays finite.
///
/// Only the tags of i or of its neighbours (S_i) need work per image: any other tag has
/// x_iw = 0 and t_iw = 0, a term whose value and gradient are counted in closed form.
///
/// Cost: the leave-one-out search dominates, N^2 F multiply-adds through blocked products
/// (100,000 images x 1280 features: 1.3e13, a few minutes on 2 cores; memory 256 x N
/// similarities); each likelihood evaluation is O(N K |tags per image|); ranking a query
/// is its neighbour search plus O(K |tags per image| + T log T) for the full ranking.
///
/// Worked example (rank-based, K = 2, gamma = (0.75, 0.25)): a query whose nearest
/// neighbour has {cat} and second {cat, sea} gets p(cat) = 0.75 (1 - eps) + 0.25 (1 - eps)
/// ~ 1, p(sea) = 0.75 eps + 0.25 (1 - eps) ~ 0.25, and every other tag eps.
public struct TagProp: Sendable {
    public enum Weighting: String, Sendable, Hashable, Codable, CaseIterable { case rank, distance }

    /// One variant: neighbourhood size, weighting, and whether sigma-ML is on.
    public struct Setting: Sendable, Hashable, Codable, CustomStringConvertible {
        public var neighbours: Int
        public var weighting: Weighting
        public var sigmoid: Bool

        public init(neighbours: Int, weighting: Weighting, sigmoid: Bool) {
            self.neighbours = neighbours
            self.weighting = weighting
            self.sigmoid = sigmoid
        }

        /// "K 20, distance, sigma-ML".
        public var description: String { "K \(neighbours), \(weighting.rawValue)\(sigmoid ? ", sigma-ML" : "")" }

        /// The variants `chooseOnValidation` tries.
        public static let candidates: [Setting] = [10, 20, 50].flatMap { k in
            Weighting.allCases.flatMap { weighting in [false, true].map { Setting(neighbours: k, weighting: weighting, sigmoid: $0) } }
        }
    }

    public static let epsilon = 1e-5

    public let setting: Setting
    /// gamma_1..gamma_K (rank-based; uniform otherwise).
    public let rankWeights: [Double]
    /// theta of the distance-based weights.
    public let theta: Double
    /// alpha_w, beta_w per tag (sigma-ML; tags absent from training keep 0).
    public let alpha: [Double]
    public let beta: [Double]
    /// L at the fitted parameters (including sigma-ML's prior).
    public let trainingLogLikelihood: Double
    /// The centred training images the neighbours come from.
    public let space: TrainingNeighbours
    public let tagCount: Int
    let trainTags: [[Int]]
    /// Tags that occur in training.
    let inTraining: [Bool]

    /// Centres the features, finds every training image's K nearest other training
    /// images, and fits the setting's parameters.
    public static func fit(trainFeatures: Tensor, trainTags: [Set<Int>], tagCount: Int, setting: Setting,
                           iterations: Int = 10, sigmoidPrior: Double = 0.01) -> TagProp {
        let space = TrainingNeighbours(trainFeatures: trainFeatures)
        return fit(space: space, trainNeighbours: space.leaveOneOut(k: setting.neighbours), trainTags: trainTags,
                   tagCount: tagCount, setting: setting, iterations: iterations, sigmoidPrior: sigmoidPrior)
    }

    /// Fits from precomputed leave-one-out neighbour lists (`space.leaveOneOut(k:)`; longer
    /// lists are cut to their first K, shorter ones cut K), so several settings share one search.
    public static func fit(space: TrainingNeighbours, trainNeighbours: NeighbourLists,
                           trainTags: [Set<Int>], tagCount: Int, setting: Setting,
                           iterations: Int = 10, sigmoidPrior: Double = 0.01) -> TagProp {
        precondition(trainNeighbours.count == trainTags.count, "\(trainNeighbours.count) neighbour lists, \(trainTags.count) tag sets")
        let k = max(1, min(setting.neighbours, trainNeighbours.map(\.count).min() ?? 1))
        let problem = TagPropLikelihood(neighbours: trainNeighbours, k: k, trainTags: trainTags, tagCount: tagCount,
                                        weighting: setting.weighting, sigmoid: setting.sigmoid, sigmoidPrior: sigmoidPrior)
        var parameters = problem.initialParameters()
        let value = problem.maximise(&parameters, rounds: iterations)
        var used = setting
        used.neighbours = k
        return TagProp(setting: used, rankWeights: parameters.gamma, theta: parameters.theta, alpha: parameters.alpha,
                       beta: parameters.beta, trainingLogLikelihood: value, space: space, tagCount: tagCount,
                       trainTags: trainTags.map { $0.sorted() }, inTraining: problem.inVocabulary)
    }

    /// The K nearest training images of each query (centred space).
    public func neighbours(queries: Tensor) -> NeighbourLists { space.nearest(queries, k: setting.neighbours) }

    /// Every tag ranked by p(y_qw = +1) for each query (or the first `top`).
    public func rank(queries: Tensor, top: Int? = nil) -> [RankedTags] {
        rank(neighbours: neighbours(queries: queries), top: top)
    }

    /// The same from precomputed neighbour lists (best first; the first K are used).
    /// Tags that never occur in training score 0, below every other tag.
    public func rank(neighbours: NeighbourLists, top: Int? = nil) -> [RankedTags] {
        let eps = Self.epsilon
        let results = ParallelSlots<RankedTags>(count: neighbours.count)
        Parallel.forEach(neighbours.count, grain: 16) { q in
            let list = Array(neighbours[q].prefix(setting.neighbours))
            let pi = weights(similarities: list.map { Double($0.similarity) })
            var x = [Double](repeating: 0, count: tagCount)
            var touched: [Int] = []
            for (k, n) in list.enumerated() {
                for tag in trainTags[n.index] {
                    if x[tag] == 0 { touched.append(tag) }
                    x[tag] += pi[k]
                }
            }
            var scores = [Float](repeating: 0, count: tagCount)
            for tag in 0..<tagCount where inTraining[tag] {
                scores[tag] = Float(setting.sigmoid ? logistic(beta[tag]) : eps)
            }
            for tag in touched {
                scores[tag] = Float(setting.sigmoid ? logistic(alpha[tag] * x[tag] + beta[tag]) : eps + (1 - 2 * eps) * x[tag])
            }
            results[q] = scores.withUnsafeBufferPointer { RankedTags.ranking(scores: $0, top: top) }
        }
        return results.values(neighbours.count).map { $0! }
    }

    /// pi over a neighbour list (by similarity, best first).
    func weights(similarities: [Double]) -> [Double] {
        switch setting.weighting {
        case .rank:
            return Array(rankWeights.prefix(similarities.count))
        case .distance:
            return TagPropLikelihood.softmaxWeights(distances: similarities.map { 1 - $0 }, theta: theta)
        }
    }

    /// Searches the training images' leave-one-out neighbours and the validation images'
    /// neighbours once (for the largest K), fits every setting, and keeps the one with the
    /// best validation precision@5 (ties: the earlier setting).
    public static func chooseOnValidation(trainFeatures: Tensor, trainTags: [Set<Int>], tagCount: Int,
                                          validationFeatures: Tensor, validationTags: [Set<Int>],
                                          settings: [Setting] = Setting.candidates, iterations: Int = 10)
        -> (model: TagProp, choice: ValidationChoice<Setting>) {
        precondition(!settings.isEmpty, "no TagProp settings to choose from")
        let space = TrainingNeighbours(trainFeatures: trainFeatures)
        let largest = settings.map(\.neighbours).max()!
        return chooseOnValidation(space: space, trainNeighbours: space.leaveOneOut(k: largest), trainTags: trainTags,
                                  tagCount: tagCount, validationNeighbours: space.nearest(validationFeatures, k: largest),
                                  validationTags: validationTags, settings: settings, iterations: iterations)
    }

    /// The same from shared neighbour lists (each as long as the largest K tried).
    public static func chooseOnValidation(space: TrainingNeighbours, trainNeighbours: NeighbourLists, trainTags: [Set<Int>],
                                          tagCount: Int, validationNeighbours: NeighbourLists, validationTags: [Set<Int>],
                                          settings: [Setting] = Setting.candidates, iterations: Int = 10)
        -> (model: TagProp, choice: ValidationChoice<Setting>) {
        precondition(!settings.isEmpty, "no TagProp settings to choose from")
        var models: [Setting: TagProp] = [:]
        var tried: [(value: Setting, precisionAt5: Double)] = []
        for setting in settings {
            let model = fit(space: space, trainNeighbours: trainNeighbours, trainTags: trainTags,
                            tagCount: tagCount, setting: setting, iterations: iterations)
            models[setting] = model
            tried.append((setting, TagMetrics.meanPrecision(model.rank(neighbours: validationNeighbours, top: 5), truth: validationTags)))
        }
        let choice = ValidationChoice(tried: tried)
        return (models[choice.value]!, choice)
    }
}

func logistic(_ z: Double) -> Double { z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)) }

/// ln sigma(z), without overflow for large |z|.
func logSigmoid(_ z: Double) -> Double { z >= 0 ? -log1p(exp(-z)) : z - log1p(exp(z)) }

/// TagProp's training log-likelihood over precomputed leave-one-out neighbours, its
/// gradient, and the optimiser (see `TagProp` for the equations).
///
/// Layout: per image i, the entries (w, t_iw, ranks of the neighbours carrying w) for
/// w in S_i = i's tags and its neighbours' tags, flattened (CSR); every other tag of the
/// W training tags is a negative with x_iw = 0, counted per image (`outside`) and per tag
/// (`absent`).
struct TagPropLikelihood {
    struct Parameters: Equatable {
        var gamma: [Double]
        var theta: Double
        var alpha: [Double]
        var beta: [Double]
    }

    let images: Int
    let k: Int
    let tagCount: Int
    let weighting: TagProp.Weighting
    let sigmoid: Bool
    /// d_ik = 1 - cos(i, k-th neighbour), images x k.
    let distances: [Double]
    let inVocabulary: [Bool]
    let entryStart: [Int]
    let entryTag: [Int]
    let entryPositive: [Bool]
    let rankStart: [Int]
    let ranks: [Int]
    /// The entries again, grouped by tag (tag w's are tagEntries[tagEntryStart[w] ..< tagEntryStart[w + 1]]).
    let tagEntryStart: [Int]
    let tagEntries: [Int]
    /// W - |S_i| per image.
    let outside: [Int]
    /// N - |{i : w in S_i}| per tag (0 for tags absent from training).
    let absent: [Int]
    let positiveWeight: Double
    let negativeWeight: Double
    /// kappa c+, the sigma-ML prior's precision.
    let priorPrecision: Double

    static let eps = TagProp.epsilon

    @_optimize(speed)
    init(neighbours: NeighbourLists, k: Int, trainTags: [Set<Int>], tagCount: Int,
         weighting: TagProp.Weighting, sigmoid: Bool, sigmoidPrior: Double) {
        images = trainTags.count
        self.k = k
        self.tagCount = tagCount
        self.weighting = weighting
        self.sigmoid = sigmoid
        var vocabulary = [Bool](repeating: false, count: tagCount)
        var positives = 0
        for tags in trainTags { for tag in tags { vocabulary[tag] = true }; positives += tags.count }
        let w = vocabulary.filter { $0 }.count
        inVocabulary = vocabulary
        var distances = [Double](repeating: 0, count: images * k)
        var entryStart = [0], entryTag: [Int] = [], entryPositive: [Bool] = [], rankStart = [0], ranks: [Int] = []
        var outside = [Int](repeating: 0, count: images), covered = [Int](repeating: 0, count: tagCount)
        for i in 0..<images {
            let list = neighbours[i].prefix(k)
            precondition(list.count == k, "image \(i) has \(list.count) neighbours, K is \(k)")
            var carriers: [Int: [Int]] = [:]
            for tag in trainTags[i] { carriers[tag] = [] }
            for (r, n) in list.enumerated() {
                distances[i * k + r] = 1 - Double(n.similarity)
                for tag in trainTags[n.index] { carriers[tag, default: []].append(r) }
            }
            for (tag, carrying) in carriers.sorted(by: { $0.key < $1.key }) {
                entryTag.append(tag)
                entryPositive.append(trainTags[i].contains(tag))
                ranks += carrying
                rankStart.append(ranks.count)
                covered[tag] += 1
            }
            entryStart.append(entryTag.count)
            outside[i] = w - carriers.count
        }
        // Counting sort of the entries by tag.
        var tagEntryStart = [Int](repeating: 0, count: tagCount + 1)
        for tag in entryTag { tagEntryStart[tag + 1] += 1 }
        for w in 0..<tagCount { tagEntryStart[w + 1] += tagEntryStart[w] }
        var fill = tagEntryStart, tagEntries = [Int](repeating: 0, count: entryTag.count)
        for (e, tag) in entryTag.enumerated() { tagEntries[fill[tag]] = e; fill[tag] += 1 }
        self.tagEntryStart = tagEntryStart
        self.tagEntries = tagEntries
        self.distances = distances
        self.entryStart = entryStart
        self.entryTag = entryTag
        self.entryPositive = entryPositive
        self.rankStart = rankStart
        self.ranks = ranks
        self.outside = outside
        let n = trainTags.count
        absent = (0..<tagCount).map { vocabulary[$0] ? n - covered[$0] : 0 }
        let negatives = images * w - positives
        positiveWeight = 1 / Double(max(positives, 1))
        negativeWeight = 1 / Double(max(negatives, 1))
        priorPrecision = sigmoidPrior * positiveWeight
    }

    /// gamma uniform; theta so that exp(-theta d) spans about e between the nearest and the
    /// K-th neighbour on average; alpha 0 and beta the logit of each tag's frequency.
    func initialParameters() -> Parameters {
        var spread = 0.0
        for i in 0..<images { spread += distances[i * k + k - 1] - distances[i * k] }
        spread /= Double(max(images, 1))
        var alpha = [Double](repeating: 0, count: tagCount), beta = alpha
        var counts = [Int](repeating: 0, count: tagCount)
        for i in 0..<images {
            for e in entryStart[i] ..< entryStart[i + 1] where entryPositive[e] { counts[entryTag[e]] += 1 }
        }
        for tag in 0..<tagCount where inVocabulary[tag] {
            let f = (Double(counts[tag]) + 0.5) / (Double(images) + 1)
            beta[tag] = log(f / (1 - f))
            alpha[tag] = sigmoid ? 1 : 0
        }
        return Parameters(gamma: [Double](repeating: 1 / Double(k), count: k), theta: 1 / max(spread, 1e-3),
                          alpha: alpha, beta: beta)
    }

    @_optimize(speed)
    static func softmaxWeights(distances: [Double], theta: Double) -> [Double] {
        guard let nearest = distances.min() else { return [] }
        let e = distances.map { exp(-theta * ($0 - nearest)) }
        let z = e.reduce(0, +)
        return e.map { $0 / z }
    }

    @_optimize(speed)
    func weights(_ i: Int, _ p: Parameters) -> [Double] {
        switch weighting {
        case .rank: return p.gamma
        case .distance: return Self.softmaxWeights(distances: Array(distances[i * k ..< (i + 1) * k]), theta: p.theta)
        }
    }

    struct Gradient: Equatable {
        var gamma: [Double]
        var theta: Double
        var alpha: [Double]
        var beta: [Double]
    }

    /// L(p) and its gradient with respect to every parameter (gamma is not assumed to sum
    /// to 1, so the gradient is the unconstrained one). `@_optimize(speed)` here and on the
    /// other inner loops: debug builds compile Eval unoptimised, and the tests fit TagProp
    /// dozens of times.
    @_optimize(speed)
    func evaluate(_ p: Parameters, threads: Int = Parallel.defaultThreads) -> (value: Double, gradient: Gradient) {
        // Images in blocks of 64, each with its own sums, added in block order: blocks fixed
        // by the image count alone, so the fit is the same bits whatever the thread count
        // (chunks per worker made it depend on TAGGAN_THREADS and the cores).
        let blocks = (images + 63) / 64
        let partials = ParallelSlots<(Double, Gradient)>(count: blocks)
        Parallel.forEach(blocks, threads: threads) { block in
            partials[block] = imageTerms(64 * block ..< min(images, 64 * (block + 1)), p)
        }
        var value = 0.0
        var g = Gradient(gamma: [Double](repeating: 0, count: k), theta: 0,
                         alpha: [Double](repeating: 0, count: tagCount), beta: [Double](repeating: 0, count: tagCount))
        for block in 0..<blocks {
            guard let (v, part) = partials[block] else { continue }
            value += v
            g.theta += part.theta
            for r in 0..<k { g.gamma[r] += part.gamma[r] }
            if sigmoid { for w in 0..<tagCount { g.alpha[w] += part.alpha[w]; g.beta[w] += part.beta[w] } }
        }
        if sigmoid {
            for w in 0..<tagCount where inVocabulary[w] {
                let c = Double(absent[w]) * negativeWeight
                value += c * logSigmoid(-p.beta[w]) - priorPrecision / 2 * (p.alpha[w] * p.alpha[w] + p.beta[w] * p.beta[w])
                g.beta[w] += -c * logistic(p.beta[w]) - priorPrecision * p.beta[w]
                g.alpha[w] -= priorPrecision * p.alpha[w]
            }
        }
        return (value, g)
    }

    /// The terms of L and of its gradient that belong to the images in `range`.
    ///
    /// The loops read every array through unsafe pointers taken once per call: indexing
    /// the stored arrays and slicing `ranks` per entry cost a retain and a release each,
    /// which was ~23% of `taggan eval`'s CPU time on the demo workspace (perf, session 10);
    /// the neighbour weights go into one buffer per call instead of three new arrays per
    /// image. The arithmetic and its order are those of `weights` / `softmaxWeights`,
    /// `logSigmoid` and `logistic` (one exp(-|z|) serves both, as each computes it), so
    /// the result is the same to the bit.
    @_optimize(speed)
    func imageTerms(_ range: Range<Int>, _ p: Parameters) -> (Double, Gradient) {
        let eps = Self.eps, k = self.k, sigmoid = self.sigmoid
        let positiveWeight = self.positiveWeight, negativeWeight = self.negativeWeight
        let byDistance = weighting == .distance, theta = p.theta
        var value = 0.0, gTheta = 0.0
        var gGamma = [Double](repeating: 0, count: k)
        var gAlpha = [Double](repeating: 0, count: sigmoid ? tagCount : 0), gBeta = gAlpha
        var gPi = [Double](repeating: 0, count: k), pi = [Double](repeating: 0, count: k)
        entryStart.withUnsafeBufferPointer { entryStart in
        entryTag.withUnsafeBufferPointer { entryTag in
        entryPositive.withUnsafeBufferPointer { entryPositive in
        rankStart.withUnsafeBufferPointer { rankStart in
        ranks.withUnsafeBufferPointer { ranks in
        distances.withUnsafeBufferPointer { distances in
        outside.withUnsafeBufferPointer { outside in
        p.gamma.withUnsafeBufferPointer { gamma in
        p.alpha.withUnsafeBufferPointer { alpha in
        p.beta.withUnsafeBufferPointer { beta in
        gGamma.withUnsafeMutableBufferPointer { gGamma in
        gAlpha.withUnsafeMutableBufferPointer { gAlpha in
        gBeta.withUnsafeMutableBufferPointer { gBeta in
        gPi.withUnsafeMutableBufferPointer { gPi in
        pi.withUnsafeMutableBufferPointer { pi in
            for i in range {
                let d = distances.baseAddress! + i * k
                if byDistance {
                    // softmaxWeights: e_r = exp(-theta (d_r - min d)), summed in order, then / z.
                    var nearest = d[0]
                    for r in 1..<k where d[r] < nearest { nearest = d[r] }
                    var z = 0.0
                    for r in 0..<k { pi[r] = exp(-theta * (d[r] - nearest)); z += pi[r] }
                    for r in 0..<k { pi[r] = pi[r] / z }
                } else {
                    for r in 0..<k { pi[r] = gamma[r] }
                }
                var sumPi = 0.0
                for r in 0..<k { sumPi += pi[r] }
                for r in 0..<k { gPi[r] = 0 }
                var shared = 0.0   // added to every dL/dpi_ik
                for e in entryStart[i] ..< entryStart[i + 1] {
                    let carriers = rankStart[e] ..< rankStart[e + 1]
                    var x = 0.0
                    for j in carriers { x += pi[ranks[j]] }
                    let w = entryTag[e], positive = entryPositive[e]
                    let c = positive ? positiveWeight : negativeWeight
                    if sigmoid {
                        let z = alpha[w] * x + beta[w]
                        // logSigmoid(+-z) and logistic(z) both from exp(-|z|).
                        let t = exp(z >= 0 ? -z : z)
                        let signed = positive ? z : -z
                        value += c * (signed >= 0 ? -log1p(t) : signed - log1p(t))
                        let s = z >= 0 ? 1 / (1 + t) : t / (1 + t)
                        let residual = c * ((positive ? 1 : 0) - s)
                        gAlpha[w] += residual * x
                        gBeta[w] += residual
                        let back = residual * alpha[w]
                        for j in carriers { gPi[ranks[j]] += back }
                    } else {
                        // p(y_iw) = sum_j pi_ij q_jw, q_jw = eps + (1 - 2 eps) y_jw for a positive,
                        // (1 - eps) - (1 - 2 eps) y_jw for a negative.
                        let probability = positive ? eps * sumPi + (1 - 2 * eps) * x : (1 - eps) * sumPi - (1 - 2 * eps) * x
                        value += c * log(probability)
                        shared += c * (positive ? eps : 1 - eps) / probability
                        let carried = c * (positive ? 1 - 2 * eps : -(1 - 2 * eps)) / probability
                        for j in carriers { gPi[ranks[j]] += carried }
                    }
                }
                if !sigmoid && outside[i] > 0 {
                    // Tags outside S_i: p = (1 - eps) sum_j pi_ij each.
                    let c = Double(outside[i]) * negativeWeight
                    value += c * log((1 - eps) * sumPi)
                    shared += c / sumPi
                }
                for r in 0..<k { gPi[r] += shared }
                if byDistance {
                    // dpi_ik/dtheta = pi_ik (dbar_i - d_ik), dbar_i = sum_k pi_ik d_ik.
                    var dbar = 0.0
                    for r in 0..<k { dbar += pi[r] * d[r] }
                    for r in 0..<k { gTheta += gPi[r] * pi[r] * (dbar - d[r]) }
                } else {
                    for r in 0..<k { gGamma[r] += gPi[r] }
                }
            }
        }}}}}}}}}}}}}}}
        return (value, Gradient(gamma: gGamma, theta: gTheta, alpha: gAlpha, beta: gBeta))
    }

    /// Alternates sigma-ML's Newton steps (when on) with steps on the neighbour weights;
    /// returns the final L.
    func maximise(_ p: inout Parameters, rounds: Int, weightSteps: Int = 5) -> Double {
        var step = 1.0
        var value = evaluate(p).value
        for _ in 0..<max(rounds, 1) {
            if sigmoid { newtonOnSigmoids(&p, passes: 3) ; value = evaluate(p).value }
            for _ in 0..<weightSteps {
                let (current, g) = evaluate(p)
                value = current
                var accepted = false
                for _ in 0..<20 {
                    var trial = p
                    switch weighting {
                    case .rank: trial.gamma = Self.projectOntoSimplex(zip(p.gamma, g.gamma).map { $0 + step * $1 })
                    case .distance: trial.theta = p.theta * exp(step * p.theta * g.theta)   // ascent on u = ln theta
                    }
                    if trial == p { break }   // the step no longer moves anything
                    let trialValue = evaluate(trial).value
                    if trialValue >= current {
                        p = trial
                        value = trialValue
                        step *= 1.5
                        // Converged when a step gains less than 1e-9 of |L|.
                        accepted = trialValue - current > 1e-9 * abs(current)
                        break
                    }
                    step *= 0.5
                }
                if !accepted { break }
            }
        }
        return value
    }

    /// Per-tag Newton steps on (alpha_w, beta_w) with the neighbour weights fixed, each
    /// step halved until that tag's own terms of L do not decrease. Given pi the tags are
    /// independent problems, solved in parallel over tags.
    @_optimize(speed)
    func newtonOnSigmoids(_ p: inout Parameters, passes: Int) {
        // x_iw per entry, fixed while pi is.
        var xs = [Double](repeating: 0, count: entryTag.count)
        for i in 0..<images {
            let pi = weights(i, p)
            for e in entryStart[i] ..< entryStart[i + 1] {
                var x = 0.0
                for r in ranks[rankStart[e] ..< rankStart[e + 1]] { x += pi[r] }
                xs[e] = x
            }
        }
        let solved = ParallelSlots<(Double, Double)>(count: tagCount)
        let current = p
        Parallel.forEach(tagCount, grain: 16) { w in
            guard inVocabulary[w] else { return }
            solved[w] = newtonOnTag(w, alpha: current.alpha[w], beta: current.beta[w], xs: xs, passes: passes)
        }
        for w in 0..<tagCount { if let (a, b) = solved[w] { p.alpha[w] = a; p.beta[w] = b } }
    }

    /// Tag w's terms of L: its entries' c ln sigma(+-(alpha x + beta)), the absent images'
    /// c- ln sigma(-beta), and the prior; with the gradient and Hessian when asked.
    @_optimize(speed)
    func tagTerms(_ w: Int, _ alpha: Double, _ beta: Double, _ xs: [Double], derivatives: Bool)
        -> (value: Double, ga: Double, gb: Double, haa: Double, hab: Double, hbb: Double) {
        var value = 0.0, ga = 0.0, gb = 0.0, haa = 0.0, hab = 0.0, hbb = 0.0
        for e in tagEntries[tagEntryStart[w] ..< tagEntryStart[w + 1]] {
            let positive = entryPositive[e], x = xs[e]
            let c = positive ? positiveWeight : negativeWeight
            let z = alpha * x + beta
            value += c * logSigmoid(positive ? z : -z)
            guard derivatives else { continue }
            let s = logistic(z)
            let r = c * ((positive ? 1 : 0) - s), h = c * s * (1 - s)
            ga += r * x; gb += r
            haa -= h * x * x; hab -= h * x; hbb -= h
        }
        let c = Double(absent[w]) * negativeWeight
        value += c * logSigmoid(-beta) - priorPrecision / 2 * (alpha * alpha + beta * beta)
        if derivatives {
            let s = logistic(beta)
            gb += -c * s - priorPrecision * beta
            ga -= priorPrecision * alpha
            hbb -= c * s * (1 - s) + priorPrecision
            haa -= priorPrecision
        }
        return (value, ga, gb, haa, hab, hbb)
    }

    /// Newton on one tag: delta = -H^-1 g with H = [[haa, hab], [hab, hbb]] negative definite
    /// (the prior makes it so), halved until the tag's value does not decrease.
    func newtonOnTag(_ w: Int, alpha: Double, beta: Double, xs: [Double], passes: Int) -> (Double, Double) {
        var (a, b) = (alpha, beta)
        for _ in 0..<passes {
            let t = tagTerms(w, a, b, xs, derivatives: true)
            let det = t.haa * t.hbb - t.hab * t.hab
            guard det > 0 else { break }
            let da = -(t.hbb * t.ga - t.hab * t.gb) / det
            let db = -(-t.hab * t.ga + t.haa * t.gb) / det
            // A step below 1e-9 has converged (a tinier one only meets rounding).
            guard max(abs(da), abs(db)) > 1e-9 else { break }
            var scale = 1.0, moved = false
            for _ in 0..<20 {
                let trial = tagTerms(w, a + scale * da, b + scale * db, xs, derivatives: false).value
                if trial >= t.value { a += scale * da; b += scale * db; moved = true; break }
                scale *= 0.5
            }
            if !moved { break }
        }
        return (a, b)
    }

    /// The Euclidean projection of v onto {g : g_k >= 0, sum_k g_k = 1} (Duchi, Shalev-Shwartz,
    /// Singer, Chandra, ICML 2008, figure 1): with u = v sorted descending,
    /// rho = max{j : u_j - (sum_{r<=j} u_r - 1) / j > 0}, tau = (sum_{r<=rho} u_r - 1) / rho,
    /// g_k = max(v_k - tau, 0).
    static func projectOntoSimplex(_ v: [Double]) -> [Double] {
        let u = v.sorted(by: >)
        var sum = 0.0, tau = 0.0
        for (j, value) in u.enumerated() {
            sum += value
            let candidate = (sum - 1) / Double(j + 1)
            if value - candidate > 0 { tau = candidate }
        }
        return v.map { max($0 - tau, 0) }
    }
}
