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
        /// Sidecars reported and left as they were (`mergeSidecar`'s refusals).
        public var sidecarsRefused = 0
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

    /// Tags the folder with the method `makeTagger` builds. The method is built (W's
    /// training rows and tags: ~0.5 s for OpenClipart's 6,743 images) on a thread of its
    /// own while the folder is walked and its first files are read and decoded: a file
    /// whose content id has no annotation in W under any method is to be tagged whatever
    /// the method's key, so only the others wait for it. When the method cannot be built,
    /// its error is the one thrown, before W's catalog is created or written.
    public func run(building makeTagger: @escaping @Sendable () throws -> AnnotationMethod, sidecars writeSidecars: Bool,
                    skipped: SkipLog) throws -> (tagger: AnnotationMethod, result: Result) {
        let tagger = BackgroundLoad(makeTagger)
        tagger.start()
        let reader = DatasetReader(root: folder, layout: .xmp)
        let reportsUnsharded = (shard?.index ?? 0) == 0
        let walked: [URL], annotatedBefore: Set<Int>
        do {
            walked = try images(reader, skipped: reportsUnsharded ? skipped : SkipLog())
            annotatedBefore = force || !workspace.hasCatalog ? [] : try workspace.existingCatalog().annotatedImageIDs()
        } catch {
            _ = try tagger.value()   // the method's error first, as when it was built first
            throw error
        }
        // Files annotated before by this method with unchanged bytes are not decoded again
        // (unless `force`): their stored tags are written out as they are. Read once,
        // before this run stores any, by the first that needs them.
        let (workspace, force) = (self.workspace, self.force)
        let storedBefore = BackgroundLoad { () throws -> [Int: Catalog.StoredAnnotation] in
            guard !force else { return [:] }
            let key = try tagger.value().key   // (the method's error before the catalog is created)
            return try workspace.catalog().annotations(model: key)
        }
        let config = EfficientNetConfig.lite0
        let preprocessor = ImagePreprocessor(config: config)
        let progress = ProgressLine("annotate", total: walked.count, unit: "images")
        // The network loads on a thread of its own once the scan finds the first image to
        // tag, while that image's batch decodes (a run with nothing to tag never loads it).
        let weights = self.weights
        let network = BackgroundLoad { try FeatureExtraction.loadNetwork(config, weights: weights) }
        let scan = FolderScan(walked, shard: shard, reportsUnsharded: reportsUnsharded, preprocessor: preprocessor,
                              skipped: skipped, progress: progress, onFirstToTag: network.start) { id in
            // (A failure to read the stored tags is thrown below, by the thread that runs the job.)
            !annotatedBefore.contains(id) || (try? storedBefore.value())?[id] == nil
        }
        // Batch i + 1 is read, hashed, decoded and normalised on one thread while the network
        // embeds batch i, and batch i - 1 is tagged and committed on another (`OrderedStage`,
        // in batch order): with the tagging in line, one core sat idle while it ran (~10% of a
        // 300-image run: the method's product with W's rows, the catalog's commit).
        let tagging = TaggingState()
        let stage = OrderedStage()
        defer { stage.drain() }   // on a throw, the batch being committed is waited for
        var tagged = 0
        try FeatureExtraction.pipelined({ _ in
            scan.nextBatch().map { batch -> PreparedBatch in
                let good = batch.filter { $0.crop != nil }
                return PreparedBatch(images: batch, good: good,
                                     inputs: good.isEmpty ? nil : preprocessor.normalise(good.map { $0.crop! }))
            }
        }) { prepared in
            tagged += prepared.images.count
            guard let inputs = prepared.inputs else {
                try stage.submit { progress.advance(by: prepared.images.count) }
                return
            }
            // The network runs while the method may still be being built (its error first).
            let features: Tensor
            do {
                features = try network.value().embed(inputs)
            } catch {
                _ = try tagger.value()
                throw error
            }
            let (top, workspace) = (self.top, self.workspace)
            try stage.submit {
                let method = try tagger.value()
                _ = try storedBefore.value()   // read before this run's tags are stored
                if tagging.catalog == nil { tagging.catalog = try workspace.catalog() }
                let votes = method.tag(features, top: max(top * 2, 20))
                var made: [(id: Int, annotation: Catalog.StoredAnnotation)] = []
                for (row, image) in prepared.good.enumerated() {
                    let annotation = Catalog.StoredAnnotation(tags: votes[row].tags, confidences: votes[row].confidences)
                    made.append((image.id, annotation))
                    tagging.taggedNow[image.id] = annotation
                }
                // Committed per batch, so a killed run resumes after the last whole batch.
                try tagging.catalog!.storeAnnotations(made, model: method.key)
                FaultInjection.point("annotate.batch")
                progress.advance(by: prepared.images.count)
            }
        }
        try stage.finish()
        let taggedNow = tagging.taggedNow
        progress.finish()
        let method = try tagger.value()
        let stored = try storedBefore.value().merging(taggedNow) { $1 }
        // This run's files (the shard's, and for shard 0 the unreadable ones) with their content ids.
        var files: [URL] = [], ids: [Int?] = []
        for (url, found) in zip(walked, scan.found) {
            switch found {
            case .unreadable? where reportsUnsharded: files.append(url); ids.append(nil)
            case .image(let id, inShard: true)?: files.append(url); ids.append(id)
            default: break
            }
        }
        var result = Result()
        result.files = files.count
        result.reused = ids.filter { $0 != nil }.count - tagged
        result.seconds = progress.elapsedSeconds
        let sidecarOf = writeSidecars ? SidecarFile.locations(of: walked) : [:]
        // Outputs, in file order: this run's annotations and the stored ones alike.
        for (index, url) in files.enumerated() {
            guard let id = ids[index], let found = stored[id] else { continue }
            let annotation = Annotation(path: reader.relative(url, to: reader.root), tags: found.tags, confidences: found.confidences)
                .filtered(top: top, threshold: threshold, excluded: excluded, included: included)
            result.annotations.append(annotation)
            if writeSidecars {
                switch mergeSidecar(sidecarOf[url] ?? SidecarFile.location(of: url), tags: annotation.tags, root: reader.root,
                                    skipped: skipped) {
                case .written: result.sidecarsWritten += 1
                case .refused: result.sidecarsRefused += 1
                case .unchanged: break
                }
            }
        }
        return (method, result)
    }

    /// Merges `tags` into the image's sidecar (which one, and how links are treated:
    /// `SidecarFile`): written, unchanged (it already held them: merging is idempotent),
    /// or refused (reported in `skipped`, the sidecar left as it was).
    enum SidecarOutcome { case written, unchanged, refused }

    func mergeSidecar(_ sidecar: URL, tags: [String], root: URL, skipped: SkipLog) -> SidecarOutcome {
        do {
            let target = try SidecarFile.writeTarget(for: sidecar, inside: root)
            let existing = try SidecarFile.existingContents(of: target)
            let merged = try XMPWriter.merge(existing: existing, tags: tags)
            guard merged != existing else {
                AtomicFile.removeStaleTemporary(of: target)   // a killed run's, if any
                return .unchanged
            }
            try SidecarFile.write(merged, for: sidecar, inside: root)
            FaultInjection.point("annotate.sidecar")
            return .written
        } catch let refusal as SidecarFile.Refusal {
            skipped.skip(sidecar.path, reason: refusal.reason, detail: refusal.detail)
        } catch {
            skipped.skip(sidecar.path, reason: "sidecar not merged", detail: "\(error)")
        }
        return .refused
    }

    /// A comma-separated list, or @FILE with one word per line (a word may then hold a
    /// comma), each word normalised as ingest normalises tags (`TagNormaliser`: NFC,
    /// lowercase, inner spaces to one underscore; nothing left of a word of punctuation
    /// only): the catalog's tags, and so every suggestion, are in that form, and
    /// `--exclude "Dog, New York"` matched neither `dog` nor `new_york`. A file that cannot
    /// be read is an error naming it and why (missing, a folder, not UTF-8).
    public static func wordList(_ text: String?) throws -> [String] {
        guard let text else { return [] }
        let words: [Substring]
        if text.hasPrefix("@") {
            let path = String(text.dropFirst())
            var s = stat()
            guard stat(path, &s) == 0 else { throw TagganError.file(path, "cannot read the word list: \(String(cString: strerror(errno)))") }
            guard (s.st_mode & S_IFMT) != S_IFDIR else { throw TagganError.file(path, "is a folder, not a word list (one word a line)") }
            let data = try AtomicFile.read(URL(fileURLWithPath: path), as: "a word list")
            guard let contents = String(data: data, encoding: .utf8) else { throw TagganError.file(path, "the word list is not UTF-8 text") }
            words = contents.split(whereSeparator: \.isNewline)
        } else {
            words = text.split(separator: ",")
        }
        var seen = Set<String>()
        return words.compactMap { TagNormaliser.normalise(String($0)) }.filter { seen.insert($0).inserted }
    }
}

