import _BLASLoader

/// Flush-to-zero for denormal floats, process-wide.
///
/// A float below 2^-126 in magnitude is denormal; x86 cores handle an operation that reads
/// or writes one through a microcode assist (tens to a hundred cycles instead of one), so a
/// training run whose momentum velocities decay towards zero where gradients vanish
/// (v <- 0.7 v each step) slows down as it trains: the class-conditional GAN went from ~21
/// to ~9 steps/s over 8,000 steps at a constant FLOP count. With flush-to-zero (FTZ) such
/// results are written as 0, and with denormals-are-zero (DAZ) such inputs read as 0; every
/// value that matters to a float32 network is far above 2^-126, so only the time changes.
///
/// `enable()` sets the switch on the calling thread and marks the process so that
/// `Parallel`'s workers set it too; threads created afterwards (OpenBLAS's pool, made when
/// the library loads; Dispatch's workers) inherit it from their creator. The command line
/// calls it before anything else; library users (and the test process) keep the default
/// IEEE behaviour unless they call it.
public enum Denormals {
    nonisolated(unsafe) private static var processWide = false

    /// Turns flush-to-zero on for this thread and every compute thread after it. Returns
    /// false where the CPU has no such switch.
    @discardableResult
    public static func enable() -> Bool {
        processWide = taggan_set_flush_denormals(1) == 1
        return processWide
    }

    /// Whether `enable()` has been called (and the CPU has the switch).
    public static var enabledProcessWide: Bool { processWide }

    /// Whether the calling thread flushes denormals to zero now.
    public static var flushedOnThisThread: Bool { taggan_flush_denormals_enabled() == 1 }

    /// Sets this thread's switch to the process's choice; a worker calls it before it
    /// computes, in case it was created before `enable()` or by a pool that resets it
    /// (`Parallel`'s workers, annotate's tagging stage).
    @inline(__always)
    public static func applyOnWorker() {
        if processWide && taggan_flush_denormals_enabled() == 0 { taggan_set_flush_denormals(1) }
    }

    /// Where denormals are flushed, found by computing with them rather than by reading a
    /// flag: the calling thread and `Parallel`'s workers read their control register; the
    /// BLAS library's threads multiply a 256 x 256 matrix of denormals (1e-39) by ones,
    /// which gives 2.6e-37 (normal) in every entry under IEEE rules and 0 where the inputs
    /// are read as zero.
    public struct Probe: Sendable, Equatable {
        public var caller: Bool
        public var workers: Bool
        public var blas: Bool
        public var everywhere: Bool { caller && workers && blas }
    }

    public static func probe(threads: Int = Parallel.defaultThreads) -> Probe {
        let count = max(threads, 2) * 4
        let slots = ParallelSlots<Bool>(count: count)
        Parallel.forEachChunk(count, threads: max(threads, 2)) { chunk, _ in slots[chunk] = flushedOnThisThread }
        let n = 256
        let tiny = [Float](repeating: Float(bitPattern: 0x000A_E398) /* 1.0e-39, denormal */, count: n * n), ones = [Float](repeating: 1, count: n * n)
        var product = [Float](repeating: -1, count: n * n)
        tiny.withUnsafeBufferPointer { a in
            ones.withUnsafeBufferPointer { b in
                product.withUnsafeMutableBufferPointer { c in
                    BLAS.sgemm(.none, .none, m: n, n: n, k: n, alpha: 1, a: a.baseAddress!, lda: n,
                               b: b.baseAddress!, ldb: n, beta: 0, c: c.baseAddress!, ldc: n)
                }
            }
        }
        return Probe(caller: flushedOnThisThread, workers: slots.values(count).allSatisfy { $0 == true },
                     blas: product.allSatisfy { $0 == 0 })
    }

    /// Runs `body` with this thread's switch set to `on`, then restores it (for tests that
    /// compare both behaviours on one thread).
    public static func withFlush<T>(_ on: Bool, _ body: () throws -> T) rethrows -> T {
        let before = taggan_flush_denormals_enabled() == 1
        taggan_set_flush_denormals(on ? 1 : 0)
        defer { taggan_set_flush_denormals(before ? 1 : 0) }
        return try body()
    }
}
