import Foundation
import TagganCore

/// Draws tag vectors from a trained generator: the entry point the Eval stage uses.
///
///     var sampler = try TagSampler(modelFolder: workspace.appendingPathComponent("models/cgan"))
///     let samples = sampler.sample(features: embeddings, samplesPerImage: 100, seed: 7)
///     // samples: [N * 100, wordSize]; rows i*100 ..< (i+1)*100 belong to image i
///
/// Each sample is G(z, x) with z ~ N(0, I) and dropout off (inverted dropout needs no
/// rescaling at inference); x is scaled to unit length first when the model was trained
/// so (`unitFeatures`, the default), after centring when the model was trained with a
/// `featureMean`. The output lives in the space the model was trained in:
/// unit-length tag vectors when `unitTagVectors` (the default), so compare samples with
/// words by cosine similarity.
///
/// Cost: G's joint layer is linear, so G(z, x) = h(z) W_z + h(x) W_x + b. The image part
/// h(x) W_x + b is computed once per image and the noise part once per sample, both as
/// products over a block of images; sampling 100 per image costs little more than the
/// 100 noise branches. An image's samples depend on that image alone, bit for bit: its
/// noise comes from the stream of the seed named by a hash of its feature row's bits
/// (`noiseStream`), not by its place in `features`, and every product is row-stable
/// (`Tensor.assignRowStableProduct`). So an image is tagged the same whether a folder is
/// tagged whole, in shards or a few images at a time, and two copies of it alike.
public struct TagSampler: Sendable {
    public let generator: Generator
    public let configuration: TrainingConfiguration
    /// Steps the model was trained for.
    public let step: Int

    public init(generator: Generator, configuration: TrainingConfiguration, step: Int = 0) {
        self.generator = generator
        self.configuration = configuration
        self.step = step
    }

    /// Loads the generator of the checkpoint in `modelFolder` (e.g. `W/models/icgan`).
    /// (`CheckpointRecord.readWithWeights`: whole even while a run is committing new ones.)
    public init(modelFolder: URL) throws {
        let (record, weights) = try CheckpointRecord.readWithWeights(folder: modelFolder)
        try self.init(record: record, weights: weights, modelFolder: modelFolder)
    }

    /// The generator of `record`, from the bytes of its weights file (`weights`, read from
    /// `modelFolder`, which error messages name).
    public init(record: CheckpointRecord, weights: Data, modelFolder: URL) throws {
        let url = modelFolder.appendingPathComponent(record.weights)
        let file = try SafeTensors.decode(weights, path: url.path)
        var random = SeededRandom(seed: 0)
        var generator = Generator(sizes: record.configuration.sizes, random: &random)
        try generator.visitParameters { name, w, _ in
            w = try file.tensor("generator." + name, shape: w.shape, in: url.path)
        }
        try record.configuration.checkFeatureWidth(record.configuration.sizes.featureSize,
                                                   from: "the model's own network sizes",
                                                   model: modelFolder.appendingPathComponent(CheckpointRecord.fileName).path)
        self.init(generator: generator, configuration: record.configuration, step: record.step)
    }

    /// Throws, naming `model` (the checkpoint) and both widths, when features of
    /// `columns` columns (from `source`) cannot go into this generator: the check a caller
    /// makes before `sample`, whose precondition would otherwise stop the process.
    public func checkFeatureWidth(_ columns: Int, from source: String, model: String) throws {
        try configuration.checkFeatureWidth(columns, from: source, model: model)
    }

