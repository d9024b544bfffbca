import Features
import Foundation
import Ingest
import SkipGram
import TagganCore

/// The workspace as the later stages see it: the catalog's tagged images that have
/// embeddings, their feature rows, and the word vectors of their tags. This joins Ingest's
/// catalog, Features' embedding files and SkipGram's vectors into plain data for TagGAN
/// and Eval, which import none of them.
public struct WorkspaceData: Sendable {
    public let workspace: URL
    /// Tagged images with an embedding, ordered by catalog id.
    public let images: [Catalog.Image]
    /// One row per image of `images`.
    public let features: Tensor

    public init(workspace: URL, images: [Catalog.Image], features: Tensor) {
        (self.workspace, self.images, self.features) = (workspace, images, features)
    }

    /// The catalog's tagged images with an embedding and all their rows, each row read
    /// once, from the files straight into the matrix (`EmbeddingFiles.RowIndex`).
    public static func load(_ workspace: URL, model: EfficientNetConfig = .lite0) throws -> WorkspaceData {
        let (images, index) = try embeddedImages(workspace, model: model)
        return WorkspaceData(workspace: workspace, images: images, features: try index.values(of: images.map(\.id)))
    }

    /// The catalog's tagged images that have an embedding, by id, and where their rows
    /// are; an error when there are no embeddings at all.
    static func embeddedImages(_ workspace: URL, model: EfficientNetConfig) throws -> ([Catalog.Image], EmbeddingFiles.RowIndex) {
        let catalog = try Workspace(workspace).existingCatalog()
        let files = Workspace(workspace).embeddings(model: model.name)
        let index = try files.index(featureSize: model.featureSize)
        guard index.count > 0 else {
            throw TagganError.file(files.matrix.path, "missing: run `taggan features --workspace \(workspace.path)` first")
        }
        return (try catalog.images(taggedOnly: true).filter { index.contains($0.id) }, index)
    }

    /// Indices of `images` in `split`.
    public func indices(_ split: Catalog.Split) -> [Int] { images.indices.filter { images[$0].split == split } }

    /// The feature rows of `indices`.
    public func features(_ indices: [Int]) -> Tensor {
        let f = features.columns
        var values: [Float] = []
        values.reserveCapacity(indices.count * f)
        for i in indices { values += features.storage[i * f ..< (i + 1) * f] }
        return Tensor(shape: [indices.count, f], values: values)
    }
}

/// The workspace as a tagging method learns from it (`taggan annotate`): the catalog's
/// tagged images with an embedding, as `WorkspaceData.images` (their tags make the tag
/// space, so tag ids are eval's), and the feature rows of the train split alone, read
/// from the files straight into one matrix. The validation and test rows, which no
/// method learns from, are never read, and no other copy of the matrix is made (the
/// train rows are `WorkspaceData.features(indices(.train))`, which cost the full matrix
/// and then a copy of most of it).
public struct WorkspaceTrainingRows: Sendable {
    public let workspace: URL
    /// Tagged images with an embedding, ordered by catalog id.
    public let images: [Catalog.Image]
    /// Indices of `images` in the train split, in order.
    public let train: [Int]
    /// One row per index of `train`.
    public let trainFeatures: Tensor

    public init(workspace: URL, images: [Catalog.Image], train: [Int], trainFeatures: Tensor) {
        precondition(trainFeatures.rows == train.count, "\(trainFeatures.rows) feature rows for \(train.count) train images")
        (self.workspace, self.images, self.train, self.trainFeatures) = (workspace, images, train, trainFeatures)
    }

    public static func load(_ workspace: URL, model: EfficientNetConfig = .lite0) throws -> WorkspaceTrainingRows {
        let (images, index) = try WorkspaceData.embeddedImages(workspace, model: model)
        let train = images.indices.filter { images[$0].split == .train }
        return WorkspaceTrainingRows(workspace: workspace, images: images, train: train,
                                     trainFeatures: try index.values(of: train.map { images[$0].id }))
    }
}

/// The candidate vocabulary of the voting protocol, `--vocab tags|all|FILE`: the training
/// split's tags (`tags`, the default), every word of the vectors file (`all`), or the
/// words of FILE (one per line; `#` starts a comment). Words without a vector are
/// dropped later (`trainingSet`).
public func candidateVocabulary(_ option: String?, trainTags: [String], vectors: WordVectors, command: String) throws -> [String] {
    switch option ?? "tags" {
    case "tags": return trainTags
    case "all": return vectors.words
    case let path:
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TagganError.file(path, "cannot read the vocabulary for \(command) --vocab (expected tags, all or a file of words)")
        }
        let words = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !words.isEmpty else { throw TagganError.file(path, "the vocabulary file lists no words") }
        return words
    }
}
