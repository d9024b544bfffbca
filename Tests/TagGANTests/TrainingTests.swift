import Foundation
import Testing
import TagganCore
@testable import TagGAN

/// A synthetic tagging task whose right answer is known: `classes` clusters of image
/// features; every image of cluster c carries tag c (and, with `extraTags`, a second tag
/// shared by all images, as junk tags like `hash` are in OpenClipart). Tag vectors are
/// random with lengths spread like word2vec's (e^N(0, 0.5)).
func syntheticTask(images: Int, classes: Int, featureSize: Int, wordSize: Int, seed: UInt64,
                   extraTag: Bool = false) throws -> (data: TrainingData, classOf: [Int]) {
    let task = try syntheticSplit(training: images, heldOut: 0, classes: classes, featureSize: featureSize,
                                  wordSize: wordSize, seed: seed, extraTag: extraTag)
    return (task.training, task.trainingClass)
}

/// One synthetic task (class prototypes and tag vectors drawn once from `seed`) with two
/// disjoint sets of images: `training` images, then `heldOut` images drawn after them
/// from the same random stream, so no held-out image is a copy of a training one.
func syntheticSplit(training: Int, heldOut: Int, classes: Int, featureSize: Int, wordSize: Int, seed: UInt64,
                    extraTag: Bool = false) throws
    -> (training: TrainingData, trainingClass: [Int], heldOut: TrainingData?, heldOutClass: [Int]) {
    var random = SeededRandom(seed: seed)
    let prototypes = Tensor.gaussian(shape: [classes, featureSize], using: &random)
    var vectors = Tensor.gaussian(shape: [classes + (extraTag ? 1 : 0), wordSize], using: &random)
    for r in 0..<vectors.rows {
        let length = Float(exp(0.5 * Double(random.gaussian())))
        for c in 0..<wordSize { vectors[r, c] *= length / Float(wordSize).squareRoot() }
    }
    func draw(_ images: Int) throws -> (TrainingData, [Int]) {
        var features = Tensor(zeros: [images, featureSize])
        var tags: [[Int]] = [], classOf: [Int] = []
        for i in 0..<images {
            let c = i % classes
            for j in 0..<featureSize { features[i, j] = max(0, prototypes[c, j] + 0.5 * random.gaussian()) }
            tags.append(extraTag ? [c, classes] : [c])
            classOf.append(c)
        }
        return (try TrainingData(features: features, tags: tags, tagVectors: vectors), classOf)
    }
    let (trainingData, trainingClass) = try draw(training)
    if heldOut == 0 { return (trainingData, trainingClass, nil, []) }
    let (heldOutData, heldOutClass) = try draw(heldOut)
    return (trainingData, trainingClass, heldOutData, heldOutClass)
}

func tinyConfiguration(featureSize: Int, wordSize: Int) -> TrainingConfiguration {
    var sizes = NetworkSizes(featureSize: featureSize, wordSize: wordSize)
    sizes.noiseSize = 4
    sizes.generatorNoiseHidden = 8
    sizes.generatorFeatureHidden = 16
    sizes.discriminatorWordHidden = 8
    sizes.discriminatorFeatureHidden = 12
    sizes.maxoutUnits = 8
    sizes.maxoutPieces = 3
    var configuration = TrainingConfiguration(sizes: sizes)
    configuration.batchSize = 8
    configuration.steps = 30
    configuration.historyEvery = 7
    configuration.seed = 11
    return configuration
}

func temporaryFolder(_ name: String) -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("taggan-tests-\(ProcessInfo.processInfo.processIdentifier)-\(name)-\(UInt32.random(in: 0 ... .max))")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Every parameter and optimiser tensor of a trainer, by name.
func state(of trainer: GANTrainer) -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    var g = trainer.generator, d = trainer.discriminator
    g.visitParameters { name, w, _ in result["generator." + name] = w }
    d.visitParameters { name, w, _ in result["discriminator." + name] = w }
    for (name, slot) in trainer.optimizer.slots { result["optimizer." + name] = slot }
    return result
}