/// Annotate's read of the folder, each file read once: its bytes are hashed (the content
/// id, which says whether the file is in the shard and was tagged before) and, for a
/// file to tag, decoded and cropped from the same bytes. Files are taken 32 at a time in
/// parallel; `nextBatch` hands out the files to tag in path order, 32 a batch: the
/// batches a pass that hashed every file first would make. Called by one thread at a
/// time (`FeatureExtraction.pipelined`); `found` is read once the calls are over.
private final class FolderScan: @unchecked Sendable {
    enum Found { case unreadable, image(id: Int, inShard: Bool) }
    typealias Image = (file: Int, id: Int, crop: RGBImage?)

    let files: [URL]
    /// Whether the image of a content id in the shard is to be tagged (not stored before).
    let toTag: @Sendable (_ id: Int) -> Bool
    let shard: ShardSpec?
    let reportsUnsharded: Bool
    let preprocessor: ImagePreprocessor
    let decoder = ImageDecoder()
    let skipped: SkipLog
    let progress: ProgressLine
    let onFirstToTag: @Sendable () -> Void
    /// Per file, once it has been read (every file once `nextBatch` has returned nil).
    private(set) var found: [Found?]
    private var position = 0
    private var ready: [Image] = []

    init(_ files: [URL], shard: ShardSpec?, reportsUnsharded: Bool, preprocessor: ImagePreprocessor, skipped: SkipLog,
         progress: ProgressLine, onFirstToTag: @escaping @Sendable () -> Void, toTag: @escaping @Sendable (_ id: Int) -> Bool) {
        (self.files, self.toTag, self.shard, self.reportsUnsharded) = (files, toTag, shard, reportsUnsharded)
        (self.preprocessor, self.skipped, self.progress, self.onFirstToTag) = (preprocessor, skipped, progress, onFirstToTag)
        found = Array(repeating: nil, count: files.count)
    }

