import Foundation
import Synchronization
import TagganCore

/// How the updates for one centre word are organised.
public enum TrainingAlgorithm: String, Sendable, CaseIterable {
    /// word2vec's loop: each (context, centre) pair draws its own negatives and is
    /// applied at once with a dot product and two axpys per output row.
    case classic
    /// Ji et al. 2016, "Parallelizing Word2Vec in Shared and Distributed Memory": all
    /// context words of one centre word share one draw of negatives, so the scores are
    /// a small (contexts x targets) matrix product and the updates two more; the rows
    /// are loaded once per centre word instead of once per pair.
    case batched
}

/// Hyper-parameters of skip-gram training; the defaults are word2vec's for skip-gram
/// except `algorithm`.
public struct SkipGramOptions: Sendable {
    public var dimension = 200
    /// Largest distance between centre and context word; each centre word uses a window
    /// drawn uniformly from 1...window (word2vec's "randomly shrunk window").
    public var window = 5
    /// Negative samples per positive example (0 disables negative sampling).
    public var negative = 5
    /// Hierarchical softmax over a Huffman tree (may be combined with negative sampling).
    public var hierarchicalSoftmax = false
    /// Sub-sampling threshold t (see `Vocabulary.keepProbabilities`); 0 disables it.
    public var sample = 1e-3
    /// Learning rate at the start; it falls linearly to alpha * 1e-4 at the end.
    public var alpha: Float = 0.025
    public var epochs = 5
    public var threads = 1
    public var seed: UInt64 = 1
    public var algorithm = TrainingAlgorithm.batched
    /// Use the exact logistic function instead of the lookup table (for gradient tests).
    public var exactSigmoid = false

    public init() {}

    /// Options out of range, by their names here (the command line checks its own flags first).
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Throws `Invalid` naming the first option out of range.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw Invalid(description: "skip-gram options: " + message) } }
        try check(dimension > 0 && dimension <= 100_000, "dimension \(dimension) must be between 1 and 100000")
        try check(window > 0, "window \(window) must be positive")
        try check(negative >= 0, "negative \(negative) must be 0 or more")
        try check(negative > 0 || hierarchicalSoftmax, "no negative samples and no hierarchical softmax: nothing to train")
        try check(sample >= 0, "sample \(sample) must be 0 or more")
        try check(alpha > 0, "alpha \(alpha) must be positive")
        try check(epochs > 0, "epochs \(epochs) must be positive")
        try check(threads > 0, "threads \(threads) must be positive")
    }
}

/// What a training run did.
public struct TrainingReport: Sendable {
    /// Corpus tokens read that are in the vocabulary, over all epochs (word2vec's count).
    public let words: Int
    public let seconds: Double
    public var wordsPerSecond: Double { Double(words) / max(seconds, 1e-9) }
    public let finalAlpha: Float
}

/// A skip-gram model (Mikolov et al. 2013): input vectors (the word vectors) and output
/// vectors for negative sampling and/or hierarchical softmax, trained on a streaming
/// corpus by lock-free shared updates from several threads (Hogwild, as word2vec does).
///
/// For a centre word w and a context word c, with input vector u_c, negative sampling
/// maximises log sigma(v_w . u_c) + sum over k noise words n of log sigma(-v_n . u_c).
/// One SGD step with learning rate alpha, for each target t with label y_t (1 for w,
/// 0 for noise): g = alpha * (y_t - sigma(v_t . u_c)); v_t += g * u_c; u_c += g * v_t
/// (summed over targets, using the old v_t).
public final class SkipGramModel: @unchecked Sendable {
    public let vocabulary: Vocabulary
    public let options: SkipGramOptions
    public let dimension: Int
    /// Row length in memory: the dimension rounded up to 16 floats. The padding is zero
    /// and stays zero, so the SIMD loops need no tail.
    let stride: Int
    let input: UnsafeMutablePointer<Float>
    let outputNegative: UnsafeMutablePointer<Float>?
    let outputHierarchical: UnsafeMutablePointer<Float>?

    let noise: NoiseDistribution
    /// Keep probability of each word, scaled to 2^32 (sub-sampling).
    let keepThreshold: [UInt64]
    // Huffman codes flattened: word w's path is codeBits/codePoints[codeStart[w] ..< codeStart[w + 1]].
    let codeStart: [Int]
    let codeBits: [Float]
    let codePoints: [Int32]

