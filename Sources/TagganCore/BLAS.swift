import Foundation
import _BLASLoader

/// Single-precision BLAS, opened at run time.
///
/// Why dlopen: Debian's OpenBLAS 0.3.21 picks its kernel in a library constructor and
/// does not recognise some current CPUs (a Xeon family 6 model 207 falls back to its
/// slowest kernel, ~20 GFLOP/s instead of ~200 on 2 threads). The kernel can be forced
/// with `OPENBLAS_CORETYPE`, but only before the library loads. So taggan links no BLAS;
/// on first use it sets `OPENBLAS_CORETYPE` from the CPU's features (CPUID + XGETBV) —
/// unless the user already set it — and then opens the library.
///
/// Search order: `$TAGGAN_BLAS` (a path or soname), OpenBLAS (pthread build), BLIS
/// (pthread build), then whatever `libblas.so.3` the system's alternatives select.
public enum BLAS {
    /// What was loaded and how its kernel was chosen.
    public struct Backend: Sendable {
        public let library: String
        public let config: String?
        public let kernel: String?
        /// "user" (OPENBLAS_CORETYPE was set before taggan ran), "taggan" (set from the
        /// CPU's features), or "library" (the library's own detection).
        public let kernelChosenBy: String
        public let cpuFeatures: String
        public var threads: Int { Int(taggan_blas_threads()) }
    }

    public enum Transpose: Sendable, Hashable { case none, transposed }

    struct LoadError: Error, CustomStringConvertible {
        let attempts: [String]
        /// The library `TAGGAN_BLAS` named, when that was the one that failed.
        var explicit: String? = nil
        var description: String {
            if let explicit {
                return "\(explicit): cannot open the BLAS library TAGGAN_BLAS names (unset it to use the system's OpenBLAS): "
                    + attempts.joined(separator: "; ")
            }
            return "no usable BLAS library found (install libopenblas0-pthread); tried:\n  "
                + attempts.joined(separator: "\n  ")
        }
    }

    /// The OpenBLAS core type taggan sets for this CPU when the user sets none (SkylakeX
    /// for AVX-512, Haswell for AVX2 + FMA), or nil when it leaves the choice to OpenBLAS.
    public static var coretypeForThisCPU: String? { taggan_cpu_openblas_coretype().map { String(cString: $0) } }

    private static let loaded: Result<Backend, LoadError> = load()

    /// The loaded backend; loads it on first use.
    public static func backend() throws -> Backend {
        try loaded.get()
    }

