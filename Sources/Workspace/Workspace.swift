import Eval
import Features
import Foundation
import Ingest
import TagGAN
import TagganCore

/// A workspace folder W and where everything in it lives: the catalog (`W/catalog.sqlite`,
/// Ingest), the embeddings (`W/embeddings*.npy` + row maps, `EmbeddingFiles`), the models
/// (`W/models/<mode>/`, TagGAN's checkpoints), the neighbour cache (`W/cache/`), eval's
/// method choice (`W/methods.json`) and the default word vectors (`W/vectors.bin`).
/// Commands ask it for typed values; the stage modules stay unaware of each other.
public struct Workspace: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }
    public init(path: String) { url = URL(fileURLWithPath: path) }

    public var path: String { url.path }
    public var catalogURL: URL { url.appendingPathComponent(Catalog.fileName) }
    public var hasCatalog: Bool { FileManager.default.fileExists(atPath: catalogURL.path) }
    public var cacheFolder: URL { url.appendingPathComponent("cache") }
    public var defaultVectors: URL { url.appendingPathComponent("vectors.bin") }

    /// The catalog, which must exist (an error naming W and the command to run otherwise).
    public func existingCatalog(_ why: String = "run taggan ingest first") throws -> Catalog {
        guard hasCatalog else { throw TagganError.file(path, "no \(Catalog.fileName) here (\(why))") }
        return try Catalog(workspace: url)
    }

    /// The catalog, created when missing (ingest, merge).
    public func catalog() throws -> Catalog { try Catalog(workspace: url) }

    /// `W/models/<mode>/`.
    public func modelFolder(_ mode: String) -> URL { url.appendingPathComponent("models").appendingPathComponent(mode) }

    public func checkpointFile(_ mode: String) -> URL { modelFolder(mode).appendingPathComponent(CheckpointRecord.fileName) }

    /// Whether `W/models/<mode>/` holds a trained model.
    public func hasModel(_ mode: String) -> Bool { FileManager.default.fileExists(atPath: checkpointFile(mode).path) }

    /// The checkpoint record of a trained model (an error naming the folder when there is none).
    public func checkpoint(_ mode: String) throws -> CheckpointRecord {
        try requireModel(mode)
        return try CheckpointRecord.read(folder: modelFolder(mode))
    }

    /// The checkpoint record of a trained model and its weights' bytes, as one checkpoint
    /// (`CheckpointRecord.readWithWeights`).
    public func checkpointWithWeights(_ mode: String) throws -> (record: CheckpointRecord, weights: Data) {
        try requireModel(mode)
        return try CheckpointRecord.readWithWeights(folder: modelFolder(mode))
    }

    private func requireModel(_ mode: String) throws {
        guard hasModel(mode) else {
            throw TagganError.file(modelFolder(mode).path, "no trained model (run taggan train --workspace \(path) --mode \(mode))")
        }
    }

    /// The word vectors a command uses when none is named: those a trained model recorded,
    /// else `W/vectors.bin` when it exists.
    public func recordedVectors(models: [String] = ["cgan", "icgan"]) -> String? {
        for mode in models where hasModel(mode) {
            if let path = (try? CheckpointRecord.read(folder: modelFolder(mode)))?.data.source["vectors"] { return path }
        }
        return FileManager.default.fileExists(atPath: defaultVectors.path) ? defaultVectors.path : nil
    }

    public var methodChoiceURL: URL { url.appendingPathComponent(MethodChoice.fileName) }

    /// Eval's choice of method and settings, when eval has run.
    public func methodChoice() throws -> MethodChoice? { try MethodChoice.read(from: url) }

    public func embeddings(model: String = EfficientNetConfig.lite0.name, shard: ShardSpec? = nil) -> EmbeddingFiles {
        EmbeddingFiles(workspace: url, model: model, shard: shard)
    }
}

/// `$TAGGAN_CORPORA`, else `corpora/cache` in the current folder or beside the build
/// folder of the running executable — the first that holds `containing`.
public func corporaCache(containing: String = "openclipart") -> URL {
    if let path = ProcessInfo.processInfo.environment["TAGGAN_CORPORA"], !path.isEmpty { return URL(fileURLWithPath: path) }
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let candidates = [
        URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("corpora/cache"),
        executable.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("corpora/cache"),
    ]
    return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent(containing).path) } ?? candidates[0]
}
