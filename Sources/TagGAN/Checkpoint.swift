import Foundation
import TagganCore

/// A model folder (e.g. `W/models/cgan/`) holds:
///
/// - `weights-<step>.safetensors`: every parameter as F32, named `generator.<layer>.weight`,
///   `generator.<layer>.bias`, `discriminator.<layer>.*` (weights [inputs, outputs]), and
///   the optimiser's state as `optimizer.<network>.<layer>.<param>.<slot>` (slot
///   `velocity` for SGD, `adam_m` / `adam_v` for Adam). Its `__metadata__` repeats the
///   step and the configuration as JSON, so the file stands on its own.
/// - `checkpoint.json`: this record (configuration, step, random state, optimiser
///   summary, loss history, data description) and the name of the weights file.
///
/// Each file is written to a temporary name and renamed into place; `checkpoint.json` is
/// written last and is the commit point, and older weights files are removed only after
/// it. A crash at any moment leaves the previous checkpoint whole.
public struct CheckpointRecord: Codable, Sendable {
    public var format = "taggan-gan-checkpoint"
    public var version = 1
    public var configuration: TrainingConfiguration
    /// Steps completed.
    public var step: Int
    /// The weights file, relative to the folder.
    public var weights: String
    public var random: RandomState
    public var optimizer: OptimizerSummary
    public var history: [LossRecord]
    var pending: PendingLosses
    public var data: DataSummary
    /// True when `step` reached `configuration.steps`.
    public var finished: Bool

    public struct RandomState: Codable, Sendable {
        public var algorithm = "xoshiro256**; step s draws from SeededRandom(seed).split(stream: s), epoch e's order from split(stream: 2^62 + e)"
        public var seed: UInt64
        public var nextStep: Int
    }

    public struct OptimizerSummary: Codable, Sendable {
        public var kind: OptimizerKind
        public var learningRate: Double
        public var momentum: Double?
        /// Names of the optimiser tensors stored in the weights file.
        public var slots: [String]
    }

    public struct DataSummary: Codable, Sendable {
        public var images: Int
        public var examples: Int
        public var tags: Int
        public var featureSize: Int
        public var wordSize: Int
        /// `TrainingData.fingerprint` in hexadecimal.
        public var fingerprint: String
        /// Free-form provenance from the caller (e.g. the vectors file).
        public var source: [String: String]
    }

    public static let fileName = "checkpoint.json"

    /// The record in `folder` and the bytes of the weights file it names, as one
    /// checkpoint. A run training into the folder at the same time commits a new record
    /// and then removes the old weights, so a reader that took the record just before a
    /// commit finds its weights file gone: it then reads the record again (up to 8 times
    /// while the record keeps moving on) instead of failing. Holding the bytes, the caller
    /// never pairs one checkpoint's record with another's weights.
    public static func readWithWeights(folder: URL) throws -> (record: CheckpointRecord, weights: Data) {
        var record = try read(folder: folder), attempts = 1
        while true {
            let url = folder.appendingPathComponent(record.weights)
            do {
                return (record, try AtomicFile.read(url))
            } catch {
                guard attempts < 8, !FileManager.default.fileExists(atPath: url.path) else { throw error }
                let newer = try read(folder: folder)
                guard newer.weights != record.weights else { throw error }
                record = newer
                attempts += 1
            }
        }
    }

    public static func read(folder: URL) throws -> CheckpointRecord {
        let url = folder.appendingPathComponent(fileName)
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TagganError.file(url.path, "no checkpoint here (\(error.localizedDescription))")
        }
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let record = try decoder.decode(CheckpointRecord.self, from: data)
            guard record.format == "taggan-gan-checkpoint", record.version == 1 else {
                throw TagganError.file(url.path, "not a taggan GAN checkpoint (format \(record.format) v\(record.version))")
            }
            // Numbers the trainer indexes and sizes with: a hand-edited or damaged record
            // must be an error naming the file, not a crash.
            let c = record.configuration
            guard record.step >= 0, c.steps > 0, c.batchSize > 0, c.batchSize <= 1_000_000, c.neighbours > 0,
                  c.historyEvery > 0, c.learningRate.isFinite, c.learningRate > 0 else {
                throw TagganError.file(url.path, "damaged checkpoint: step \(record.step), steps \(c.steps), batch size \(c.batchSize), "
                                       + "neighbours \(c.neighbours), history every \(c.historyEvery), learning rate \(c.learningRate)")
            }
            return record
        } catch let error as TagganError {
            throw error
        } catch {
            throw TagganError.file(url.path, "unreadable checkpoint: \(error)")
        }
    }
}

