import ArgumentParsing
import Eval
import Foundation
import Ingest
import TagGAN
import TagganCore
import Workspace

/// `taggan classcond train|eval`: the paper's class-conditional image experiment
/// (Mirza & Osindero 2014, section 4.1) beside an unconditional GAN, on Fashion-MNIST or
/// scikit-learn's 8x8 digits. Models go to W/classcond/<data>/<model>/, the report to
/// W/classcond/<data>/report/ unless --report says otherwise.
struct ClassCondCommand: TagganCommand {
    static let configuration = CommandConfiguration(
        words: ["classcond"],
        summary: "Class-conditional image GAN (the paper's section 4.1) and its Parzen-window log-likelihood.",
        discussion: """
            train: the paper's networks (G: z 100 uniform -> 200 ReLU, y one-hot -> 1000 ReLU, joint
            1200 ReLU -> sigmoid pixels; D: maxout 240x5 on x, 50x5 on y, joint maxout 240x4 ->
            sigmoid, dropout 0.5) trained with SGD, batch 100, rate 0.1 divided by 1.00004 per step
            (floor 1e-6), momentum 0.5 rising to 0.7; `gan` is the same without y. Checkpoints every
            --checkpoint-every steps and at the end (safetensors + checkpoint.json); --resume
            continues exactly. The default \(ClassConditionalConfiguration.defaultSteps) steps (20 epochs of Fashion-MNIST's 50,000
            training images) took 6.1 minutes for the CGAN and 4.2 for the GAN on 2 cores of an Intel
            Xeon (AVX-512); --long trains \(longSteps). On Fashion-MNIST and the digits the paper's settings
            collapse here (the report says so); --stable trains with the settings that condition.
            eval: for each trained model, a Gaussian Parzen window on --samples generated images
            (cgan: an equal number per class), sigma chosen on --validation images of the validation
            split, the test split's mean log-likelihood +- standard error (nats); a softmax classifier
            trained on the real training images labels the cgan's samples; report.md, report.html,
            report.json beside the paper's Table 1. Data: fashion-mnist (corpora/fetch-fashion-mnist.sh)
            or digits (corpora/fetch-digits.sh, 8x8). Neither is MNIST: the paper's numbers are not
            comparable with these rows.
            """)
    static let longSteps = 50_000

    /// Where a new run's weights start: `pylearn2` is Goodfellow et al.'s MNIST
    /// configuration (G +-0.05, D +-0.005), `fan-in` is `Linear`'s +-1/sqrt(inputs).
    enum InitialWeights: String, ArgumentChoice, CaseIterable {
        case pylearn2, fanIn = "fan-in"
    }

    enum Models: String, ArgumentChoice, CaseIterable {
        case cgan, gan, both
        var models: [ClassConditionalModel] { self == .both ? [.cgan, .gan] : [ClassConditionalModel(rawValue: rawValue)!] }
    }

    @Argument(value: "train|eval") var action: String
    @Option(value: "W", help: "workspace folder (models in W/classcond/<data>/<model>/)") var workspace: String
    @Option(value: "D", help: "the data set", check: Check("must be one of \(LabelledImageDatasets.names.joined(separator: ", "))") {
        LabelledImageDatasets.names.contains($0)
    }) var data = "fashion-mnist"
    @Option(value: "DIR", help: "the data set's folder (default $TAGGAN_CORPORA/<data>)") var dataDir: String?
    @Option(value: "M", help: "which models") var model = Models.both
    @Option(help: "training steps per model (default \(ClassConditionalConfiguration.defaultSteps))", check: .within(1...100_000_000)) var steps: Int?
    @Flag(help: "train the longer schedule (\(longSteps) steps per model)") var long: Bool
    @Flag(help: "continue each model from its last checkpoint") var resume: Bool
    @Option(value: "O", help: "the optimiser (sgd: the paper's schedule)") var optimizer = OptimizerKind.sgd
    @Option(value: "R", help: "initial rate (default \(Self.sgdRate) for sgd, \(Self.adamRate) for adam)", check: Check("must be in (0, 10]") { $0 > 0 && $0 <= 10 })
    var learningRate: Double?
    static let sgdRate = 0.1, adamRate = 2e-4
    @Option(help: "images per step", check: .within(1...10_000)) var batchSize = 100
    @Option(value: "M", help: "z ~ U[M, 1)^100 (0: the paper's unit hypercube; -1 centres z, the recipe the digits test uses)",
            check: Check("must be in [-1000, 1)") { $0 >= -1000 && $0 < 1 }) var noiseMinimum = 0.0
    @Option(value: "I", help: "initial weights (pylearn2: G +-0.05, D +-0.005; fan-in: +-1/sqrt(inputs))")
    var initialWeights = InitialWeights.pylearn2
    @Flag(help: "train with the settings that condition on these data (z ~ U[-1, 1), fan-in initial weights, Adam at \(Self.stableRate)) instead of the paper's; options given explicitly still win")
    var stable: Bool
    static let stableRate = 5e-4
    @Option(help: "steps between checkpoints", check: .notNegative) var checkpointEvery = 1000
    @Option(help: "random seed", check: .notNegative) var seed = 1
    @Option(help: "worker and BLAS threads (default: all cores)", check: .positive) var threads: Int?
    @Option(help: "eval: generated images for the Parzen window", check: .within(1...1_000_000)) var samples = 10_000
    @Option(help: "eval: validation images that choose sigma", check: .positive) var validation = 1_000
    @Option(value: "DIR", help: "eval: report folder (default W/classcond/<data>/report)") var report: String?
    var common = CommonOptions()

