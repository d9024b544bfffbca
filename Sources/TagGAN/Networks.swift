import TagganCore

/// The layer sizes of G and D. The defaults are the paper's (Mirza & Osindero 2014,
/// section 4.2); the feature and word sizes come from the data.
public struct NetworkSizes: Codable, Sendable, Equatable {
    /// Length of one image embedding (1280 for EfficientNet-Lite0, 4096 in the paper).
    public var featureSize: Int
    /// Length of one word vector (200 in the paper).
    public var wordSize: Int
    public var noiseSize = 100
    public var generatorNoiseHidden = 500
    public var generatorFeatureHidden = 2000
    public var discriminatorWordHidden = 500
    public var discriminatorFeatureHidden = 1200
    public var maxoutUnits = 1000
    public var maxoutPieces = 3
    /// Dropout rate on every hidden layer of G and D.
    public var dropout: Float = 0.5
    /// Weights start uniform in +-initialScale / sqrt(inputs) (`Linear`): 1 is PyTorch's
    /// `nn.Linear` default (variance 1/(3 inputs)), sqrt(6) He et al.'s for ReLUs.
    public var initialScale: Float = 1

    public init(featureSize: Int, wordSize: Int = 200) {
        self.featureSize = featureSize
        self.wordSize = wordSize
    }
}

/// The generator: a word vector for an image's embedding and a noise vector.
///
///     z (noiseSize, N(0, 1)) -> Linear -> ReLU -> dropout    (generatorNoiseHidden)
///     x (featureSize)        -> Linear -> ReLU -> dropout    (generatorFeatureHidden)
///     [both]                 -> Linear                      (wordSize) = the generated vector
///
/// Parameters are named `noise.*`, `feature.*`, `output.*` (`weight` [inputs, outputs],
/// `bias` [1, outputs]).
public struct Generator: Sendable {
    public let sizes: NetworkSizes
    public var noiseLayer: Linear
    public var featureLayer: Linear
    public var outputLayer: Linear
    var noiseDropout: Dropout
    var featureDropout: Dropout

    var noiseHidden = Tensor(zeros: [0])
    var featureHidden = Tensor(zeros: [0])
    var joint = Tensor(zeros: [0])
    /// The generated vectors of the last forward pass, one row per input row.
    public private(set) var output = Tensor(zeros: [0])
    var jointGradient = Tensor(zeros: [0])
    var noiseHiddenGradient = Tensor(zeros: [0])
    var featureHiddenGradient = Tensor(zeros: [0])

    public init(sizes: NetworkSizes, random: inout SeededRandom) {
        self.sizes = sizes
        noiseLayer = Linear(inputs: sizes.noiseSize, outputs: sizes.generatorNoiseHidden, scale: sizes.initialScale, random: &random)
        featureLayer = Linear(inputs: sizes.featureSize, outputs: sizes.generatorFeatureHidden, scale: sizes.initialScale, random: &random)
        outputLayer = Linear(inputs: sizes.generatorNoiseHidden + sizes.generatorFeatureHidden,
                             outputs: sizes.wordSize, scale: sizes.initialScale, random: &random)
        noiseDropout = Dropout(rate: sizes.dropout)
        featureDropout = Dropout(rate: sizes.dropout)
        noiseLayer.ownProducts = true
        featureLayer.ownProducts = true
        outputLayer.ownProducts = true
    }

    /// Generates one vector per row of `noise` (rows x noiseSize) and `features`
    /// (rows x featureSize) into `output`. Dropout masks come from `random` when training.
    public mutating func forward(noise z: Tensor, features x: Tensor, training: Bool, random: inout SeededRandom) {
        precondition(z.rows == x.rows, "\(z.rows) noise rows for \(x.rows) feature rows")
        noiseLayer.forward(z, into: &noiseHidden, rectified: true)
        noiseDropout.forward(&noiseHidden, training: training, random: &random)
        featureLayer.forward(x, into: &featureHidden, rectified: true)
        featureDropout.forward(&featureHidden, training: training, random: &random)
        Concatenation.forward(noiseHidden, featureHidden, into: &joint)
        outputLayer.forward(joint, into: &output)
    }

