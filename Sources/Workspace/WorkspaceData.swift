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

    public static func load(_ workspace: URL, model: EfficientNetConfig = .lite0) throws -> WorkspaceData {
        let catalog = try Workspace(workspace).existingCatalog()
        let config = model
        let files = Workspace(workspace).embeddings(model: model.name)
        let found = try files.read(featureSize: config.featureSize)
        let ids = found.ids, values = found.values
        guard !ids.isEmpty else {
            throw TagganError.file(files.matrix.path, "missing: run `taggan features --workspace \(workspace.path)` first")
        }
        var row: [Int: Int] = [:]
        for (r, id) in ids.enumerated() { row[id] = r }
        let f = config.featureSize
        var images: [Catalog.Image] = [], matrix: [Float] = []
        let tagged = try catalog.images(taggedOnly: true)
        matrix.reserveCapacity(tagged.count * f)   // one allocation, not a copy each time it outgrows itself
        for image in tagged {
            guard let r = row[image.id] else { continue }
            images.append(image)
            matrix += values[r * f ..< (r + 1) * f]
        }
        return WorkspaceData(workspace: workspace, images: images, features: Tensor(shape: [images.count, f], values: matrix))
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
