import Features
import Foundation
import Ingest
import TagganCore

/// Images to the conv net's features: decoding and cropping (Ingest, Features'
/// preprocessing) in parallel, the network, and the workspace's embedding files.
public enum FeatureExtraction {
    /// `weights`, else `$TAGGAN_CORPORA/models/<model>.pth`, else `corpora/cache/models/`
    /// in the current folder or beside the build folder the executable runs from.
    public static func weightsURL(_ config: EfficientNetConfig, explicit: String?) -> URL {
        if let explicit { return URL(fileURLWithPath: explicit) }
        return corporaCache(containing: "models/\(config.name).pth").appendingPathComponent("models/\(config.name).pth")
    }

    public static func loadNetwork(_ config: EfficientNetConfig, weights: String?) throws -> EfficientNet {
        _ = try BLAS.backend()
        let url = weightsURL(config, explicit: weights)
        let start = DispatchTime.now().uptimeNanoseconds
        let net = try EfficientNet.load(contentsOf: url, config: config)
        Log.info(String(format: "%@: %.2f M parameters (BatchNorm folded) from %@ in %.2f s", config.name,
                        Double(net.parameterCount) / 1e6, url.path, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9))
        return net
    }

    /// Decodes (at a DCT scale no smaller than the network needs) and crops, in
    /// parallel; a file that fails is reported in `skipped` and left nil. With
    /// `catalogued` (the catalog's record of each file), a file that is no longer the
    /// image ingested (`isStill`) is reported as changed and left nil too, so that its
    /// features are never stored under the old image's id and paired with its tags.
    public static func decodeCrops(_ urls: [URL], preprocessor: ImagePreprocessor, skipped: SkipLog,
                                   catalogued: [Catalog.Image]? = nil) -> [RGBImage?] {
        precondition(catalogued == nil || catalogued!.count == urls.count, "one catalog record per file")
        let decoder = ImageDecoder()
        let crops = ParallelSlots<RGBImage>(count: urls.count)
        Parallel.forEach(urls.count) { i in
            let data: Data
            do {
                data = try ImageDecoder.readFile(urls[i])
            } catch let error as ImageDecoder.DecodeError {
                skipped.skip(urls[i].path, reason: error.reason, detail: error.detail.isEmpty ? nil : error.detail)
                return
            } catch {
                skipped.skip(urls[i].path, reason: "unreadable", detail: "\(error)")
                return
            }
            if let record = catalogued?[i], !isStill(record, data) {
                skipped.skip(urls[i].path, reason: "changed since ingest",
                             detail: "its bytes are not the image the catalog holds; run taggan ingest again")
                return
            }
            crops[i] = crop(data, of: urls[i], decoder: decoder, preprocessor: preprocessor, skipped: skipped)
        }
        return crops.values(urls.count)
    }

    /// Whether `data`, just read from `record.url`, is still the catalogued image: its
    /// size and the file's modification time as recorded at ingest, or else (the file was
    /// touched, or copied back) the same SHA-256.
    static func isStill(_ record: Catalog.Image, _ data: Data) -> Bool {
        guard data.count == record.size else { return false }
        if Catalog.stamp(record.url.path)?.mtime == record.mtime { return true }
        return SHA256.hex(data) == record.hash
    }

    /// The network's crop of the image in `data` (the bytes of `url`), decoded at a DCT
    /// scale no smaller than the network needs; nil, reported in `skipped`, when it fails.
    public static func crop(_ data: Data, of url: URL, decoder: ImageDecoder, preprocessor: ImagePreprocessor,
                            skipped: SkipLog) -> RGBImage? {
        do {
            return preprocessor.crop(try decoder.decode(data, targetShorterSide: preprocessor.minimumDecodeSide))
        } catch let error as ImageDecoder.DecodeError {
            skipped.skip(url.path, reason: error.reason, detail: error.detail.isEmpty ? nil : error.detail)
        } catch {
            skipped.skip(url.path, reason: "unreadable", detail: "\(error)")
        }
        return nil
    }