@Suite("TagGAN training")
struct TrainingTests {
    /// A run stopped at step 17 (last checkpoint at step 10) and resumed ends with the
    /// same weights, bit for bit, as one that was not interrupted; also its history.
    @Test("killed and resumed equals uninterrupted",
          arguments: [(TrainingMode.cgan, OptimizerKind.sgd, 0.0), (.icgan, .adam, 0.0), (.icgan, .adam, 0.5)])
    func resumeIsExact(mode: TrainingMode, optimizer: OptimizerKind, mismatch: Double) throws {
        let (data, _) = try syntheticTask(images: 40, classes: 4, featureSize: 10, wordSize: 6, seed: 3, extraTag: true)
        var configuration = tinyConfiguration(featureSize: 10, wordSize: 6)
        configuration.mode = mode
        configuration.optimizer = optimizer
        configuration.mismatchWeight = mismatch
        if mismatch > 0 { configuration.featureMean = data.featureMean }
        if optimizer == .adam { configuration.learningRate = 1e-3 }
        let neighbours = mode == .icgan ? NeighbourSearch.nearest(data.features, k: 5) : nil

        let uninterrupted = try GANTrainer(data: data, configuration: configuration, neighbours: neighbours)
        try uninterrupted.train(checkpointEvery: 0, folder: nil)

        let folder = temporaryFolder("resume")
        defer { try? FileManager.default.removeItem(at: folder) }
        let killed = try GANTrainer(data: data, configuration: configuration, neighbours: neighbours)
        for _ in 0..<17 {
            try killed.trainStep()
            if killed.step == 10 { try killed.saveCheckpoint(to: folder) }
        }
        // ...killed here: everything after step 10 is lost.
        let resumed = try GANTrainer(resumingFrom: folder, data: data, neighbours: neighbours)
        #expect(resumed.step == 10)
        try resumed.train(checkpointEvery: 10, folder: folder)
        #expect(resumed.step == 30)
        let a = state(of: uninterrupted), b = state(of: resumed)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, tensor) in a {
            #expect(tensor.storage.map(\.bitPattern) == b[name]?.storage.map(\.bitPattern), "\(name) differs")
        }
        #expect(uninterrupted.history == resumed.history)
        let record = try CheckpointRecord.read(folder: folder)
        #expect(record.step == 30 && record.finished)
        #expect(record.history.count == 5, "records at steps 7, 14, 21, 28 and the final 2 steps")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".safetensors") }
        #expect(files == [record.weights], "older weights files are removed once a newer checkpoint is committed")
    }

    /// `taggan annotate` and `eval` load a model while `taggan train` may be writing it: a
    /// new checkpoint is committed (checkpoint.json renamed into place) and then the old
    /// weights file removed. A reader that took the record just before the commit found
    /// its weights file gone and failed ("cannot read"); now it reads the record again.
    @Test("a sampler loads whole checkpoints while a run commits new ones and removes the old weights")
    func samplerLoadsWhileTrainingCommits() throws {
        let (data, _) = try syntheticTask(images: 40, classes: 4, featureSize: 10, wordSize: 6, seed: 3, extraTag: true)
        let trainer = try GANTrainer(data: data, configuration: tinyConfiguration(featureSize: 10, wordSize: 6))
        let folder = temporaryFolder("concurrent-read")
        defer { try? FileManager.default.removeItem(at: folder) }
        try trainer.trainStep()
        try trainer.saveCheckpoint(to: folder)
        final class Flag: @unchecked Sendable {
            private let lock = NSLock()
            private var value = false
            var isSet: Bool { lock.withLock { value } }
            func set() { lock.withLock { value = true } }
        }
        let finished = Flag()
        nonisolated(unsafe) let writer = trainer
        nonisolated(unsafe) var writerError: Error?
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            do {
                for _ in 0..<400 {
                    try writer.trainStep()
                    try writer.saveCheckpoint(to: folder)
                }
            } catch { writerError = error }
            finished.set()
        }
        var loads = 0
        var failures: [String] = []
        while !finished.isSet {
            do {
                let sampler = try TagSampler(modelFolder: folder)
                #expect(sampler.step >= 1)
                loads += 1
            } catch {
                failures.append("\(error)")
            }
        }
        group.wait()
        #expect(writerError == nil)
        #expect(failures.isEmpty, "\(failures.count) of \(loads + failures.count) loads failed, first: \(failures.first ?? "")")
        #expect(loads >= 20)
    }

    /// The fused SGD step (the velocity lent to the weight-gradient products, then one
    /// pass over v and w) trains the same networks as the plain one (gradient, then a
    /// pass over g, v and w): after 30 steps of the momentum ramp, with the column-norm
    /// limit and with mismatched pairs, every weight and velocity agrees to rounding, and
    /// no velocity is left lent.
    @Test("fused SGD step equals the plain SGD step to rounding", arguments: [0.0, 0.5])
    func fusedSGDEqualsPlainSGD(mismatch: Double) throws {
        let (data, _) = try syntheticTask(images: 40, classes: 4, featureSize: 10, wordSize: 6, seed: 5, extraTag: true)
        var configuration = tinyConfiguration(featureSize: 10, wordSize: 6)
        configuration.optimizer = .sgd
        configuration.mismatchWeight = mismatch
        configuration.momentumRampSteps = 20
        configuration.maxColumnNorm = 0.8
        if mismatch > 0 { configuration.featureMean = data.featureMean }
        let fused = try GANTrainer(data: data, configuration: configuration)
        let plain = try GANTrainer(data: data, configuration: configuration)
        fused.fusesSGD = true
        plain.fusesSGD = false
        try fused.train(checkpointEvery: 0, folder: nil)
        try plain.train(checkpointEvery: 0, folder: nil)
        #expect(fused.optimizer.lent.isEmpty)
        let a = state(of: fused), b = state(of: plain)
        #expect(a.keys.sorted() == b.keys.sorted())
        #expect(a.keys.filter { $0.hasSuffix(".velocity") }.count == 14, "a velocity per parameter of G and D")
        var worst: Float = 0
        for (name, tensor) in a {
            let other = try #require(b[name])
            #expect(tensor.storage.contains { $0 != 0 }, "\(name) is all zero")
            for i in 0..<tensor.count {
                let difference = abs(tensor[i] - other[i])
                worst = max(worst, difference)
                #expect(difference <= 1e-4 * max(1, abs(other[i])), "\(name)[\(i)]: \(tensor[i]) against \(other[i])")
            }
        }
        // Not bit for bit: the product's rounding differs, so the test would miss a
        // fused step that silently fell back to the plain one if this were 0.
        #expect(worst > 0)
    }

    /// Adam that leaves the weight gradients at zero, with the next backward pass adding
    /// to them (sgemm beta 1), trains the same networks bit for bit as Adam on gradients
    /// the products write whole (beta 0): every weight and moment after 16 steps, with the
    /// column-norm limit and with mismatched pairs. After each step every weight gradient
    /// of the clearing run is zero (and not of the plain run, so a clearing that stopped
    /// happening would fail); and a step that finds its gradients not cleared (as after a
    /// step that stopped between backward pass and update) zeroes them first.
    @Test("Adam clearing the gradients for accumulating products equals plain Adam bit for bit",
          arguments: [0.0, 0.5])
    func clearingAdamEqualsPlainAdam(mismatch: Double) throws {
        let (data, _) = try syntheticTask(images: 40, classes: 4, featureSize: 10, wordSize: 6, seed: 6, extraTag: true)
        var configuration = tinyConfiguration(featureSize: 10, wordSize: 6)
        configuration.optimizer = .adam
        configuration.learningRate = 1e-3
        configuration.mismatchWeight = mismatch
        configuration.maxColumnNorm = 0.8
        let clearing = try GANTrainer(data: data, configuration: configuration)
        let plain = try GANTrainer(data: data, configuration: configuration)
        clearing.adamClearsGradients = true
        plain.adamClearsGradients = false
        func weightGradients(_ trainer: GANTrainer) -> [Float] {
            var values: [Float] = []
            var g = trainer.generator, d = trainer.discriminator
            g.visitParameters { name, _, gradient in if name.hasSuffix(".weight") { values += gradient.storage } }
            d.visitParameters { name, _, gradient in if name.hasSuffix(".weight") { values += gradient.storage } }
            return values
        }
        for step in 0..<16 {
            if step == 7 {
                // Junk where the next backward pass would add, and the flag that says so.
                clearing.discriminator.maxoutLayer.weightGradient.withUnsafeMutableBufferPointer { $0.update(repeating: 3) }
                clearing.discriminatorGradientsCleared = false
                clearing.generator.featureLayer.weightGradient.withUnsafeMutableBufferPointer { $0.update(repeating: -2) }
                clearing.generatorGradientsCleared = false
            }
            let a = try clearing.trainStep(), b = try plain.trainStep()
            #expect(a == b, "step \(step)")
            #expect(weightGradients(clearing).allSatisfy { $0 == 0 }, "step \(step): gradients left after a clearing step")
            #expect(weightGradients(plain).contains { $0 != 0 })
        }
        let a = state(of: clearing), b = state(of: plain)
        #expect(a.keys.sorted() == b.keys.sorted())
        #expect(a.keys.filter { $0.hasSuffix(".adam_m") }.count == 14, "a first moment per parameter of G and D")
        for (name, tensor) in a {
            let other = try #require(b[name])
            #expect(tensor.storage.contains { $0 != 0 }, "\(name) is all zero")
            #expect(tensor.storage == other.storage, "\(name) differs")
        }
    }

    /// A tiny run of two steps on synthetic data (seed 3), checkpointed into a new folder.
    func twoStepCheckpoint(_ name: String) throws -> (data: TrainingData, folder: URL) {
        let (data, _) = try syntheticTask(images: 40, classes: 4, featureSize: 10, wordSize: 6, seed: 3)
        let folder = temporaryFolder(name)
        var configuration = tinyConfiguration(featureSize: 10, wordSize: 6)
        configuration.steps = 2
        try GANTrainer(data: data, configuration: configuration).train(checkpointEvery: 0, folder: folder)
        return (data, folder)
    }

    /// A checkpoint edited or damaged into numbers the trainer indexes with (a negative
    /// step, a zero batch) is an error naming checkpoint.json, not a crash on resume.
    @Test func resumeRefusesADamagedCheckpointRecord() throws {
        let (data, folder) = try twoStepCheckpoint("damaged")
        defer { try? FileManager.default.removeItem(at: folder) }
        let record = folder.appendingPathComponent("checkpoint.json")
        let original = try String(contentsOf: record, encoding: .utf8)
        for (from, to) in [("\"step\" : 2", "\"step\" : -5"), ("\"batch_size\" : 8", "\"batch_size\" : 0")] {
            try #require(original.contains(from), "checkpoint.json has no \(from)")
            try original.replacingOccurrences(of: from, with: to).write(to: record, atomically: true, encoding: .utf8)
            #expect(throws: TagganError.self, "\(to)") { try GANTrainer(resumingFrom: folder, data: data, steps: 4) }
        }
    }

    @Test func resumeRefusesOtherData() throws {
        let (_, folder) = try twoStepCheckpoint("other")
        let (other, _) = try syntheticTask(images: 40, classes: 4, featureSize: 10, wordSize: 6, seed: 4)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: TagganError.self) { try GANTrainer(resumingFrom: folder, data: other) }
    }

    /// A feature mean or a model of another width than the features is an error naming
    /// the model and both widths (it was a precondition that stopped the process).
    @Test func featuresOfAnotherWidthAreAnErrorNotACrash() throws {
        let (data, _) = try syntheticTask(images: 40, classes: 4, featureSize: 10, wordSize: 6, seed: 3)
        var configuration = tinyConfiguration(featureSize: 10, wordSize: 6)
        configuration.featureMean = [Float](repeating: 0, count: 7)
        #expect(throws: TagganError.self) { try GANTrainer(data: data, configuration: configuration) }
        configuration.featureMean = nil
        configuration.steps = 1
        let folder = temporaryFolder("width")
        defer { try? FileManager.default.removeItem(at: folder) }
        try GANTrainer(data: data, configuration: configuration).train(checkpointEvery: 0, folder: folder)
        let sampler = try TagSampler(modelFolder: folder)
        let path = folder.appendingPathComponent("checkpoint.json").path
        do {
            try sampler.checkFeatureWidth(1280, from: "the embeddings", model: path)
            Issue.record("no error for 1280-d features into a 10-d model")
        } catch {
            #expect("\(error)".contains("\(path): the model takes 10-d features, but the embeddings has 1280"), "\(error)")
        }
        try sampler.checkFeatureWidth(10, from: "the embeddings", model: path)
        // A checkpoint whose saved mean does not fit its own network is refused on load.
        var record = try CheckpointRecord.read(folder: folder)
        record.configuration.featureMean = [1, 2, 3]
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(record).write(to: URL(fileURLWithPath: path))
        #expect(throws: TagganError.self) { try TagSampler(modelFolder: folder) }
    }

    /// A learning rate far too large blows up; training stops with a clear message and the
    /// last good checkpoint stays as it was.
    @Test func divergenceStopsWithTheLastCheckpointIntact() throws {
        let (data, _) = try syntheticTask(images: 40, classes: 4, featureSize: 10, wordSize: 6, seed: 3)
        var configuration = tinyConfiguration(featureSize: 10, wordSize: 6)
        configuration.steps = 200
        let folder = temporaryFolder("nan")
        defer { try? FileManager.default.removeItem(at: folder) }
        configuration.steps = 4
        try GANTrainer(data: data, configuration: configuration).train(checkpointEvery: 0, folder: folder)
        let before = try Data(contentsOf: folder.appendingPathComponent("checkpoint.json"))
        let good = try CheckpointRecord.read(folder: folder)

        let resumed = try GANTrainer(resumingFrom: folder, data: data, steps: 200)
        // Sabotage: a parameter overflows, as with a learning rate of 1e30.
        resumed.discriminator.outputLayer.weight[0] = .infinity
        var message = ""
        do {
            try resumed.train(checkpointEvery: 1, folder: folder)
        } catch let error as TagganError {
            message = error.description
        }
        #expect(message.contains("training diverged at step 5"), "\(message)")
        #expect(message.contains("checkpoint"))
        #expect(try Data(contentsOf: folder.appendingPathComponent("checkpoint.json")) == before)
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(good.weights).path))

        // And through the learning rate alone.
        configuration.steps = 50
        configuration.learningRate = 1e30
        configuration.learningRateDecay = 1
        let wild = try GANTrainer(data: data, configuration: configuration)
        #expect(throws: TagganError.self) { try wild.train(checkpointEvery: 0, folder: nil) }
    }

    @Test func epochsVisitEveryExampleOnceInASeededOrder() throws {
        let (data, _) = try syntheticTask(images: 30, classes: 3, featureSize: 4, wordSize: 3, seed: 5, extraTag: true)
        var configuration = tinyConfiguration(featureSize: 4, wordSize: 3)
        let trainer = try GANTrainer(data: data, configuration: configuration)
        let first = (0..<60).map { trainer.example(at: $0) }
        let second = (60..<120).map { trainer.example(at: $0) }
        func key(_ e: (image: Int32, tag: Int32)) -> Int { Int(e.image) * 100 + Int(e.tag) }
        #expect(Set(first.map(key)).count == 60, "each (image, tag) pair once per epoch")
        #expect(Set(first.map(key)) == Set(second.map(key)))
        #expect(first.map(key) != second.map(key), "reshuffled every epoch")
        configuration.seed = 12
        let reseeded = try GANTrainer(data: data, configuration: configuration)
        #expect((0..<60).map { key(reseeded.example(at: $0)) } != first.map(key))
    }

    @Test func schedules() {
        let configuration = TrainingConfiguration(sizes: NetworkSizes(featureSize: 1))
        #expect(configuration.learningRate(atStep: 0) == 0.1)
        #expect(abs(configuration.learningRate(atStep: 100_000) - 0.1 / pow(1.00004, 100_000)) < 1e-12)
        #expect(configuration.learningRate(atStep: 10_000_000) == 1e-6)
        #expect(configuration.momentum(atStep: 0) == 0.5)
        #expect(abs(configuration.momentum(atStep: 1000) - 0.6) < 1e-12)
        #expect(configuration.momentum(atStep: 50_000) == 0.7)
    }
}