    private static func load() -> Result<Backend, LoadError> {
        let environment = ProcessInfo.processInfo.environment
        let features = String(cString: taggan_cpu_vector_features())
        var chosenBy = "library"
        if let userValue = environment["OPENBLAS_CORETYPE"], !userValue.isEmpty {
            chosenBy = "user"
        } else if let coretype = taggan_cpu_openblas_coretype() {
            setenv("OPENBLAS_CORETYPE", coretype, 1)
            chosenBy = "taggan"
        }
        // BLIS's pthread build runs single-threaded unless told otherwise.
        if environment["BLIS_NUM_THREADS"] == nil {
            setenv("BLIS_NUM_THREADS", String(ProcessInfo.processInfo.activeProcessorCount), 0)
        }
        var candidates: [String] = []
        var error = [CChar](repeating: 0, count: 512)
        func message() -> String { String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        // A library the user named is used or is an error: never silently another one.
        if let explicit = environment["TAGGAN_BLAS"], !explicit.isEmpty {
            guard taggan_blas_open(explicit, &error, error.count) == 1 else {
                return .failure(LoadError(attempts: ["\(explicit) (TAGGAN_BLAS): \(message())"], explicit: explicit))
            }
            let kernel = taggan_blas_corename().map { String(cString: $0) }
            if kernel == nil { chosenBy = "library" }
            return .success(Backend(library: explicit, config: taggan_blas_config().map { String(cString: $0) }, kernel: kernel,
                                    kernelChosenBy: chosenBy, cpuFeatures: features))
        }
        candidates += [
            "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
            "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
            "libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4",
            "libblis.so.4",
            "libblas.so.3",
        ]
        var attempts: [String] = []
        for candidate in candidates {
            if taggan_blas_open(candidate, &error, error.count) == 1 {
                let config = taggan_blas_config().map { String(cString: $0) }
                let kernel = taggan_blas_corename().map { String(cString: $0) }
                if kernel == nil { chosenBy = "library" }
                return .success(Backend(
                    library: candidate, config: config, kernel: kernel,
                    kernelChosenBy: chosenBy, cpuFeatures: features))
            }
            attempts.append("\(candidate): \(message())")
        }
        return .failure(LoadError(attempts: attempts))
    }

    /// Loads the library if needed. Every command that computes calls `backend()` first
    /// (`Commands.main` does it for them), so a missing library is an ordinary error that
    /// names the library and the reason; reaching here without one is a programming error.
    @inline(__always)
    static func ensureLoaded() {
        if taggan_blas_is_open() == 1 { return }
        if case .failure(let error) = loaded { fatalError(error.description) }
    }

    /// The BLAS library's own thread count now (1 for libraries that do not say).
    public static var currentThreads: Int {
        ensureLoaded()
        return max(1, Int(taggan_blas_threads()))
    }

    /// Sets the BLAS library's own thread count (OpenBLAS and BLIS); ignored elsewhere.
    public static func setThreads(_ threads: Int) throws {
        _ = try backend()
        _ = taggan_blas_set_threads(Int32(threads))
    }

    /// Held while a trainer runs with a thread count of its choosing (`withThreadCount`).
    private static let threadCountLock = NSRecursiveLock()

    /// Runs `body` with the library at `threads` threads (the count left as it is when
    /// nil), restoring the count afterwards, while no other `withThreadCount` of this
    /// process runs. sgemm's sums depend on its thread count under some kernels
    /// (OpenBLAS's Haswell and Zen ones: 2 threads and 1 give other last bits), so a
    /// trainer that set the count in the middle of another's run changed that run's
    /// result. Two trainers in one process (the test suite, a program using the
    /// libraries) take turns instead; a command runs one.
    public static func withThreadCount<T>(_ threads: Int?, _ body: () throws -> T) throws -> T {
        threadCountLock.lock()
        defer { threadCountLock.unlock() }
        guard let threads, threads != currentThreads else { return try body() }
        let previous = currentThreads
        try setThreads(threads)
        defer { try? setThreads(previous) }
        return try body()
    }

    /// C = alpha * op(A) * op(B) + beta * C, all row-major. `recorded` false: a part of a
    /// product whose whole shape the caller gave `noteProduct`.
    ///
    /// op(A) is m x k, op(B) is k x n, C is m x n; `lda`, `ldb`, `ldc` are the row strides
    /// of the matrices as stored (so for a transposed A stored k x m, lda >= m).
    public static func sgemm(
        _ transposeA: Transpose, _ transposeB: Transpose,
        m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, recorded: Bool = true
    ) {
        ensureLoaded()
        if recorded && recorder != nil { record(transposeA, transposeB, m, n, k) }
        if m == 0 || n == 0 { return }
        taggan_sgemm(
            transposeA == .transposed ? 1 : 0, transposeB == .transposed ? 1 : 0,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)),
            beta, c, Int32(max(ldc, 1)))
    }

    /// y = alpha * op(A) * x + beta * y, A row-major m x n.
    public static func sgemv(
        _ transposeA: Transpose, m: Int, n: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
        beta: Float, y: UnsafeMutablePointer<Float>
    ) {
        ensureLoaded()
        if m == 0 || n == 0 { return }
        taggan_sgemv(
            transposeA == .transposed ? 1 : 0, Int32(m), Int32(n), alpha, a, Int32(max(lda, 1)),
            x, 1, beta, y, 1)
    }

    /// Measures sgemm on square n x n matrices: the best of `repeats` timed runs after one
    /// warm-up, in GFLOP/s (2 n^3 floating-point operations per product).
    public static func measureGFLOPS(size n: Int = 1024, repeats: Int = 5) throws -> Double {
        _ = try backend()
        var random = SeededRandom(seed: 1)
        let a = Tensor.uniform(shape: [n, n], in: -1..<1, using: &random)
        let b = Tensor.uniform(shape: [n, n], in: -1..<1, using: &random)
        var c = Tensor(zeros: [n, n])
        var best = Double.infinity
        for run in 0...repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            c.assignProduct(a, b)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            if run > 0 { best = min(best, seconds) }
        }
        return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
    }
}