    /// Decodes, crops and normalises `batches` one after another on a background thread,
    /// one batch ahead of `body`, which gets each batch's crops (nil for a file that failed)
    /// in order, with the network's input for the crops that are not nil (nil when none
    /// is): the network runs on batch i while batch i + 1 decodes, so neither waits for
    /// the other (on 2 cores each phase alone leaves a core idle part of the time).
    /// Batches decode in order, so what `skipped` records is the same as without the
    /// overlap; when `body` throws, the batch being decoded is waited for, then dropped.
    public static func forEachDecodedBatch(_ batches: [[URL]], preprocessor: ImagePreprocessor, skipped: SkipLog,
                                           catalogued: [[Catalog.Image]]? = nil,
                                           _ body: (_ index: Int, _ crops: [RGBImage?], _ inputs: Tensor?) throws -> Void) throws {
        try pipelined({ index -> (Int, [RGBImage?], Tensor?)? in
            guard index < batches.count else { return nil }
            let crops = decodeCrops(batches[index], preprocessor: preprocessor, skipped: skipped, catalogued: catalogued?[index])
            let good = crops.compactMap { $0 }
            return (index, crops, good.isEmpty ? nil : preprocessor.normalise(good))
        }) { index, crops, inputs in try body(index, crops, inputs) }
    }

    /// Calls `produce(0)`, `produce(1)`, ... on a background thread, one call ahead of
    /// `body`, which gets their results in order until `produce` returns nil. The calls
    /// never overlap one another (call n + 1 starts once `body` has taken result n), so
    /// `produce` may keep state from call to call; when `body` throws, the call under way
    /// is waited for and its result dropped.
    public static func pipelined<T>(_ produce: @escaping @Sendable (_ call: Int) -> T?, _ body: (T) throws -> Void) throws {
        func start(_ call: Int) -> BackgroundLoad<T?> {
            let pending = BackgroundLoad { produce(call) }
            pending.start()
            return pending
        }
        var next: BackgroundLoad<T?>? = start(0)
        defer { _ = try? next?.value() }
        for call in 1... {
            guard let result = try next!.value() else { next = nil; return }
            next = start(call)
            try body(result)
        }
    }

    /// One image's five most likely ImageNet classes.
    public struct Classification: Sendable {
        public let file: String
        public let top5: [(index: Int, name: String, logit: Double, probability: Double)]
    }

    /// The top-5 classes of each file that decodes (the others are reported in `skipped`).
    public static func classify(_ files: [String], net: EfficientNet, skipped: SkipLog) -> [Classification] {
        let preprocessor = ImagePreprocessor(config: net.config)
        let crops = decodeCrops(files.map { URL(fileURLWithPath: $0) }, preprocessor: preprocessor, skipped: skipped)
        let good = crops.indices.filter { crops[$0] != nil }
        guard !good.isEmpty else { return [] }
        let logits = net.forward(preprocessor.normalise(good.map { crops[$0]! })).logits
        return good.enumerated().map { row, index in
            let scores = logits.row(row)
            // softmax probabilities, computed stably from the largest logit
            let top = scores.max()!
            let total = scores.reduce(0) { $0 + exp(Double($1 - top)) }
            let best = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(5)
            return Classification(file: files[index], top5: best.map {
                ($0, ImageNetClasses.names[$0], Double(scores[$0]), exp(Double(scores[$0] - top)) / total)
            })
        }
    }

    /// What `embed(workspace:)` did.
    public struct Summary: Sendable {
        public var embedded = 0, alreadyDone = 0, fromShards = 0, rows = 0
        public var files: EmbeddingFiles
        public var seconds = 0.0
    }

