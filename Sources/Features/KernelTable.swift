import TagganCore
import _ConvKernels
import _ConvKernelsAVX2
import _ConvKernelsAVX512

/// The conv net's hot kernels (1x1 convolutions and depthwise rows) of one
/// `KernelVariant`: each variant is the same Swift source compiled for another target CPU
/// (`_ConvKernels*`, see `_ConvKernels/VectorOps.swift`), so the network calls them
/// through this table, chosen when the network is built. One call per layer (1x1) or
/// per output row (depthwise): the indirection costs nothing measurable.
///
/// The blocking the kernels are driven with comes from the cache sizes of the machine
/// (`MachineInfo.caches`), not from constants for one CPU; see `ConvBlocking`.
struct KernelTable: Sendable {
    let variant: KernelVariant

    typealias Pointwise = @Sendable (_ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                     _ inputs: Int, _ outputs: Int, _ panels: Int, _ lastWidth: Int, _ chunkPanels: Int,
                                     _ x: UnsafePointer<Float>, _ rows: Int, _ y: UnsafeMutablePointer<Float>,
                                     _ activate: Bool, _ residual: UnsafePointer<Float>?) -> Void
    typealias DepthwiseRow = @Sendable (_ width: Int, _ channels: Int, _ weights: UnsafePointer<Float>,
                                        _ bias: UnsafePointer<Float>, _ kernel: Int, _ stride: Int, _ padLeft: Int,
                                        _ outWidth: Int, _ rows: UnsafePointer<UnsafePointer<Float>?>,
                                        _ output: UnsafeMutablePointer<Float>) -> Void

    let pointwise: Pointwise
    let depthwiseRow: DepthwiseRow
    /// The variant the module itself says it was compiled as ("generic", "avx2", "avx512").
    let compiledAs: String

    /// The table of `variant`. Running a variant the CPU lacks would die of an illegal
    /// instruction: callers choose among supported ones (`KernelVariant.chosen`, or the
    /// tests' check of `isSupported`).
    static func of(_ variant: KernelVariant) -> KernelTable {
        switch variant {
        case .generic:
            return KernelTable(variant: variant,
                               pointwise: { _ConvKernels.Kernels.pointwise(weights: $0, bias: $1, inputs: $2, outputs: $3, panels: $4, lastWidth: $5, chunkPanels: $6, x: $7, rows: $8, y: $9, activate: $10, residual: $11) },
                               depthwiseRow: { _ConvKernels.Kernels.depthwiseRow(width: $0, channels: $1, weights: $2, bias: $3, kernel: $4, stride: $5, padLeft: $6, outWidth: $7, rows: $8, output: $9) },
                               compiledAs: _ConvKernels.Kernels.variant)
        case .avx2:
            return KernelTable(variant: variant,
                               pointwise: { _ConvKernelsAVX2.Kernels.pointwise(weights: $0, bias: $1, inputs: $2, outputs: $3, panels: $4, lastWidth: $5, chunkPanels: $6, x: $7, rows: $8, y: $9, activate: $10, residual: $11) },
                               depthwiseRow: { _ConvKernelsAVX2.Kernels.depthwiseRow(width: $0, channels: $1, weights: $2, bias: $3, kernel: $4, stride: $5, padLeft: $6, outWidth: $7, rows: $8, output: $9) },
                               compiledAs: _ConvKernelsAVX2.Kernels.variant)
        case .avx512:
            return KernelTable(variant: variant,
                               pointwise: { _ConvKernelsAVX512.Kernels.pointwise(weights: $0, bias: $1, inputs: $2, outputs: $3, panels: $4, lastWidth: $5, chunkPanels: $6, x: $7, rows: $8, y: $9, activate: $10, residual: $11) },
                               depthwiseRow: { _ConvKernelsAVX512.Kernels.depthwiseRow(width: $0, channels: $1, weights: $2, bias: $3, kernel: $4, stride: $5, padLeft: $6, outWidth: $7, rows: $8, output: $9) },
                               compiledAs: _ConvKernelsAVX512.Kernels.variant)
        }
    }

    /// The process's choice (`KernelVariant.chosen`: TAGGAN_KERNELS or the CPU's widest).
    static let chosen = KernelTable.of(KernelVariant.chosen.variant)
}

/// How the network's work is blocked for the caches, from the sizes this machine reports
/// (`MachineInfo.caches`). The rules were the constants tuned on AMD Zen 4 (1 MiB L2 per
/// core), restated in terms of the cache they were sized for, so a Zen 1 core (512 KiB)
/// or an Intel Xeon one (2 MiB) gets blocks of its own size.
public struct ConvBlocking: Sendable, Equatable, CustomStringConvertible {
    /// Blocks whose expanded activation (one image) is larger than this run row by row
    /// (`EfficientNet.blockByRows`). Rule: the L2 size (1 MiB on Zen 4, where it was tuned).
    public let rowByRowBytes: Int
    /// Images a worker takes through the late blocks and the head together, so their
    /// weights are read once per group. Rule: as many as the group's largest late
    /// activation lets fit in L2 (4 on Zen 4, where 4 was tuned), 2 to 8.
    public let groupImages: Int
    /// Bytes of packed 1x1 weights per chunk that every block of rows goes over. Rule: a
    /// quarter of L2 (256 KiB on Zen 4, where it was tuned).
    public let weightChunkBytes: Int
    /// Pixels a row-by-row block gives each of its 1x1 convolutions at least: it expands
    /// and projects that many pixels' worth of whole rows per call (one 112 px row, two
    /// of 56, three of 28, six of 14, seven of 7; `EfficientNet.blockByRows`). A call on
    /// one 14 px row read all of a 301 KB weight matrix for 14 pixels, and computed 18 rows
    /// for them in blocks of 12 and 6; 84 is seven blocks of 12. Rule: 84 whatever the
    /// caches. On the Zen 3 (512 KiB L2, where the 14 px blocks run by rows) the 14 px
    /// blocks took 17% less time, and inference at 2 threads ran 4.7% faster by the median
    /// of 10 alternating runs, 4.6% and 9% in two series of 30 alternating batch pairs;
    /// 48 and 56 pixels gained less, 112 to 224 no more (BENCHMARKS.md, session 21).
    public let stripPixels: Int

    public var description: String {
        "row-by-row above \(rowByRowBytes >> 10) KiB in strips of \(stripPixels) pixels, \(groupImages) images per late group, "
            + "1x1 weight chunks of \(weightChunkBytes >> 10) KiB"
    }

    /// The default `stripPixels`.
    public static let defaultStripPixels = 84

    /// `lateImageBytes`: the largest activation of one image in the late blocks or head.
    public init(caches: MachineInfo.Caches, lateImageBytes: Int) {
        rowByRowBytes = caches.level2
        groupImages = min(8, max(2, caches.level2 / max(1, lateImageBytes)))
        weightChunkBytes = caches.level2 / 4
        stripPixels = Self.defaultStripPixels
    }

    public init(rowByRowBytes: Int, groupImages: Int, weightChunkBytes: Int, stripPixels: Int = defaultStripPixels) {
        self.rowByRowBytes = rowByRowBytes
        self.groupImages = groupImages
        self.weightChunkBytes = weightChunkBytes
        self.stripPixels = max(1, stripPixels)
    }
}
