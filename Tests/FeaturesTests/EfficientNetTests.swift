import Foundation
import TestSupport
import Testing
@testable import Features
import Ingest
import TagganCore

/// The parity fixture (Fixtures/README.md says how it was made) and the weights from
/// the corpora cache: `$TAGGAN_CORPORA` or `<repo>/corpora/cache`
/// (`corpora/fetch-efficientnet.sh` fetches them; tests that need them are skipped
/// with a note when they are absent).
enum Support {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let names = ["chelsea", "coffee", "astronaut", "rocket"]

    static var corpora: URL { TestData.corporaCache }

    static var lite0Weights: URL { corpora.appendingPathComponent("models/efficientnet-lite0.pth") }
    static var lite2Weights: URL { corpora.appendingPathComponent("models/efficientnet-lite2.pth") }
    static var haveWeights: Bool { FileManager.default.fileExists(atPath: lite0Weights.path) }

    /// The network, loaded once for all tests.
    static let lite0: Result<EfficientNet, Error> = Result { try EfficientNet.load(contentsOf: lite0Weights, config: .lite0) }

    /// A binary PPM (P6, maxval 255).
    static func readPPM(_ url: URL) throws -> RGBImage {
        let data = [UInt8](try Data(contentsOf: url))
        var fields: [String] = [], i = 0
        while fields.count < 4 {
            while data[i] == 0x20 || data[i] == 0x0a { i += 1 }
            var token = ""
            while data[i] != 0x20 && data[i] != 0x0a { token.append(Character(UnicodeScalar(data[i]))); i += 1 }
            fields.append(token)
        }
        i += 1
        let width = Int(fields[1])!, height = Int(fields[2])!
        return RGBImage(width: width, height: height, pixels: Array(data[i ..< i + width * height * 3]))
    }

    static func crops() throws -> [RGBImage] {
        try names.map { try readPPM(fixtures.appendingPathComponent("\($0).ppm")) }
    }

    static func top(_ k: Int, _ row: [Float]) -> [Int] {
        Array(row.indices.sorted { row[$0] > row[$1] }.prefix(k))
    }
}

/// Needs the fetched weights, and fails (never skips) without them, as the README says.
@Suite("EfficientNet-Lite0 against the reference forward pass", .serialized)
struct EfficientNetParityTests {
    init() throws {
        try #require(Support.haveWeights, "weights missing: run bash corpora/fetch-all.sh --lite2")
    }

    @Test("logits and features within 5e-5 of onnxruntime's, same top-5; chelsea is an Egyptian cat, coffee an espresso")
    func parity() throws {
        let net = try Support.lite0.get()
        let expected = try NPY.read(contentsOf: Support.fixtures.appendingPathComponent("logits.npy"))
        let expectedFeatures = try NPY.read(contentsOf: Support.fixtures.appendingPathComponent("features.npy"))
        let inputs = ImagePreprocessor(config: .lite0).normalise(try Support.crops())
        let output = net.forward(inputs, threads: 2)
        #expect(output.logits.shape == [4, 1000])
        #expect(output.features.shape == [4, 1280])
        var worst: Float = 0, worstFeature: Float = 0
        for i in 0..<expected.count { worst = max(worst, abs(expected[i] - output.logits[i])) }
        for i in 0..<expectedFeatures.count { worstFeature = max(worstFeature, abs(expectedFeatures[i] - output.features[i])) }
        print("largest logit difference \(worst), largest feature difference \(worstFeature)")
        // Absolute differences from the onnxruntime reference (fixtures/README.md); measured
        // 8.2e-6 (logits) and 6.4e-6 (features) here. 5e-5 holds the README's "~1e-5" claim
        // with room for another CPU's rounding, where 1e-3 would not notice a wrong layer.
        #expect(worst <= 5e-5)
        #expect(worstFeature <= 5e-5)
        for (n, name) in Support.names.enumerated() {
            #expect(Support.top(5, output.logits.row(n)) == Support.top(5, expected.row(n)), "top-5 of \(name)")
        }
        #expect(Support.top(1, output.logits.row(0)) == [285])  // chelsea: Egyptian cat
        #expect(Support.top(1, output.logits.row(1)) == [967])  // coffee: espresso
        #expect(ImageNetClasses.names[285] == "Egyptian cat" && ImageNetClasses.names[967] == "espresso")
    }