@Suite("TagGAN neighbours and sampling")
struct NeighbourAndSamplingTests {
    @Test func exactNeighboursMatchBruteForce() throws {
        let x = randomTensor([203, 9], seed: 50)
        let table = NeighbourSearch.nearest(x, k: 7, blockRows: 64)
        func cosine(_ i: Int, _ j: Int) -> Double {
            var dot = 0.0, a = 0.0, b = 0.0
            for c in 0..<9 {
                dot += Double(x[i, c] * x[j, c]); a += Double(x[i, c] * x[i, c]); b += Double(x[j, c] * x[j, c])
            }
            return dot / (a * b).squareRoot()
        }
        for i in stride(from: 0, to: 203, by: 17) {
            let expected = (0..<203).filter { $0 != i }.sorted { cosine(i, $0) > cosine(i, $1) }.prefix(7)
            #expect(table.neighbours(of: i).map(Int.init) == Array(expected), "row \(i)")
        }
        // Duplicates: an identical row is the nearest, the row itself never is.
        var duplicated = x
        for c in 0..<9 { duplicated[5, c] = x[100, c] * 2 }
        let again = NeighbourSearch.nearest(duplicated, k: 3)
        #expect(again.neighbours(of: 100).first == 5 && again.neighbours(of: 5).first == 100)
        #expect(!(0..<203).contains { again.neighbours(of: $0).contains(Int32($0)) })
    }