    /// Sets every parameter gradient from dL/d output (the inputs of the last forward).
    public mutating func backward(noise z: Tensor, features x: Tensor, outputGradient: Tensor) {
        outputLayer.backwardParameters(input: joint, outputGradient: outputGradient)
        outputLayer.backwardInput(outputGradient: outputGradient, into: &jointGradient)
        Concatenation.backward(jointGradient, firstColumns: sizes.generatorNoiseHidden,
                               into: &noiseHiddenGradient, &featureHiddenGradient)
        noiseDropout.backward(&noiseHiddenGradient)
        ReLU.backward(output: noiseHidden, gradient: &noiseHiddenGradient)
        noiseLayer.backwardParameters(input: z, outputGradient: noiseHiddenGradient)
        featureDropout.backward(&featureHiddenGradient)
        ReLU.backward(output: featureHidden, gradient: &featureHiddenGradient)
        featureLayer.backwardParameters(input: x, outputGradient: featureHiddenGradient)
    }

    public mutating func visitParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try noiseLayer.visitParameters("noise", body)
        try featureLayer.visitParameters("feature", body)
        try outputLayer.visitParameters("output", body)
    }

    mutating func setWeightGradientProducts(scale: Float, accumulate: Bool) {
        for path in [\Generator.noiseLayer, \.featureLayer, \.outputLayer] {
            self[keyPath: path].weightGradientScale = scale
            self[keyPath: path].weightGradientAccumulates = accumulate
        }
    }
}

/// What the GAN trainer's optimiser step needs of a network: its parameters with their
/// gradients (`weight` and `bias` of each layer), and the mode of every layer's
/// weight-gradient product (`Linear.weightGradientScale`).
protocol TrainableNetwork {
    mutating func visitParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows
    mutating func setWeightGradientProducts(scale: Float, accumulate: Bool)
}

extension Generator: TrainableNetwork {}
extension Discriminator: TrainableNetwork {}

/// The discriminator: the probability that a word vector is a real tag of an image.
///
///     w (wordSize)    -> Linear -> ReLU -> dropout        (discriminatorWordHidden)
///     x (featureSize) -> Linear -> ReLU -> dropout        (discriminatorFeatureHidden)
///     [both]          -> Linear -> maxout (units x pieces) -> dropout -> Linear -> logit
///
/// D(w, x) = sigmoid(logit); the loss works on the logit (`SigmoidCrossEntropy`).
///
/// A batch may show each image several times (the real, the generated and the
/// mismatched vector for the same image): row r of `words` is paired with row r % C of
/// the C feature rows. Everything on the image's side is then computed once per image:
/// the feature branch x W + b, its ReLU and its dropout mask (one mask per image, shared
/// by the image's rows), and the image's share of the maxout layer's product,
///
///     z_r = h_word(r) W_word + h_image(r % C) W_image + b      (W = [W_word; W_image])
///
/// so the image half of the widest product (1200 x 3000 of 1700 x 3000) runs on C rows
/// instead of R, and its weight and input gradients on the C row sums of dz. Each row's
/// own dropout masks (word branch, maxout units) stay per row. Sharing the image mask
/// leaves every row's distribution, and so the expected loss and gradient, as with
/// independent masks; only rows of one image now see the same dropped image units
/// (BENCHMARKS.md, TagGAN: the speed and the quality check). Without dropout this is
/// exactly D on the repeated features.
///
/// Parameters: `word.*`, `feature.*`, `maxout.*` (weight [word + feature hidden,
/// units * pieces], piece p of unit u in column u * pieces + p), `output.*`.
public struct Discriminator: Sendable {
    public let sizes: NetworkSizes
    public var wordLayer: Linear
    public var featureLayer: Linear
    public var maxoutLayer: Linear
    public var outputLayer: Linear
    var maxout: Maxout
    var wordDropout: Dropout
    var featureDropout: Dropout
    var maxoutDropout: Dropout

    var wordHidden = Tensor(zeros: [0])
    /// The image branch after ReLU and dropout, one row per image (C rows).
    var featureHidden = Tensor(zeros: [0])
    /// h_image W_image + b, one row per image.
    var imageShare = Tensor(zeros: [0])
    var maxoutPreactivation = Tensor(zeros: [0])
    var maxoutOutput = Tensor(zeros: [0])
    /// The logits of the last forward pass, [rows, 1].
    public private(set) var logits = Tensor(zeros: [0])