    /// What a shard's files were made with, for their `ShardManifest` (kind "features"):
    /// the network and the SHA-256 of its weights file. Shards made with other weights
    /// are refused when taken in.
    public static func shardSettings(_ config: EfficientNetConfig, weights: URL) throws -> [String: String] {
        let bytes = try AtomicFile.read(weights)
        return ["model": config.name, "weights_sha256": SHA256.hex(bytes)]
    }

    /// Embeds every catalog image of W without a row yet (of shard `shard` only, when
    /// given). New rows are committed in parts of `max(batch, 512)` images, so a killed run
    /// loses at most one part, memory holds one part, and the matrix is written once at
    /// the end (`EmbeddingFiles`). A shard run writes `ShardManifest` beside its matrix
    /// (refusing to add to shard files made with other weights). An unsharded run first
    /// takes in the rows of every shard's files in W (from `--shard I/N` runs here or on
    /// other machines; all from one job with these weights, else an error naming the
    /// files): that is how shards are merged.
    ///
    /// `loadNetwork` runs on a thread of its own from the start, while the catalog is read
    /// and the first batch decodes (on 2 cores the load alone leaves one idle); its error,
    /// if any, is thrown before the first batch is embedded, or at the end when there is
    /// nothing to embed. The weights file is hashed only when a manifest needs it.
    public static func embed(workspace: Workspace, config: EfficientNetConfig,
                             loadNetwork: @escaping @Sendable () throws -> EfficientNet, weights: URL, batch: Int,
                             shard: ShardSpec?, skipped: SkipLog) throws -> Summary {
        let network = BackgroundLoad(loadNetwork)
        network.start()
        defer { _ = try? network.value() }   // (never leave the load running past the call)
        let catalog = try workspace.existingCatalog()
        let f = config.featureSize
        let files = workspace.embeddings(model: config.name, shard: shard)
        // One run at a time adds to these files (RunLock): two would number their parts alike.
        return try RunLock.holding(file: files.matrix) {
            let settings = { try shardSettings(config, weights: weights) }
            if let shard { try claimShard(files, shard: shard, settings: try settings()) }
            var done = Set(try files.ids(featureSize: f))
            var summary = Summary(files: files)
            summary.alreadyDone = done.count
            let catalogImages = try catalog.images(withTags: false)   // (ids, keys and paths are all it needs)
            if shard == nil {
                let taken = try takeInShards(workspace: workspace, model: config.name, featureSize: f, settings: settings,
                                             catalogIDs: Set(catalogImages.map(\.id)))
                summary.fromShards = taken.count
                done.formUnion(taken)
            }
            // The shard picks images by their content id, which is the same on every machine.
            let todo = catalogImages.filter { image in
                !done.contains(image.id) && (shard?.contains(contentID: image.id) ?? true)
            }
            let preprocessor = ImagePreprocessor(config: config)
            let progress = ProgressLine("features", total: todo.count, unit: "images")
            // A part after every `partSize` images, so a killed run loses at most that much.
            let partSize = max(batch, 512)
            var pending = EmbeddingFiles.Rows()
            func commit() throws {
                guard !pending.ids.isEmpty else { return }
                try files.append(pending, featureSize: f)
                try catalog.markProcessed(pending.ids, stage: "features", model: config.name)
                pending = EmbeddingFiles.Rows()
            }
            let batches = stride(from: 0, to: todo.count, by: batch).map { Array(todo[$0 ..< min($0 + batch, todo.count)]) }
            try forEachDecodedBatch(batches.map { $0.map(\.url) }, preprocessor: preprocessor, skipped: skipped,
                                    catalogued: batches) { index, crops, inputs in
                let images = batches[index]
                let good = crops.indices.filter { crops[$0] != nil }
                let net = try network.value()
                if let inputs {
                    pending.values += net.embed(inputs).storage
                    pending.ids += good.map { images[$0].id }
                    pending.keys += good.map { images[$0].key }
                }
                progress.advance(by: images.count)
                if pending.ids.count >= partSize { try commit() }
            }
            try commit()
            _ = try network.value()   // (bad weights are an error even when nothing was left to embed)
            summary.rows = try files.consolidate(featureSize: f).rows
            FaultInjection.point("features.catalog")
            progress.finish()
            summary.seconds = progress.elapsedSeconds
            summary.embedded = todo.count - skipped.count
            return summary
        }
    }

