import Foundation
import Testing
import TestSupport
import TagganCore
import TagGAN

/// `taggan train` run as a user runs it, on a small workspace in the stand-in layout
/// (W/embeddings.npy, a training list given with --training-set, word2vec vectors). The networks have the
/// paper's sizes; the data are small.
struct TrainProcess {
    let status: Int32
    let stdout: String
    let stderr: String

    /// One thread, so killed-and-resumed runs can be compared bit for bit.
    static let environment = ["TAGGAN_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"]

    static func start(_ arguments: [String]) throws -> (Process, Pipe, Pipe) {
        try TagganProcess.start(arguments, environment: environment)
    }

    init(_ arguments: [String]) throws {
        let run = try TagganProcess(arguments, environment: Self.environment)
        (status, stdout, stderr) = (run.status, run.stdout, run.stderr)
    }

    init(_ arguments: String...) throws { try self.init(arguments) }
}

/// `--training-set W/training-set.tsv`: the list `writeWorkspace` writes.
func trainingSet(_ folder: URL) -> [String] {
    ["--training-set", folder.appendingPathComponent("training-set.tsv").path]
}

/// 30 images in 3 clusters with 1-3 tags each; one tag has no vector, one image only
/// that tag. Vectors in word2vec text (`.txt`) and binary form.
func writeWorkspace(_ folder: URL) throws {
    var random = SeededRandom(seed: 5)
    let features = Tensor.gaussian(shape: [31, 16], using: &random)
    try NPY.write(features, to: folder.appendingPathComponent("embeddings.npy"))
    var lines = ["# ROW<TAB>TAG...", ""]
    for i in 0..<30 {
        var tags = ["c\(i % 3)"]
        if i % 2 == 0 { tags.append("even") }
        if i % 5 == 0 { tags.append("novector") }
        lines.append("\(i)\t" + tags.joined(separator: "\t"))
    }
    lines.append("30\tnovector")
    try lines.joined(separator: "\n").write(to: folder.appendingPathComponent("training-set.tsv"), atomically: true, encoding: .utf8)
    let words = ["c0", "c1", "c2", "even", "unused"]
    let vectors = Tensor.gaussian(shape: [5, 8], using: &random)
    var text = "5 8\n"
    var binary = Data("5 8\n".utf8)
    for (i, word) in words.enumerated() {
        text += word + " " + vectors.row(i).map { String($0) }.joined(separator: " ") + "\n"
        binary.append(Data((word + " ").utf8))
        for v in vectors.row(i) { withUnsafeBytes(of: v.bitPattern.littleEndian) { binary.append(contentsOf: $0) } }
        binary.append(0x0A)
    }
    try text.write(to: folder.appendingPathComponent("vectors.txt"), atomically: true, encoding: .utf8)
    try binary.write(to: folder.appendingPathComponent("vectors.bin"))
}