    var maxoutOutputGradient = Tensor(zeros: [0])
    var maxoutPreactivationGradient = Tensor(zeros: [0])
    /// dz summed over the rows of each image (C rows).
    var imageShareGradient = Tensor(zeros: [0])
    var wordHiddenGradient = Tensor(zeros: [0])
    var featureHiddenGradient = Tensor(zeros: [0])
    /// dL/d words after `backward(..., wordGradient: true)`.
    public private(set) var wordGradient = Tensor(zeros: [0])

    /// The training step alternates D's own pass (2B or 3B word rows) with G's (B rows):
    /// the buffers of the row count not in use wait here, so that neither pass resizes
    /// (zero-fills or reallocates) its activations, masks and gradients every step.
    var otherPass: PassBuffers
    /// The word rows the buffers in use were last sized for.
    var bufferRows = 0

    /// Everything a forward and backward pass writes (see `otherPass`).
    struct PassBuffers: Sendable {
        var rows = 0
        var maxout: Maxout
        var wordDropout, featureDropout, maxoutDropout: Dropout
        var wordHidden = Tensor(zeros: [0]), featureHidden = Tensor(zeros: [0]), imageShare = Tensor(zeros: [0])
        var maxoutPreactivation = Tensor(zeros: [0]), maxoutOutput = Tensor(zeros: [0]), logits = Tensor(zeros: [0])
        var maxoutOutputGradient = Tensor(zeros: [0]), maxoutPreactivationGradient = Tensor(zeros: [0])
        var imageShareGradient = Tensor(zeros: [0]), wordHiddenGradient = Tensor(zeros: [0])
        var featureHiddenGradient = Tensor(zeros: [0]), wordGradient = Tensor(zeros: [0])
    }

    /// Makes the buffers in use those of a pass over `rows` word rows: swaps them with
    /// `otherPass` when the row count changes (the two sets trade places; a third row
    /// count reuses the older set, resized as needed). Values are overwritten by the pass.
    mutating func useBuffers(rows newRows: Int) {
        guard newRows != bufferRows else { return }
        swap(&maxout, &otherPass.maxout)
        swap(&wordDropout, &otherPass.wordDropout)
        swap(&featureDropout, &otherPass.featureDropout)
        swap(&maxoutDropout, &otherPass.maxoutDropout)
        swap(&wordHidden, &otherPass.wordHidden)
        swap(&featureHidden, &otherPass.featureHidden)
        swap(&imageShare, &otherPass.imageShare)
        swap(&maxoutPreactivation, &otherPass.maxoutPreactivation)
        swap(&maxoutOutput, &otherPass.maxoutOutput)
        swap(&logits, &otherPass.logits)
        swap(&maxoutOutputGradient, &otherPass.maxoutOutputGradient)
        swap(&maxoutPreactivationGradient, &otherPass.maxoutPreactivationGradient)
        swap(&imageShareGradient, &otherPass.imageShareGradient)
        swap(&wordHiddenGradient, &otherPass.wordHiddenGradient)
        swap(&featureHiddenGradient, &otherPass.featureHiddenGradient)
        swap(&wordGradient, &otherPass.wordGradient)
        swap(&bufferRows, &otherPass.rows)
        bufferRows = newRows
    }

    public init(sizes: NetworkSizes, random: inout SeededRandom) {
        self.sizes = sizes
        wordLayer = Linear(inputs: sizes.wordSize, outputs: sizes.discriminatorWordHidden, scale: sizes.initialScale, random: &random)
        featureLayer = Linear(inputs: sizes.featureSize, outputs: sizes.discriminatorFeatureHidden, scale: sizes.initialScale, random: &random)
        maxoutLayer = Linear(inputs: sizes.discriminatorWordHidden + sizes.discriminatorFeatureHidden,
                             outputs: sizes.maxoutUnits * sizes.maxoutPieces, scale: sizes.initialScale, random: &random)
        outputLayer = Linear(inputs: sizes.maxoutUnits, outputs: 1, scale: sizes.initialScale, random: &random)
        maxout = Maxout(units: sizes.maxoutUnits, pieces: sizes.maxoutPieces)
        wordDropout = Dropout(rate: sizes.dropout)
        featureDropout = Dropout(rate: sizes.dropout)
        maxoutDropout = Dropout(rate: sizes.dropout)
        otherPass = PassBuffers(maxout: maxout, wordDropout: wordDropout, featureDropout: featureDropout,
                                maxoutDropout: maxoutDropout)
        wordLayer.ownProducts = true
        featureLayer.ownProducts = true
        maxoutLayer.ownProducts = true
        outputLayer.ownProducts = true
    }

