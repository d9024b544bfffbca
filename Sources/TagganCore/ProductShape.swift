import Foundation

/// One matrix product as a caller makes it: C (m x n) = op(A) (m x k) op(B) (k x n),
/// row-major, with each operand's transposition. `taggan bench gemm` times the GAN
/// step's list of these (TagGAN's `StepProducts`), and `BLAS.recordingProducts` records
/// the ones a piece of code really calls, so a test can hold the list to the code.
public struct ProductShape: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var transposeA: BLAS.Transpose
    public var transposeB: BLAS.Transpose
    public var m: Int, n: Int, k: Int

    public init(_ name: String, _ transposeA: BLAS.Transpose, _ transposeB: BLAS.Transpose, m: Int, n: Int, k: Int) {
        self.name = name
        self.transposeA = transposeA
        self.transposeB = transposeB
        self.m = m
        self.n = n
        self.k = k
    }

    /// "NN", "NT", "TN" or "TT": op(A) then op(B), N untransposed, T transposed.
    public var kind: String {
        (transposeA == .transposed ? "T" : "N") + (transposeB == .transposed ? "T" : "N")
    }

    /// 2 m n k: one multiply and one add per term.
    public var operations: Double { 2 * Double(m) * Double(n) * Double(k) }

    public var description: String { "\(name) \(kind) \(m)x\(n)x\(k)" }

    /// The same product, unnamed (what `BLAS.recordingProducts` sees).
    public var unnamed: ProductShape { ProductShape("", transposeA, transposeB, m: m, n: n, k: k) }
}

extension BLAS {
    nonisolated(unsafe) static var recorder: [ProductShape]? = nil
    nonisolated(unsafe) static var recordingThread = pthread_self()
    static let recorderLock = NSLock()

    /// Runs `body` and returns, with its result, every product it asked for on this thread:
    /// its `sgemm` calls and those `noteProduct` was told of (unnamed, in call order).
    /// Calls from other threads (tests running beside it) are not recorded. For tests and
    /// the benchmark's shape list; one recording at a time.
    public static func recordingProducts<T>(_ body: () throws -> T) rethrows -> (T, [ProductShape]) {
        recorderLock.lock()
        recorder = []
        recordingThread = pthread_self()
        recorderLock.unlock()
        defer {
            recorderLock.lock()
            recorder = nil
            recorderLock.unlock()
        }
        let result = try body()
        recorderLock.lock()
        let shapes = recorder ?? []
        recorderLock.unlock()
        return (result, shapes)
    }

    /// Records a product computed elsewhere than `sgemm` (TagGAN's own kernels) while
    /// `recordingProducts` runs; nothing otherwise.
    @inline(__always)
    public static func noteProduct(_ transposeA: Transpose, _ transposeB: Transpose, m: Int, n: Int, k: Int) {
        if recorder != nil { record(transposeA, transposeB, m, n, k) }
    }

    @inline(never)
    static func record(_ transposeA: Transpose, _ transposeB: Transpose, _ m: Int, _ n: Int, _ k: Int) {
        recorderLock.lock()
        if pthread_equal(recordingThread, pthread_self()) != 0 {
            recorder?.append(ProductShape("", transposeA, transposeB, m: m, n: n, k: k))
        }
        recorderLock.unlock()
    }
}
