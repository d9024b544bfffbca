import Features
import Foundation
import TagganCore

/// The embeddings of a workspace: `W/embeddings.npy` (rows x 1280, float32) and
/// `W/embeddings.tsv` (row, catalog image id, image key) for lite0; other models and
/// shards get `embeddings-<model>` / `-shard-I-of-N` in the names.
public struct EmbeddingFiles: Sendable {
    public let matrix: URL
    public let mapping: URL

    public init(workspace: URL, model: String, shard: ShardSpec?) {
        var stem = Self.stem(model)
        if let shard { stem += "-" + shard.fileSuffix }
        matrix = workspace.appendingPathComponent(stem + ".npy")
        mapping = workspace.appendingPathComponent(stem + ".tsv")
    }

    static func stem(_ model: String) -> String {
        model == EfficientNetConfig.lite0.name ? "embeddings" : "embeddings-\(model)"
    }

    /// The rows one read found: image ids, keys and the row-major values.
    public struct Rows: Sendable {
        public var ids: [Int] = [], keys: [String] = [], values: [Float] = []
        public init() {}
    }

    /// The shard files of `model` in the workspace (`--shard I/N` runs, or shard
    /// files copied in from other machines), in name order.
    public static func shards(in workspace: URL, model: String) -> [EmbeddingFiles] {
        let prefix = stem(model) + "-shard-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: workspace.path)) ?? []
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".npy") }.sorted().compactMap { name in
            let parts = name.dropFirst(prefix.count).dropLast(4).split(separator: "-")
            guard parts.count == 3, parts[1] == "of", let i = Int(parts[0]), let n = Int(parts[2]),
                  let shard = try? ShardSpec(index: i, count: n) else { return nil }
            return EmbeddingFiles(workspace: workspace, model: model, shard: shard)
        }
    }

    /// Rows already computed, or none when neither file exists. The mapping is the commit
    /// point (see `write`): matrix rows past the mapping's are a write a kill interrupted,
    /// and are dropped (they are computed again); a mapping with more rows than the
    /// matrix, or another width, is an error.
    public func read(featureSize: Int) throws -> Rows {
        let fm = FileManager.default
        guard fm.fileExists(atPath: matrix.path) || fm.fileExists(atPath: mapping.path) else { return Rows() }
        guard fm.fileExists(atPath: matrix.path) else {
            throw TagganError.file(matrix.path, "missing (\(mapping.lastPathComponent) maps its rows to images)")
        }
        var tensor = try NPY.read(contentsOf: matrix)
        // The matrix alone: killed before its first mapping was written.
        guard fm.fileExists(atPath: mapping.path) else { return Rows() }
        guard let text = try? String(contentsOf: mapping, encoding: .utf8) else {
            throw TagganError.file(mapping.path, "unreadable (it maps \(matrix.lastPathComponent)'s rows to images)")
        }
        var rows = Rows()
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, let id = Int(fields[1]) else { throw TagganError.file(mapping.path, "malformed line '\(line)'") }
            rows.ids.append(id)
            rows.keys.append(String(fields[2]))
        }
        if tensor.rank == 2, tensor.columns == featureSize, tensor.rows > rows.ids.count {
            Log.info("features: \(tensor.rows - rows.ids.count) rows of \(matrix.lastPathComponent) past \(mapping.lastPathComponent) "
                     + "(an interrupted write) are dropped and computed again")
            tensor = Tensor(shape: [rows.ids.count, featureSize], values: Array(tensor.storage.prefix(rows.ids.count * featureSize)))
        }
        guard tensor.rank == 2, tensor.columns == featureSize, tensor.rows == rows.ids.count else {
            throw TagganError.file(matrix.path, "shape \(tensor.shape) does not match \(rows.ids.count) rows of \(mapping.lastPathComponent) x \(featureSize)")
        }
        rows.values = tensor.storage
        return rows
    }

    /// Matrix first, then the mapping, each atomically. Rows are only ever appended,
    /// so the new matrix begins with the old one's rows, and the mapping is the commit
    /// point: a kill between the two leaves a matrix with more rows than the mapping,
    /// whose extra rows `read` drops.
    public func write(_ rows: Rows, featureSize: Int) throws {
        try NPY.write(Tensor(shape: [rows.ids.count, featureSize], values: rows.values), to: matrix)
        FaultInjection.point("features.matrix")
        var text = "row\timage_id\tkey\n"
        for (row, (id, key)) in zip(rows.ids, rows.keys).enumerated() { text += "\(row)\t\(id)\t\(key)\n" }
        try AtomicFile.write(text, to: mapping)
        FaultInjection.point("features.mapping")
    }
}
