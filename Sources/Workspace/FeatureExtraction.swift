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
    /// parallel; a file that fails is reported in `skipped` and left nil.
    public static func decodeCrops(_ urls: [URL], preprocessor: ImagePreprocessor, skipped: SkipLog) -> [RGBImage?] {
        let decoder = ImageDecoder()
        let crops = ParallelSlots<RGBImage>(count: urls.count)
        Parallel.forEach(urls.count) { i in
            do {
                let image = try decoder.decode(contentsOf: urls[i], targetShorterSide: preprocessor.minimumDecodeSide)
                crops[i] = preprocessor.crop(image)
            } catch let error as ImageDecoder.FileError {
                skipped.skip(urls[i].path, reason: error.reason, detail: error.detail.isEmpty ? nil : error.detail)
            } catch {
                skipped.skip(urls[i].path, reason: "unreadable", detail: "\(error)")
            }
        }
        return crops.values(urls.count)
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

    /// Embeds every catalog image of W without a row yet (of shard `shard` only, when
    /// given), saving every 512 images so a killed run resumes. An unsharded run first
    /// takes in the rows of shard files in W (from `--shard I/N` runs here or on other
    /// machines): that is how shards are merged.
    public static func embed(workspace: Workspace, net: EfficientNet, batch: Int, shard: ShardSpec?,
                             skipped: SkipLog) throws -> Summary {
        let catalog = try workspace.existingCatalog()
        let config = net.config, f = config.featureSize
        let files = workspace.embeddings(model: config.name, shard: shard)
        var rows = try files.read(featureSize: f)
        var done = Set(rows.ids)
        var summary = Summary(files: files)
        summary.alreadyDone = done.count
        let catalogImages = try catalog.images()
        func save(_ count: Int) throws {
            try files.write(rows, featureSize: f)
            try catalog.markProcessed(Array(rows.ids.suffix(count)), stage: "features", model: config.name)
        }
        if shard == nil {
            let known = Set(catalogImages.map(\.id))
            for part in EmbeddingFiles.shards(in: workspace.url, model: config.name) {
                let found = try part.read(featureSize: f)
                for (row, id) in found.ids.enumerated() where !done.contains(id) && known.contains(id) {
                    rows.ids.append(id)
                    rows.keys.append(found.keys[row])
                    rows.values += found.values[row * f ..< (row + 1) * f]
                    done.insert(id)
                    summary.fromShards += 1
                }
            }
            if summary.fromShards > 0 {
                try save(summary.fromShards)
                Log.info("features: \(summary.fromShards) rows taken from shard files")
            }
        }
        // The shard picks images by their content id, which is the same on every machine.
        let todo = catalogImages.filter { image in
            !done.contains(image.id) && (shard?.contains(contentID: image.id) ?? true)
        }
        let preprocessor = ImagePreprocessor(config: config)
        let progress = ProgressLine("features", total: todo.count, unit: "images")
        // Saved after every `checkpoint` images, so a killed run loses at most that much.
        let checkpoint = max(batch, 512)
        var sinceSave = 0
        for first in stride(from: 0, to: todo.count, by: batch) {
            let images = Array(todo[first ..< min(first + batch, todo.count)])
            let crops = decodeCrops(images.map(\.url), preprocessor: preprocessor, skipped: skipped)
            let good = crops.indices.filter { crops[$0] != nil }
            if !good.isEmpty {
                rows.values += net.embed(preprocessor.normalise(good.map { crops[$0]! })).storage
                rows.ids += good.map { images[$0].id }
                rows.keys += good.map { images[$0].key }
                sinceSave += good.count
            }
            progress.advance(by: images.count)
            if sinceSave >= checkpoint {
                try save(sinceSave)
                sinceSave = 0
            }
        }
        if sinceSave > 0 || !FileManager.default.fileExists(atPath: files.matrix.path) {
            try save(sinceSave)
            FaultInjection.point("features.catalog")
        }
        progress.finish()
        summary.seconds = progress.elapsedSeconds
        summary.embedded = todo.count - skipped.count
        summary.rows = rows.ids.count
        return summary
    }
}