    @Test func neighbourTableIsCachedPerEmbeddingsAndK() throws {
        let folder = temporaryFolder("cache")
        defer { try? FileManager.default.removeItem(at: folder) }
        let x = randomTensor([50, 4], seed: 51)
        let (first, cached1) = try NeighbourSearch.cached(x, k: 5, folder: folder)
        let (second, cached2) = try NeighbourSearch.cached(x, k: 5, folder: folder)
        #expect(!cached1 && cached2 && first == second)
        let (_, cached3) = try NeighbourSearch.cached(x, k: 6, folder: folder)
        var y = x
        y[0] += 1
        let (_, cached4) = try NeighbourSearch.cached(y, k: 5, folder: folder)
        #expect(!cached3 && !cached4)
    }

    /// The sampler's factored product equals running G itself (dropout off) on the same
    /// noise (the seed's stream named by a hash of the image's features), a block size
    /// changes nothing, and an image's samples are the same bits sampled alone, among
    /// other images in another order, or as a copy of another row.
    @Test func samplerMatchesTheGenerator() throws {
        var random = SeededRandom(seed: 60)
        let sizes = smallSizes()
        var generator = Generator(sizes: sizes, random: &random)
        let features = randomTensor([5, 6], seed: 61)
        var rawFeatures = TrainingConfiguration(sizes: sizes)
        rawFeatures.unitFeatures = false
        let sampler = TagSampler(generator: generator, configuration: rawFeatures)
        let samples = sampler.sample(features: features, samplesPerImage: 3, seed: 9)
        // With unit features (the default) the sampler scales each row first.
        let unitSampler = TagSampler(generator: generator, configuration: TrainingConfiguration(sizes: sizes))
        #expect(unitSampler.sample(features: features, samplesPerImage: 3, seed: 9)
                == sampler.sample(features: features.withUnitRows(), samplesPerImage: 3, seed: 9))
        #expect(samples.shape == [15, 4])
        #expect(sampler.sample(features: features, samplesPerImage: 3, seed: 9, blockImages: 2) == samples)
        // With a feature mean the sampler centres the rows before scaling them.
        var centred = TrainingConfiguration(sizes: sizes)
        centred.featureMean = [0.5, -1, 2, 0, 0.25, 3]
        var shifted = features
        for r in 0..<5 { for c in 0..<6 { shifted[r, c] -= centred.featureMean![c] } }
        #expect(TagSampler(generator: generator, configuration: centred).sample(features: features, samplesPerImage: 3, seed: 9)
                == sampler.sample(features: shifted.withUnitRows(), samplesPerImage: 3, seed: 9))
        let scaled = sampler.sample(features: features, samplesPerImage: 3, seed: 9, noiseScale: 0.5)
        let root = SeededRandom(seed: 9)
        for image in 0..<5 {
            var noiseRandom = root.split(stream: TagSampler.noiseStream(features, row: image))
            let z = Tensor.gaussian(shape: [3, 3], using: &noiseRandom)
            let x = Tensor(shape: [3, 6], values: Array(repeating: features.row(image), count: 3).flatMap { $0 })
            var unused = SeededRandom(seed: 0)
            generator.forward(noise: z, features: x, training: false, random: &unused)
            for i in 0..<12 { #expect(abs(generator.output[i] - samples[image * 12 + i]) < 1e-5) }
            // A noise scale multiplies the same draws.
            var half = z
            for i in 0..<half.count { half.storage[i] *= 0.5 }
            generator.forward(noise: half, features: x, training: false, random: &unused)
            for i in 0..<12 { #expect(abs(generator.output[i] - scaled[image * 12 + i]) < 1e-5) }
        }
        let order = [3, 0, 3, 4]
        let reordered = sampler.sample(features: Tensor(shape: [4, 6], values: order.flatMap { features.row($0) }),
                                       samplesPerImage: 3, seed: 9)
        for (place, image) in order.enumerated() {
            let alone = sampler.sample(features: Tensor(shape: [1, 6], values: features.row(image)), samplesPerImage: 3, seed: 9)
            #expect(alone.storage == Array(samples.storage[image * 12 ..< (image + 1) * 12]), "image \(image) alone")
            #expect(Array(reordered.storage[place * 12 ..< (place + 1) * 12]) == alone.storage, "image \(image) at place \(place)")
        }
        #expect(TagSampler.noiseStream(features, row: 0) != TagSampler.noiseStream(features, row: 1))
    }
}