    @Test("one image at a time, or a group of four on one worker, gives the batch's rows")
    func batchIndependence() throws {
        let net = try Support.lite0.get()
        let inputs = ImagePreprocessor(config: .lite0).normalise(try Support.crops())
        let batch = net.embed(inputs, threads: 2)
        let second = ImagePreprocessor(config: .lite0).normalise([try Support.crops()[1]])
        let single = net.embed(second, threads: 1)
        for j in 0..<1280 { #expect(abs(single[0, j] - batch[1, j]) <= 1e-5) }
        // One worker takes all four through the late blocks as one group (two workers
        // above: one image per chunk).
        let grouped = net.embed(inputs, threads: 1)
        var worst: Float = 0
        for i in 0..<batch.count { worst = max(worst, abs(grouped[i] - batch[i])) }
        #expect(worst <= 1e-5)
    }

    @Test("the checkpoint holds 296 tensors, 4.69 M float parameters; safetensors loads the same network")
    func checkpointAndSafetensors() throws {
        let weights = try TorchCheckpoint.read(contentsOf: Support.lite0Weights)
        // 49 BatchNorm `num_batches_tracked` integers are skipped: 296 - 49 float tensors.
        #expect(weights.tensors.count == 247)
        #expect(weights.tensors.values.reduce(0) { $0 + $1.count } == 4_694_024)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lite0-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        try weights.write(to: file)
        let fromSafetensors = try EfficientNet.load(contentsOf: file, config: .lite0)
        let net = try Support.lite0.get()
        #expect(fromSafetensors.parameterCount == net.parameterCount)
        let inputs = ImagePreprocessor(config: .lite0).normalise([try Support.crops()[0]])
        #expect(fromSafetensors.forward(inputs).logits == net.forward(inputs).logits)
    }

    @Test func copyingTensorsWholeOrByStridedRowsGivesTheTensorsOfTheElementWalk() throws {
        let data = try Data(contentsOf: Support.lite0Weights)
        let copied = try TorchCheckpoint.decode(data, path: "lite0.pth", fast: true)
        let walked = try TorchCheckpoint.decode(data, path: "lite0.pth", fast: false)
        #expect(copied.tensors.keys.sorted() == walked.tensors.keys.sorted())
        for (name, tensor) in walked.tensors {
            let other = copied.tensors[name]
            #expect(other?.shape == tensor.shape && other?.storage.map(\.bitPattern) == tensor.storage.map(\.bitPattern), "\(name)")
        }
    }

    @Test("bad weights are errors that name the tensor", arguments: [
        ("_fc.bias", "remove", "tensor '_fc.bias' is missing"),
        ("_blocks.3._depthwise_conv.weight", "reshape", "tensor '_blocks.3._depthwise_conv.weight' has shape [144, 1, 3, 3], expected [144, 1, 5, 5]"),
        ("_blocks.7._bn1.running_var", "nan", "tensor '_blocks.7._bn1.running_var' holds NaN"),
    ])
    func badTensors(name: String, damage: String, message: String) throws {
        var weights = try TorchCheckpoint.read(contentsOf: Support.lite0Weights)
        switch damage {
        case "remove": weights.tensors[name] = nil
        case "reshape": weights.tensors[name] = Tensor(zeros: [144, 1, 3, 3])
        default: weights.tensors[name]![0] = .nan
        }
        #expect {
            _ = try EfficientNet(weights: weights, config: .lite0, source: "lite0.pth")
        } throws: { error in
            "\(error)".hasPrefix("lite0.pth: ") && "\(error)".contains(message)
        }
    }