@Suite("taggan train")
struct TrainCommandTests {
    @Test func trainsBothModesIntoTheirOwnFoldersAndSummarises() throws {
        let folder = temporaryFolder("cli")
        defer { try? FileManager.default.removeItem(at: folder) }
        try writeWorkspace(folder)
        for (mode, vectors) in [("cgan", "vectors.bin"), ("icgan", "vectors.txt")] {
            let run = try TrainProcess("train", "--workspace", folder.path, "--training-set", folder.appendingPathComponent("training-set.tsv").path,
                                       "--vectors", folder.appendingPathComponent(vectors).path, "--mode", mode, "--neighbours", "4", "--steps", "6", "--batch-size", "10", "--json")
            #expect(run.status == 0, "\(run.stderr)")
            let summary = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            #expect(summary["mode"] as? String == mode)
            #expect(summary["steps"] as? Int == 6)
            #expect(summary["images"] as? Int == 30, "image 30 has only a tag without a vector")
            #expect(summary["tags"] as? Int == 4)
            #expect(summary["dropped_tags"] as? Int == 7 && summary["dropped_images"] as? Int == 1)
            #expect(run.stderr.contains("train \(mode): 6/6 steps"))
            let record = try CheckpointRecord.read(folder: folder.appendingPathComponent("models/\(mode)"))
            #expect(record.step == 6 && record.configuration.mode.rawValue == mode)
            #expect(record.configuration.sizes.featureSize == 16 && record.configuration.sizes.wordSize == 8)
            #expect(record.configuration.sizes.generatorFeatureHidden == 2000, "the paper's sizes by default")
        }
        let cache = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("cache").path)
        #expect(cache.contains { $0.hasPrefix("neighbours-k4-") && $0.hasSuffix(".npy") })
        // Eval's entry point reads what train wrote.
        let sampler = try TagSampler(modelFolder: folder.appendingPathComponent("models/icgan"))
        let samples = sampler.sample(features: try NPY.read(contentsOf: folder.appendingPathComponent("embeddings.npy")),
                                     samplesPerImage: 3, seed: 1)
        #expect(samples.shape == [93, 8] && samples.storage.allSatisfy(\.isFinite))
    }

    /// The process is killed (SIGKILL) after its first checkpoint, resumed with --resume,
    /// and ends with the same weights and optimiser state, bit for bit, as a run that was
    /// never interrupted (one thread).
    @Test func killedAndResumedEqualsUninterrupted() throws {
        let folder = temporaryFolder("kill")
        defer { try? FileManager.default.removeItem(at: folder) }
        try writeWorkspace(folder)
        let vectors = folder.appendingPathComponent("vectors.bin").path
        let common = ["--vectors", vectors, "--steps", "14", "--batch-size", "10", "--checkpoint-every", "3", "--seed", "9"]
        let other = temporaryFolder("kill-reference")
        defer { try? FileManager.default.removeItem(at: other) }
        try writeWorkspace(other)
        let reference = try TrainProcess(["train", "--workspace", other.path] + trainingSet(other) + common)
        #expect(reference.status == 0, "\(reference.stderr)")

        let (process, _, _) = try TrainProcess.start(["train", "--workspace", folder.path] + trainingSet(folder) + common)
        let checkpoint = folder.appendingPathComponent("models/cgan/checkpoint.json")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint.path) && process.isRunning && Date() < deadline {
            usleep(2000)
        }
        let killedWhileRunning = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(killedWhileRunning, "the run finished before it could be killed")
        let stoppedAt = try CheckpointRecord.read(folder: folder.appendingPathComponent("models/cgan")).step
        #expect(stoppedAt < 14)

        let resumed = try TrainProcess(["train", "--workspace", folder.path, "--resume"] + trainingSet(folder) + common)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming cgan at step \(stoppedAt) of 14"))
        let a = try CheckpointRecord.read(folder: other.appendingPathComponent("models/cgan"))
        let b = try CheckpointRecord.read(folder: folder.appendingPathComponent("models/cgan"))
        #expect(a.step == 14 && b.step == 14 && a.history == b.history)
        let wa = try SafeTensors.read(contentsOf: other.appendingPathComponent("models/cgan/" + a.weights))
        let wb = try SafeTensors.read(contentsOf: folder.appendingPathComponent("models/cgan/" + b.weights))
        #expect(wa.tensors.keys.sorted() == wb.tensors.keys.sorted())
        for (name, tensor) in wa.tensors {
            #expect(tensor.storage.map(\.bitPattern) == wb.tensors[name]?.storage.map(\.bitPattern), "\(name) differs")
        }
    }

    /// While one `taggan train` runs on a model, a second one on the same model is refused
    /// at once (exit 1, naming the model folder and the running process) and leaves the
    /// first run's checkpoint alone; once the first is killed (SIGKILL), the kernel has
    /// dropped its lock and --resume continues from its checkpoint.
    @Test func aSecondTrainerOnARunningModelIsRefusedAndAKilledRunStillResumes() throws {
        let folder = temporaryFolder("concurrent")
        defer { try? FileManager.default.removeItem(at: folder) }
        try writeWorkspace(folder)
        let common = ["--workspace", folder.path, "--vectors", folder.appendingPathComponent("vectors.bin").path, "--batch-size", "10"]
            + trainingSet(folder)
        let (first, _, _) = try TrainProcess.start(["train"] + common + ["--steps", "100000", "--checkpoint-every", "3"])
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL); first.waitUntilExit() } }
        let model = folder.appendingPathComponent("models/cgan")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: model.appendingPathComponent("checkpoint.json").path) && first.isRunning
                && Date() < deadline {
            usleep(2000)
        }
        try #require(first.isRunning, "the first run ended before the second started")

        let second = try TrainProcess(["train"] + common + ["--steps", "6", "--seed", "3"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("\(model.path): another taggan run (process \(first.processIdentifier)) holds it"), "\(second.stderr)")
        #expect(try CheckpointRecord.read(folder: model).configuration.seed == 1, "the second run wrote the first one's model")

        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let stoppedAt = try CheckpointRecord.read(folder: model).step
        let resumed = try TrainProcess(["train"] + common + ["--resume", "--steps", String(stoppedAt + 2)])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try CheckpointRecord.read(folder: model).step == stoppedAt + 2)
    }

    /// Each bad input: its exit status and the message a user sees.
    @Test func badInputsAreReportedWithTheFileAndReason() throws {
        let folder = temporaryFolder("bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        let vectors = folder.appendingPathComponent("vectors.bin").path
        let missing = try TrainProcess("train", "--workspace", folder.path, "--vectors", vectors)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no catalog.sqlite here (run taggan ingest first)"))
        try writeWorkspace(folder)
        let cases: [([String], Int32, String)] = [
            (["--mode", "gan"], 2, "taggan train: --mode must be cgan or icgan, got 'gan'"),
            (["--optimizer", "rmsprop"], 2, "taggan train: --optimizer must be sgd or adam, got 'rmsprop'"),
            (["--steps", "0"], 2, "taggan train: --steps must be in [1, 100000000]"),
            (["--batch-size", "-3"], 2, "taggan train: --batch-size must be in [1, 10000]"),
            (["--mode", "icgan", "--neighbours", "30"], 2, "--neighbours 30 needs more training images (have 30)"),
            (["--resume"], 1, "no checkpoint to resume (run without --resume to start)"),
            (["--mismatch", "1"], 2, "taggan train: --mismatch must be in [0, 1)"),
            (["--centre-features", "yes"], 2, "taggan train: --centre-features must be on or off, got 'yes'"),
        ]
        for (extra, status, message) in cases {
            let run = try TrainProcess(["train", "--workspace", folder.path, "--vectors", vectors] + trainingSet(folder) + extra)
            #expect(run.status == status, "\(extra)")
            #expect(run.stderr.contains(message), "\(extra): \(run.stderr)")
        }
        try "3 8\nc0 1 2\n".write(toFile: vectors, atomically: true, encoding: .utf8)
        let truncated = try TrainProcess(["train", "--workspace", folder.path, "--vectors", vectors] + trainingSet(folder))
        #expect(truncated.status == 1 && truncated.stderr.contains("vectors.bin: line 2: 'c0' has 2 values, expected 8"),
                "\(truncated.stderr)")
        try "# nothing\n99\tc0\n".write(to: folder.appendingPathComponent("training-set.tsv"), atomically: true, encoding: .utf8)
        let badRow = try TrainProcess(["train", "--workspace", folder.path, "--vectors", vectors] + trainingSet(folder))
        #expect(badRow.status == 1 && badRow.stderr.contains("training-set.tsv: line 2: '99' is not a row of embeddings.npy (0..<31)"),
                "\(badRow.stderr)")
    }

    /// An IC-GAN trained with k = 4, killed and resumed without --neighbours, continues
    /// with k = 4 (not the option's default 20): bit for bit the uninterrupted run, and
    /// no k = 20 table is ever built.
    @Test func resumedICGANKeepsTheRecordedNeighbourhoodSize() throws {
        let folder = temporaryFolder("resume-k"), other = temporaryFolder("resume-k-reference")
        defer { for f in [folder, other] { try? FileManager.default.removeItem(at: f) } }
        try writeWorkspace(folder)
        try writeWorkspace(other)
        let common = ["--vectors", folder.appendingPathComponent("vectors.bin").path, "--mode", "icgan", "--batch-size", "10", "--seed", "3"]
        let reference = try TrainProcess(["train", "--workspace", other.path, "--neighbours", "4", "--steps", "8"] + trainingSet(other) + common)
        #expect(reference.status == 0, "\(reference.stderr)")
        let first = try TrainProcess(["train", "--workspace", folder.path, "--neighbours", "4", "--steps", "4"] + trainingSet(folder) + common)
        #expect(first.status == 0, "\(first.stderr)")
        let resumed = try TrainProcess(["train", "--workspace", folder.path, "--resume", "--steps", "8"] + trainingSet(folder) + common)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let record = try CheckpointRecord.read(folder: folder.appendingPathComponent("models/icgan"))
        #expect(record.step == 8 && record.configuration.neighbours == 4)
        let cache = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("cache").path)
        #expect(cache.allSatisfy { !$0.hasPrefix("neighbours-k20-") }, "\(cache)")
        let a = try CheckpointRecord.read(folder: other.appendingPathComponent("models/icgan"))
        let wa = try SafeTensors.read(contentsOf: other.appendingPathComponent("models/icgan/" + a.weights))
        let wb = try SafeTensors.read(contentsOf: folder.appendingPathComponent("models/icgan/" + record.weights))
        for (name, tensor) in wa.tensors {
            #expect(tensor.storage.map(\.bitPattern) == wb.tensors[name]?.storage.map(\.bitPattern), "\(name) differs")
        }
    }

    /// Each option that contradicts the checkpoint, given with --resume: exit 1, the
    /// checkpoint named with both values, and the checkpoint left as it was.
    @Test func resumeRefusesOptionsThatContradictTheCheckpoint() throws {
        let folder = temporaryFolder("resume-contradictions")
        defer { try? FileManager.default.removeItem(at: folder) }
        try writeWorkspace(folder)
        let base = ["train", "--workspace", folder.path, "--vectors", folder.appendingPathComponent("vectors.bin").path,
                    "--mode", "icgan"] + trainingSet(folder)
        let first = try TrainProcess(base + ["--neighbours", "4", "--steps", "3", "--batch-size", "10", "--learning-rate", "0.0002"])
        #expect(first.status == 0, "\(first.stderr)")
        let checkpoint = folder.appendingPathComponent("models/icgan/checkpoint.json")
        let before = try Data(contentsOf: checkpoint)
        let cases: [([String], String)] = [
            (["--neighbours", "5"], "--neighbours 5, but the checkpoint has 4"),
            (["--learning-rate", "0.01"], "--learning-rate 0.01, but the checkpoint has 0.0002"),
            (["--optimizer", "sgd"], "--optimizer sgd, but the checkpoint has adam"),
            (["--mismatch", "0"], "--mismatch 0.0, but the checkpoint has 0.5"),
            (["--batch-size", "20"], "--batch-size 20, but the checkpoint has 10"),
            (["--centre-features", "off"], "--centre-features off, but the checkpoint has on"),
        ]
        for (extra, message) in cases {
            let run = try TrainProcess(base + ["--resume", "--steps", "6"] + extra)
            #expect(run.status == 1, "\(extra): \(run.stderr)")
            #expect(run.stderr.contains(checkpoint.path) && run.stderr.contains(message), "\(extra): \(run.stderr)")
        }
        #expect(try Data(contentsOf: checkpoint) == before)
        // The recorded values themselves are no contradiction.
        let same = try TrainProcess(base + ["--resume", "--steps", "4", "--neighbours", "4", "--batch-size", "10", "--optimizer", "adam"])
        #expect(same.status == 0, "\(same.stderr)")
    }

    /// W/training-set.tsv lying in a workspace is not read unless --training-set names it:
    /// without a catalog, train says so instead of training on the stray list.
    @Test func strayTrainingSetFileDoesNotReplaceTheCatalog() throws {
        let folder = temporaryFolder("stray-list")
        defer { try? FileManager.default.removeItem(at: folder) }
        try writeWorkspace(folder)
        let run = try TrainProcess("train", "--workspace", folder.path, "--vectors", folder.appendingPathComponent("vectors.bin").path,
                                   "--steps", "2", "--batch-size", "10")
        #expect(run.status == 1 && run.stderr.contains("no catalog.sqlite here (run taggan ingest first)"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("models/cgan").path))
        let missing = folder.appendingPathComponent("no-such-list.tsv").path
        let named = try TrainProcess("train", "--workspace", folder.path, "--vectors", folder.appendingPathComponent("vectors.bin").path,
                                     "--training-set", missing)
        #expect(named.status == 1 && named.stderr.contains("\(missing): no such training set (--training-set)"), "\(named.stderr)")
    }
}
