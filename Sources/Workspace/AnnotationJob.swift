import Eval
import Features
import Foundation
import Ingest
import TagganCore

/// `taggan annotate`'s work on a folder: every JPEG and PNG under it (by content, not
/// name), tagged by an `AnnotationMethod` in batches of 32, each batch's tags committed
/// to W's catalog under the method's key (so a killed run resumes after its last batch
/// and a re-run decodes only new or changed images), then sidecars merged.
public struct AnnotationJob {
    public var folder: URL
    public var workspace: Workspace
    public var top = 10
    public var threshold = 0.0
    public var excluded: Set<String> = []
    public var included: Set<String>?
    /// Redo images annotated before by this method.
    public var force = false
    public var weights: String?
    /// `--shard I/N`: only the images of shard I (by content id, `ShardSpec`). A file that
    /// cannot be read has no content id and so no shard: shard 0 reports it (and the walk's
    /// problems), so that the shards' reports together name each problem once.
    public var shard: ShardSpec?

    public init(folder: URL, workspace: Workspace) { (self.folder, self.workspace) = (folder, workspace) }

    /// What a run found and wrote.
    public struct Result {
        public var files = 0, reused = 0, sidecarsWritten = 0
        public var annotations: [Annotation] = []
        public var seconds = 0.0
    }

    /// The images under the folder, in path order, with problems of the walk in `skipped`.
    func images(_ reader: DatasetReader, skipped: SkipLog) throws -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TagganError.file(folder.path, "not a folder")
        }
        var problems: [SourceProblem] = []
        let files = reader.files(under: reader.root, problems: &problems)
            .filter { ["jpg", "jpeg", "jpe", "png"].contains($0.pathExtension.lowercased()) }
        for problem in problems { skipped.skip(problem.path, reason: problem.reason, detail: problem.detail) }
        return files
    }

    public func run(_ tagger: AnnotationMethod, sidecars writeSidecars: Bool, skipped: SkipLog) throws -> Result {
        let catalog = try workspace.catalog()
        let reader = DatasetReader(root: folder, layout: .xmp)
        let reportsUnsharded = (shard?.index ?? 0) == 0
        let walked = try images(reader, skipped: reportsUnsharded ? skipped : SkipLog())
        // Content ids; files annotated before by this method with unchanged bytes are not
        // decoded again (unless `force`): their stored tags are written out as they are.
        // Hashed in parallel (reading and hashing 200 photos is ~1 s on one core).
        let hashes = ParallelSlots<String>(count: walked.count)
        Parallel.forEach(walked.count) { i in
            if let bytes = FileManager.default.contents(atPath: walked[i].path) { hashes[i] = SHA256.hex(bytes) }
        }
        let hashed = hashes.values(walked.count)
        var files: [URL] = [], ids: [Int?] = []
        for (url, hash) in zip(walked, hashed) {
            guard let hash else {
                if reportsUnsharded {
                    skipped.skip(url.path, reason: "unreadable", detail: "cannot read the file")
                    files.append(url)
                    ids.append(nil)
                }
                continue
            }
            let id = Catalog.imageID(hash: hash)
            guard shard?.contains(contentID: id) ?? true else { continue }
            files.append(url)
            ids.append(id)
        }
        var result = Result()
        result.files = files.count
        var stored = force ? [:] : try catalog.annotations(model: tagger.key)
        let todo = files.indices.filter { ids[$0] != nil && stored[ids[$0]!] == nil }
        result.reused = files.indices.filter { ids[$0] != nil }.count - todo.count
        let progress = ProgressLine("annotate", total: todo.count, unit: "images")
        if !todo.isEmpty {
            let config = EfficientNetConfig.lite0
            let net = try FeatureExtraction.loadNetwork(config, weights: weights)
            let preprocessor = ImagePreprocessor(config: config)
            let chunks = stride(from: 0, to: todo.count, by: 32).map { Array(todo[$0 ..< min($0 + 32, todo.count)]) }
            // Batch i + 1 decodes while the network and the method run on batch i.
            try FeatureExtraction.forEachDecodedBatch(chunks.map { $0.map { files[$0] } }, preprocessor: preprocessor,
                                                      skipped: skipped) { batch, crops in
                let chunk = chunks[batch]
                let good = crops.indices.filter { crops[$0] != nil }
                if !good.isEmpty {
                    let votes = tagger.tag(net.embed(preprocessor.normalise(good.map { crops[$0]! })), top: max(top * 2, 20))
                    var made: [(id: Int, annotation: Catalog.StoredAnnotation)] = []
                    for (row, index) in good.enumerated() {
                        let annotation = Catalog.StoredAnnotation(tags: votes[row].tags, confidences: votes[row].confidences)
                        made.append((ids[chunk[index]]!, annotation))
                        stored[ids[chunk[index]]!] = annotation
                    }
                    // Committed per batch, so a killed run resumes after the last whole batch.
                    try catalog.storeAnnotations(made, model: tagger.key)
                    FaultInjection.point("annotate.batch")
                }
                progress.advance(by: chunk.count)
            }
        }
        progress.finish()
        result.seconds = progress.elapsedSeconds
        // Outputs, in file order: this run's annotations and the stored ones alike.
        for (index, url) in files.enumerated() {
            guard let id = ids[index], let found = stored[id] else { continue }
            let annotation = Annotation(path: reader.relative(url, to: reader.root), tags: found.tags, confidences: found.confidences)
                .filtered(top: top, threshold: threshold, excluded: excluded, included: included)
            result.annotations.append(annotation)
            if writeSidecars, mergeSidecar(of: url, tags: annotation.tags, root: reader.root, skipped: skipped) {
                result.sidecarsWritten += 1
            }
        }
        return result
    }

    /// Merges `tags` into the image's sidecar (which one, and how links are treated:
    /// `SidecarFile`); true when it was written. Merging is idempotent: a sidecar that
    /// already holds these tags is left alone. A refusal is reported in `skipped`.
    func mergeSidecar(of url: URL, tags: [String], root: URL, skipped: SkipLog) -> Bool {
        let sidecar = SidecarFile.location(of: url)
        do {
            let target = try SidecarFile.writeTarget(for: sidecar, inside: root)
            let existing = FileManager.default.contents(atPath: target.path)
            let merged = try XMPWriter.merge(existing: existing, tags: tags)
            guard merged != existing else { return false }
            try SidecarFile.write(merged, for: sidecar, inside: root)
            FaultInjection.point("annotate.sidecar")
            return true
        } catch let refusal as SidecarFile.Refusal {
            skipped.skip(sidecar.path, reason: refusal.reason, detail: refusal.detail)
        } catch {
            skipped.skip(sidecar.path, reason: "sidecar not merged", detail: "\(error)")
        }
        return false
    }

    /// A comma-separated list, or @FILE with one word per line.
    public static func wordList(_ text: String?) throws -> [String] {
        guard let text else { return [] }
        if text.hasPrefix("@") {
            let path = String(text.dropFirst())
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw TagganError.file(path, "cannot read the word list")
            }
            return contents.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