    @Test("a truncated or missing checkpoint is an error naming the file")
    func truncated() throws {
        let data = try Data(contentsOf: Support.lite0Weights)
        for cut in [10, 5_000, 40_000, data.count / 2, data.count - 3] {
            #expect(throws: TagganError.self, "cut at \(cut)") {
                _ = try EfficientNet(weights: try TorchCheckpoint.decode(data.prefix(cut), path: "cut.pth"), config: .lite0)
            }
        }
        // Cut inside the pickle or inside the data: the message names a tensor.
        for cut in [5_000, data.count / 2] {
            #expect {
                _ = try TorchCheckpoint.decode(data.prefix(cut), path: "cut.pth")
            } throws: { error in
                "\(error)".hasPrefix("cut.pth: ") && "\(error)".contains("'_") && "\(error)".contains("truncated")
            }
        }
        let missing = URL(fileURLWithPath: "/nonexistent/efficientnet-lite0.pth")
        #expect(throws: TagganError.file(missing.path, "weights not found (run corpora/fetch-efficientnet.sh, or pass --weights)")) {
            _ = try EfficientNet.load(contentsOf: missing, config: .lite0)
        }
    }

    @Test("decode (Ingest) + preprocess reproduces the fixture's crops and classes")
    func decodeAndPreprocess() throws {
        let preprocessor = ImagePreprocessor(config: .lite0)
        let decoder = ImageDecoder()
        for (file, name) in [("chelsea.png", "chelsea"), ("rocket.jpg", "rocket")] {
            let image = try decoder.decode(contentsOf: Support.fixtures.appendingPathComponent(file),
                                           targetShorterSide: preprocessor.minimumDecodeSide)
            let crop = preprocessor.crop(image)
            let expected = try Support.readPPM(Support.fixtures.appendingPathComponent("\(name).ppm"))
            let differences = zip(crop.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }
            // Rounding of float sums may differ by one at exact halves; JPEG decoders
            // may differ slightly (scikit-image uses Pillow's libjpeg build).
            #expect(differences.max()! <= (file.hasSuffix("png") ? 1 : 4), "\(file)")
            #expect(Double(differences.reduce(0, +)) / Double(differences.count) < 0.05, "\(file)")
        }
        let net = try Support.lite0.get()
        let chelsea = try decoder.decode(contentsOf: Support.fixtures.appendingPathComponent("chelsea.png"))
        #expect(Support.top(1, net.forward(preprocessor.inputs([chelsea])).logits.row(0)) == [285])
    }

    @Test("lite2 (260 px, widths multiples of 8, not 16) sees an Egyptian cat too; one worker's group matches single images")
    func lite2() throws {
        try #require(FileManager.default.fileExists(atPath: Support.lite2Weights.path),
                     "lite2 weights missing: run bash corpora/fetch-all.sh --lite2")
        let net = try EfficientNet.load(contentsOf: Support.lite2Weights, config: .lite2)
        let preprocessor = ImagePreprocessor(config: .lite2)
        let decoder = ImageDecoder()
        let images = try ["chelsea.png", "rocket.jpg"].map {
            try decoder.decode(contentsOf: Support.fixtures.appendingPathComponent($0))
        }
        let inputs = preprocessor.inputs(images + images)
        let grouped = net.forward(inputs, threads: 1)
        #expect(Support.top(1, grouped.logits.row(0)) == [285])
        let single = net.forward(preprocessor.inputs([images[1]]), threads: 1)
        var worst: Float = 0
        for j in 0..<1000 { worst = max(worst, abs(single.logits[0, j] - grouped.logits[3, j])) }
        #expect(worst <= 1e-4)
    }
}

@Suite("EfficientNet configuration and preprocessing")
struct ConfigurationTests {
    @Test("lite0: 16 blocks, 320 channels before the head; lite2: 260 px, wider and deeper")
    func blocks() {
        let lite0 = EfficientNetConfig.lite0.blocks
        #expect(lite0.count == 16)
        #expect(lite0.map(\.outputChannels) == [16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320])
        #expect(lite0.filter(\.hasResidual).count == 9)
        let lite2 = EfficientNetConfig.lite2
        #expect(lite2.imageSize == 260)
        #expect(lite2.blocks.count == 1 + 3 + 3 + 4 + 4 + 5 + 1)
        #expect(lite2.blocks.last!.outputChannels == 352)
        #expect(EfficientNetConfig.named("efficientnet-lite2") == lite2)
        #expect(EfficientNetConfig.named("resnet50") == nil)
    }

    @Test("TF same padding puts the odd pixel after", arguments: [
        (224, 3, 2, 0, 1, 112), (112, 3, 1, 1, 1, 112), (112, 5, 2, 1, 2, 56), (7, 5, 1, 2, 2, 7), (260, 3, 2, 0, 1, 130),
    ])
    func padding(size: Int, kernel: Int, stride: Int, before: Int, after: Int, output: Int) {
        let p = EfficientNetConfig.samePadding(size: size, kernel: kernel, stride: stride)
        #expect(p.before == before && p.after == after && p.output == output)
    }

