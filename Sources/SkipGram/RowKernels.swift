import TagganCore

/// The small dense products of skip-gram training, over rows whose length is a multiple
/// of 16 floats (the trainer pads rows with zeros that stay zero), so there is no tail.
///
/// These are a few context rows against a few output rows (at most ~2*window by
/// negative+1): far too small for a BLAS call to pay for its setup, so they are SIMD
/// loops that keep partial results in registers (BENCHMARKS.md: measured against the
/// same update through sgemm). The classic loop uses them too, with one context row.
enum RowKernels {
    typealias Lanes = VectorKernels.Lanes
    /// A computed constant: a `static let` here (or VectorKernels.width, inlined from
    /// another module) costs a swift_once call on every use inside these loops.
    @inline(__always) static var width: Int { 16 }

    /// a . b over padded rows (two accumulators hide the add latency).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Float {
        var s0 = Lanes(), s1 = Lanes()
        var i = 0
        while i + 2 * width <= n {
            s0 = s0 + load(a, i) * load(b, i)
            s1 = s1 + load(a, i + width) * load(b, i + width)
            i += 2 * width
        }
        if i < n { s0 = s0 + load(a, i) * load(b, i) }
        return (s0 + s1).sum()
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> Lanes {
        UnsafeRawPointer(p + i).loadUnaligned(as: Lanes.self)
    }

    @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Lanes.self)
    }

    /// y[i] += x[i] (padded rows).
    @inline(__always)
    static func add(_ x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        while i < n {
            store(load(UnsafePointer(y), i) + load(x, i), y, i)
            i += width
        }
    }

    /// scores[t] = a . rows[t] for t in 0..<count; four rows at a time share each load of a.
    @inline(__always)
    static func dots(_ a: UnsafePointer<Float>, _ rows: UnsafePointer<UnsafeMutablePointer<Float>>,
                     count: Int, into scores: UnsafeMutablePointer<Float>, length n: Int) {
        var t = 0
        while t + 4 <= count {
            let r0 = UnsafePointer(rows[t]), r1 = UnsafePointer(rows[t + 1])
            let r2 = UnsafePointer(rows[t + 2]), r3 = UnsafePointer(rows[t + 3])
            var s0 = Lanes(), s1 = Lanes(), s2 = Lanes(), s3 = Lanes()
            var i = 0
            while i < n {
                let x = load(a, i)
                s0 = s0 + x * load(r0, i)
                s1 = s1 + x * load(r1, i)
                s2 = s2 + x * load(r2, i)
                s3 = s3 + x * load(r3, i)
                i += width
            }
            scores[t] = s0.sum(); scores[t + 1] = s1.sum()
            scores[t + 2] = s2.sum(); scores[t + 3] = s3.sum()
            t += 4
        }
        while t < count {
            scores[t] = dot(a, rows[t], count: n)
            t += 1
        }
    }

    /// y += sum_r coefficients[r * coefficientStride] * rows[r]: one load and store of y
    /// per chunk instead of one per row.
    @inline(__always)
    static func combine(_ rows: UnsafePointer<UnsafeMutablePointer<Float>>, count: Int,
                        coefficients: UnsafePointer<Float>, coefficientStride: Int,
                        into y: UnsafeMutablePointer<Float>, length n: Int) {
        var r = 0
        while r < count {
            let block = min(4, count - r)
            var i = 0
            switch block {
            case 4:
                let c0 = Lanes(repeating: coefficients[r * coefficientStride])
                let c1 = Lanes(repeating: coefficients[(r + 1) * coefficientStride])
                let c2 = Lanes(repeating: coefficients[(r + 2) * coefficientStride])
                let c3 = Lanes(repeating: coefficients[(r + 3) * coefficientStride])
                let p0 = UnsafePointer(rows[r]), p1 = UnsafePointer(rows[r + 1])
                let p2 = UnsafePointer(rows[r + 2]), p3 = UnsafePointer(rows[r + 3])
                while i < n {
                    let v = load(UnsafePointer(y), i) + c0 * load(p0, i) + c1 * load(p1, i)
                        + c2 * load(p2, i) + c3 * load(p3, i)
                    store(v, y, i)
                    i += width
                }
            case 3:
                let c0 = Lanes(repeating: coefficients[r * coefficientStride])
                let c1 = Lanes(repeating: coefficients[(r + 1) * coefficientStride])
                let c2 = Lanes(repeating: coefficients[(r + 2) * coefficientStride])
                let p0 = UnsafePointer(rows[r]), p1 = UnsafePointer(rows[r + 1]), p2 = UnsafePointer(rows[r + 2])
                while i < n {
                    store(load(UnsafePointer(y), i) + c0 * load(p0, i) + c1 * load(p1, i) + c2 * load(p2, i), y, i)
                    i += width
                }
            case 2:
                let c0 = Lanes(repeating: coefficients[r * coefficientStride])
                let c1 = Lanes(repeating: coefficients[(r + 1) * coefficientStride])
                let p0 = UnsafePointer(rows[r]), p1 = UnsafePointer(rows[r + 1])
                while i < n {
                    store(load(UnsafePointer(y), i) + c0 * load(p0, i) + c1 * load(p1, i), y, i)
                    i += width
                }
            default:
                let c0 = Lanes(repeating: coefficients[r * coefficientStride])
                let p0 = UnsafePointer(rows[r])
                while i < n {
                    store(load(UnsafePointer(y), i) + c0 * load(p0, i), y, i)
                    i += width
                }
            }
            r += block
        }
    }
}
