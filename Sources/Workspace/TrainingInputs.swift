import Foundation
import Ingest
import SkipGram
import TagGAN
import TagganCore

/// What `taggan train` needs from the workspace and the vectors file.
public struct TrainingInputs: Sendable {
    public var data: TrainingData
    public var droppedTags: Int
    public var droppedImages: Int
    /// Provenance saved in the checkpoint.
    public var source: [String: String]

    public var droppedNote: String {
        droppedTags + droppedImages == 0 ? ""
            : " (\(droppedTags) tag uses without a word vector dropped, \(droppedImages) images left without tags dropped)"
    }
}

/// Reads the training split of the workspace and the tag words' vectors: the catalog's
/// train split and Features' embeddings (`WorkspaceData`), or, when `--training-set` names
/// one, a list of embedding rows and tags (embeddings of the user's own). Only an explicit
/// option selects the list: a file lying in the workspace never replaces the catalog.
public func loadTrainingInputs(workspace: URL, vectors: URL, trainingSet: URL? = nil) throws -> TrainingInputs {
    let embeddingsURL = workspace.appendingPathComponent("embeddings.npy")
    let embeddings: Tensor
    var rows: [Int] = [], tagLists: [[String]] = []
    var source = ["vectors": vectors.path, "embeddings": embeddingsURL.path]
    if let listURL = trainingSet {
        guard FileManager.default.fileExists(atPath: listURL.path) else {
            throw TagganError.file(listURL.path, "no such training set (--training-set)")
        }
        (embeddings, rows, tagLists) = try readTrainingList(listURL, embeddings: embeddingsURL)
        source["training_set"] = listURL.path
    } else {
        let data = try WorkspaceData.load(workspace)
        let train = data.indices(.train)
        embeddings = data.features(train)
        rows = Array(train.indices)
        tagLists = train.map { data.images[$0].tags }
        source["catalog"] = workspace.appendingPathComponent(Catalog.fileName).path
        guard !rows.isEmpty else { throw TagganError.file(workspace.path, "no tagged, embedded images in the train split") }
    }
    let table = try Word2VecFile.read(vectors.path)
    // (so that eval and annotate can tell when other vectors were written over this file)
    source.merge(try VectorsFileRecord.fields(vectors.path)) { $1 }

    var usedRows: [Int] = [], tags: [[Int]] = []
    var vectorRowOfTag: [Int: Int] = [:], names: [String] = [], vectorRows: [Int] = []
    var droppedTags = 0, droppedImages = 0
    for (row, list) in zip(rows, tagLists) {
        var ids: [Int] = []
        for tag in list {
            guard let v = table.id(of: tag) ?? table.id(of: tag.lowercased()) else {
                droppedTags += 1
                continue
            }
            if vectorRowOfTag[v] == nil {
                vectorRowOfTag[v] = names.count
                names.append(table.words[v])
                vectorRows.append(v)
            }
            let id = vectorRowOfTag[v]!
            if !ids.contains(id) { ids.append(id) }
        }
        if ids.isEmpty {
            droppedImages += 1
            continue
        }
        usedRows.append(row)
        tags.append(ids)
    }
    guard !usedRows.isEmpty else {
        throw TagganError.file(vectors.path, "none of the training set's tags has a vector in this file")
    }
    let f = embeddings.columns, d = table.dimension
    var features = [Float](), tagVectors = [Float]()
    features.reserveCapacity(usedRows.count * f)
    for row in usedRows { features += embeddings.storage[row * f ..< (row + 1) * f] }
    for v in vectorRows { tagVectors += table.values[v * d ..< (v + 1) * d] }
    let data = try TrainingData(features: Tensor(shape: [usedRows.count, f], values: features), tags: tags,
                                tagVectors: Tensor(shape: [vectorRows.count, d], values: tagVectors), tagNames: names)
    return TrainingInputs(data: data, droppedTags: droppedTags, droppedImages: droppedImages,
                          source: source)
}

/// The user-supplied training list: W/embeddings.npy and W/training-set.tsv (one image
/// per line: ROW<TAB>TAG<TAB>TAG..., ROW a 0-based row of embeddings.npy; '#' comments).
func readTrainingList(_ listURL: URL, embeddings embeddingsURL: URL) throws -> (Tensor, [Int], [[String]]) {
    guard FileManager.default.fileExists(atPath: embeddingsURL.path) else {
        throw TagganError.file(embeddingsURL.path, "missing: run `taggan features --workspace W` first")
    }
    let embeddings = try NPY.read(contentsOf: embeddingsURL)
    guard embeddings.rank == 2 else {
        throw TagganError.file(embeddingsURL.path, "expected an N x F matrix, got shape \(embeddings.shape)")
    }
    let text: String
    do { text = try String(contentsOf: listURL, encoding: .utf8) } catch {
        throw TagganError.file(listURL.path, "cannot read the training set: \(error.localizedDescription)")
    }
    var rows: [Int] = [], tagLists: [[String]] = []
    for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let row = Int(fields[0]), row >= 0, row < embeddings.rows else {
            throw TagganError.file(listURL.path, "line \(number + 1): '\(fields[0])' is not a row of embeddings.npy (0..<\(embeddings.rows))")
        }
        rows.append(row)
        tagLists.append(fields.dropFirst().filter { !$0.isEmpty })
    }
    guard !rows.isEmpty else { throw TagganError.file(listURL.path, "no training images listed") }
    return (embeddings, rows, tagLists)
}

/// What a model records of its word-vector file besides the path (in its checkpoint's
/// source): size, modification time and SHA-256, so that eval and annotate can tell when
/// other vectors were written over that file (`EvaluationJob.checkSameVectors`).
enum VectorsFileRecord {
    static func fields(_ path: String) throws -> [String: String] {
        guard let stamp = Catalog.stamp(path) else { return [:] }
        return ["vectors_size": "\(stamp.size)", "vectors_mtime": "\(stamp.mtime)",
                "vectors_sha256": SHA256.hex(try AtomicFile.read(URL(fileURLWithPath: path)))]
    }

    /// Whether the file at `path` differs from what `source` recorded of it: by SHA-256,
    /// read only when its size or modification time moved (false without a record).
    static func changed(_ path: String, since source: [String: String]) throws -> Bool {
        guard let digest = source["vectors_sha256"] else { return false }
        if let stamp = Catalog.stamp(path), "\(stamp.size)" == source["vectors_size"], "\(stamp.mtime)" == source["vectors_mtime"] {
            return false
        }
        return SHA256.hex(try AtomicFile.read(URL(fileURLWithPath: path))) != digest
    }
}
