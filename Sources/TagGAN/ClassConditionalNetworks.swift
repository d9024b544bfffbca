import TagganCore

/// Layer sizes of the class-conditional image experiment. The defaults are the paper's
/// (Mirza & Osindero 2014, section 4.1, MNIST):
///
///     G: z (100, uniform) -> 200 ReLU;  y (one-hot) -> 1000 ReLU;  joint 1200 ReLU -> 784 sigmoid
///     D: x -> maxout 240 x 5;  y -> maxout 50 x 5;  joint maxout 240 x 4 -> sigmoid
///
/// `classes` 0 gives the same networks without y: the unconditional GAN of Goodfellow et
/// al. (2014) that Table 1 lists beside the CGAN.
public struct ImageNetworkSizes: Codable, Sendable, Equatable {
    /// Pixels per image (784 for 28 x 28).
    public var imageSize: Int
    /// Number of classes y is one-hot over; 0: unconditional (no y branch in G or D).
    public var classes: Int
    public var noiseSize = 100
    /// z ~ U[noiseMinimum, 1)^noiseSize. The paper: 0, "uniform distribution within the unit
    /// hypercube"; -1 centres it (Goodfellow et al.'s code draws from [-sqrt(3), sqrt(3)]).
    public var noiseMinimum: Float = 0
    public var generatorNoiseHidden = 200
    public var generatorLabelHidden = 1000
    public var generatorJointHidden = 1200
    public var discriminatorImageUnits = 240
    public var discriminatorImagePieces = 5
    public var discriminatorLabelUnits = 50
    public var discriminatorLabelPieces = 5
    public var discriminatorJointUnits = 240
    public var discriminatorJointPieces = 4
    /// Dropout on D's hidden layers (the paper: 0.5).
    public var discriminatorDropout: Float = 0.5
    /// Dropout on G's hidden layers. The paper says dropout 0.5 was "applied to both"; the
    /// issue's specification and Goodfellow et al.'s MNIST configuration put it in D only,
    /// so 0 is the default.
    public var generatorDropout: Float = 0
    /// G's weights start uniform in +-generatorInitialRange, D's in
    /// +-discriminatorInitialRange (pylearn2's `irange`; 0.05 and 0.005 are Goodfellow et
    /// al.'s MNIST configuration). nil: `Linear`'s default +-1 / sqrt(inputs). Measured on
    /// the digits: with the default, y's 1000 units (one-hot input, weights up to 0.32)
    /// drowned z's 200 (uniform input, weights up to 0.1), and G ignored z (every sample of a
    /// class the same image).
    public var generatorInitialRange: Float? = 0.05
    public var discriminatorInitialRange: Float? = 0.005

    /// `Linear`'s scale for a layer of `inputs` inputs: bound = scale / sqrt(inputs).
    func scale(_ range: Float?, inputs: Int) -> Float {
        range.map { $0 * Float(inputs).squareRoot() } ?? 1
    }

    public init(imageSize: Int, classes: Int) {
        self.imageSize = imageSize
        self.classes = classes
    }

    /// Checkpoints written before `noiseMinimum` existed decode with the paper's 0.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        imageSize = try c.decode(Int.self, forKey: .imageSize)
        classes = try c.decode(Int.self, forKey: .classes)
        noiseSize = try c.decode(Int.self, forKey: .noiseSize)
        noiseMinimum = try c.decodeIfPresent(Float.self, forKey: .noiseMinimum) ?? 0
        generatorNoiseHidden = try c.decode(Int.self, forKey: .generatorNoiseHidden)
        generatorLabelHidden = try c.decode(Int.self, forKey: .generatorLabelHidden)
        generatorJointHidden = try c.decode(Int.self, forKey: .generatorJointHidden)
        discriminatorImageUnits = try c.decode(Int.self, forKey: .discriminatorImageUnits)
        discriminatorImagePieces = try c.decode(Int.self, forKey: .discriminatorImagePieces)
        discriminatorLabelUnits = try c.decode(Int.self, forKey: .discriminatorLabelUnits)
        discriminatorLabelPieces = try c.decode(Int.self, forKey: .discriminatorLabelPieces)
        discriminatorJointUnits = try c.decode(Int.self, forKey: .discriminatorJointUnits)
        discriminatorJointPieces = try c.decode(Int.self, forKey: .discriminatorJointPieces)
        discriminatorDropout = try c.decode(Float.self, forKey: .discriminatorDropout)
        generatorDropout = try c.decode(Float.self, forKey: .generatorDropout)
        generatorInitialRange = try c.decodeIfPresent(Float.self, forKey: .generatorInitialRange)
        discriminatorInitialRange = try c.decodeIfPresent(Float.self, forKey: .discriminatorInitialRange)
    }

    public var conditional: Bool { classes > 0 }
}

