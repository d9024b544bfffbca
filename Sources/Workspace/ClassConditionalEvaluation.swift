import Eval
import Foundation
import Ingest
import TagGAN
import TagganCore

/// The paper's section 4.1 scored: a Parzen window on each model's samples, a softmax
/// classifier's agreement with the CGAN's classes, the pixel spread, sample grids, and
/// the report beside Table 1.
public enum ClassConditionalEvaluation {
    public struct Result: Sendable {
        public let rows: [ClassConditionalReport.Row]
        public let classifierAccuracy: Double
        public let seconds: Double
    }

    /// Scores each trained model of `folder` (or those `requested`) and writes the report.
    public static func evaluate(_ splits: LabelledImageSplits, models requested: [ClassConditionalModel]?, folder: URL, report: URL,
                                samples: Int, validation: Int, seed: UInt64) throws -> Result {
        let models = requested ?? ClassConditionalModel.allCases.filter {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent($0.rawValue)
                .appendingPathComponent(ClassConditionalCheckpoint.fileName).path)
        }
        guard !models.isEmpty else {
            throw TagganError.file(folder.path, "no trained model here (run `taggan classcond train` first)")
        }
        let train = splits.train, test = splits.test, classes = train.classCount
        let validationImages = splits.validation.subset(0 ..< min(validation, splits.validation.count))
        let start = DispatchTime.now().uptimeNanoseconds
        let classifier = SoftmaxRegression(train: train.pixels, labels: train.labels, classes: classes)
        let classifierAccuracy = classifier.accuracy(test.pixels, labels: test.labels)
        Log.info(String(format: "classcond eval: softmax classifier %.1f%% on the real test images", 100 * classifierAccuracy))

        var rows: [ClassConditionalReport.Row] = [], grids: [ClassConditionalReport.Grid] = []
        var losses: [String: [EvaluationReport.LossPoint]] = [:], bandwidths: [String: ParzenWindow.BandwidthSearch] = [:]
        for model in models {
            let modelFolder = folder.appendingPathComponent(model.rawValue)
            let record = try ClassConditionalCheckpoint.read(folder: modelFolder)
            var sampler = try ImageSampler(folder: modelFolder)
            // Equal numbers per class (the unconditional model ignores them).
            let wanted = (0 ..< samples).map { $0 % classes }
            let generated = sampler.generate(classes: wanted, seed: seed)
            let window = ParzenWindow(samples: generated)
            let search = window.chooseBandwidth(validation: validationImages.pixels)
            let logs = window.logDensities(test.pixels, sigmas: [search.best])[0]
            let (mean, error) = ParzenWindow.meanAndStandardError(logs)
            var agreement: Double? = nil
            if model == .cgan { agreement = classifier.accuracy(generated, labels: wanted) }
            Log.info(String(format: "classcond eval: %@ log-likelihood %.1f ± %.1f (sigma %.3f)%@", model.rawValue, mean, error,
                            search.best, agreement.map { String(format: ", classifier agreement %.1f%%", 100 * $0) } ?? ""))
            let note = "\(record.configuration.optimizer.rawValue), \(record.step) steps of batch \(record.configuration.batchSize); "
                + "Parzen window on \(samples) samples" + (model == .cgan ? " (\(samples / classes) per class)" : "")
                + ", sigma chosen on \(validationImages.count) validation images"
            let spread = pixelSpread(generated, groups: model == .cgan ? wanted : nil)
            let realSpread = pixelSpread(test.pixels, groups: model == .cgan ? test.labels : nil)
            rows.append(ClassConditionalReport.Row(model: model.rawValue.uppercased(), logLikelihood: mean, standardError: error, sigma: search.best,
                              validationLogLikelihood: search.bestValidationMean, samples: samples, testImages: test.count,
                              steps: record.step, classifierAgreement: agreement, spread: spread, realSpread: realSpread,
                              note: note, classes: classes, classifierAccuracy: classifierAccuracy))
            for problem in rows.last!.problems ?? [] { Log.warning("classcond eval: \(model.rawValue) failed: \(problem)") }
            bandwidths[model.rawValue] = search
            losses[model.rawValue] = record.history.map {
                EvaluationReport.LossPoint(step: $0.step, discriminator: $0.discriminatorLoss, generator: $0.generatorLoss)
            }
            grids.append(try grid(model: model, sampler: &sampler, images: train, seed: seed &+ 1))
        }
        let notes = [
            "Not MNIST: \(splits.name) is a different data set, so these log-likelihoods are not comparable with the paper's Table 1 "
                + "(CGAN 132 ± 1.8, GAN 225 ± 2 on MNIST); they compare the models here with each other.",
            "Parzen window: Gaussian kernels on the generated images, log-likelihood in nats per test image (higher is better), "
                + "sigma chosen on a log grid over [0.02, 1.5] then refined, by mean log-likelihood of the validation images "
                + "(Goodfellow et al. 2014). Pixels are scaled to [0, 1].",
            "Classifier agreement: the share of the CGAN's samples that the softmax classifier labels as the class they were "
                + "generated for; compare with its accuracy on real test images.",
            "Spread: the mean per-pixel standard deviation of the samples (for the CGAN within each class), with the real "
                + "test images' in brackets; near 0 means G ignores its noise (mode collapse).",
        ]
        let result = ClassConditionalReport(dataset: splits.name, datasetDescription: splits.description, rows: rows,
                                            classifierTestAccuracy: classifierAccuracy, grids: grids, losses: losses,
                                            bandwidths: bandwidths, notes: notes)
        try result.write(to: report)
        return Result(rows: rows, classifierAccuracy: classifierAccuracy,
                      seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }

