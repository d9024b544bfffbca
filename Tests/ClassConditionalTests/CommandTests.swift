import Foundation
import Testing
import TestSupport

@Suite("taggan classcond", .serialized)
struct ClassCondCommandTests {
    @Test func usageErrorsNameTheProblem() throws {
        let cases: [([String], String)] = [
            (["classcond"], "taggan classcond: missing train|eval"),
            (["classcond", "fit", "--workspace", "/tmp/w"], "taggan classcond: unknown action 'fit' (one of: train, eval)"),
            (["classcond", "train"], "taggan classcond: missing required option --workspace"),
            (["classcond", "train", "--workspace", "/tmp/w", "--data", "mnist"],
             "taggan classcond: --data must be one of fashion-mnist, digits, got 'mnist'"),
            (["classcond", "train", "--workspace", "/tmp/w", "--model", "dcgan"],
             "taggan classcond: --model must be cgan, gan or both, got 'dcgan'"),
            (["classcond", "train", "--workspace", "/tmp/w", "--steps", "0"], "taggan classcond: --steps must be in [1, 100000000]"),
            (["classcond", "train", "--workspace", "/tmp/w", "--steps", "10", "--long"],
             "taggan classcond: give --steps or --long, not both"),
            (["classcond", "train", "--workspace", "/tmp/w", "--optimizer", "rmsprop"],
             "taggan classcond: --optimizer must be sgd or adam, got 'rmsprop'"),
            (["classcond", "train", "--workspace", "/tmp/w", "--noise-minimum", "1"],
             "taggan classcond: --noise-minimum must be in [-1000, 1)"),
            (["classcond", "train", "--workspace", "/tmp/w", "--initial-weights", "xavier"],
             "taggan classcond: --initial-weights must be pylearn2 or fan-in, got 'xavier'"),
            (["classcond", "eval", "--workspace", "/tmp/w", "--samples", "0"],
             "taggan classcond: --samples must be in [1, 1000000]"),
        ]
        for (arguments, message) in cases {
            let run = try TagganProcess(arguments)
            #expect(run.status == 2, "\(arguments): status \(run.status)")
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
    }

    @Test func missingDataAndMissingModelsAreFileErrors() throws {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-classcond-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let nowhere = workspace.appendingPathComponent("no-data")
        let train = try TagganProcess(["classcond", "train", "--workspace", workspace.path, "--data-dir", nowhere.path])
        #expect(train.status == 1)
        #expect(train.stderr.contains(nowhere.appendingPathComponent("train-images-idx3-ubyte").path + ": cannot read"), "\(train.stderr)")
        let eval = try TagganProcess(["classcond", "eval", "--workspace", workspace.path, "--data", "digits",
                                      "--data-dir", corporaFolder().appendingPathComponent("digits").path])
        #expect(eval.status == 1)
        #expect(eval.stderr.contains("no trained model here (run `taggan classcond train` first)"), "\(eval.stderr)")
    }

    /// A folder where classcond expects a data file, and a file given as the data folder,
    /// are errors saying so (exit 1), not Foundation's "The operation could not be completed".
    @Test func aFolderGivenForADataFileOrAFileForTheDataFolderIsSaidToBeOne() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-classcond-paths-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let workspace = root.appendingPathComponent("W").path
        let digits = root.appendingPathComponent("digits"), fashion = root.appendingPathComponent("fashion")
        try FileManager.default.createDirectory(at: digits.appendingPathComponent("digits.csv"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: fashion.appendingPathComponent("train-images-idx3-ubyte"), withIntermediateDirectories: true)
        let file = root.appendingPathComponent("digits.csv")
        try Data("0,".utf8).write(to: file)
        let cases: [([String], String)] = [
            (["--data", "digits", "--data-dir", digits.path], "\(digits.path)/digits.csv: is a folder, not a CSV file"),
            (["--data-dir", fashion.path], "\(fashion.path)/train-images-idx3-ubyte: is a folder, not an idx image file"),
            (["--data", "digits", "--data-dir", file.path], "\(file.path): is a file, not a folder (the folder holding the data set's files)"),
        ]
        for (arguments, message) in cases {
            let run = try TagganProcess(["classcond", "train", "--workspace", workspace] + arguments)
            #expect(run.status == 1, "\(arguments)")
            #expect(run.stderr.hasSuffix("taggan: error: \(message)\n"), "\(arguments): \(run.stderr)")
        }
    }

    /// A model folder another live run holds is refused (exit 1, naming the folder and the
    /// process) before anything is written to it; once let go, its lock file left behind
    /// does not stop the next run.
    @Test func trainingAModelAnotherRunHoldsIsRefused() throws {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-classcond-locked-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let arguments = ["classcond", "train", "--workspace", workspace.path, "--data", "digits", "--model", "cgan",
                         "--data-dir", corporaFolder().appendingPathComponent("digits").path, "--steps", "2"]
        let model = workspace.appendingPathComponent("classcond/digits/cgan")
        try holdingLock(model.appendingPathComponent(".taggan-lock")) {
            let run = try TagganProcess(arguments)
            #expect(run.status == 1)
            #expect(run.stderr.contains("\(model.path): another taggan run (process \(ProcessInfo.processInfo.processIdentifier)) holds it"),
                    "\(run.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: model.path) == [".taggan-lock"])
        }
        let run = try TagganProcess(arguments)
        #expect(run.status == 0, "\(run.stderr)")
    }

    /// Trains both models briefly on the digits, resumes, evaluates: the report has both
    /// rows with standard errors, the paper's rows marked as the paper's, and images.
    @Test func trainResumeAndEvalWriteTheReport() throws {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-classcond-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let common = ["--workspace", workspace.path, "--data", "digits", "--data-dir", corporaFolder().appendingPathComponent("digits").path]
        let first = try TagganProcess(["classcond", "train"] + common + ["--steps", "4", "--checkpoint-every", "2", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any]
        let models = summary?["models"] as? [[String: Any]] ?? []
        #expect(models.map { $0["model"] as? String } == ["cgan", "gan"])
        #expect(models.allSatisfy { $0["steps"] as? Int == 4 })

        let resumed = try TagganProcess(["classcond", "train"] + common + ["--steps", "6", "--resume", "--model", "cgan", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let again = (try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any])?["models"] as? [[String: Any]]
        #expect(again?.first?["first_step"] as? Int == 4 && again?.first?["steps"] as? Int == 6)

        let eval = try TagganProcess(["classcond", "eval"] + common + ["--samples", "300", "--validation", "100"])
        #expect(eval.status == 0, "\(eval.stderr)")
        #expect(eval.stdout.contains("CGAN on digits: Parzen log-likelihood"))
        #expect(eval.stdout.contains("GAN on digits: Parzen log-likelihood"))
        let report = workspace.appendingPathComponent("classcond/digits/report")
        let markdown = try String(contentsOf: report.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(markdown.contains("| CGAN | ") && markdown.contains("| GAN | "))
        #expect(markdown.contains(" ± "))
        #expect(markdown.contains("The paper's Table 1 (MNIST, quoted)"))
        #expect(markdown.contains("| Conditional adversarial nets (CGAN) | 132 ± 1.8 |"))
        #expect(markdown.contains("Not MNIST"))
        let html = try String(contentsOf: report.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.components(separatedBy: "data:image/png;base64,").count - 1 == 20, "ten strips per model")
        #expect(html.contains("<svg"), "training curves as inline SVG")
        #expect(!html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").contains("http"),
                "self-contained: nothing to fetch")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: report.appendingPathComponent("report.json"))) as? [String: Any]
        let rows = json?["rows"] as? [[String: Any]] ?? []
        #expect(rows.count == 2)
        #expect(rows.allSatisfy { ($0["standard_error"] as? Double ?? $0["standardError"] as? Double ?? -1) > 0 })
        // Four steps teach G nothing: its samples are its initial mean image, and the report says
        // so above the table (with the remedy) instead of leaving the numbers to be read as a result.
        let cgan = try #require(rows.first { $0["model"] as? String == "CGAN" })
        let problems = cgan["problems"] as? [String] ?? []
        #expect(problems.contains { $0.hasPrefix("mode collapse") }, "\(problems)")
        #expect(markdown.contains("**CGAN failed: mode collapse"))
        #expect(markdown.contains("taggan classcond train --stable"))
        #expect(eval.stderr.contains("taggan: warning: classcond eval: cgan failed: mode collapse"), "\(eval.stderr)")
    }

    /// --stable swaps the paper's defaults for the settings that condition (centred z, fan-in
    /// weights, Adam at 5e-4), as recorded in the checkpoint; an option given explicitly wins.
    @Test("--stable trains with centred z, fan-in weights and Adam at 5e-4; explicit options still win")
    func stableChangesOnlyTheDefaults() throws {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-classcond-stable-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: workspace) }
        func configuration(_ extra: [String], model: String) throws -> [String: Any] {
            let run = try TagganProcess(["classcond", "train", "--workspace", workspace.path, "--data", "digits", "--data-dir",
                                         corporaFolder().appendingPathComponent("digits").path, "--model", model, "--steps", "2",
                                         "--checkpoint-every", "0"] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            let url = workspace.appendingPathComponent("classcond/digits/\(model)/checkpoint.json")
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
            return try #require(object?["configuration"] as? [String: Any])
        }
        let paper = try configuration([], model: "cgan")
        #expect(paper["optimizer"] as? String == "sgd" && paper["learning_rate"] as? Double == 0.1)
        let paperSizes = try #require(paper["sizes"] as? [String: Any])
        #expect(paperSizes["noise_minimum"] as? Double == 0 && paperSizes["generator_initial_range"] as? Double == 0.05)

        let stable = try configuration(["--stable"], model: "gan")
        #expect(stable["optimizer"] as? String == "adam" && stable["learning_rate"] as? Double == 5e-4)
        let stableSizes = try #require(stable["sizes"] as? [String: Any])
        #expect(stableSizes["noise_minimum"] as? Double == -1)
        #expect(stableSizes["generator_initial_range"] as? Double == nil && stableSizes["discriminator_initial_range"] as? Double == nil)

        try FileManager.default.removeItem(at: workspace)
        let mixed = try configuration(["--stable", "--optimizer", "sgd", "--noise-minimum", "0"], model: "gan")
        #expect(mixed["optimizer"] as? String == "sgd" && mixed["learning_rate"] as? Double == 0.1)
        #expect((mixed["sizes"] as? [String: Any])?["noise_minimum"] as? Double == 0)
    }
}