/// The image generator: pixels in (0, 1) from noise z and (when conditional) a one-hot
/// class y. Parameters: `noise.*`, `label.*` (conditional only), `joint.*`, `output.*`.
public struct ImageGenerator: Sendable {
    public let sizes: ImageNetworkSizes
    public var noiseLayer: Linear
    public var labelLayer: Linear?
    public var jointLayer: Linear
    public var outputLayer: Linear
    var noiseDropout: Dropout, labelDropout: Dropout, jointDropout: Dropout

    var noiseHidden = Tensor(zeros: [0]), labelHidden = Tensor(zeros: [0])
    var joint = Tensor(zeros: [0]), jointHidden = Tensor(zeros: [0])
    /// The images of the last forward pass, one per row, values in (0, 1).
    public private(set) var output = Tensor(zeros: [0])
    var outputGradientScratch = Tensor(zeros: [0]), jointHiddenGradient = Tensor(zeros: [0])
    var jointGradient = Tensor(zeros: [0])
    var noiseHiddenGradient = Tensor(zeros: [0]), labelHiddenGradient = Tensor(zeros: [0])

    public init(sizes: ImageNetworkSizes, random: inout SeededRandom) {
        self.sizes = sizes
        let r = sizes.generatorInitialRange
        noiseLayer = Linear(inputs: sizes.noiseSize, outputs: sizes.generatorNoiseHidden,
                            scale: sizes.scale(r, inputs: sizes.noiseSize), random: &random)
        labelLayer = sizes.conditional
            ? Linear(inputs: sizes.classes, outputs: sizes.generatorLabelHidden,
                     scale: sizes.scale(r, inputs: sizes.classes), random: &random) : nil
        let jointInputs = sizes.generatorNoiseHidden + (sizes.conditional ? sizes.generatorLabelHidden : 0)
        jointLayer = Linear(inputs: jointInputs, outputs: sizes.generatorJointHidden,
                            scale: sizes.scale(r, inputs: jointInputs), random: &random)
        outputLayer = Linear(inputs: sizes.generatorJointHidden, outputs: sizes.imageSize,
                             scale: sizes.scale(r, inputs: sizes.generatorJointHidden), random: &random)
        noiseDropout = Dropout(rate: sizes.generatorDropout)
        labelDropout = Dropout(rate: sizes.generatorDropout)
        jointDropout = Dropout(rate: sizes.generatorDropout)
    }

    /// Generates one image per row of `noise` (rows x noiseSize) and `labels` (rows x
    /// classes one-hot; ignored when unconditional).
    public mutating func forward(noise z: Tensor, labels y: Tensor, training: Bool, random: inout SeededRandom) {
        noiseLayer.forward(z, into: &noiseHidden)
        ReLU.forward(&noiseHidden)
        noiseDropout.forward(&noiseHidden, training: training, random: &random)
        if let labelLayer {
            precondition(y.rows == z.rows, "\(y.rows) label rows for \(z.rows) noise rows")
            labelLayer.forward(y, into: &labelHidden)
            ReLU.forward(&labelHidden)
            labelDropout.forward(&labelHidden, training: training, random: &random)
            Concatenation.forward(noiseHidden, labelHidden, into: &joint)
            jointLayer.forward(joint, into: &jointHidden)
        } else {
            jointLayer.forward(noiseHidden, into: &jointHidden)
        }
        ReLU.forward(&jointHidden)
        jointDropout.forward(&jointHidden, training: training, random: &random)
        outputLayer.forward(jointHidden, into: &output)
        Sigmoid.forward(&output)
    }