extension GANTrainer {
    /// Writes the weights, optimiser state and record into `folder`, atomically.
    /// Refuses (and writes nothing) when a parameter is not finite.
    public func saveCheckpoint(to folder: URL, source: [String: String] = [:]) throws {
        guard parametersAreFinite() else {
            throw TagganError.failure("training diverged before step \(step): a parameter is NaN or infinite; "
                                      + "the last checkpoint in \(folder.path) is intact")
        }
        var tensors: [String: Tensor] = [:]
        var g = generator, d = discriminator
        g.visitParameters { name, w, _ in tensors["generator." + name] = w }
        d.visitParameters { name, w, _ in tensors["discriminator." + name] = w }
        for (name, slot) in optimizer.slots { tensors["optimizer." + name] = slot }
        let configurationJSON = String(decoding: try Self.encoder.encode(configuration), as: UTF8.self)
        let weightsName = String(format: "weights-%09d.safetensors", step)
        try SafeTensors(tensors: tensors, metadata: [
            "format": "taggan-gan", "step": String(step), "configuration": configurationJSON,
        ]).write(to: folder.appendingPathComponent(weightsName))

        let record = CheckpointRecord(
            configuration: configuration, step: step, weights: weightsName,
            random: .init(seed: configuration.seed, nextStep: step),
            optimizer: .init(kind: configuration.optimizer, learningRate: configuration.learningRate(atStep: step),
                             momentum: configuration.optimizer == .sgd ? configuration.momentum(atStep: step) : nil,
                             slots: optimizer.slots.keys.sorted().map { "optimizer." + $0 }),
            history: history, pending: pending,
            data: .init(images: data.imageCount, examples: data.exampleCount, tags: data.tagVectors.rows,
                        featureSize: data.featureSize, wordSize: data.wordSize,
                        fingerprint: String(inputFingerprint, radix: 16), source: source),
            finished: step >= configuration.steps)
        try AtomicFile.write(try Self.encoder.encode(record), to: folder.appendingPathComponent(CheckpointRecord.fileName))

        // Only now is the new checkpoint committed; older weights files can go.
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix("weights-") && name.hasSuffix(".safetensors") && name != weightsName {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// Continues the run saved in `folder` on the same data (checked by fingerprint).
    /// `steps`, when given, replaces the saved total (to extend or shorten a run).
    public convenience init(resumingFrom folder: URL, data: TrainingData, neighbours: NeighbourTable? = nil,
                            steps: Int? = nil) throws {
        let record = try CheckpointRecord.read(folder: folder)
        guard record.data.fingerprint == String(data.fingerprint, radix: 16) else {
            throw TagganError.file(folder.appendingPathComponent(CheckpointRecord.fileName).path,
                                   "checkpoint was trained on other data (\(record.data.images) images, "
                                   + "\(record.data.examples) examples; now \(data.imageCount) and \(data.exampleCount)); "
                                   + "start afresh without --resume")
        }
        var configuration = record.configuration
        if let steps { configuration.steps = steps }
        try self.init(data: data, configuration: configuration, neighbours: neighbours)
        let url = folder.appendingPathComponent(record.weights)
        let file = try SafeTensors.read(contentsOf: url)
        try generator.visitParameters { name, w, _ in
            w = try file.tensor("generator." + name, shape: w.shape, in: url.path)
        }
        try discriminator.visitParameters { name, w, _ in
            w = try file.tensor("discriminator." + name, shape: w.shape, in: url.path)
        }
        for (name, tensor) in file.tensors where name.hasPrefix("optimizer.") {
            optimizer.slots[String(name.dropFirst("optimizer.".count))] = tensor
        }
        step = record.step
        history = record.history
        pending = record.pending
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }
}
