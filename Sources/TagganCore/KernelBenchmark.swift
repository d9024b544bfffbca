import Foundation

/// Measures `VectorKernels` against plain scalar loops on the same data, so a build
/// whose SIMD code silently fell back to per-lane calls shows up as a ratio near 1.
public enum KernelBenchmark {
    public struct Result: Sendable {
        public let kernel: String
        /// Giga-operations (flops, or values touched for clamp) per second.
        public let vectorRate: Double
        public let scalarRate: Double
        public var speedup: Double { vectorRate / scalarRate }
    }

    /// Times each kernel on vectors of `length` values (kept in cache) for about
    /// `seconds` each and returns the best rates.
    public static func run(length: Int = 4096, seconds: Double = 0.3) -> [Result] {
        var random = SeededRandom(seed: 7)
        var x = [Float](repeating: 0, count: length), y = x
        x.withUnsafeMutableBufferPointer { random.fillUniform($0, in: -1..<1) }
        y.withUnsafeMutableBufferPointer { random.fillUniform($0, in: -1..<1) }
        var sink: Float = 0
        var results: [Result] = []
        x.withUnsafeMutableBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                let px = xb.baseAddress!, py = yb.baseAddress!
                let n = length
                results.append(Result(
                    kernel: "dot",
                    vectorRate: rate(2 * n, seconds) { sink += VectorKernels.dot(px, py, count: n) },
                    scalarRate: rate(2 * n, seconds) { sink += scalarDot(px, py, n) }))
                results.append(Result(
                    kernel: "axpy",
                    vectorRate: rate(2 * n, seconds) { VectorKernels.axpy(1e-7, px, py, count: n) },
                    scalarRate: rate(2 * n, seconds) { scalarAxpy(1e-7, px, py, n) }))
                results.append(Result(
                    kernel: "relu6",
                    vectorRate: rate(n, seconds) { VectorKernels.clamp(yb, lower: 0, upper: 6) },
                    scalarRate: rate(n, seconds) { scalarClamp(py, n, 0, 6) }))
            }
        }
        if sink == .infinity { print(sink) }  // keeps the reductions alive
        return results
    }

    /// Best operations per second of `body` (each call does `operations`), in giga.
    private static func rate(_ operations: Int, _ seconds: Double, _ body: () -> Void) -> Double {
        var best = Double.infinity
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        repeat {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<64 { body() }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / 64)
        } while DispatchTime.now().uptimeNanoseconds < deadline
        return Double(operations) / best / 1e9
    }

    // Scalar references. `@inline(never)` and the strict left-to-right float order keep
    // the compiler from vectorising them (it may not reassociate float additions).
    @inline(never)
    static func scalarDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var total: Float = 0
        for i in 0..<n { total += x[i] * y[i] }
        return total
    }

    @inline(never)
    static func scalarAxpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] += a * x[i] }
    }

    @inline(never)
    static func scalarClamp(_ x: UnsafeMutablePointer<Float>, _ n: Int, _ lower: Float, _ upper: Float) {
        for i in 0..<n { x[i] = Swift.min(Swift.max(x[i], lower), upper) }
    }
}