    /// `samplesPerImage` generated vectors for each row of `features` (N x featureSize),
    /// as an [N * samplesPerImage, wordSize] tensor, image-major.
    ///
    /// `noiseScale` multiplies z (the truncation trick of BigGAN, Brock et al. 2019, in its
    /// simplest form): 1 draws from the prior G was trained with; smaller values keep the
    /// samples nearer what G makes of the image itself.
    public func sample(features: Tensor, samplesPerImage s: Int, seed: UInt64, blockImages: Int = 64,
                       noiseScale: Float = 1) -> Tensor {
        let sizes = generator.sizes
        precondition(features.columns == sizes.featureSize,
                     "generator takes \(sizes.featureSize)-d features, got \(features.columns)")
        precondition(s > 0, "at least one sample per image")
        let features = configuration.conditioned(features: features)
        let n = features.rows, d = sizes.wordSize, f = sizes.featureSize
        let noiseHidden = sizes.generatorNoiseHidden, featureHidden = sizes.generatorFeatureHidden
        var result = Tensor(zeros: [n * s, d])
        // W_z and W_x: the joint layer's weight rows for each branch (contiguous blocks).
        let jointWeight = generator.outputLayer.weight
        let noiseRows = Tensor(shape: [noiseHidden, d], values: Array(jointWeight.storage[0 ..< noiseHidden * d]))
        let featureRows = Tensor(shape: [featureHidden, d], values: Array(jointWeight.storage[noiseHidden * d ..< (noiseHidden + featureHidden) * d]))
        let root = SeededRandom(seed: seed)
        var hiddenX = Tensor(zeros: [0]), imagePart = Tensor(zeros: [0])
        var z = Tensor(zeros: [0]), hiddenZ = Tensor(zeros: [0]), noisePart = Tensor(zeros: [0])
        var start = 0
        while start < n {
            let rows = min(blockImages, n - start)
            let x = Tensor(shape: [rows, f], values: Array(features.storage[start * f ..< (start + rows) * f]))
            generator.featureLayer.forward(x, into: &hiddenX, rowStable: true)
            ReLU.forward(&hiddenX)
            imagePart.assignRowStableProduct(hiddenX, featureRows)
            if z.count != rows * s * sizes.noiseSize { z = Tensor(zeros: [rows * s, sizes.noiseSize]) }
            z.withUnsafeMutableBufferPointer { p in
                for i in 0..<rows {
                    var random = root.split(stream: Self.noiseStream(features, row: start + i))
                    random.fillGaussian(UnsafeMutableBufferPointer(rebasing: p[i * s * sizes.noiseSize ..< (i + 1) * s * sizes.noiseSize]))
                }
                if noiseScale != 1 { VectorKernels.scale(p, by: noiseScale) }
            }
            generator.noiseLayer.forward(z, into: &hiddenZ, rowStable: true)
            ReLU.forward(&hiddenZ)
            noisePart.assignRowStableProduct(hiddenZ, noiseRows)
            // result rows = noise part + (image part + bias) of their image.
            generator.outputLayer.bias.withUnsafeBufferPointer { bias in
                imagePart.withUnsafeMutableBufferPointer { image in
                    LayerKernels.addRowVector(bias.baseAddress!, to: image.baseAddress!, rows: rows, columns: d)
                    noisePart.withUnsafeMutableBufferPointer { noise in
                        for i in 0..<rows {
                            for j in 0..<s {
                                VectorKernels.axpy(1, image.baseAddress! + i * d, noise.baseAddress! + (i * s + j) * d, count: d)
                            }
                        }
                    }
                }
            }
            noisePart.withUnsafeBufferPointer { block in
                result.withUnsafeMutableBufferPointer { out in
                    (out.baseAddress! + start * s * d).update(from: block.baseAddress!, count: rows * s * d)
                }
            }
            start += rows
        }
        return result
    }

    /// The noise stream of the image whose (conditioned) features are row `row`: FNV-1a's
    /// step over the row's 32-bit float patterns, mixed by SplitMix64's finaliser. Equal
    /// rows (an image and its copy) share their noise; rows that differ in any bit get
    /// other streams but for a hash collision (a feature of -0.0 and one of 0.0 differ).
    static func noiseStream(_ features: Tensor, row: Int) -> UInt64 {
        let f = features.columns
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        features.withUnsafeBufferPointer { p in
            for value in UnsafeBufferPointer(rebasing: p[row * f ..< (row + 1) * f]) {
                hash = (hash ^ UInt64(value.bitPattern)) &* 0x100_0000_01b3
            }
        }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }
}