    /// Sets every parameter gradient from dL/d output (the pixels of the last forward).
    public mutating func backward(noise z: Tensor, labels y: Tensor, outputGradient: Tensor) {
        outputGradientScratch = outputGradient
        Sigmoid.backward(output: output, gradient: &outputGradientScratch)
        outputLayer.backwardParameters(input: jointHidden, outputGradient: outputGradientScratch)
        outputLayer.backwardInput(outputGradient: outputGradientScratch, into: &jointHiddenGradient)
        jointDropout.backward(&jointHiddenGradient)
        ReLU.backward(output: jointHidden, gradient: &jointHiddenGradient)
        if labelLayer != nil {
            jointLayer.backwardParameters(input: joint, outputGradient: jointHiddenGradient)
            jointLayer.backwardInput(outputGradient: jointHiddenGradient, into: &jointGradient)
            Concatenation.backward(jointGradient, firstColumns: sizes.generatorNoiseHidden,
                                   into: &noiseHiddenGradient, &labelHiddenGradient)
            labelDropout.backward(&labelHiddenGradient)
            ReLU.backward(output: labelHidden, gradient: &labelHiddenGradient)
            labelLayer!.backwardParameters(input: y, outputGradient: labelHiddenGradient)
        } else {
            jointLayer.backwardParameters(input: noiseHidden, outputGradient: jointHiddenGradient)
            jointLayer.backwardInput(outputGradient: jointHiddenGradient, into: &noiseHiddenGradient)
        }
        noiseDropout.backward(&noiseHiddenGradient)
        ReLU.backward(output: noiseHidden, gradient: &noiseHiddenGradient)
        noiseLayer.backwardParameters(input: z, outputGradient: noiseHiddenGradient)
    }

    public mutating func visitParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try noiseLayer.visitParameters("noise", body)
        if labelLayer != nil { try labelLayer!.visitParameters("label", body) }
        try jointLayer.visitParameters("joint", body)
        try outputLayer.visitParameters("output", body)
    }
}

/// The image discriminator: the logit of the probability that image x (of class y, when
/// conditional) is real. D(x, y) = sigmoid(logit); the loss works on the logit
/// (`SigmoidCrossEntropy`). Parameters: `image.*` (weight [imageSize, units * pieces],
/// piece p of unit u in column u * pieces + p), `label.*`, `joint.*`, `output.*`.
public struct ImageDiscriminator: Sendable {
    public let sizes: ImageNetworkSizes
    public var imageLayer: Linear
    public var labelLayer: Linear?
    public var jointLayer: Linear
    public var outputLayer: Linear
    var imageMaxout: Maxout, labelMaxout: Maxout, jointMaxout: Maxout
    var imageDropout: Dropout, labelDropout: Dropout, jointDropout: Dropout

    var imagePre = Tensor(zeros: [0]), imageHidden = Tensor(zeros: [0])
    var labelPre = Tensor(zeros: [0]), labelHidden = Tensor(zeros: [0])
    var joint = Tensor(zeros: [0]), jointPre = Tensor(zeros: [0]), jointHidden = Tensor(zeros: [0])
    /// The logits of the last forward pass, [rows, 1].
    public private(set) var logits = Tensor(zeros: [0])
    var jointHiddenGradient = Tensor(zeros: [0]), jointPreGradient = Tensor(zeros: [0])
    var jointGradient = Tensor(zeros: [0])
    var imageHiddenGradient = Tensor(zeros: [0]), imagePreGradient = Tensor(zeros: [0])
    var labelHiddenGradient = Tensor(zeros: [0]), labelPreGradient = Tensor(zeros: [0])
    /// dL/d images after `backward(..., inputGradient: true)`.
    public private(set) var inputGradient = Tensor(zeros: [0])

    public init(sizes: ImageNetworkSizes, random: inout SeededRandom) {
        self.sizes = sizes
        let r = sizes.discriminatorInitialRange
        imageLayer = Linear(inputs: sizes.imageSize, outputs: sizes.discriminatorImageUnits * sizes.discriminatorImagePieces,
                            scale: sizes.scale(r, inputs: sizes.imageSize), random: &random)
        labelLayer = sizes.conditional
            ? Linear(inputs: sizes.classes, outputs: sizes.discriminatorLabelUnits * sizes.discriminatorLabelPieces,
                     scale: sizes.scale(r, inputs: sizes.classes), random: &random) : nil
        let jointInputs = sizes.discriminatorImageUnits + (sizes.conditional ? sizes.discriminatorLabelUnits : 0)
        jointLayer = Linear(inputs: jointInputs, outputs: sizes.discriminatorJointUnits * sizes.discriminatorJointPieces,
                            scale: sizes.scale(r, inputs: jointInputs), random: &random)
        outputLayer = Linear(inputs: sizes.discriminatorJointUnits, outputs: 1,
                             scale: sizes.scale(r, inputs: sizes.discriminatorJointUnits), random: &random)
        imageMaxout = Maxout(units: sizes.discriminatorImageUnits, pieces: sizes.discriminatorImagePieces)
        labelMaxout = Maxout(units: sizes.discriminatorLabelUnits, pieces: sizes.discriminatorLabelPieces)
        jointMaxout = Maxout(units: sizes.discriminatorJointUnits, pieces: sizes.discriminatorJointPieces)
        imageDropout = Dropout(rate: sizes.discriminatorDropout)
        labelDropout = Dropout(rate: sizes.discriminatorDropout)
        jointDropout = Dropout(rate: sizes.discriminatorDropout)
    }