    /// Computes `logits` for `words` (R x wordSize) against `features` (C x featureSize),
    /// where C divides R and row r is conditioned on feature row r % C.
    public mutating func forward(words: Tensor, features: Tensor, training: Bool, random: inout SeededRandom) {
        let rows = words.rows, images = features.rows
        precondition(images > 0 && rows % images == 0, "\(rows) word rows do not repeat \(images) feature rows")
        useBuffers(rows: rows)
        wordLayer.forward(words, into: &wordHidden, rectified: true)
        wordDropout.forward(&wordHidden, training: training, random: &random)

        featureLayer.forward(features, into: &featureHidden, rectified: true)
        featureDropout.forward(&featureHidden, training: training, random: &random)

        // z = h_word W_word + (h_image W_image + b) repeated over the blocks of C rows:
        // the image share is computed once, copied into every block, and the word
        // product accumulates onto it (beta 1).
        let wordHiddenSize = sizes.discriminatorWordHidden, hidden = sizes.discriminatorFeatureHidden
        let n = maxoutLayer.outputs
        imageShare.resize(to: [images, n])
        maxoutPreactivation.resize(to: [rows, n])
        maxoutLayer.weight.withUnsafeBufferPointer { w in
            let wordWeight = w.baseAddress!, imageWeight = w.baseAddress! + wordHiddenSize * n
            featureHidden.withUnsafeBufferPointer { h in
                imageShare.withUnsafeMutableBufferPointer { s in
                    maxoutLayer.bias.withUnsafeBufferPointer { b in
                        LayerKernels.fillRows(s.baseAddress!, with: b.baseAddress!, rows: images, columns: n)
                    }
                    Products.product(.none, .none, m: images, n: n, k: hidden, a: h.baseAddress!, lda: hidden,
                                     b: imageWeight, ldb: n, beta: 1, c: s.baseAddress!, ldc: n, own: true)
                }
            }
            imageShare.withUnsafeBufferPointer { s in
                wordHidden.withUnsafeBufferPointer { h in
                    maxoutPreactivation.withUnsafeMutableBufferPointer { z in
                        for block in 0 ..< rows / images {
                            (z.baseAddress! + block * images * n).update(from: s.baseAddress!, count: images * n)
                        }
                        Products.product(.none, .none, m: rows, n: n, k: wordHiddenSize, a: h.baseAddress!, lda: wordHiddenSize,
                                         b: wordWeight, ldb: n, beta: 1, c: z.baseAddress!, ldc: n, own: true)
                    }
                }
            }
        }
        maxout.forward(maxoutPreactivation, into: &maxoutOutput)
        maxoutDropout.forward(&maxoutOutput, training: training, random: &random)
        outputLayer.forward(maxoutOutput, into: &logits)
    }