    @Test("crop keeps the centre of the shorter side; normalisation is (p - 127) / 128")
    func preprocessing() {
        var pixels = [UInt8](repeating: 0, count: 600 * 300 * 3)
        for y in 0..<300 { for x in 0..<600 { pixels[(y * 600 + x) * 3] = x < 300 ? 255 : 0; pixels[(y * 600 + x) * 3 + 1] = 127 } }
        let p = ImagePreprocessor(config: .lite0)
        let crop = p.crop(RGBImage(width: 600, height: 300, pixels: pixels))
        #expect(crop.width == 224 && crop.height == 224)
        #expect(crop[0, 100].0 == 255 && crop[223, 100].0 == 0)   // the red half meets the black one in the middle
        let x = p.normalise([crop])
        #expect(x.shape == [1, 224, 224, 3])
        #expect(x[0] == 1 && x[1] == 0 && x[2] == -127.0 / 128)
    }
}

/// The convolution kernels against plain loops, on shapes the networks' parity tests do
/// not reach: rows not a multiple of the 6-row block, widths that are multiples of 8 but
/// not 16 (lite2's), outputs not a multiple of AVX-512's 32-column tile, images narrower than the kernel, interior widths that are not a
/// multiple of the four-column groups. Every kernel variant (`KernelVariant`:
/// the same source built for no target CPU, for AVX2 and for AVX-512) gets its own suite
/// below, which runs when this CPU can execute that variant and is reported as skipped,
/// with the missing CPU features as the reason, when it cannot.
enum KernelChecks {
    /// Deterministic values in [-1, 1).
    static func values(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { Float(((($0 + 1) * 7919 + seed * 104_729) % 2001) - 1000) / 1000 }
    }

    static let pointwiseShapes = [
        (1, 3, 16), (7, 16, 24), (13, 27, 32), (49, 40, 8), (50, 192, 40), (6, 1152, 17),
        // AVX-512's 6 x 32 tile (two panels at a time): a pair whose second panel has 14
        // outputs (62 = 3 x 16 + 14), an odd count of full panels (46: a pair, then one
        // panel alone), three pairs then the narrow last panel (104 = 6 x 16 + 8); rows
        // not a multiple of 6.
        (23, 37, 62), (11, 19, 46), (17, 64, 104),
        // Its 12 x 24 block (a full panel and the narrow last one together): 24 outputs
        // over rows of two blocks and a part, 20 (a narrow panel of 4 stored), and 56
        // (a pair, then the full panel and the narrow one).
        (29, 96, 24), (13, 5, 20), (31, 33, 56),
    ]
    static let depthwiseShapes = [
        (9, 11, 16, 3, 1), (12, 12, 24, 3, 2), (7, 7, 32, 5, 1), (14, 13, 40, 5, 2), (3, 2, 16, 5, 1), (20, 21, 8, 3, 1),
        (10, 14, 24, 5, 1),  // 5x5 with 16 + 8 channels: the 8-lane tail on interior columns too
        // Several 16-channel blocks of interior columns, widths that leave a partial group
        // of four (AVX2's stride-1 window 8 channels at a time, `halfWindowInRegisters`):
        (4, 23, 32, 3, 1), (5, 19, 48, 5, 1),
        // AVX-512's eight interior columns at a time (`eightColumns`): stride 1 and 2, 3x3
        // and 5x5, widths whose last group of eight overlaps the one before; and its two
        // blocks of 16 channels at a time on rows of four to seven interior columns
        // (`windowPair`: 6 and 7 interior columns, 48 channels = a pair and one block).
        (3, 26, 32, 3, 1), (4, 21, 16, 5, 1), (5, 37, 32, 3, 2), (6, 41, 16, 5, 2),
        (3, 8, 48, 3, 1), (4, 11, 48, 5, 1),
        // AVX2's stride-2 rows eight interior columns at a time for 8 channels
        // (`columnsEightHalves`): 8 mod 16 channels, a 4-channel tail left to the pixel
        // loop, and a last group of eight that overlaps the one before.
        (5, 35, 24, 3, 2), (4, 39, 40, 5, 2), (3, 33, 20, 3, 2),
        // AVX2's stride-1 rows eight interior columns at a time for 8 channels
        // (`streamEight3`, `streamEight5`) with a 4-channel tail, and the two widths
        // either side of the first group of eight (7 and 8 interior columns).
        (4, 27, 20, 3, 1), (3, 30, 36, 5, 1), (5, 9, 16, 3, 1), (4, 12, 8, 5, 1), (3, 10, 16, 3, 1),
    ]

