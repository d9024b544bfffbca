import Foundation
import TagganCore

/// A class-conditional model folder (e.g. `W/classcond/fashion-mnist/cgan/`) holds, like
/// the tag GAN's (Checkpoint.swift):
///
/// - `weights-<step>.safetensors`: `generator.<layer>.weight|bias`,
///   `discriminator.<layer>.*` (weights [inputs, outputs]) and the optimiser state
///   `optimizer.<network>.<layer>.<param>.<slot>`, F32; `__metadata__` repeats the step and
///   configuration.
/// - `checkpoint.json`: this record; written last, it is the commit point. Older weights
///   files are removed only after it, so a crash leaves the previous checkpoint whole.
public struct ClassConditionalCheckpoint: Codable, Sendable {
    public var format = "taggan-classcond-checkpoint"
    public var version = 1
    public var configuration: ClassConditionalConfiguration
    public var step: Int
    public var weights: String
    public var history: [LossRecord]
    var pending: PendingLosses
    public var images: Int
    /// `LabelledImageData.fingerprint` in hexadecimal.
    public var fingerprint: String
    /// Free-form provenance from the caller (data set, folder).
    public var source: [String: String]
    public var finished: Bool

    public static let fileName = "checkpoint.json"

    public static func read(folder: URL) throws -> ClassConditionalCheckpoint {
        let url = folder.appendingPathComponent(fileName)
        let data = try AtomicFile.read(url)
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let record = try decoder.decode(ClassConditionalCheckpoint.self, from: data)
            guard record.format == "taggan-classcond-checkpoint", record.version == 1 else {
                throw TagganError.file(url.path, "not a taggan class-conditional checkpoint (format \(record.format) v\(record.version))")
            }
            return record
        } catch let error as TagganError {
            throw error
        } catch {
            throw TagganError.file(url.path, "unreadable checkpoint: \(error)")
        }
    }
}

extension ClassConditionalTrainer {
    /// Writes the weights, optimiser state and record into `folder`, atomically. Refuses
    /// (and writes nothing) when a parameter is not finite.
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
        let encoder = GANTrainer.encoder
        let weightsName = String(format: "weights-%09d.safetensors", step)
        try SafeTensors(tensors: tensors, metadata: [
            "format": "taggan-classcond", "step": String(step),
            "configuration": String(decoding: try encoder.encode(configuration), as: UTF8.self),
        ]).write(to: folder.appendingPathComponent(weightsName))
        let record = ClassConditionalCheckpoint(
            configuration: configuration, step: step, weights: weightsName, history: history, pending: pending,
            images: data.count, fingerprint: String(data.fingerprint, radix: 16), source: source,
            finished: step >= configuration.steps)
        try AtomicFile.write(try encoder.encode(record), to: folder.appendingPathComponent(ClassConditionalCheckpoint.fileName))
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix("weights-") && name.hasSuffix(".safetensors") && name != weightsName {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// Continues the run saved in `folder` on the same data (checked by fingerprint);
    /// `steps`, when given, replaces the saved total.
    public convenience init(resumingFrom folder: URL, data: LabelledImageData, steps: Int? = nil) throws {
        let record = try ClassConditionalCheckpoint.read(folder: folder)
        guard record.fingerprint == String(data.fingerprint, radix: 16) else {
            throw TagganError.file(folder.appendingPathComponent(ClassConditionalCheckpoint.fileName).path,
                                   "checkpoint was trained on other data (\(record.images) images; now \(data.count)); "
                                   + "start afresh without --resume")
        }
        var configuration = record.configuration
        if let steps { configuration.steps = steps }
        try self.init(data: data, configuration: configuration)
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
}