    public init(vocabulary: Vocabulary, options: SkipGramOptions) throws {
        try options.validate()
        self.vocabulary = vocabulary
        self.options = options
        dimension = options.dimension
        let stride = (options.dimension + 15) / 16 * 16
        self.stride = stride
        let rows = vocabulary.count
        func matrix() -> UnsafeMutablePointer<Float> {
            let floats = max(rows * stride, 1)
            let raw = UnsafeMutableRawPointer.allocate(byteCount: floats * 4, alignment: 64)
            let pointer = raw.bindMemory(to: Float.self, capacity: floats)
            pointer.initialize(repeating: 0, count: floats)
            return pointer
        }
        input = matrix()
        outputNegative = options.negative > 0 ? matrix() : nil
        outputHierarchical = options.hierarchicalSoftmax ? matrix() : nil
        // word2vec's initialisation: input uniform in [-0.5, 0.5) / dimension, outputs zero.
        var random = SeededRandom(seed: options.seed).split(stream: 1_000_000)
        let scale = 1 / Float(dimension)
        for row in 0..<rows {
            for d in 0..<dimension { input[row * stride + d] = (random.uniform() - 0.5) * scale }
        }
        noise = NoiseDistribution(counts: vocabulary.counts)
        keepThreshold = vocabulary.keepProbabilities(sample: options.sample).map {
            UInt64(($0 * 4_294_967_296).rounded(.down))
        }
        if options.hierarchicalSoftmax {
            let tree = HuffmanTree(counts: vocabulary.counts)
            var start = [0], bits: [Float] = [], points: [Int32] = []
            for w in 0..<rows {
                bits += tree.codes[w].map { Float($0) }
                points += tree.points[w]
                start.append(points.count)
            }
            codeStart = start; codeBits = bits; codePoints = points
        } else {
            codeStart = [Int](repeating: 0, count: rows + 1); codeBits = []; codePoints = []
        }
    }

    deinit {
        input.deallocate()
        outputNegative?.deallocate()
        outputHierarchical?.deallocate()
    }

    /// The trained word vectors (the input matrix), in vocabulary order.
    public var vectors: WordVectors {
        var values = [Float](repeating: 0, count: vocabulary.count * dimension)
        for row in 0..<vocabulary.count {
            for d in 0..<dimension { values[row * dimension + d] = input[row * stride + d] }
        }
        return WordVectors(words: vocabulary.words, dimension: dimension, values: values)
    }

    /// Trains on `source` for `options.epochs` passes with `options.threads` threads, each
    /// reading its own part of the corpus. With one thread and a fixed seed the result is
    /// the same on every run. `progress` (if any) advances by words read.
    @discardableResult
    public func train(on source: any SentenceSource, progress: ProgressLine? = nil) throws -> TrainingReport {
        let parts = source.split(into: options.threads)
        let shared = SharedProgress(
            total: options.epochs * vocabulary.trainingTokens, progress: progress, epochs: options.epochs)
        let errors = ErrorBox()
        let started = DispatchTime.now().uptimeNanoseconds
        let root = SeededRandom(seed: options.seed)
        // One thread per part, all running at once even beyond the core count (as
        // word2vec's pthreads): the shared learning-rate schedule assumes the parts
        // progress together, which a pool of core-count width would not give.
        let finished = DispatchGroup()
        for part in parts.indices {
            finished.enter()
            let thread = Thread { [self] in
                var worker = Worker(model: self, random: root.split(stream: UInt64(part)), shared: shared)
                defer { worker.release(); finished.leave() }
                do {
                    try worker.run(parts[part])
                } catch {
                    errors.record(error)
                    shared.stop()
                }
            }
            thread.stackSize = 1 << 22
            thread.start()
        }
        finished.wait()
        if let error = errors.first { throw error }
        progress?.finish()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9
        return TrainingReport(words: shared.done, seconds: seconds, finalAlpha: shared.alpha(options.alpha))
    }
}

/// Words processed by all threads (word2vec's word_count_actual), which sets the
/// learning rate, and the progress display.
final class SharedProgress: Sendable {
    let total: Int
    let epochs: Int
    let progress: ProgressLine?
    private let processed = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    init(total: Int, progress: ProgressLine?, epochs: Int) {
        self.total = total
        self.progress = progress
        self.epochs = epochs
    }

    var done: Int { processed.load(ordering: .relaxed) }
    var isStopped: Bool { stopped.load(ordering: .relaxed) }
    func stop() { stopped.store(true, ordering: .relaxed) }

    func add(_ words: Int, start alpha: Float) -> Float {
        let now = processed.add(words, ordering: .relaxed).newValue
        let rate = self.alpha(alpha, at: now)
        if let progress {
            progress.note(String(format: "lr %.5f, epoch %d/%d", rate, min(epochs, 1 + now * epochs / max(total, 1)), epochs))
            progress.advance(by: words)
        }
        return rate
    }