    /// Computes `logits` for `images` (rows x imageSize) of classes `labels` (rows x
    /// classes one-hot; ignored when unconditional).
    public mutating func forward(images x: Tensor, labels y: Tensor, training: Bool, random: inout SeededRandom) {
        imageLayer.forward(x, into: &imagePre)
        imageMaxout.forward(imagePre, into: &imageHidden)
        imageDropout.forward(&imageHidden, training: training, random: &random)
        if let labelLayer {
            precondition(y.rows == x.rows, "\(y.rows) label rows for \(x.rows) images")
            labelLayer.forward(y, into: &labelPre)
            labelMaxout.forward(labelPre, into: &labelHidden)
            labelDropout.forward(&labelHidden, training: training, random: &random)
            Concatenation.forward(imageHidden, labelHidden, into: &joint)
            jointLayer.forward(joint, into: &jointPre)
        } else {
            jointLayer.forward(imageHidden, into: &jointPre)
        }
        jointMaxout.forward(jointPre, into: &jointHidden)
        jointDropout.forward(&jointHidden, training: training, random: &random)
        outputLayer.forward(jointHidden, into: &logits)
    }

    /// Back-propagates dL/d logits through the last forward pass: every parameter gradient
    /// when `parameters`, and `inputGradient` (dL/d images) when `inputGradient`. The
    /// labels are data, so no gradient flows to them.
    public mutating func backward(images x: Tensor, labels y: Tensor, logitGradient: Tensor,
                                  parameters: Bool, inputGradient needInput: Bool) {
        if parameters { outputLayer.backwardParameters(input: jointHidden, outputGradient: logitGradient) }
        outputLayer.backwardInput(outputGradient: logitGradient, into: &jointHiddenGradient)
        jointDropout.backward(&jointHiddenGradient)
        jointMaxout.backward(jointHiddenGradient, into: &jointPreGradient)
        if labelLayer != nil {
            if parameters { jointLayer.backwardParameters(input: joint, outputGradient: jointPreGradient) }
            jointLayer.backwardInput(outputGradient: jointPreGradient, into: &jointGradient)
            Concatenation.backward(jointGradient, firstColumns: sizes.discriminatorImageUnits,
                                   into: &imageHiddenGradient, &labelHiddenGradient)
            if parameters {
                labelDropout.backward(&labelHiddenGradient)
                labelMaxout.backward(labelHiddenGradient, into: &labelPreGradient)
                labelLayer!.backwardParameters(input: y, outputGradient: labelPreGradient)
            }
        } else {
            if parameters { jointLayer.backwardParameters(input: imageHidden, outputGradient: jointPreGradient) }
            jointLayer.backwardInput(outputGradient: jointPreGradient, into: &imageHiddenGradient)
        }
        imageDropout.backward(&imageHiddenGradient)
        imageMaxout.backward(imageHiddenGradient, into: &imagePreGradient)
        if parameters { imageLayer.backwardParameters(input: x, outputGradient: imagePreGradient) }
        if needInput { imageLayer.backwardInput(outputGradient: imagePreGradient, into: &inputGradient) }
    }

    public mutating func visitParameters(_ body: (String, inout Tensor, inout Tensor) throws -> Void) rethrows {
        try imageLayer.visitParameters("image", body)
        if labelLayer != nil { try labelLayer!.visitParameters("label", body) }
        try jointLayer.visitParameters("joint", body)
        try outputLayer.visitParameters("output", body)
    }
}