    /// The module behind `variant`'s table says it was built as that variant (the flags
    /// in Package.swift reached it).
    static func table(_ variant: KernelVariant) {
        #expect(KernelTable.of(variant).compiledAs == variant.rawValue)
    }

    /// y = x W + bias, then ReLU6 or + residual, against the triple loop; 1x1 weight
    /// chunks of one panel and of the default size both.
    static func pointwise(_ variant: KernelVariant, rows: Int, inputs: Int, outputs: Int) {
        let kernels = KernelTable.of(variant)
        let x = values(rows * inputs, seed: 1), w = values(inputs * outputs, seed: 2)
        let bias = values(outputs, seed: 3), skip = values(rows * outputs, seed: 4)
        let packed = PointwiseKernel.Packed(weights: w, bias: bias, inputs: inputs, outputs: outputs)
        for (activate, residual) in [(true, false), (false, true), (false, false), (true, true)] {
            for chunk in [1, 256 * 1024] {
                var y = [Float](repeating: .nan, count: rows * outputs)
                x.withUnsafeBufferPointer { x in
                    skip.withUnsafeBufferPointer { skip in
                        PointwiseKernel.apply(packed, x.baseAddress!, rows: rows, into: &y, activate: activate,
                                              residual: residual ? skip.baseAddress! : nil,
                                              kernels: kernels, weightChunkBytes: chunk)
                    }
                }
                var worst: Float = 0
                for r in 0..<rows {
                    for o in 0..<outputs {
                        var v = bias[o]
                        for i in 0..<inputs { v += x[r * inputs + i] * w[i * outputs + o] }
                        if activate { v = min(max(v, 0), 6) }
                        if residual { v += skip[r * outputs + o] }
                        worst = max(worst, abs(v - y[r * outputs + o]))
                    }
                }
                // y starts as NaN, and max() passes over a NaN: an output the kernel never
                // stored would not show in `worst`.
                #expect(!y.contains { $0.isNaN }, "\(variant): outputs left unwritten")
                #expect(worst <= 1e-4, "\(variant): activate \(activate), residual \(residual), chunk \(chunk)")
            }
        }
    }

