import Foundation
import TagganCore

/// ConSE ("convex combination of semantic embeddings", Norouzi, Mikolov, Bengio, Shlens,
/// Frome, Corrado, Dean, ICLR 2014) adapted to tags. ConSE embeds an image as
/// f(x) = (1/Z) sum_{t=1..T} p(y_t | x) s(y_t), the probability-weighted mean of its top
/// T training labels' word vectors, and names the labels nearest f(x). Here the "labels"
/// are the query's k nearest training images (cosine of centred unit features), each
/// standing for the unit mean m_j of its tags' unit vectors, weighted by similarity:
///
///     f(q) = (1/Z) sum_{j in N_k(q)} max(cos(q, j), 0) m_j,   Z = sum_j max(cos(q, j), 0),
///     score(q, w) = cos(f(q), v_w)   for every candidate w (`TagVectorSpace`).
///
/// Because it decodes in the word space, it names any candidate with a vector, tags that
/// never occur in training included: the fair comparison for a generator run with
/// `--vocab all`. Training images with no tag vector contribute nothing.
///
/// Cost: the neighbour search, Q N F through blocked row-stable products (`CosineIndex`, memory
/// 256 x N similarities), then Q (k D + D T) for the mean and the decoder; the model keeps
/// the N x F centred features and N x D image vectors.
public struct ConSE: Sendable {
    /// The centred training images the neighbours come from.
    public let space: TrainingNeighbours
    /// m_j per training image, [N, D] (zero rows for images without a tag vector).
    public let imageVectors: Tensor
    public let tags: TagVectorSpace

    public static let kCandidates = [1, 3, 5, 10, 20, 50]

    public static func fit(trainFeatures: Tensor, trainTags: [Set<Int>], tagVectors: Tensor, available: [Bool]) -> ConSE {
        precondition(trainFeatures.rows == trainTags.count, "\(trainFeatures.rows) feature rows, \(trainTags.count) tag sets")
        return fit(space: TrainingNeighbours(trainFeatures: trainFeatures), trainTags: trainTags, tagVectors: tagVectors,
            available: available)
    }

    /// Fits over an existing centred training set (shared with k-NN transfer and TagProp).
    public static func fit(space: TrainingNeighbours, trainTags: [Set<Int>], tagVectors: Tensor, available: [Bool]) -> ConSE {
        precondition(space.trainingImages == trainTags.count, "\(space.trainingImages) training images, \(trainTags.count) tag sets")
        let tags = TagVectorSpace(tagVectors: tagVectors, available: available)
        let d = tags.dimension
        var vectors = [Float](repeating: 0, count: trainTags.count * d)
        for (i, set) in trainTags.enumerated() {
            if let mean = tags.unitMean(of: set) { vectors.replaceSubrange(i * d ..< (i + 1) * d, with: mean) }
        }
        return ConSE(space: space, imageVectors: Tensor(shape: [trainTags.count, d], values: vectors), tags: tags)
    }

    public init(space: TrainingNeighbours, imageVectors: Tensor, tags: TagVectorSpace) {
        self.space = space
        self.imageVectors = imageVectors
        self.tags = tags
    }

    /// The k nearest training images of each query in the centred space (what `rank`
    /// searches; pass it to `rank(neighbours:)` to share one search between k values).
    public func neighbours(queries: Tensor, k: Int) -> NeighbourLists { space.nearest(queries, k: k) }

    /// f(q) for each query from its first `k` neighbours, [Q, D].
    public func embed(neighbours: NeighbourLists, k: Int) -> Tensor {
        let d = tags.dimension
        var out = Tensor(zeros: [neighbours.count, d])
        out.withUnsafeMutableBufferPointer { f in
            imageVectors.withUnsafeBufferPointer { m in
                for (q, list) in neighbours.enumerated() {
                    var z: Float = 0
                    for n in list.prefix(k) where n.similarity > 0 {
                        z += n.similarity
                        VectorKernels.axpy(n.similarity, m.baseAddress! + n.index * d, f.baseAddress! + q * d, count: d)
                    }
                    if z > 0 { VectorKernels.scale(UnsafeMutableBufferPointer(rebasing: f[q * d ..< (q + 1) * d]), by: 1 / z) }
                }
            }
        }
        return out
    }

    public func rank(neighbours: NeighbourLists, k: Int, top: Int? = nil) -> [RankedTags] {
        tags.rank(predictions: embed(neighbours: neighbours, k: k), top: top)
    }

    public func rank(queries: Tensor, k: Int, top: Int? = nil) -> [RankedTags] {
        rank(neighbours: neighbours(queries: queries, k: k), k: k, top: top)
    }

    /// Fits once, searches the validation images' neighbours once for the largest k, and
    /// keeps the k with the best validation precision@5 (ties: the smaller k).
    public static func chooseOnValidation(trainFeatures: Tensor, trainTags: [Set<Int>], tagVectors: Tensor, available: [Bool],
                                          validationFeatures: Tensor, validationTags: [Set<Int>],
                                          ks: [Int] = kCandidates) -> (model: ConSE, choice: ValidationChoice<Int>) {
        let model = fit(trainFeatures: trainFeatures, trainTags: trainTags, tagVectors: tagVectors, available: available)
        let usable = ks.filter { $0 <= trainTags.count }
        let found = model.neighbours(queries: validationFeatures, k: usable.max() ?? 1)
        let tried = (usable.isEmpty ? [1] : usable).map { k in
            (value: k, precisionAt5: TagMetrics.meanPrecision(model.rank(neighbours: found, k: k, top: 5), truth: validationTags))
        }
        return (model, ValidationChoice(tried: tried))
    }
}