    /// The next (up to) 32 files to tag with their crops (nil: failed to decode,
    /// reported), or nil once every file has been read and handed out.
    func nextBatch() -> [Image]? {
        while ready.count < 32, position < files.count {
            let window = position ..< min(position + 32, files.count)
            let results = ParallelSlots<(found: Found, toTag: Bool, crop: RGBImage?)>(count: window.count)
            Parallel.forEach(window.count) { n in results[n] = self.read(window.lowerBound + n) }
            for (n, result) in results.values(window.count).map({ $0! }).enumerated() {
                let file = window.lowerBound + n
                found[file] = result.found
                if result.toTag, case .image(let id, inShard: true) = result.found {
                    ready.append((file, id, result.crop))
                } else {
                    progress.advance()
                }
            }
            position = window.upperBound
        }
        guard !ready.isEmpty else { return nil }
        let batch = Array(ready.prefix(32))
        ready.removeFirst(batch.count)
        return batch
    }

    /// Reads, hashes and (when it is to be tagged) decodes and crops file `index`.
    private func read(_ index: Int) -> (found: Found, toTag: Bool, crop: RGBImage?) {
        let url = files[index]
        let bytes: Data
        do {
            bytes = try ImageDecoder.readFile(url)
        } catch {
            // No content id without the bytes: shard 0 (or the unsharded run) reports it.
            let failure = error as? ImageDecoder.DecodeError
            if reportsUnsharded {
                skipped.skip(url.path, reason: failure?.reason ?? "unreadable",
                             detail: failure.map { $0.detail.isEmpty ? nil : $0.detail } ?? "\(error)")
            }
            return (.unreadable, false, nil)
        }
        let id = Catalog.imageID(hash: SHA256.hex(bytes))
        let inShard = shard?.contains(contentID: id) ?? true
        guard inShard, toTag(id) else { return (.image(id: id, inShard: inShard), false, nil) }
        onFirstToTag()
        // The images ingest skips as too small (1x1 tracking pixels, spacers) are skipped
        // here too, rather than tagged with whatever the network makes of a blown-up dot.
        if let header = try? decoder.header(of: bytes), max(header.width, header.height) < Ingester.Options.defaultMinimumSide {
            skipped.skip(url.path, reason: "too small",
                         detail: "\(header.width)x\(header.height), below \(Ingester.Options.defaultMinimumSide) px")
            return (.image(id: id, inShard: true), true, nil)
        }
        return (.image(id: id, inShard: true), true,
                FeatureExtraction.crop(bytes, of: url, decoder: decoder, preprocessor: preprocessor, skipped: skipped))
    }
}