    /// k x k taps with TF same padding, bias and ReLU6, against the loop over taps.
    static func depthwise(_ variant: KernelVariant, height: Int, width: Int, channels: Int, kernel k: Int, stride s: Int) {
        let x = values(height * width * channels, seed: 5)
        let w = values(k * k * channels, seed: 6), bias = values(channels, seed: 7)
        let rows = EfficientNetConfig.samePadding(size: height, kernel: k, stride: s)
        let columns = EfficientNetConfig.samePadding(size: width, kernel: k, stride: s)
        var y = [Float](repeating: .nan, count: rows.output * columns.output * channels)
        ConvKernels.depthwise(input: x, height: height, width: width, channels: channels, weights: w, bias: bias,
                              kernel: k, stride: s, padTop: rows.before, padLeft: columns.before,
                              output: &y, outHeight: rows.output, outWidth: columns.output, kernels: .of(variant))
        var worst: Float = 0
        for oy in 0..<rows.output {
            for ox in 0..<columns.output {
                for c in 0..<channels {
                    var v = bias[c]
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let iy = oy * s + ky - rows.before, ix = ox * s + kx - columns.before
                            if iy >= 0 && iy < height && ix >= 0 && ix < width {
                                v += x[(iy * width + ix) * channels + c] * w[(ky * k + kx) * channels + c]
                            }
                        }
                    }
                    worst = max(worst, abs(min(max(v, 0), 6) - y[(oy * columns.output + ox) * channels + c]))
                }
            }
        }
        #expect(!y.contains { $0.isNaN }, "\(variant): outputs left unwritten (NaN, which max() passes over)")
        #expect(worst <= 1e-5, "\(variant)")
    }

    /// The whole of lite0 on the fixture's four crops with `variant`'s kernels, against
    /// onnxruntime's logits and features (the same 5e-5 as `EfficientNetParityTests`),
    /// with blocks run by rows and by layers both: once with this machine's blocking and
    /// once with a 512 KiB L2's (Zen 1's), which runs more blocks by rows in smaller groups,
    /// and once with a 64 KiB L2's, which runs every block before the late ones by rows.
    static func network(_ variant: KernelVariant) throws {
        try #require(Support.haveWeights, "weights missing: run bash corpora/fetch-all.sh --lite2")
        let expected = try NPY.read(contentsOf: Support.fixtures.appendingPathComponent("logits.npy"))
        let expectedFeatures = try NPY.read(contentsOf: Support.fixtures.appendingPathComponent("features.npy"))
        let inputs = ImagePreprocessor(config: .lite0).normalise(try Support.crops())
        let small = MachineInfo.Caches(level1Data: 32 << 10, level2: 512 << 10, level3: 8 << 20, source: "test")
        // This machine's blocking, a 512 KiB L2's (most blocks by rows), and every block by
        // layers (the unpadded depthwise pass from 28 px up, the padded one below).
        let byLayers = ConvBlocking(rowByRowBytes: .max, groupImages: 4, weightChunkBytes: 256 << 10)
        // A 64 KiB L2 (or TAGGAN_L2=64K): every block before the late ones by rows (the late
        // ones marked so too crashed: their padded buffer was not allocated).
        let tiny = MachineInfo.Caches(level1Data: 32 << 10, level2: 64 << 10, level3: 8 << 20, source: "test")
        for blocking: ConvBlocking? in [nil, ConvBlocking(caches: small, lateImageBytes: 49 * 1280 * 4), byLayers,
                                        ConvBlocking(caches: tiny, lateImageBytes: 49 * 1280 * 4)] {
            let net = try EfficientNet.load(contentsOf: Support.lite0Weights, config: .lite0, kernels: variant, blocking: blocking)
            #expect(net.kernels.variant == variant)
            let output = net.forward(inputs, threads: 2)
            var worst: Float = 0, worstFeature: Float = 0
            for i in 0..<expected.count { worst = max(worst, abs(expected[i] - output.logits[i])) }
            for i in 0..<expectedFeatures.count { worstFeature = max(worstFeature, abs(expectedFeatures[i] - output.features[i])) }
            print("\(variant), \(net.blocking): largest logit difference \(worst), feature \(worstFeature)")
            #expect(worst <= 5e-5, "\(variant), \(net.blocking)")
            #expect(worstFeature <= 5e-5, "\(variant), \(net.blocking)")
            #expect(Support.top(1, output.logits.row(0)) == [285])
        }
    }
}

/// `KernelVariant`'s reason for skipping, as a test comment.
private func skipReason(_ variant: KernelVariant) -> Comment {
    Comment(rawValue: "\(variant) kernels not run: \(variant.unsupportedReason ?? "")")
}

@Suite("generic kernels (no target CPU) against plain loops", .serialized)
struct GenericKernelTests {
    @Test("the table points at the module built without a target CPU")
    func table() { KernelChecks.table(.generic) }

    @Test("pointwise: x W + bias, ReLU6 or + residual", arguments: KernelChecks.pointwiseShapes)
    func pointwise(rows: Int, inputs: Int, outputs: Int) { KernelChecks.pointwise(.generic, rows: rows, inputs: inputs, outputs: outputs) }

    @Test("depthwise: k x k taps, TF same padding, bias and ReLU6", arguments: KernelChecks.depthwiseShapes)
    func depthwise(height: Int, width: Int, channels: Int, kernel: Int, stride: Int) {
        KernelChecks.depthwise(.generic, height: height, width: width, channels: channels, kernel: kernel, stride: stride)
    }

    @Test("lite0 on these kernels within 5e-5 of onnxruntime, by this machine's blocking, a 512 KiB L2's, a 64 KiB L2's and all by layers")
    func network() throws { try KernelChecks.network(.generic) }
}

@Suite("AVX2 kernels against plain loops", .serialized,
       .enabled(if: KernelVariant.avx2.isSupported, skipReason(.avx2)))
struct AVX2KernelTests {
    @Test("the table points at the module built for haswell")
    func table() { KernelChecks.table(.avx2) }

    @Test("pointwise: x W + bias, ReLU6 or + residual", arguments: KernelChecks.pointwiseShapes)
    func pointwise(rows: Int, inputs: Int, outputs: Int) { KernelChecks.pointwise(.avx2, rows: rows, inputs: inputs, outputs: outputs) }

