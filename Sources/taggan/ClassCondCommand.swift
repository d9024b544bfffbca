import Eval
import Foundation
import Ingest
import TagGAN
import TagganCore

/// `taggan classcond train|eval`: the paper's class-conditional image experiment
/// (Mirza & Osindero 2014, section 4.1) beside an unconditional GAN, on Fashion-MNIST or
/// scikit-learn's 8x8 digits. Models go to W/classcond/<data>/<model>/, the report to
/// W/classcond/<data>/report/ unless --report says otherwise.
enum ClassCondCommand {
    static let spec = CommandSpec(
        words: ["classcond"],
        summary: "Class-conditional image GAN (the paper's section 4.1) and its Parzen-window log-likelihood.",
        positionals: "train|eval", minimumPositionals: 1, maximumPositionals: 1,
        options: [
            OptionSpec(name: "--workspace", value: "W", help: "workspace folder (models in W/classcond/<data>/<model>/)", required: true),
            OptionSpec(name: "--data", value: "D", help: "fashion-mnist (default) or digits"),
            OptionSpec(name: "--data-dir", value: "DIR", help: "the data set's folder (default $TAGGAN_CORPORA/<data>)"),
            OptionSpec(name: "--model", value: "M", help: "cgan, gan or both (default both)"),
            OptionSpec(name: "--steps", value: "N", help: "training steps per model (default \(ClassConditionalConfiguration.defaultSteps))"),
            OptionSpec(name: "--long", help: "train the longer schedule (\(longSteps) steps per model)"),
            OptionSpec(name: "--resume", help: "continue each model from its last checkpoint"),
            OptionSpec(name: "--optimizer", value: "O", help: "sgd (the paper's schedule, default) or adam"),
            OptionSpec(name: "--learning-rate", value: "R", help: "initial rate (default 0.1 for sgd, 0.0002 for adam)"),
            OptionSpec(name: "--batch-size", value: "N", help: "images per step (default 100)"),
            OptionSpec(name: "--checkpoint-every", value: "N", help: "steps between checkpoints (default 1000)"),
            OptionSpec(name: "--seed", value: "N", help: "random seed (default 1)"),
            OptionSpec(name: "--threads", value: "N", help: "worker and BLAS threads (default: all cores)"),
            OptionSpec(name: "--samples", value: "N", help: "eval: generated images for the Parzen window (default 10000)"),
            OptionSpec(name: "--validation", value: "N", help: "eval: validation images that choose sigma (default 1000)"),
            OptionSpec(name: "--report", value: "DIR", help: "eval: report folder (default W/classcond/<data>/report)"),
        ],
        discussion: """
            train: the paper's networks (G: z 100 uniform -> 200 ReLU, y one-hot -> 1000 ReLU, joint
            1200 ReLU -> sigmoid pixels; D: maxout 240x5 on x, 50x5 on y, joint maxout 240x4 ->
            sigmoid, dropout 0.5) trained with SGD, batch 100, rate 0.1 divided by 1.00004 per step
            (floor 1e-6), momentum 0.5 rising to 0.7; `gan` is the same without y. Checkpoints every
            --checkpoint-every steps and at the end (safetensors + checkpoint.json); --resume
            continues exactly. The default \(ClassConditionalConfiguration.defaultSteps) steps (20 epochs of Fashion-MNIST's 50,000
            training images) take about 10 minutes per model on 2 cores; --long trains \(longSteps).
            eval: for each trained model, a Gaussian Parzen window on --samples generated images
            (cgan: an equal number per class), sigma chosen on --validation images of the validation
            split, the test split's mean log-likelihood +- standard error (nats); a softmax classifier
            trained on the real training images labels the cgan's samples; report.md, report.html,
            report.json beside the paper's Table 1. Data: fashion-mnist (corpora/fetch-fashion-mnist.sh)
            or digits (corpora/fetch-digits.sh, 8x8). Neither is MNIST: the paper's numbers are not
            comparable with these rows.
            """,
        run: run)

