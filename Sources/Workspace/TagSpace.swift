import Eval
import Foundation
import Ingest
import SkipGram
import TagGAN
import TagganCore

/// Tag ids as eval and annotate share them: every tag of the workspace's images first
/// (so truth counts tags no method can name), then candidate words that are no tag.
public struct TagSpace: Sendable {
    public private(set) var names: [String] = []
    private var ids: [String: Int] = [:]

    public init(_ tags: [String]) { for tag in tags { _ = id(tag) } }

    /// The id of `name`, added when new.
    public mutating func id(_ name: String) -> Int {
        if let id = ids[name] { return id }
        ids[name] = names.count
        names.append(name)
        return names.count - 1
    }

    public func existing(_ name: String) -> Int? { ids[name] }
}

extension WorkspaceData {
    /// Every tag of the catalog's embedded images, in image order.
    public var tagSpace: TagSpace { TagSpace(images.flatMap(\.tags)) }

    /// The true tags of `indices` as ids of `space`.
    public func truth(_ indices: [Int], in space: TagSpace) -> [Set<Int>] { Self.truth(images, indices, in: space) }

    static func truth(_ images: [Catalog.Image], _ indices: [Int], in space: TagSpace) -> [Set<Int>] {
        indices.map { Set(images[$0].tags.compactMap { space.existing($0) }) }
    }

    /// What every tagging method learns from: the train split's features and tags, and
    /// the candidate words (`--vocab tags|all|FILE`) with their vectors; candidate words
    /// that are no catalog tag join `space`. Without vectors the word-space methods and the
    /// generators have no candidates.
    public func trainingSet(space: inout TagSpace, vectors: WordVectors?, vocabulary option: String?, command: String) throws -> TagTrainingSet {
        let train = indices(.train)
        return try Self.trainingSet(trainFeatures: features(train), trainTags: truth(train, in: space), space: &space,
                                    vectors: vectors, vocabulary: option, command: command)
    }

    /// `trainingSet` from the train split's features and tags.
    static func trainingSet(trainFeatures: Tensor, trainTags: [Set<Int>], space: inout TagSpace, vectors: WordVectors?,
                            vocabulary option: String?, command: String) throws -> TagTrainingSet {
        var candidates: [Int] = []
        var rows: [Int: [Float]] = [:]
        if let vectors {
            let trainNames = Set(trainTags.joined()).sorted().map { space.names[$0] }
            let vocabulary = try candidateVocabulary(option, trainTags: trainNames, vectors: vectors, command: command)
            for word in vocabulary {
                guard let vector = vectors.vector(word) else { continue }
                let id = space.id(word)
                if rows[id] == nil { candidates.append(id) }
                rows[id] = Array(vector)
            }
        }
        let dimension = vectors?.dimension ?? 1
        var matrix = [Float](repeating: 0, count: space.names.count * dimension)
        for (id, vector) in rows { matrix.replaceSubrange(id * dimension ..< (id + 1) * dimension, with: vector) }
        return TagTrainingSet(features: trainFeatures, tags: trainTags, tagCount: space.names.count,
                              tagVectors: Tensor(shape: [space.names.count, dimension], values: matrix),
                              available: (0 ..< space.names.count).map { rows[$0] != nil }, candidates: candidates)
    }
}

extension WorkspaceTrainingRows {
    /// Every tag of the catalog's embedded images, in image order (`WorkspaceData.tagSpace`).
    public var tagSpace: TagSpace { TagSpace(images.flatMap(\.tags)) }

    /// `WorkspaceData.trainingSet`, from the train rows read once.
    public func trainingSet(space: inout TagSpace, vectors: WordVectors?, vocabulary option: String?, command: String) throws -> TagTrainingSet {
        try WorkspaceData.trainingSet(trainFeatures: trainFeatures, trainTags: WorkspaceData.truth(images, train, in: space),
                                      space: &space, vectors: vectors, vocabulary: option, command: command)
    }
}

/// A trained generator of W/models/<method> as the tagging methods draw from it:
/// `samples` per image, the same seed for every image set. `featureWidth`: the width of
/// the features it will be given (an error naming the model when G takes another).
public func generatorSource(modelFolder: URL, samples: Int, featureWidth: Int,
                     from features: String = "the workspace's embeddings") throws -> GeneratorSource {
    try generatorSource(TagSampler(modelFolder: modelFolder), modelFolder: modelFolder, samples: samples,
                        featureWidth: featureWidth, from: features)
}

/// The same from a sampler already loaded from `modelFolder`.
public func generatorSource(_ sampler: TagSampler, modelFolder: URL, samples: Int, featureWidth: Int,
                            from features: String = "the workspace's embeddings") throws -> GeneratorSource {
    try sampler.checkFeatureWidth(featureWidth, from: features,
                                  model: modelFolder.appendingPathComponent(CheckpointRecord.fileName).path)
    return GeneratorSource(samplesPerImage: samples) { features, noise in
        sampler.sample(features: features, samplesPerImage: samples, seed: 2014, noiseScale: Float(noise))
    }
}