    @Test("depthwise: k x k taps, TF same padding, bias and ReLU6", arguments: KernelChecks.depthwiseShapes)
    func depthwise(height: Int, width: Int, channels: Int, kernel: Int, stride: Int) {
        KernelChecks.depthwise(.avx2, height: height, width: width, channels: channels, kernel: kernel, stride: stride)
    }

    @Test("lite0 on these kernels within 5e-5 of onnxruntime, by this machine's blocking, a 512 KiB L2's, a 64 KiB L2's and all by layers")
    func network() throws { try KernelChecks.network(.avx2) }
}

@Suite("AVX-512 kernels against plain loops", .serialized,
       .enabled(if: KernelVariant.avx512.isSupported, skipReason(.avx512)))
struct AVX512KernelTests {
    @Test("the table points at the module built for skylake-avx512")
    func table() { KernelChecks.table(.avx512) }

    @Test("pointwise: x W + bias, ReLU6 or + residual", arguments: KernelChecks.pointwiseShapes)
    func pointwise(rows: Int, inputs: Int, outputs: Int) { KernelChecks.pointwise(.avx512, rows: rows, inputs: inputs, outputs: outputs) }

    @Test("depthwise: k x k taps, TF same padding, bias and ReLU6", arguments: KernelChecks.depthwiseShapes)
    func depthwise(height: Int, width: Int, channels: Int, kernel: Int, stride: Int) {
        KernelChecks.depthwise(.avx512, height: height, width: width, channels: channels, kernel: kernel, stride: stride)
    }

    @Test("lite0 on these kernels within 5e-5 of onnxruntime, by this machine's blocking, a 512 KiB L2's, a 64 KiB L2's and all by layers")
    func network() throws { try KernelChecks.network(.avx512) }
}

@Suite("Blocking from cache sizes")
struct ConvBlockingTests {
    static let lite0LateImageBytes = 7 * 7 * 1280 * 4

