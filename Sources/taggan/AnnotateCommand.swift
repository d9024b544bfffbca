import Eval
import Features
import Foundation
import Ingest
import SkipGram
import TagGAN
import TagganCore

/// `taggan annotate FOLDER --workspace W`: tags every JPEG and PNG under FOLDER with a
/// trained model of W (IC-GAN when there is one, else CGAN; `--mode` chooses), through
/// the paper's protocol, and writes JSON Lines, CSV and/or merged XMP sidecars.
enum AnnotateCommand {
    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let folder = URL(fileURLWithPath: arguments.positionals[0])
        let workspace = URL(fileURLWithPath: try arguments.required("--workspace"))
        let top = try arguments.integer("--top", default: 10)
        let threshold = try arguments.number("--threshold", default: 0)
        let samples = try arguments.integer("--samples", default: 100)
        guard top > 0, samples > 0, (0...1).contains(threshold) else {
            throw TagganError.usage("taggan annotate: --top and --samples must be positive, --threshold in [0, 1]")
        }
        let jsonl = arguments.value("--jsonl").map { URL(fileURLWithPath: $0) }
        let csv = arguments.value("--csv").map { URL(fileURLWithPath: $0) }
        let writeSidecars = arguments.flag("--xmp")
        guard jsonl != nil || csv != nil || writeSidecars else {
            throw TagganError.usage("taggan annotate: say where the tags go: --jsonl F, --csv F and/or --xmp")
        }
        let excluded = Set(try wordList(arguments.value("--exclude")))
        let included = try arguments.value("--include").map { Set(try wordList($0)) }
        _ = try BLAS.backend()

        // The method (--method, or --mode for a generator), with eval's setting for it.
        let config = EfficientNetConfig.lite0
        let tagger = try AnnotationMethod(arguments, workspace: workspace, samples: samples, featureWidth: config.featureSize)
        let catalog = try Catalog(workspace: workspace)
        let modelKey = tagger.key
        let ranked = max(top * 2, 20)

        // The images: every JPEG and PNG under the folder (by content, not name).
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TagganError.file(folder.path, "not a folder")
        }
        let reader = DatasetReader(root: folder, layout: .xmp)
        var problems: [SourceProblem] = []
        let files = reader.files(under: reader.root, problems: &problems).filter { ["jpg", "jpeg", "jpe", "png"].contains($0.pathExtension.lowercased()) }
        let skipped = SkipLog()
        for problem in problems { skipped.skip(problem.path, reason: problem.reason, detail: problem.detail) }
        // Content ids; files annotated before by this model with unchanged bytes are not
        // decoded again (unless --force): their stored tags are written out as they are.
        var ids: [Int?] = []
        for url in files {
            if let bytes = FileManager.default.contents(atPath: url.path) {
                ids.append(Catalog.imageID(hash: SHA256.hex(bytes)))
            } else {
                ids.append(nil)
                skipped.skip(url.path, reason: "unreadable", detail: "cannot read the file")
            }
        }
        var stored = arguments.flag("--force") ? [:] : try catalog.annotations(model: modelKey)
        let todo = files.indices.filter { ids[$0] != nil && stored[ids[$0]!] == nil }
        let reused = files.indices.filter { ids[$0] != nil }.count - todo.count

        let net = try todo.isEmpty ? nil : FeaturesCommand.loadNetwork(config, weights: arguments.value("--weights"))
        let preprocessor = ImagePreprocessor(config: config)
        let progress = Progress("annotate", total: todo.count, unit: "images")
        let batch = 32
        for first in stride(from: 0, to: todo.count, by: batch) {
            let chunk = Array(todo[first ..< min(first + batch, todo.count)])
            let crops = FeaturesCommand.decodeCrops(chunk.map { files[$0] }, preprocessor: preprocessor, skipped: skipped)
            let good = crops.indices.filter { crops[$0] != nil }
            if let net, !good.isEmpty {
                let features = net.embed(preprocessor.normalise(good.map { crops[$0]! }))
                let votes = tagger.tag(features, top: ranked)
                var made: [(id: Int, annotation: Catalog.StoredAnnotation)] = []
                for (row, index) in good.enumerated() {
                    let annotation = Catalog.StoredAnnotation(tags: votes[row].tags, confidences: votes[row].confidences)
                    made.append((ids[chunk[index]]!, annotation))
                    stored[ids[chunk[index]]!] = annotation
                }
                // Committed per batch, so a killed run resumes after the last whole batch.
                try catalog.storeAnnotations(made, model: modelKey)
            }
            progress.advance(by: chunk.count)
        }
        progress.finish()

        // Outputs, in file order: this run's annotations and the stored ones alike.
        var annotations: [Annotation] = []
        var sidecars = 0
        for (index, url) in files.enumerated() {
            guard let id = ids[index], let found = stored[id] else { continue }
            let annotation = Annotation(path: reader.relative(url, to: reader.root), tags: found.tags, confidences: found.confidences)
                .filtered(top: top, threshold: threshold, excluded: excluded, included: included)
            annotations.append(annotation)
            guard writeSidecars else { continue }
            // Merging is idempotent: a sidecar that already holds these tags is left alone.
            // Which sidecar, and how links are treated: SidecarFile.
            let sidecar = SidecarFile.location(of: url)
            do {
                let target = try SidecarFile.writeTarget(for: sidecar, inside: reader.root)
                let existing = FileManager.default.contents(atPath: target.path)
                let merged = try XMPWriter.merge(existing: existing, tags: annotation.tags)
                if merged != existing { try SidecarFile.write(merged, for: sidecar, inside: reader.root); sidecars += 1 }
            } catch let refusal as SidecarFile.Refusal {
                skipped.skip(sidecar.path, reason: refusal.reason, detail: refusal.detail)
            } catch {
                skipped.skip(sidecar.path, reason: "sidecar not merged", detail: "\(error)")
            }
        }
        try AnnotationWriter.write(annotations, jsonLines: jsonl, csv: csv)
        if arguments.json {
            var object: [String: Any] = ["command": "annotate", "folder": folder.path, "method": tagger.method.rawValue,
                                         "setting": tagger.setting.summary, "chosen_by": tagger.chosenBy, "calibrated": tagger.calibrated,
                                         "images": files.count, "annotated": annotations.count, "reused": reused,
                                         "sidecars_written": sidecars, "skipped": skipped.json, "seconds": progress.elapsedSeconds]
            if let jsonl { object["jsonl"] = jsonl.path }
            if let csv { object["csv"] = csv.path }
            JSONSummary.print(object)
        } else {
            print("annotate: \(annotations.count) of \(files.count) images tagged with \(tagger.description); "
                  + "\(reused) unchanged since an earlier run (--force redoes them); "
                  + "\(sidecars) sidecars written; \(skipped.summary)")
            for output in [jsonl, csv].compactMap({ $0 }) { print("wrote \(output.path)") }
        }
        // A batch that skipped some images succeeds; one in which every image failed does not.
        if annotations.isEmpty && !files.isEmpty {
            Log.error("taggan annotate: none of the \(files.count) images under \(folder.path) could be tagged (\(skipped.summary))")
            return 1
        }
        return 0
    }

    /// The candidate words' vectors, as annotate's model key records them: retrained
    /// vectors under the same file name change the key, so stale tags are not reused.
    static func vectorsDigest(_ matrix: Tensor) -> String {
        let bytes = matrix.storage.withUnsafeBufferPointer { Data(buffer: $0) }
        return String(SHA256.hex(bytes).prefix(16))
    }

    /// A comma-separated list, or @FILE with one word per line.
    static func wordList(_ text: String?) throws -> [String] {
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