    /// The mean over pixels of the standard deviation across rows, within each group
    /// (averaged over groups) when `groups` is given: 0 for a generator that ignores z.
    static func pixelSpread(_ images: Tensor, groups: [Int]?) -> Double {
        let d = images.columns
        let labels = groups ?? [Int](repeating: 0, count: images.rows)
        var spreads: [Double] = []
        for group in Set(labels).sorted() {
            let rows = labels.indices.filter { labels[$0] == group }
            guard rows.count > 1 else { continue }
            var sum = [Double](repeating: 0, count: d), squares = [Double](repeating: 0, count: d)
            for r in rows { for c in 0 ..< d { let v = Double(images[r, c]); sum[c] += v; squares[c] += v * v } }
            let n = Double(rows.count)
            spreads.append((0 ..< d).reduce(0.0) { $0 + max(squares[$1] / n - (sum[$1] / n) * (sum[$1] / n), 0).squareRoot() } / Double(d))
        }
        return spreads.isEmpty ? 0 : spreads.reduce(0, +) / Double(spreads.count)
    }

    /// Ten samples per class as PNG strips (grey, 2 px gaps); the unconditional model's
    /// ten rows are unlabelled draws.
    static func grid(model: ClassConditionalModel, sampler: inout ImageSampler, images: LabelledImages,
                     seed: UInt64) throws -> ClassConditionalReport.Grid {
        let perRow = 10, w = images.width, h = images.height, classes = images.classCount
        let generated = sampler.generate(classes: (0 ..< classes * perRow).map { $0 / perRow }, seed: seed)
        var rows: [(label: String, image: String)] = []
        for c in 0 ..< classes {
            let width = perRow * (w + 2) - 2
            var strip = RGBImage(width: width, height: h, filledWith: 255)
            for k in 0 ..< perRow {
                let row = c * perRow + k
                for y in 0 ..< h {
                    for x in 0 ..< w {
                        // Dark strokes on white, as the data sets are usually shown.
                        let v = UInt8((255 * (1 - min(max(generated[row, y * w + x], 0), 1))).rounded())
                        let offset = (y * width + k * (w + 2) + x) * 3
                        strip.pixels[offset] = v
                        strip.pixels[offset + 1] = v
                        strip.pixels[offset + 2] = v
                    }
                }
            }
            let label = model == .cgan ? images.classNames[c] : "draws \(c * perRow + 1)-\((c + 1) * perRow)"
            rows.append((label, "data:image/png;base64," + (try ImageEncoder.png(strip)).base64EncodedString()))
        }
        return .init(model: model.rawValue.uppercased(), rows: rows)
    }
}

/// `taggan classcond train`'s work for one model: a new or resumed trainer, the loop
/// with a progress line, checkpoints in its folder.
public struct ClassConditionalTrainingJob {
    public let model: ClassConditionalModel
    public let folder: URL
    public var resume = false
    /// Total steps (nil: the configuration's default, or the checkpoint's).
    public var steps: Int?
    public var checkpointEvery = 1000

    public init(model: ClassConditionalModel, folder: URL) { (self.model, self.folder) = (model, folder) }

    public struct Result: Sendable {
        public let firstStep: Int, step: Int
        public let seconds: Double
        public let recent: RecentLosses
    }

    /// `configure` sets a new run's options; a resumed run keeps its checkpoint's. The
    /// model's folder is held for the run (`RunLock`): a second run on it is refused.
    public func run(data: LabelledImageData, splits: LabelledImageSplits,
                    configure: (inout ClassConditionalConfiguration) -> Void) throws -> Result {
        try RunLock.holding(folder: folder) { try train(data: data, splits: splits, configure: configure) }
    }

    func train(data: LabelledImageData, splits: LabelledImageSplits,
               configure: (inout ClassConditionalConfiguration) -> Void) throws -> Result {
        let trainer: ClassConditionalTrainer
        if resume {
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(ClassConditionalCheckpoint.fileName).path) else {
                throw TagganError.file(folder.path, "no checkpoint to resume (run without --resume to start)")
            }
            trainer = try ClassConditionalTrainer(resumingFrom: folder, data: data, steps: steps)
            Log.info("classcond train: resuming \(model.rawValue) at step \(trainer.step) of \(trainer.configuration.steps)")
        } else {
            var configuration = ClassConditionalConfiguration(model: model, imageSize: data.imageSize, classes: data.classes)
            configure(&configuration)
            if let steps { configuration.steps = steps }
            trainer = try ClassConditionalTrainer(data: data, configuration: configuration)
        }
        let first = trainer.step
        let progress = ProgressLine("classcond \(model.rawValue)", total: max(trainer.configuration.steps - first, 0), unit: "steps")
        var recent = RecentLosses()
        let start = DispatchTime.now().uptimeNanoseconds
        try trainer.train(checkpointEvery: checkpointEvery, folder: folder,
                          source: ["data": splits.name, "description": splits.description]) { trainer, statistics in
            recent.add(statistics)
            progress.note(String(format: "D %.3f G %.3f D(real) %.2f D(fake) %.2f lr %.4g", recent.d, recent.g,
                                 recent.real, recent.fake, trainer.configuration.learningRate(atStep: trainer.step)))
            progress.advance()
        }
        progress.finish()
        return Result(firstStep: first, step: trainer.step, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9,
                      recent: recent)
    }
}
