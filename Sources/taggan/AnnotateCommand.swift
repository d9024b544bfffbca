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

        // The model: W/models/<mode>.
        let mode = arguments.value("--mode")
            ?? (FileManager.default.fileExists(atPath: workspace.appendingPathComponent("models/icgan/\(CheckpointRecord.fileName)").path) ? "icgan" : "cgan")
        let modelFolder = workspace.appendingPathComponent("models/\(mode)")
        guard FileManager.default.fileExists(atPath: modelFolder.appendingPathComponent(CheckpointRecord.fileName).path) else {
            throw TagganError.file(modelFolder.path, "no trained model (run taggan train --workspace \(workspace.path) --mode \(mode))")
        }
        let record = try CheckpointRecord.read(folder: modelFolder)
        let sampler = try TagSampler(modelFolder: modelFolder)
        guard let vectorsPath = arguments.value("--vectors") ?? record.data.source["vectors"] else {
            throw TagganError.usage("taggan annotate: give --vectors: the model does not record its vectors file")
        }
        // Candidate words: the tags of the workspace's training split that have vectors.
        let vectors = try Word2VecFile.read(vectorsPath)
        let trainTags = Set(try Catalog(workspace: workspace).images(split: .train).flatMap(\.tags)).sorted()
        let (kept, matrix) = candidateWords(trainTags, vectors: vectors)
        let candidates = kept.map { trainTags[$0] }
        guard !candidates.isEmpty else { throw TagganError.file(vectorsPath, "no training tag has a vector") }
        let voter = TagVoter(candidateVectors: matrix)

        // The images: every JPEG and PNG under the folder (by content, not name).
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TagganError.file(folder.path, "not a folder")
        }
        let reader = DatasetReader(root: folder, layout: .xmp)
        let files = reader.files(under: reader.root).filter { ["jpg", "jpeg", "jpe", "png"].contains($0.pathExtension.lowercased()) }
        let config = EfficientNetConfig.lite0
        let net = try FeaturesCommand.loadNetwork(config, weights: arguments.value("--weights"))
        let preprocessor = ImagePreprocessor(config: config)
        let skipped = SkipLog()
        let progress = Progress("annotate", total: files.count, unit: "images")
        var annotations: [Annotation] = []
        var sidecars = 0
        let batch = 32
        for first in stride(from: 0, to: files.count, by: batch) {
            let urls = Array(files[first ..< min(first + batch, files.count)])
            let crops = FeaturesCommand.decodeCrops(urls, preprocessor: preprocessor, skipped: skipped)
            let good = crops.indices.filter { crops[$0] != nil }
            if !good.isEmpty {
                let features = net.embed(preprocessor.normalise(good.map { crops[$0]! }))
                let generated = sampler.sample(features: features, samplesPerImage: samples, seed: 2014)
                let allVotes = voter.vote(samples: generated, samplesPerImage: samples, top: max(top * 2, 20))
                for (row, index) in good.enumerated() {
                    let votes = allVotes[row]
                    let path = reader.relative(urls[index], to: reader.root)
                    let annotation = Annotation(path: path, tags: votes.tags.map { candidates[$0] }, confidences: votes.scores.map(Double.init))
                        .filtered(top: top, threshold: threshold, excluded: excluded, included: included)
                    annotations.append(annotation)
                    if writeSidecars {
                        let sidecar = urls[index].appendingPathExtension("xmp")
                        let existing = FileManager.default.contents(atPath: sidecar.path)
                        do {
                            let merged = try XMPWriter.merge(existing: existing, tags: annotation.tags)
                            if merged != existing { try AtomicFile.write(merged, to: sidecar); sidecars += 1 }
                        } catch {
                            skipped.skip(sidecar.path, reason: "sidecar not merged", detail: "\(error)")
                        }
                    }
                }
            }
            progress.advance(by: urls.count)
        }
        progress.finish()
        try AnnotationWriter.write(annotations, jsonLines: jsonl, csv: csv)
        if arguments.json {
            var object: [String: Any] = ["command": "annotate", "folder": folder.path, "model": modelFolder.path, "images": files.count,
                                         "annotated": annotations.count, "sidecars_written": sidecars, "skipped": skipped.json,
                                         "seconds": progress.elapsedSeconds]
            if let jsonl { object["jsonl"] = jsonl.path }
            if let csv { object["csv"] = csv.path }
            JSONSummary.print(object)
        } else {
            print("annotate: \(annotations.count) of \(files.count) images tagged with \(mode) (\(record.step) steps); "
                  + "\(sidecars) sidecars written; \(skipped.summary)")
            for output in [jsonl, csv].compactMap({ $0 }) { print("wrote \(output.path)") }
        }
        return 0
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