/// One batch of `FolderScan`'s images with the network's input for those that decoded
/// (nil when none did), made on the reading thread.
private struct PreparedBatch: @unchecked Sendable {
    let images: [FolderScan.Image]
    let good: [FolderScan.Image]
    let inputs: Tensor?
}

/// What annotate's tagging stage keeps from batch to batch: the catalog it commits to
/// (opened by the first batch, once the method is built) and this run's annotations.
/// Used by the stage's one thread at a time, and read once the stage has finished.
private final class TaggingState: @unchecked Sendable {
    var catalog: Catalog?
    var taggedNow: [Int: Catalog.StoredAnnotation] = [:]
}

/// Runs submitted work one item at a time, in the order submitted, on a thread of its
/// own: `submit` first waits for the item submitted before to finish, so the submitter
/// runs at most one item ahead of the stage. The first error thrown stops the stage:
/// `submit` then rethrows it instead of running more, and `finish` rethrows it.
final class OrderedStage: @unchecked Sendable {
    private let queue = DispatchQueue(label: "taggan.ordered-stage")
    private let condition = NSCondition()
    private var busy = false
    private var failure: Error?

    func submit(_ work: @escaping @Sendable () throws -> Void) throws {
        condition.lock()
        while busy { condition.wait() }
        if let failure {
            condition.unlock()
            throw failure
        }
        busy = true
        condition.unlock()
        queue.async { [self] in
            Denormals.applyOnWorker()
            var thrown: Error?
            do { try work() } catch { thrown = error }
            condition.lock()
            if let thrown, failure == nil { failure = thrown }
            busy = false
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Waits for the submitted work; rethrows the first error any of it threw.
    func finish() throws {
        drain()
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
    }

    /// Waits for the submitted work, ignoring errors (for a caller that is already throwing).
    func drain() {
        condition.lock()
        while busy { condition.wait() }
        condition.unlock()
    }
}

/// A value made on a background thread once `start` is called (again: no effect), and
/// waited for by `value`, which starts it if nothing has and rethrows what it threw.
/// Either may be called from any thread. (Annotate's method and network, and
/// `FeatureExtraction.pipelined`'s one-ahead call.)
final class BackgroundLoad<T>: @unchecked Sendable {
    private let make: @Sendable () throws -> T
    private let condition = NSCondition()
    private var started = false
    private var result: Swift.Result<T, Error>?

    init(_ make: @escaping @Sendable () throws -> T) { self.make = make }

    func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        Thread.detachNewThread { [self] in
            let made = Swift.Result { try make() }
            condition.lock()
            result = made
            condition.broadcast()
            condition.unlock()
        }
    }

    func value() throws -> T {
        start()
        condition.lock()
        while result == nil { condition.wait() }
        let made = result!
        condition.unlock()
        return try made.get()
    }
}