@Suite("TagGAN learns a known function of the condition")
struct SyntheticTaskTests {
    /// The held-out images the accuracy tests score are new draws: none equals a training
    /// image (they were once the training set's first rows), yet they come from the same
    /// classes and tag vectors.
    @Test func heldOutImagesAreNotTrainingImages() throws {
        let task = try syntheticSplit(training: 400, heldOut: 80, classes: 8, featureSize: 32, wordSize: 16, seed: 70)
        let training = task.training.features, heldOut = task.heldOut!.features
        let trainingRows = Set((0..<training.rows).map { training.row($0) })
        for r in 0..<heldOut.rows { #expect(!trainingRows.contains(heldOut.row(r)), "held-out row \(r) is a training row") }
        #expect(task.heldOut!.tagVectors.storage == task.training.tagVectors.storage)
        #expect(task.heldOutClass == (0..<80).map { $0 % 8 })
    }

    /// 8 clusters of image features, one tag each. After training, the word nearest (by
    /// cosine) to each sample of a held-out image should be its cluster's tag far more
    /// often than the 1 in 8 of chance.
    @Test(arguments: [TrainingMode.cgan, .icgan])
    func samplesLandNearTheRightTag(mode: TrainingMode) throws {
        let classes = 8
        let task = try syntheticSplit(training: 400, heldOut: 80, classes: classes, featureSize: 32, wordSize: 16, seed: 70)
        let data = task.training, heldOut = task.heldOut!, heldOutClass = task.heldOutClass
        var configuration = syntheticConfiguration(seed: 71)
        configuration.mode = mode
        // This task's features already have unit RMS per component; scaling them to unit
        // length (the default, for conv-net features of length ~20-40) slows learning at
        // this size: 0.39 / 0.32 instead of 1.0 / 1.0 after 600 steps (Experiments).
        configuration.unitFeatures = false
        let accuracy = try heldOutAccuracy(configuration, data: data, heldOut: heldOut, classOf: heldOutClass)
        #expect(accuracy > 0.6, "nearest tag right for \(accuracy) of samples (chance 0.125)")
    }

    /// Features like a conv net's: non-negative with a large component common to every
    /// image. With the defaults `taggan train` uses (centred, unit-length features and
    /// mismatched pairs in D's loss), the right tag is still found far above chance.
    @Test func learnsWithCentredFeaturesAndMismatchedPairs() throws {
        let classes = 8
        func offset(_ data: TrainingData) throws -> TrainingData {
            var features = data.features
            for i in 0 ..< features.count { features.storage[i] += 4 }
            return try TrainingData(features: features, tags: data.tags, tagVectors: data.tagVectors)
        }
        let task = try syntheticSplit(training: 400, heldOut: 80, classes: classes, featureSize: 32, wordSize: 16, seed: 70)
        let data = try offset(task.training), heldOut = try offset(task.heldOut!), heldOutClass = task.heldOutClass
        var configuration = syntheticConfiguration(seed: 71)
        configuration.optimizer = .adam
        configuration.learningRate = 1e-3
        configuration.featureMean = data.featureMean
        configuration.mismatchWeight = 0.5
        let accuracy = try heldOutAccuracy(configuration, data: data, heldOut: heldOut, classOf: heldOutClass)
        #expect(accuracy > 0.6, "nearest tag right for \(accuracy) of samples (chance 0.125)")
    }
}

/// The synthetic task's networks (a few times smaller than the paper's) and schedule:
/// batch 50, 600 steps, neighbourhoods of 5.
func syntheticConfiguration(seed: UInt64) -> TrainingConfiguration {
    var sizes = NetworkSizes(featureSize: 32, wordSize: 16)
    sizes.noiseSize = 8
    sizes.generatorNoiseHidden = 32
    sizes.generatorFeatureHidden = 64
    sizes.discriminatorWordHidden = 32
    sizes.discriminatorFeatureHidden = 64
    sizes.maxoutUnits = 32
    var configuration = TrainingConfiguration(sizes: sizes)
    configuration.batchSize = 50
    configuration.steps = 600
    configuration.neighbours = 5
    configuration.seed = seed
    return configuration
}

/// Trains on `data`, then draws 20 samples per held-out image: the share whose nearest
/// tag is their image's class.
func heldOutAccuracy(_ configuration: TrainingConfiguration, data: TrainingData, heldOut: TrainingData,
                     classOf: [Int]) throws -> Double {
    let neighbours = configuration.mode == .icgan ? NeighbourSearch.nearest(data.features, k: configuration.neighbours) : nil
    let trainer = try GANTrainer(data: data, configuration: configuration, neighbours: neighbours)
    try trainer.train(checkpointEvery: 0, folder: nil)
    let sampler = TagSampler(generator: trainer.generator, configuration: trainer.configuration)
    let samples = sampler.sample(features: heldOut.features, samplesPerImage: 20, seed: 72)
    return nearestTagAccuracy(samples: samples, samplesPerImage: 20, vectors: trainer.data.tagVectors, classOf: classOf)
}

/// The share of samples whose nearest tag vector (cosine) is their image's class.
func nearestTagAccuracy(samples: Tensor, samplesPerImage: Int, vectors: Tensor, classOf: [Int]) -> Double {
    let unit = vectors.withUnsafeBufferPointer { _ in TrainingDataUnit.unitRows(vectors) }
    let scores = Tensor.matmul(samples, unit, transposeB: true)
    var right = 0
    for r in 0..<samples.rows {
        let row = scores.row(r)
        let best = row.indices.max { row[$0] < row[$1] }!
        if best == classOf[r / samplesPerImage] { right += 1 }
    }
    return Double(right) / Double(samples.rows)
}

enum TrainingDataUnit {
    static func unitRows(_ t: Tensor) -> Tensor {
        var u = t
        for r in 0..<t.rows {
            let norm = t.row(r).reduce(0) { $0 + $1 * $1 }.squareRoot()
            for c in 0..<t.columns { u[r, c] = t[r, c] / max(norm, 1e-12) }
        }
        return u
    }
}