    /// alpha * max(1e-4, 1 - done / (total + 1)) (word2vec's linear decay).
    func alpha(_ start: Float, at done: Int? = nil) -> Float {
        start * max(1e-4, 1 - Float(done ?? self.done) / Float(total + 1))
    }
}

/// One thread's training state: its random stream and scratch buffers, allocated once
/// (`release()` frees them). A struct, so that the hot loops' accesses to its random
/// state need no run-time exclusivity checks, as a class's stored properties would.
struct Worker {
    let model: SkipGramModel
    var random: SeededRandom
    let shared: SharedProgress
    let stride: Int
    let window: Int
    var alpha: Float
    let startAlpha: Float
    let sigmoid = SigmoidTable()
    let exactSigmoid: Bool

    /// The current sentence's word ids after sub-sampling.
    var ids = UnsafeMutablePointer<Int32>.allocate(capacity: 1024)
    var idsCapacity = 1024
    /// One gradient row per context word (dA).
    let accumulated: UnsafeMutablePointer<Float>
    // Batched: context rows, target rows, labels, scores/gradients.
    let contextRows: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    let targetRows: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    let labels: UnsafeMutablePointer<Float>
    let clipSkips: UnsafeMutablePointer<Bool>
    let gradients: UnsafeMutablePointer<Float>
    let maxTargets: Int

    init(model: SkipGramModel, random: SeededRandom, shared: SharedProgress) {
        self.model = model
        self.random = random
        self.shared = shared
        stride = model.stride
        window = model.options.window
        startAlpha = model.options.alpha
        alpha = shared.alpha(model.options.alpha)
        exactSigmoid = model.options.exactSigmoid
        let contexts = 2 * window
        let depth = (model.codeStart.indices.dropFirst().map { model.codeStart[$0] - model.codeStart[$0 - 1] }.max() ?? 0)
        maxTargets = (model.options.negative > 0 ? model.options.negative + 1 : 0) + depth
        accumulated = .allocate(capacity: contexts * stride)
        contextRows = .allocate(capacity: contexts)
        targetRows = .allocate(capacity: max(maxTargets, 1))
        labels = .allocate(capacity: max(maxTargets, 1))
        clipSkips = .allocate(capacity: max(maxTargets, 1))
        gradients = .allocate(capacity: contexts * max(maxTargets, 1))
    }

    func release() {
        ids.deallocate(); accumulated.deallocate(); contextRows.deallocate(); targetRows.deallocate()
        labels.deallocate(); clipSkips.deallocate(); gradients.deallocate()
    }

    mutating func run(_ part: any SentenceSource) throws {
        let vocabulary = model.vocabulary
        let keep = model.keepThreshold
        var read = 0, reported = 0
        for _ in 0..<model.options.epochs {
            try part.forEachSentence { sentence in
                if shared.isStopped { throw CancellationError() }
                if idsCapacity < sentence.count {
                    ids.deallocate()
                    idsCapacity = sentence.count
                    ids = .allocate(capacity: idsCapacity)
                }
                var n = 0
                for t in 0..<sentence.count {
                    let id = vocabulary.id(bytes: sentence[t])
                    if id < 0 { continue }
                    read += 1
                    if random.next() >> 32 >= keep[id] { continue }
                    ids[n] = Int32(id)
                    n += 1
                }
                switch model.options.algorithm {
                case .classic: trainClassic(ids, count: n)
                case .batched: trainBatched(ids, count: n)
                }
                if read - reported >= 10_000 {
                    alpha = shared.add(read - reported, start: startAlpha)
                    reported = read
                }
            }
        }
        _ = shared.add(read - reported, start: startAlpha)
    }

    /// Gradient scale for a target with label y and score f = v_t . u_c: alpha * (y - sigma(f)).
    /// Beyond |f| >= 6 the table saturates: negative sampling uses sigma = 0 or 1 there
    /// (word2vec's clipping); hierarchical softmax skips the node (returns nil).
    @inline(__always)
    func gradient(label: Float, score f: Float, skipWhenSaturated: Bool) -> Float? {
        if exactSigmoid { return alpha * (label - 1 / (1 + Foundation.exp(-f))) }
        if f >= SigmoidTable.limit { return skipWhenSaturated ? nil : alpha * (label - 1) }
        if f <= -SigmoidTable.limit { return skipWhenSaturated ? nil : alpha * label }
        return alpha * (label - sigmoid(f))
    }