    /// Joins the rows of every `model` shard file set in W (`--shard I/N` runs, here or
    /// copied from other machines) into W's matrix, for images the catalog holds and the
    /// matrix lacks, and records them as processed; returns their image ids. The shards
    /// must be of one job (`ShardManifest`) and, when `settings` is given, made with what
    /// it returns (the network and weights of the run that takes them in; called only when
    /// there are shard files). No network is needed: `taggan merge --workspace W` calls
    /// this too.
    public static func takeInShards(workspace: Workspace, model: String, featureSize f: Int,
                                    settings: (() throws -> [String: String])?,
                                    catalogIDs: Set<Int>) throws -> [Int] {
        let parts = EmbeddingFiles.shards(in: workspace.url, model: model)
        guard !parts.isEmpty else { return [] }
        try checkShards(parts, settings: settings)
        let files = workspace.embeddings(model: model)
        let taken = try files.consolidate(featureSize: f, extra: parts, keep: catalogIDs.contains).takenIn
        if !taken.isEmpty {
            try workspace.existingCatalog().markProcessed(taken, stage: "features", model: model)
            Log.info("features: \(taken.count) rows of \(model) taken from shard files")
        }
        return taken
    }

    /// A shard run's manifest: written beside the shard's matrix on its first run; a
    /// later run of the same shard must have the same settings and shard count.
    static func claimShard(_ files: EmbeddingFiles, shard: ShardSpec, settings: [String: String]) throws {
        let manifest = ShardManifest(kind: "features", shard: shard, settings: settings)
        let url = ShardManifest.sidecar(for: files.matrix)
        if FileManager.default.fileExists(atPath: url.path) {
            let existing = try ShardManifest.read(besides: files.matrix)
            guard existing.kind == manifest.kind, existing.rule == manifest.rule, existing.shard == shard else {
                throw TagganError.file(url.path, "describes \(existing.kind) shard \(existing.index)/\(existing.count) by rule "
                                       + "'\(existing.rule)', not features shard \(shard) by '\(manifest.rule)'")
            }
            try ShardManifest.checkSettings(settings, source: "this run (\(settings["model"] ?? "") and its weights)",
                                            against: existing.settings, from: files.matrix.path)
        } else if files.exist {
            throw TagganError.file(files.matrix.path, "shard files without their manifest \(url.lastPathComponent): "
                                   + "made by another tool or an older taggan, so not added to (remove them to redo the shard)")
        } else {
            try manifest.write(besides: files.matrix)
        }
    }

    /// The shard files an unsharded run takes in: one job's (one N, rule and settings),
    /// made with this run's network and weights, each holding rows of its own shard only.
    static func checkShards(_ shards: [EmbeddingFiles], settings: (() throws -> [String: String])?) throws {
        let manifests = try shards.map { ($0.matrix.path, try ShardManifest.read(besides: $0.matrix)) }
        let missing = try ShardManifest.checkOneJob(manifests, kind: "features")
        for (files, (_, manifest)) in zip(shards, manifests) { try files.checkRows(in: manifest) }
        if let settings = try settings?(), let (source, first) = manifests.first {
            try ShardManifest.checkSettings(settings, source: "this run (\(settings["model"] ?? "") and its weights)",
                                            against: first.settings, from: source)
        }
        if !missing.isEmpty {
            Log.info("features: no files of shard(s) \(missing.map(String.init).joined(separator: ", ")) of \(shards[0].matrix.lastPathComponent)'s job in the workspace; their images are embedded here")
        }
    }
}