    static let longSteps = 50_000

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let action = arguments.positionals[0]
        guard ["train", "eval"].contains(action) else {
            throw TagganError.usage("taggan classcond: unknown action '\(action)' (one of: train, eval)")
        }
        let workspace = URL(fileURLWithPath: try arguments.required("--workspace"))
        let dataName = arguments.value("--data") ?? "fashion-mnist"
        guard LabelledImageDatasets.names.contains(dataName) else {
            throw TagganError.usage("taggan classcond: --data must be one of \(LabelledImageDatasets.names.joined(separator: ", ")), got '\(dataName)'")
        }
        let modelName = arguments.value("--model") ?? "both"
        let models: [ClassConditionalModel]
        switch modelName {
        case "both": models = [.cgan, .gan]
        default:
            guard let model = ClassConditionalModel(rawValue: modelName) else {
                throw TagganError.usage("taggan classcond: --model must be cgan, gan or both, got '\(modelName)'")
            }
            models = [model]
        }
        let threads = try arguments.integer("--threads", default: Parallel.defaultThreads)
        guard threads > 0 else { throw TagganError.usage("taggan classcond: --threads must be positive") }
        let dataDirectory = arguments.value("--data-dir").map { URL(fileURLWithPath: $0) }
            ?? corporaFolder().appendingPathComponent(dataName)
        let folder = workspace.appendingPathComponent("classcond").appendingPathComponent(dataName)
        if action == "train" {
            let options = try TrainOptions(arguments)
            setenv("TAGGAN_THREADS", String(threads), 1)
            do { try BLAS.setThreads(threads) } catch { throw TagganError.failure("\(error)") }
            let splits = try LabelledImageDatasets.load(dataName, folder: dataDirectory)
            return try train(splits, models: models, folder: folder, options: options, threads: threads, json: arguments.json)
        }
        let samples = try arguments.integer("--samples", default: 10_000)
        let validation = try arguments.integer("--validation", default: 1_000)
        guard samples > 0, validation > 0 else {
            throw TagganError.usage("taggan classcond: --samples and --validation must be positive")
        }
        let seed = try arguments.integer("--seed", default: 1)
        setenv("TAGGAN_THREADS", String(threads), 1)
        do { try BLAS.setThreads(threads) } catch { throw TagganError.failure("\(error)") }
        let splits = try LabelledImageDatasets.load(dataName, folder: dataDirectory)
        let report = arguments.value("--report").map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent("report")
        return try evaluate(splits, models: modelName == "both" ? nil : models, folder: folder, report: report,
                            samples: samples, validation: validation, seed: UInt64(max(seed, 0)), json: arguments.json)
    }

    /// $TAGGAN_CORPORA, else corpora/cache under the current folder.
    static func corporaFolder() -> URL {
        if let path = ProcessInfo.processInfo.environment["TAGGAN_CORPORA"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: "corpora/cache")
    }

    struct TrainOptions {
        var steps: Int?
        var resume: Bool
        var optimizer: OptimizerKind
        var learningRate: Double
        var batchSize: Int
        var checkpointEvery: Int
        var seed: UInt64

        init(_ arguments: ParsedArguments) throws {
            let name = arguments.value("--optimizer") ?? "sgd"
            guard let optimizer = OptimizerKind(rawValue: name) else {
                throw TagganError.usage("taggan classcond: --optimizer must be sgd or adam, got '\(name)'")
            }
            self.optimizer = optimizer
            if arguments.flag("--long"), arguments.value("--steps") != nil {
                throw TagganError.usage("taggan classcond: give --steps or --long, not both")
            }
            steps = arguments.flag("--long") ? ClassCondCommand.longSteps
                : try arguments.value("--steps").map { _ in try arguments.integer("--steps", default: 0) }
            if let steps, steps <= 0 { throw TagganError.usage("taggan classcond: --steps must be positive") }
            resume = arguments.flag("--resume")
            learningRate = try arguments.number("--learning-rate", default: optimizer == .sgd ? 0.1 : 2e-4)
            batchSize = try arguments.integer("--batch-size", default: 100)
            checkpointEvery = try arguments.integer("--checkpoint-every", default: 1000)
            let seed = try arguments.integer("--seed", default: 1)
            guard learningRate > 0, batchSize > 0, checkpointEvery >= 0, seed >= 0 else {
                throw TagganError.usage("taggan classcond: --learning-rate and --batch-size must be positive, "
                                        + "--checkpoint-every and --seed >= 0")
            }
            self.seed = UInt64(seed)
        }
    }

    static func trainingData(_ images: LabelledImages) throws -> LabelledImageData {
        try LabelledImageData(images: images.pixels, labels: images.labels, classes: images.classCount)
    }

    static func train(_ splits: LabelledImageSplits, models: [ClassConditionalModel], folder: URL,
                      options: TrainOptions, threads: Int, json: Bool) throws -> Int32 {
        let data = try trainingData(splits.train)
        Log.info("classcond train: \(splits.description)")
        var summaries: [[String: Any]] = []
        for model in models {
            let modelFolder = folder.appendingPathComponent(model.rawValue)
            let trainer: ClassConditionalTrainer
            if options.resume {
                guard FileManager.default.fileExists(atPath: modelFolder.appendingPathComponent(ClassConditionalCheckpoint.fileName).path) else {
                    throw TagganError.file(modelFolder.path, "no checkpoint to resume (run without --resume to start)")
                }
                trainer = try ClassConditionalTrainer(resumingFrom: modelFolder, data: data, steps: options.steps)
                Log.info("classcond train: resuming \(model.rawValue) at step \(trainer.step) of \(trainer.configuration.steps)")
            } else {
                var configuration = ClassConditionalConfiguration(model: model, imageSize: data.imageSize, classes: data.classes)
                configuration.optimizer = options.optimizer
                configuration.learningRate = options.learningRate
                configuration.batchSize = options.batchSize
                configuration.seed = options.seed
                if let steps = options.steps { configuration.steps = steps }
                trainer = try ClassConditionalTrainer(data: data, configuration: configuration)
            }
            let first = trainer.step, total = trainer.configuration.steps
            let progress = Progress("classcond \(model.rawValue)", total: max(total - first, 0), unit: "steps")
            var recent = RecentLosses()
            let start = DispatchTime.now().uptimeNanoseconds
            try trainer.train(checkpointEvery: options.checkpointEvery, folder: modelFolder,
                              source: ["data": splits.name, "description": splits.description]) { trainer, statistics in
                recent.add(statistics)
                progress.note(String(format: "D %.3f G %.3f D(real) %.2f D(fake) %.2f lr %.4g", recent.d, recent.g,
                                     recent.real, recent.fake, trainer.configuration.learningRate(atStep: trainer.step)))
                progress.advance()
            }
            progress.finish()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            summaries.append(["model": model.rawValue, "folder": modelFolder.path, "first_step": first, "steps": trainer.step,
                              "seconds": seconds, "discriminator_loss": Double(recent.d), "generator_loss": Double(recent.g),
                              "d_real": Double(recent.real), "d_fake": Double(recent.fake)])
            if !json {
                print(String(format: "trained %@ on %@ to step %d in %.1f s (%.1f steps/s); model in %@", model.rawValue,
                             splits.name, trainer.step, seconds, Double(trainer.step - first) / max(seconds, 1e-9), modelFolder.path))
            }
        }
        if json {
            JSONSummary.print(["command": "classcond train", "data": splits.name, "images": data.count,
                               "threads": threads, "models": summaries])
        }
        return 0
    }

    static func evaluate(_ splits: LabelledImageSplits, models requested: [ClassConditionalModel]?, folder: URL, report: URL,
                         samples: Int, validation: Int, seed: UInt64, json: Bool) throws -> Int32 {
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
                              note: note))
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
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        if json {
            JSONSummary.print([
                "command": "classcond eval", "data": splits.name, "report": report.path, "seconds": seconds,
                "classifier_test_accuracy": classifierAccuracy,
                "models": rows.map { row -> [String: Any] in
                    var entry: [String: Any] = ["model": row.model, "log_likelihood": row.logLikelihood,
                                                "standard_error": row.standardError, "sigma": row.sigma,
                                                "samples": row.samples, "test_images": row.testImages, "steps": row.steps]
                    if let a = row.classifierAgreement { entry["classifier_agreement"] = a }
                    return entry
                },
            ])
        } else {
            for row in rows {
                print(String(format: "%@ on %@: Parzen log-likelihood %.1f ± %.1f nats (sigma %.3f)%@", row.model, splits.name,
                             row.logLikelihood, row.standardError, row.sigma,
                             row.classifierAgreement.map { String(format: "; classifier agreement %.1f%%", 100 * $0) } ?? ""))
            }
            print("report: \(report.appendingPathComponent("report.html").path)")
        }
        return 0
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