    /// word2vec's loop: every (context, centre) pair draws its own negatives and is
    /// applied at once. The pair's scores are all taken before its output rows move, as in
    /// word2vec (the input row only moves at the end of the pair), except that a noise
    /// word drawn twice for one pair sees the old row both times.
    mutating func trainClassic(_ ids: UnsafeMutablePointer<Int32>, count n: Int) {
        let input = model.input
        for i in 0..<n {
            let centre = Int(ids[i])
            let span = window - random.index(below: window)
            let low = max(0, i - span), high = min(n - 1, i + span)
            if low > high { continue }
            for j in low...high where j != i {
                let targets = chooseTargets(centre: centre)
                contextRows[0] = input + Int(ids[j]) * stride
                updateShared(contexts: 1, targets: targets)
            }
        }
    }

    /// Ji et al.: the context words of one centre word share one draw of negatives.
    mutating func trainBatched(_ ids: UnsafeMutablePointer<Int32>, count n: Int) {
        let input = model.input
        for i in 0..<n {
            let centre = Int(ids[i])
            let span = window - random.index(below: window)
            let low = max(0, i - span), high = min(n - 1, i + span)
            var contexts = 0
            if low <= high {
                for j in low...high where j != i {
                    contextRows[contexts] = input + Int(ids[j]) * stride
                    contexts += 1
                }
            }
            if contexts == 0 { continue }
            updateShared(contexts: contexts, targets: chooseTargets(centre: centre))
        }
    }

    /// Fills `targetRows`, `labels` and `clipSkips` with the output rows that predict
    /// `centre`: its Huffman path (hierarchical softmax), then the centre word itself and
    /// `negative` noise words (a noise draw equal to the centre is dropped, as word2vec
    /// does). Returns how many.
    @inline(__always)
    mutating func chooseTargets(centre: Int) -> Int {
        let stride = self.stride
        var targets = 0
        if let tree = model.outputHierarchical {
            for d in model.codeStart[centre] ..< model.codeStart[centre + 1] {
                targetRows[targets] = tree + Int(model.codePoints[d]) * stride
                labels[targets] = 1 - model.codeBits[d]
                clipSkips[targets] = true
                targets += 1
            }
        }
        if let output = model.outputNegative {
            targetRows[targets] = output + centre * stride
            labels[targets] = 1
            clipSkips[targets] = false
            targets += 1
            for _ in 0..<model.options.negative {
                let target = model.noise.draw(&random)
                if target == centre { continue }
                targetRows[targets] = output + target * stride
                labels[targets] = 0
                clipSkips[targets] = false
                targets += 1
            }
        }
        return targets
    }

    /// One SGD step for `contexts` input rows (in `contextRows`, A) against the same
    /// `targets` output rows (B), all from the old values:
    /// G = alpha * (Y - sigma(A B^T)), A += G B, B += G^T A.
    @inline(__always)
    func updateShared(contexts: Int, targets: Int) {
        let stride = self.stride
        for c in 0..<contexts {
            let row = gradients + c * targets
            RowKernels.dots(contextRows[c], targetRows, count: targets, into: row, length: stride)
            for t in 0..<targets {
                row[t] = gradient(label: labels[t], score: row[t], skipWhenSaturated: clipSkips[t]) ?? 0
            }
        }
        for c in 0..<contexts {
            let delta = accumulated + c * stride
            delta.initialize(repeating: 0, count: stride)
            RowKernels.combine(targetRows, count: targets, coefficients: gradients + c * targets,
                               coefficientStride: 1, into: delta, length: stride)
        }
        for t in 0..<targets {
            RowKernels.combine(contextRows, count: contexts, coefficients: gradients + t,
                               coefficientStride: targets, into: targetRows[t], length: stride)
        }
        for c in 0..<contexts {
            RowKernels.add(accumulated + c * stride, to: contextRows[c], count: stride)
        }
    }
}

/// The logistic function sigma(x) = 1 / (1 + e^-x) tabulated on (-6, 6) as word2vec
/// does (its EXP_TABLE), here with 4096 cells, each holding sigma at the cell's centre:
/// absolute error below 4e-4.
struct SigmoidTable {
    static var limit: Float { 6 }
    static var size: Int { 4096 }
    static let values: [Float] = (0..<size).map { i in
        let x = (Double(i) + 0.5) / Double(size) * 2 * Double(limit) - Double(limit)
        return Float(1 / (1 + Foundation.exp(-x)))
    }
    let values = SigmoidTable.values

    @inline(__always)
    func callAsFunction(_ x: Float) -> Float {
        values.withUnsafeBufferPointer { table in
            table[min(Self.size - 1, Int((x + Self.limit) * (Float(Self.size) / (2 * Self.limit))))]
        }
    }
}
