import Foundation
import Features
import Ingest
import TagganCore

/// `taggan features --workspace W` and `taggan features --classify FILE...`: wires Ingest
/// (the catalog, decoding) to Features (preprocessing, the network).
enum FeaturesCommand {
    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let modelName = arguments.value("--model") ?? EfficientNetConfig.lite0.name
        guard let config = EfficientNetConfig.named(modelName) else {
            throw TagganError.usage("taggan features: unknown model '\(modelName)' (one of: \(EfficientNetConfig.all.map(\.name).joined(separator: ", ")))")
        }
        let batch = try arguments.integer("--batch", default: 32)
        guard batch > 0 else { throw TagganError.usage("taggan features: --batch must be positive") }
        let files = arguments.all("--classify")
        let workspace = arguments.value("--workspace")
        if files.isEmpty && workspace == nil {
            throw TagganError.usage("taggan features: give --workspace W, or --classify FILE to check the model on images")
        }
        let net = try loadNetwork(config, weights: arguments.value("--weights"))
        if !files.isEmpty { return try classify(files, net: net, json: arguments.json) }
        let shard = try Shard.parse(arguments.value("--shard"), command: "taggan features")
        return try embedWorkspace(URL(fileURLWithPath: workspace!), net: net, batch: batch, shard: shard, json: arguments.json)
    }

    /// `--weights`, else `$TAGGAN_CORPORA/models/<model>.pth`, else `corpora/cache/models/`
    /// in the current folder or beside the build folder the executable runs from.
    static func weightsURL(_ config: EfficientNetConfig, explicit: String?) -> URL {
        if let explicit { return URL(fileURLWithPath: explicit) }
        return Demo.corporaCache(containing: "models/\(config.name).pth")
            .appendingPathComponent("models/\(config.name).pth")
    }

    static func loadNetwork(_ config: EfficientNetConfig, weights: String?) throws -> EfficientNet {
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
    static func decodeCrops(_ urls: [URL], preprocessor: ImagePreprocessor, skipped: SkipLog) -> [RGBImage?] {
        let decoder = ImageDecoder()
        let crops = ParallelSlots<RGBImage>(count: urls.count)
        Parallel.forEach(urls.count) { i in
            do {
                let image = try decoder.decode(contentsOf: urls[i], targetShorterSide: preprocessor.minimumDecodeSide)
                crops[i] = preprocessor.crop(image)
            } catch let error as ImageDecoder.DecodeError {
                skipped.skip(urls[i].path, reason: error.reason, detail: error.detail.isEmpty ? nil : error.detail)
            } catch TagganError.file(_, let reason) {
                // "empty file", "not a JPEG or PNG image: ...": the category, then the detail.
                let parts = reason.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                skipped.skip(urls[i].path, reason: parts[0], detail: parts.count > 1 ? parts[1] : nil)
            } catch {
                skipped.skip(urls[i].path, reason: "unreadable", detail: "\(error)")
            }
        }
        return crops.values(urls.count)
    }


    // MARK: --classify

    static func classify(_ files: [String], net: EfficientNet, json: Bool) throws -> Int32 {
        let preprocessor = ImagePreprocessor(config: net.config)
        let skipped = SkipLog()
        let urls = files.map { URL(fileURLWithPath: $0) }
        let crops = decodeCrops(urls, preprocessor: preprocessor, skipped: skipped)
        let good = crops.indices.filter { crops[$0] != nil }
        let logits = good.isEmpty ? Tensor(zeros: [0, net.config.classes])
            : net.forward(preprocessor.normalise(good.map { crops[$0]! })).logits
        var results: [[String: Any]] = []
        for (row, index) in good.enumerated() {
            let scores = logits.row(row)
            // softmax probabilities, computed stably from the largest logit
            let top = scores.max()!
            let total = scores.reduce(0) { $0 + exp(Double($1 - top)) }
            let best = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(5)
            let classes = best.map { c -> [String: Any] in
                ["class": c, "name": ImageNetClasses.names[c], "logit": Double(scores[c]),
                 "probability": exp(Double(scores[c] - top)) / total]
            }
            results.append(["file": files[index], "top5": classes])
            if !json {
                print(files[index])
                for entry in classes {
                    print(String(format: "  %4d  %5.1f%%  %@", entry["class"] as! Int, 100 * (entry["probability"] as! Double),
                                 entry["name"] as! String))
                }
            }
        }
        if json {
            JSONSummary.print(["command": "features --classify", "model": net.config.name, "images": results, "skipped": skipped.json])
        } else if skipped.count > 0 {
            Log.info(skipped.summary)
        }
        return good.isEmpty && !files.isEmpty ? 1 : 0
    }

    // MARK: --workspace

    /// The embeddings of a workspace: `W/embeddings.npy` (rows x 1280, float32) and
    /// `W/embeddings.tsv` (row, catalog image id, image key) for lite0; other models and
    /// shards get `embeddings-<model>` / `-shard-I-of-N` in the names.
    struct EmbeddingFiles {
        let matrix: URL
        let mapping: URL

        init(workspace: URL, model: String, shard: (index: Int, count: Int)?) {
            var stem = Self.stem(model)
            if let shard { stem += "-shard-\(shard.index)-of-\(shard.count)" }
            matrix = workspace.appendingPathComponent(stem + ".npy")
            mapping = workspace.appendingPathComponent(stem + ".tsv")
        }

        static func stem(_ model: String) -> String {
            model == EfficientNetConfig.lite0.name ? "embeddings" : "embeddings-\(model)"
        }

        /// The shard files of `model` in the workspace (`--shard I/N` runs, or shard
        /// files copied in from other machines), in name order.
        static func shards(in workspace: URL, model: String) -> [EmbeddingFiles] {
            let prefix = stem(model) + "-shard-"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: workspace.path)) ?? []
            return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".npy") }.sorted().compactMap { name in
                let parts = name.dropFirst(prefix.count).dropLast(4).split(separator: "-")
                guard parts.count == 3, parts[1] == "of", let i = Int(parts[0]), let n = Int(parts[2]) else { return nil }
                return EmbeddingFiles(workspace: workspace, model: model, shard: (i, n))
            }
        }

        /// Rows already computed: (image ids, keys, values), or empty when neither file
        /// exists. The mapping is the commit point (see `write`): matrix rows past the
        /// mapping's are a write a kill interrupted, and are dropped (they are computed
        /// again); a mapping with more rows than the matrix, or another width, is an error.
        func read(featureSize: Int) throws -> (ids: [Int], keys: [String], values: [Float]) {
            let fm = FileManager.default
            guard fm.fileExists(atPath: matrix.path) || fm.fileExists(atPath: mapping.path) else { return ([], [], []) }
            guard fm.fileExists(atPath: matrix.path) else {
                throw TagganError.file(matrix.path, "missing (\(mapping.lastPathComponent) maps its rows to images)")
            }
            var tensor = try NPY.read(contentsOf: matrix)
            // The matrix alone: killed before its first mapping was written.
            guard fm.fileExists(atPath: mapping.path) else { return ([], [], []) }
            guard let text = try? String(contentsOf: mapping, encoding: .utf8) else {
                throw TagganError.file(mapping.path, "unreadable (it maps \(matrix.lastPathComponent)'s rows to images)")
            }
            var ids: [Int] = [], keys: [String] = []
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
                guard fields.count == 3, let id = Int(fields[1]) else { throw TagganError.file(mapping.path, "malformed line '\(line)'") }
                ids.append(id)
                keys.append(String(fields[2]))
            }
            if tensor.rank == 2, tensor.columns == featureSize, tensor.rows > ids.count {
                Log.info("features: \(tensor.rows - ids.count) rows of \(matrix.lastPathComponent) past \(mapping.lastPathComponent) "
                         + "(an interrupted write) are dropped and computed again")
                tensor = Tensor(shape: [ids.count, featureSize], values: Array(tensor.storage.prefix(ids.count * featureSize)))
            }
            guard tensor.rank == 2, tensor.columns == featureSize, tensor.rows == ids.count else {
                throw TagganError.file(matrix.path, "shape \(tensor.shape) does not match \(ids.count) rows of \(mapping.lastPathComponent) x \(featureSize)")
            }
            return (ids, keys, tensor.storage)
        }

        /// Matrix first, then the mapping, each atomically. Rows are only ever appended,
        /// so the new matrix begins with the old one's rows, and the mapping is the commit
        /// point: a kill between the two leaves a matrix with more rows than the mapping,
        /// whose extra rows `read` drops.
        func write(ids: [Int], keys: [String], values: [Float], featureSize: Int) throws {
            try NPY.write(Tensor(shape: [ids.count, featureSize], values: values), to: matrix)
            FaultInjection.point("features.matrix")
            var text = "row\timage_id\tkey\n"
            for (row, (id, key)) in zip(ids, keys).enumerated() { text += "\(row)\t\(id)\t\(key)\n" }
            try AtomicFile.write(text, to: mapping)
            FaultInjection.point("features.mapping")
        }
    }

    static func embedWorkspace(_ workspace: URL, net: EfficientNet, batch: Int,
                               shard: (index: Int, count: Int)?, json: Bool) throws -> Int32 {
        guard FileManager.default.fileExists(atPath: workspace.appendingPathComponent(Catalog.fileName).path) else {
            throw TagganError.file(workspace.path, "no \(Catalog.fileName) here (run taggan ingest first)")
        }
        let catalog = try Catalog(workspace: workspace)
        let config = net.config
        let files = EmbeddingFiles(workspace: workspace, model: config.name, shard: shard)
        var (ids, keys, values) = try files.read(featureSize: config.featureSize)
        var done = Set(ids)
        // An unsharded run first takes in the rows of shard files in the workspace (from
        // `--shard I/N` runs here or on other machines): that is how shards are merged.
        var absorbed = 0
        let catalogImages = try catalog.images()
        if shard == nil {
            let known = Set(catalogImages.map(\.id))
            for part in EmbeddingFiles.shards(in: workspace, model: config.name) {
                let (partIDs, partKeys, partValues) = try part.read(featureSize: config.featureSize)
                let f = config.featureSize
                for (row, id) in partIDs.enumerated() where !done.contains(id) && known.contains(id) {
                    ids.append(id)
                    keys.append(partKeys[row])
                    values += partValues[row * f ..< (row + 1) * f]
                    done.insert(id)
                    absorbed += 1
                }
            }
            if absorbed > 0 {
                try files.write(ids: ids, keys: keys, values: values, featureSize: config.featureSize)
                try catalog.markProcessed(Array(ids.suffix(absorbed)), stage: "features", model: config.name)
                Log.info("features: \(absorbed) rows taken from shard files")
            }
        }
        // Images with a row are done; the shard picks images by their content id, which
        // is the same on every machine.
        let todo = catalogImages.filter { image in
            !done.contains(image.id) && (shard.map { image.id % $0.count == $0.index } ?? true)
        }
        let preprocessor = ImagePreprocessor(config: config)
        let skipped = SkipLog()
        let progress = Progress("features", total: todo.count, unit: "images")
        // Saved after every `checkpoint` images, so a killed run loses at most that much.
        let checkpoint = max(batch, 512)
        var sinceSave = 0
        let start = DispatchTime.now().uptimeNanoseconds
        for first in stride(from: 0, to: todo.count, by: batch) {
            let images = Array(todo[first ..< min(first + batch, todo.count)])
            let crops = decodeCrops(images.map(\.url), preprocessor: preprocessor, skipped: skipped)
            let good = crops.indices.filter { crops[$0] != nil }
            if !good.isEmpty {
                let features = net.embed(preprocessor.normalise(good.map { crops[$0]! }))
                values += features.storage
                ids += good.map { images[$0].id }
                keys += good.map { images[$0].key }
                sinceSave += good.count
            }
            progress.advance(by: images.count)
            if sinceSave >= checkpoint {
                try files.write(ids: ids, keys: keys, values: values, featureSize: config.featureSize)
                try catalog.markProcessed(Array(ids.suffix(sinceSave)), stage: "features", model: config.name)
                sinceSave = 0
            }
        }
        if sinceSave > 0 || !FileManager.default.fileExists(atPath: files.matrix.path) {
            try files.write(ids: ids, keys: keys, values: values, featureSize: config.featureSize)
            try catalog.markProcessed(Array(ids.suffix(sinceSave)), stage: "features", model: config.name)
            FaultInjection.point("features.catalog")
        }
        progress.finish()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        let embedded = todo.count - skipped.count
        if json {
            JSONSummary.print(["command": "features", "workspace": workspace.path, "model": config.name,
                               "embedded": embedded, "already_done": done.count - absorbed, "from_shards": absorbed, "rows": ids.count,
                               "feature_size": config.featureSize, "skipped": skipped.json,
                               "embeddings": files.matrix.path, "mapping": files.mapping.path, "seconds": seconds])
        } else {
            print("features: \(embedded) images embedded, \(done.count - absorbed) already done, \(absorbed) from shard files; \(skipped.summary)")
            print("embeddings: \(files.matrix.path) (\(ids.count) x \(config.featureSize)), rows -> images in \(files.mapping.lastPathComponent)")
        }
        return 0
    }
}