    var totalSteps: Int? { long ? Self.longSteps : steps }

    func validate() throws {
        guard ["train", "eval"].contains(action) else { throw usage("unknown action '\(action)' (one of: train, eval)") }
        if long && steps != nil { throw usage("give --steps or --long, not both") }
    }

    func run() throws -> Int32 {
        let threads = self.threads ?? Parallel.defaultThreads
        let dataDirectory = dataDir.map { URL(fileURLWithPath: $0) } ?? corporaCache(containing: data).appendingPathComponent(data)
        let folder = URL(fileURLWithPath: workspace).appendingPathComponent("classcond").appendingPathComponent(data)
        setenv("TAGGAN_THREADS", String(threads), 1)
        try BLAS.setThreads(threads)
        let splits = try LabelledImageDatasets.load(data, folder: dataDirectory)
        if action == "train" { return try train(splits, models: model.models, folder: folder, threads: threads) }
        let reportURL = report.map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent("report")
        let result = try ClassConditionalEvaluation.evaluate(splits, models: model == .both ? nil : model.models, folder: folder,
                                                             report: reportURL, samples: samples, validation: validation, seed: UInt64(seed))
        if common.json {
            JSONSummary.print([
                "command": "classcond eval", "data": splits.name, "report": reportURL.path, "seconds": result.seconds,
                "classifier_test_accuracy": result.classifierAccuracy,
                "models": result.rows.map { row -> [String: Any] in
                    var entry: [String: Any] = ["model": row.model, "log_likelihood": row.logLikelihood,
                                                "standard_error": row.standardError, "sigma": row.sigma,
                                                "samples": row.samples, "test_images": row.testImages, "steps": row.steps]
                    if let a = row.classifierAgreement { entry["classifier_agreement"] = a }
                    return entry
                },
            ])
        } else {
            for row in result.rows {
                print(String(format: "%@ on %@: Parzen log-likelihood %.1f ± %.1f nats (sigma %.3f)%@", row.model, splits.name,
                             row.logLikelihood, row.standardError, row.sigma,
                             row.classifierAgreement.map { String(format: "; classifier agreement %.1f%%", 100 * $0) } ?? ""))
            }
            print("report: \(reportURL.appendingPathComponent("report.html").path)")
        }
        return 0
    }

    func train(_ splits: LabelledImageSplits, models: [ClassConditionalModel], folder: URL, threads: Int) throws -> Int32 {
        let data = try LabelledImageData(images: splits.train.pixels, labels: splits.train.labels, classes: splits.train.classCount)
        Log.info("classcond train: \(splits.description)")
        var summaries: [[String: Any]] = []
        for model in models {
            var job = ClassConditionalTrainingJob(model: model, folder: folder.appendingPathComponent(model.rawValue))
            job.resume = resume
            job.steps = totalSteps
            job.checkpointEvery = checkpointEvery
            // --stable changes the defaults only: an option on the command line keeps its value.
            let optimizer = stable && !$optimizer.given ? .adam : self.optimizer
            let noiseMinimum = stable && !$noiseMinimum.given ? -1 : self.noiseMinimum
            let initialWeights = stable && !$initialWeights.given ? .fanIn : self.initialWeights
            let defaultRate = optimizer == .sgd ? Self.sgdRate : stable ? Self.stableRate : Self.adamRate
            let result = try job.run(data: data, splits: splits) { configuration in
                configuration.optimizer = optimizer
                configuration.learningRate = learningRate ?? defaultRate
                configuration.batchSize = batchSize
                configuration.seed = UInt64(seed)
                configuration.sizes.noiseMinimum = Float(noiseMinimum)
                if initialWeights == .fanIn {
                    configuration.sizes.generatorInitialRange = nil
                    configuration.sizes.discriminatorInitialRange = nil
                }
            }
            let recent = result.recent
            summaries.append(["model": model.rawValue, "folder": job.folder.path, "first_step": result.firstStep, "steps": result.step,
                              "seconds": result.seconds, "discriminator_loss": Double(recent.d), "generator_loss": Double(recent.g),
                              "d_real": Double(recent.real), "d_fake": Double(recent.fake)])
            if !common.json {
                print(String(format: "trained %@ on %@ to step %d in %.1f s (%.1f steps/s); model in %@", model.rawValue, splits.name,
                             result.step, result.seconds, Double(result.step - result.firstStep) / max(result.seconds, 1e-9), job.folder.path))
            }
        }
        if common.json {
            JSONSummary.print(["command": "classcond train", "data": splits.name, "images": data.count,
                               "threads": threads, "models": summaries])
        }
        return 0
    }
}