    @Test("Zen 4's 1 MiB L2 gives the constants tuned there: 1 MiB row-by-row, groups of 4, 256 KiB chunks")
    func zen4() {
        let caches = MachineInfo.Caches(level1Data: 32 << 10, level2: 1 << 20, level3: 32 << 20, source: "test")
        #expect(ConvBlocking(caches: caches, lateImageBytes: Self.lite0LateImageBytes)
                == ConvBlocking(rowByRowBytes: 1 << 20, groupImages: 4, weightChunkBytes: 256 << 10))
    }

    @Test("a 512 KiB L2 (Zen 1) halves them; 2 MiB (this Xeon kind) doubles them; groups stay within 2...8")
    func otherCaches() {
        func blocking(_ l2: Int) -> ConvBlocking {
            ConvBlocking(caches: MachineInfo.Caches(level1Data: 32 << 10, level2: l2, level3: 8 << 20, source: "test"),
                         lateImageBytes: Self.lite0LateImageBytes)
        }
        #expect(blocking(512 << 10) == ConvBlocking(rowByRowBytes: 512 << 10, groupImages: 2, weightChunkBytes: 128 << 10))
        #expect(blocking(2 << 20) == ConvBlocking(rowByRowBytes: 2 << 20, groupImages: 8, weightChunkBytes: 512 << 10))
        #expect(blocking(64 << 10).groupImages == 2)
        #expect(blocking(64 << 20).groupImages == 8)
    }

    @Test("the network's blocks run by rows exactly when their expanded activation exceeds the threshold")
    func byRows() throws {
        try #require(Support.haveWeights, "weights missing: run bash corpora/fetch-all.sh --lite2")
        let net = try EfficientNet.load(contentsOf: Support.lite0Weights, config: .lite0,
                                        blocking: ConvBlocking(rowByRowBytes: 1 << 20, groupImages: 4, weightChunkBytes: 256 << 10))
        // lite0's expanded activations: 112 px x 32 and x 96 channels, 56 px x 144 (twice):
        // 1.6, 4.8, 1.8 and 1.8 MB; from 28 px on at most 0.75 MB.
        #expect(net.blocks.map(\.byRows) == [true, true, true, true] + Array(repeating: false, count: 12))
        #expect(net.stemByRows)
    }

    @Test("row-by-row blocks take whole rows of at least 84 pixels per 1x1 call, and their ring holds k rows and a call ahead")
    func strips() throws {
        try #require(Support.haveWeights, "weights missing: run bash corpora/fetch-all.sh --lite2")
        let net = try EfficientNet.load(contentsOf: Support.lite0Weights, config: .lite0,
                                        blocking: ConvBlocking(rowByRowBytes: 512 << 10, groupImages: 2, weightChunkBytes: 128 << 10))
        // Input sides 112, 112, 56, 56, 28, 28, then 14 (blocks 6-11), then 7.
        #expect(net.blocks.map(\.expandRows) == [1, 1, 2, 2, 3, 3] + Array(repeating: 6, count: 6) + [7, 7, 7, 7])
        #expect(net.blocks.map(\.projectRows) == [1, 2, 2, 3, 3, 6] + Array(repeating: 6, count: 5) + Array(repeating: 7, count: 5))
        // Block 3 (5x5, 56 px, 2 rows a call): 5 + 1 rows rounded up to a multiple of 2; block 9
        // (5x5, 14 px, 6 a call): 5 + 5 rounded up to 12; block 1 (3x3, one row a call): 3.
        #expect(net.blocks[3].ringRows == 6 && net.blocks[9].ringRows == 12 && net.blocks[1].ringRows == 3)
        #expect(net.blocking.description.contains("strips of 84 pixels"))
    }

    @Test("the features and logits are the same to the bit whatever the strips of rows the blocks run by rows take")
    func stripsChangeNothing() throws {
        try #require(Support.haveWeights, "weights missing: run bash corpora/fetch-all.sh --lite2")
        let inputs = ImagePreprocessor(config: .lite0).normalise(try Support.crops())
        // Every block before the late ones by rows; one row per call (as before strips), the
        // default, and 30 pixels (which leaves short last calls and rings of odd sizes).
        var outputs: [EfficientNet.Output] = []
        for pixels in [1, ConvBlocking.defaultStripPixels, 30, 10_000] {
            let blocking = ConvBlocking(rowByRowBytes: 0, groupImages: 2, weightChunkBytes: 128 << 10, stripPixels: pixels)
            let net = try EfficientNet.load(contentsOf: Support.lite0Weights, config: .lite0, blocking: blocking)
            #expect(net.blocks[..<net.firstLateBlock].allSatisfy { $0.byRows })
            outputs.append(net.forward(inputs, threads: 2))
        }
        for (index, output) in outputs.enumerated().dropFirst() {
            #expect(Self.differing(output.features, outputs[0].features) == 0, "strip setting \(index)")
            #expect(Self.differing(output.logits, outputs[0].logits) == 0, "strip setting \(index)")
        }
    }

    static func differing(_ a: Tensor, _ b: Tensor) -> Int { zip(a.storage, b.storage).filter { $0 != $1 }.count }

    @Test("lite2's odd sides (130, 65, 33, 17 px, strided) give the same features to the bit in strips as one row at a time")
    func lite2StripsChangeNothing() throws {
        try #require(FileManager.default.fileExists(atPath: Support.lite2Weights.path),
                     "lite2 weights missing: run bash corpora/fetch-all.sh --lite2")
        let image = try ImageDecoder().decode(contentsOf: Support.fixtures.appendingPathComponent("chelsea.png"))
        let inputs = ImagePreprocessor(config: .lite2).inputs([image])
        var outputs: [EfficientNet.Output] = []
        for pixels in [1, ConvBlocking.defaultStripPixels, 50] {
            let blocking = ConvBlocking(rowByRowBytes: 0, groupImages: 2, weightChunkBytes: 128 << 10, stripPixels: pixels)
            let net = try EfficientNet.load(contentsOf: Support.lite2Weights, config: .lite2, blocking: blocking)
            // 17 px rows, 5 per call by default, 3 with 50 pixels: short last calls and rings of 10 or 9 rows.
            #expect(net.blocks.contains { $0.byRows && $0.inputSide == 17 })
            outputs.append(net.forward(inputs, threads: 1))
        }
        #expect(Support.top(1, outputs[0].logits.row(0)) == [285])
        for (index, output) in outputs.enumerated().dropFirst() {
            #expect(Self.differing(output.features, outputs[0].features) == 0, "strip setting \(index)")
        }
    }
}