/// `taggan bench features`: images/s of the network alone (batches of real or synthetic
/// crops) and of whole folders (decode + preprocess + network).
enum FeaturesBench {
    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let modelName = arguments.value("--model") ?? EfficientNetConfig.lite0.name
        guard let config = EfficientNetConfig.named(modelName) else {
            throw TagganError.usage("taggan bench features: unknown model '\(modelName)'")
        }
        let batch = try arguments.integer("--batch", default: 32)
        let repeats = try arguments.integer("--repeats", default: 5)
        let threads = try arguments.integer("--threads", default: Parallel.defaultThreads)
        guard batch > 0, repeats > 0, threads > 0 else { throw TagganError.usage("taggan bench features: --batch, --repeats and --threads must be positive") }
        let net = try FeaturesCommand.loadNetwork(config, weights: arguments.value("--weights"))
        let s = config.imageSize
        var random = SeededRandom(seed: 1)
        let inputs = Tensor.uniform(shape: [batch, s, s, 3], in: -1..<1, using: &random)
        _ = net.embed(inputs, threads: threads)  // warm-up
        var best = Double.infinity, total = 0.0
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = net.embed(inputs, threads: threads)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            best = min(best, seconds)
            total += seconds
        }
        var result: [String: Any] = [
            "command": "bench features", "model": config.name, "batch": batch, "threads": threads, "repeats": repeats,
            "inference_images_per_second_best": Double(batch) / best,
            "inference_images_per_second_mean": Double(batch * repeats) / total,
        ]
        if let folder = arguments.positionals.first {
            let urls = ((try? FileManager.default.contentsOfDirectory(at: URL(fileURLWithPath: folder), includingPropertiesForKeys: nil)) ?? [])
                .filter { ["jpg", "jpeg", "png"].contains($0.pathExtension.lowercased()) }.sorted { $0.path < $1.path }
            guard !urls.isEmpty else { throw TagganError.file(folder, "no JPEG or PNG files") }
            let preprocessor = ImagePreprocessor(config: config)
            let skipped = SkipLog()
            let start = DispatchTime.now().uptimeNanoseconds
            var embedded = 0
            for first in stride(from: 0, to: urls.count, by: batch) {
                let crops = FeaturesCommand.decodeCrops(Array(urls[first ..< min(first + batch, urls.count)]),
                                                        preprocessor: preprocessor, skipped: skipped).compactMap { $0 }
                if !crops.isEmpty { embedded += net.embed(preprocessor.normalise(crops), threads: threads).rows }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            result["folder_images"] = embedded
            result["folder_images_per_second"] = Double(embedded) / seconds
        }
        if arguments.json {
            JSONSummary.print(result)
        } else {
            print(String(format: "%@ inference, batch %d, %d threads: %.1f images/s (best of %d), %.1f mean",
                         config.name, batch, threads, result["inference_images_per_second_best"] as! Double, repeats,
                         result["inference_images_per_second_mean"] as! Double))
            if let rate = result["folder_images_per_second"] as? Double {
                print(String(format: "whole folder (decode + preprocess + network): %d images, %.1f images/s",
                             result["folder_images"] as! Int, rate))
            }
        }
        return 0
    }
}