    /// Back-propagates dL/d logits through the last forward pass: sets every parameter
    /// gradient when `parameters`, and `wordGradient` (dL/d words) when `wordGradient`.
    /// The feature rows are data, so no gradient flows to them.
    public mutating func backward(words: Tensor, features: Tensor, logitGradient: Tensor,
                                  parameters: Bool, wordGradient needWordGradient: Bool) {
        let rows = words.rows, images = features.rows
        let wordHiddenSize = sizes.discriminatorWordHidden, hidden = sizes.discriminatorFeatureHidden
        let n = maxoutLayer.outputs
        // The maxout weight's two products (word rows, image rows) as its layer's own would run.
        let gradientScale = maxoutLayer.weightGradientScale, gradientBeta: Float = maxoutLayer.weightGradientAccumulates ? 1 : 0
        if parameters { outputLayer.backwardParameters(input: maxoutOutput, outputGradient: logitGradient) }
        outputLayer.backwardInput(outputGradient: logitGradient, into: &maxoutOutputGradient)
        maxoutDropout.backward(&maxoutOutputGradient)
        maxout.backward(maxoutOutputGradient, into: &maxoutPreactivationGradient)

        // The word rows of the maxout weight: dW_word = h_word^T dz, dh_word = dz W_word^T.
        // (The generator's pass needs only dh_word.)
        wordHiddenGradient.resize(to: [rows, wordHiddenSize])
        maxoutPreactivationGradient.withUnsafeBufferPointer { dz in
            maxoutLayer.weight.withUnsafeBufferPointer { w in
                wordHiddenGradient.withUnsafeMutableBufferPointer { dh in
                    Products.product(.none, .transposed, m: rows, n: wordHiddenSize, k: n,
                               a: dz.baseAddress!, lda: n, b: w.baseAddress!, ldb: n,
                               beta: 0, c: dh.baseAddress!, ldc: wordHiddenSize, own: true)
                }
            }
            if parameters {
                wordHidden.withUnsafeBufferPointer { h in
                    maxoutLayer.weightGradient.withUnsafeMutableBufferPointer { dw in
                        Products.product(.transposed, .none, m: wordHiddenSize, n: n, k: rows,
                                   alpha: gradientScale, a: h.baseAddress!, lda: wordHiddenSize,
                                   b: dz.baseAddress!, ldb: n, beta: gradientBeta,
                                   c: dw.baseAddress!, ldc: n, own: true)
                    }
                }
            }
        }

        wordDropout.backward(&wordHiddenGradient)
        ReLU.backward(output: wordHidden, gradient: &wordHiddenGradient)
        if parameters { wordLayer.backwardParameters(input: words, outputGradient: wordHiddenGradient) }
        if needWordGradient { wordLayer.backwardInput(outputGradient: wordHiddenGradient, into: &wordGradient) }

        guard parameters else { return }
        // The image rows: dz summed over each image's rows, then dW_image = h_image^T
        // sum dz, db = column sums, dh_image = (sum dz) W_image^T.
        imageShareGradient.resize(to: [images, n])
        maxoutPreactivationGradient.withUnsafeBufferPointer { dz in
            imageShareGradient.withUnsafeMutableBufferPointer { sum in
                sum.baseAddress!.update(from: dz.baseAddress!, count: images * n)
                for block in 1 ..< rows / images {
                    VectorKernels.axpy(1, dz.baseAddress! + block * images * n, sum.baseAddress!, count: images * n)
                }
            }
        }
        featureHiddenGradient.resize(to: [images, hidden])
        imageShareGradient.withUnsafeBufferPointer { dz in
            maxoutLayer.biasGradient.withUnsafeMutableBufferPointer { db in
                LayerKernels.columnSums(dz.baseAddress!, rows: images, columns: n, into: db.baseAddress!, accumulate: false)
            }
            featureHidden.withUnsafeBufferPointer { h in
                maxoutLayer.weightGradient.withUnsafeMutableBufferPointer { dw in
                    Products.product(.transposed, .none, m: hidden, n: n, k: images,
                               alpha: gradientScale, a: h.baseAddress!, lda: hidden,
                               b: dz.baseAddress!, ldb: n, beta: gradientBeta,
                               c: dw.baseAddress! + wordHiddenSize * n, ldc: n, own: true)
                }
            }
            maxoutLayer.weight.withUnsafeBufferPointer { w in
                featureHiddenGradient.withUnsafeMutableBufferPointer { dh in
                    Products.product(.none, .transposed, m: images, n: hidden, k: n,
                               a: dz.baseAddress!, lda: n, b: w.baseAddress! + wordHiddenSize * n, ldb: n,
                               beta: 0, c: dh.baseAddress!, ldc: hidden, own: true)
                }
            }
        }
        featureDropout.backward(&featureHiddenGradient)
        ReLU.backward(output: featureHidden, gradient: &featureHiddenGradient)
        featureLayer.backwardParameters(input: features, outputGradient: featureHiddenGradient)
    }

    public mutating func visitParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try wordLayer.visitParameters("word", body)
        try featureLayer.visitParameters("feature", body)
        try maxoutLayer.visitParameters("maxout", body)
        try outputLayer.visitParameters("output", body)
    }

    mutating func setWeightGradientProducts(scale: Float, accumulate: Bool) {
        for path in [\Discriminator.wordLayer, \.featureLayer, \.maxoutLayer, \.outputLayer] {
            self[keyPath: path].weightGradientScale = scale
            self[keyPath: path].weightGradientAccumulates = accumulate
        }
    }
}
