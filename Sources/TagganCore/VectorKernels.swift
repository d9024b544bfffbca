/// Element-wise kernels over Float buffers, written so that the compiler emits vector
/// instructions on x86 without `-target-cpu`.
///
/// On this toolchain some SIMD operations lower to per-lane library calls unless a
/// target CPU is given (`addProduct` ~25x slower, `clamped`, `pointwiseMin/Max`), so the
/// kernels use only `+`, `*`, comparisons and `replacing(with:where:)`, which become
/// packed instructions. Each works on 16 lanes at a time, then finishes the tail in
/// scalar code. Reductions keep 16 partial sums: the order differs from a sequential
/// loop, so results agree with it to float rounding, not bit for bit.
/// `bench/kernels` (`taggan bench kernels`) measures them against scalar loops.
public enum VectorKernels {
    public typealias Lanes = SIMD16<Float>
    /// Computed, not stored: a `static let` read inside a loop inlined into another
    /// module costs a `swift_once` call per use.
    @inlinable public static var width: Int { Lanes.scalarCount }

    @inlinable @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> Lanes {
        UnsafeRawPointer(p + i).loadUnaligned(as: Lanes.self)
    }

    @inlinable @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Lanes.self)
    }

    /// sum_i x[i] * y[i]
    @inlinable
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) -> Float {
        var acc0 = Lanes(), acc1 = Lanes()
        var i = 0
        while i + 2 * width <= n {
            acc0 = acc0 + load(x, i) * load(y, i)
            acc1 = acc1 + load(x, i + width) * load(y, i + width)
            i += 2 * width
        }
        if i + width <= n {
            acc0 = acc0 + load(x, i) * load(y, i)
            i += width
        }
        var total = (acc0 + acc1).sum()
        while i < n {
            total += x[i] * y[i]
            i += 1
        }
        return total
    }

    public static func dot(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>) -> Float {
        precondition(x.count == y.count, "dot of \(x.count) and \(y.count) values")
        guard let px = x.baseAddress, let py = y.baseAddress else { return 0 }
        return dot(px, py, count: x.count)
    }

    /// y[i] += a * x[i]
    @inlinable
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
        let va = Lanes(repeating: a)
        var i = 0
        while i + width <= n {
            store(load(UnsafePointer(y), i) + va * load(x, i), y, i)
            i += width
        }
        while i < n {
            y[i] += a * x[i]
            i += 1
        }
    }

    public static func axpy(_ a: Float, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>) {
        precondition(x.count == y.count, "axpy of \(x.count) and \(y.count) values")
        guard let px = x.baseAddress, let py = y.baseAddress else { return }
        axpy(a, px, py, count: x.count)
    }

    /// x[i] *= a
    public static func scale(_ x: UnsafeMutableBufferPointer<Float>, by a: Float) {
        guard let p = x.baseAddress else { return }
        let n = x.count, va = Lanes(repeating: a)
        var i = 0
        while i + width <= n {
            store(load(UnsafePointer(p), i) * va, p, i)
            i += width
        }
        while i < n {
            p[i] *= a
            i += 1
        }
    }

    /// y[i] *= x[i]
    public static func multiply(_ y: UnsafeMutableBufferPointer<Float>, by x: UnsafeBufferPointer<Float>) {
        precondition(x.count == y.count, "multiply of \(x.count) and \(y.count) values")
        guard let py = y.baseAddress, let px = x.baseAddress else { return }
        let n = x.count
        var i = 0
        while i + width <= n {
            store(load(UnsafePointer(py), i) * load(px, i), py, i)
            i += width
        }
        while i < n {
            py[i] *= px[i]
            i += 1
        }
    }

    /// sum_i x[i]
    public static func sum(_ x: UnsafeBufferPointer<Float>) -> Float {
        guard let p = x.baseAddress else { return 0 }
        let n = x.count
        var acc = Lanes()
        var i = 0
        while i + width <= n {
            acc = acc + load(p, i)
            i += width
        }
        var total = acc.sum()
        while i < n {
            total += p[i]
            i += 1
        }
        return total
    }

    /// x[i] = min(max(x[i], lower), upper): ReLU is (0, +inf), ReLU6 is (0, 6).
    /// NaN stays NaN (comparisons with NaN are false, so no lane is replaced).
    public static func clamp(_ x: UnsafeMutableBufferPointer<Float>, lower: Float, upper: Float) {
        guard let p = x.baseAddress else { return }
        let n = x.count
        let lo = Lanes(repeating: lower), hi = Lanes(repeating: upper)
        var i = 0
        while i + width <= n {
            var v = load(UnsafePointer(p), i)
            v.replace(with: lo, where: v .< lo)
            v.replace(with: hi, where: v .> hi)
            store(v, p, i)
            i += width
        }
        while i < n {
            if p[i] < lower { p[i] = lower }
            if p[i] > upper { p[i] = upper }
            i += 1
        }
    }

    /// ReLU in place: x = max(x, 0).
    public static func relu(_ x: UnsafeMutableBufferPointer<Float>) {
        clamp(x, lower: 0, upper: .infinity)
    }
}
