import Foundation
import TagganCore

/// What TagGAN trains on, as plain data: no file formats, no other stage's types.
///
/// - `features`: N x F, one image embedding per row (F = 1280 for EfficientNet-Lite0).
/// - `tags`: for each of the N images, the rows of `tagVectors` holding its tags (at
///   least one each; repeats are allowed but pointless).
/// - `tagVectors`: V x D word vectors, one per distinct tag (D = 200 in the paper).
/// - `tagNames`: optional names of the `tagVectors` rows, kept for reports.
///
/// Training examples are (image, tag) pairs: each image appears once per tag, as in the
/// paper (MIR Flickr's 25,000 images gave 150,000 examples).
///
///     let data = try TrainingData(
///         features: Tensor(shape: [2, 3], values: [1, 0, 0, 0, 1, 0]),
///         tags: [[0], [0, 1]],
///         tagVectors: Tensor(shape: [2, 2], values: [1, 0, 0, 1]))
///     data.exampleCount   // 3
public struct TrainingData: Sendable {
    public let features: Tensor
    public let tags: [[Int]]
    public let tagVectors: Tensor
    public let tagNames: [String]?

    public init(features: Tensor, tags: [[Int]], tagVectors: Tensor, tagNames: [String]? = nil) throws {
        guard features.rank == 2, features.rows > 0, features.columns > 0 else {
            throw TagganError.failure("training data: features must be a non-empty N x F matrix, got shape \(features.shape)")
        }
        guard tags.count == features.rows else {
            throw TagganError.failure("training data: \(features.rows) feature rows but tag lists for \(tags.count) images")
        }
        guard tagVectors.rank == 2, tagVectors.rows > 0, tagVectors.columns > 0 else {
            throw TagganError.failure("training data: tag vectors must be a non-empty V x D matrix, got shape \(tagVectors.shape)")
        }
        if let image = tags.firstIndex(where: { $0.isEmpty }) {
            throw TagganError.failure("training data: image \(image) has no tags (drop untagged images before training)")
        }
        for (image, list) in tags.enumerated() {
            if let bad = list.first(where: { $0 < 0 || $0 >= tagVectors.rows }) {
                throw TagganError.failure("training data: image \(image) has tag index \(bad), outside 0..<\(tagVectors.rows)")
            }
        }
        if let names = tagNames, names.count != tagVectors.rows {
            throw TagganError.failure("training data: \(names.count) tag names for \(tagVectors.rows) tag vectors")
        }
        guard features.withUnsafeBufferPointer({ LayerKernels.allFinite($0) }) else {
            let bad = features.storage.firstIndex { !$0.isFinite } ?? 0
            throw TagganError.failure("training data: the features of image \(bad / max(features.columns, 1)) (row \(bad / max(features.columns, 1)) "
                                      + "of the embeddings as loaded) contain NaN or infinity: run taggan features again for it")
        }
        guard tagVectors.withUnsafeBufferPointer({ LayerKernels.allFinite($0) }) else {
            throw TagganError.failure("training data: tag vectors contain NaN or infinity")
        }
        self.features = features
        self.tags = tags
        self.tagVectors = tagVectors
        self.tagNames = tagNames
    }

    public var imageCount: Int { features.rows }
    public var featureSize: Int { features.columns }
    public var wordSize: Int { tagVectors.columns }
    public var exampleCount: Int { tags.reduce(0) { $0 + $1.count } }

    /// The mean feature row (for `TrainingConfiguration.featureMean`).
    public var featureMean: [Float] {
        let f = featureSize
        var sum = [Double](repeating: 0, count: f)
        features.withUnsafeBufferPointer { p in
            for r in 0 ..< imageCount { for c in 0 ..< f { sum[c] += Double(p[r * f + c]) } }
        }
        return sum.map { Float($0 / Double(max(imageCount, 1))) }
    }

    /// A 64-bit FNV-1a hash of the shapes, values and tag lists: a checkpoint records it
    /// so that `--resume` refuses to continue on different data.
    public var fingerprint: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ value: UInt64) {
            var v = value
            for _ in 0..<8 {
                hash = (hash ^ (v & 0xFF)) &* 0x0000_0100_0000_01B3
                v >>= 8
            }
        }
        for t in [features, tagVectors] {
            t.shape.forEach { mix(UInt64($0)) }
            t.withUnsafeBufferPointer { $0.forEach { mix(UInt64($0.bitPattern)) } }
        }
        for list in tags {
            mix(UInt64(list.count))
            list.forEach { mix(UInt64($0)) }
        }
        return hash
    }
}

extension Tensor {
    /// Every row scaled to unit Euclidean length (zero rows stay zero).
    func withUnitRows() -> Tensor {
        var result = self
        let n = columns
        result.withUnsafeMutableBufferPointer { p in
            for r in 0 ..< rows {
                let row = p.baseAddress! + r * n
                let norm = VectorKernels.dot(row, row, count: n).squareRoot()
                if norm > 0 { VectorKernels.scale(UnsafeMutableBufferPointer(start: row, count: n), by: 1 / norm) }
            }
        }
        return result
    }
}
