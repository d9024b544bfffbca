// The conv net's hot kernels, compiled three times from these same files (Package.swift):
// `_ConvKernels` without a target CPU, `_ConvKernelsAVX2` (`-target-cpu haswell`,
// TAGGAN_VECTOR_FMA) and `_ConvKernelsAVX512` (`-target-cpu skylake-avx512`,
// TAGGAN_VECTOR_FMA, TAGGAN_VECTOR_512); the two AVX folders hold symbolic links to the
// files here. Features picks one at run time (TagganCore's `KernelVariant`).
//
// Why several modules of one Swift source rather than C with
// `__attribute__((target(...)))`: this is the code that was measured and tuned (its
// figures are BENCHMARKS.md's), and a module's target CPU applies to everything the
// kernels inline (SIMD operations, min/max, fused multiply-add), which Swift has no
// per-function attribute for. The entry points take plain pointers and integers, so no
// type is defined three times.

/// 16- and 8-lane operations the kernels are written with.
enum Lanes {
    typealias V16 = SIMD16<Float>
    typealias V8 = SIMD8<Float>

    @inline(__always) static func load16(_ p: UnsafePointer<Float>) -> V16 { UnsafeRawPointer(p).loadUnaligned(as: V16.self) }
    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }
    @inline(__always) static func store16(_ v: V16, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self) }
    @inline(__always) static func store8(_ v: V8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self) }

    #if TAGGAN_VECTOR_FMA
    // The module's target CPU has FMA and AVX2: fused multiply-add and min/max are
    // single vector instructions.
    @inline(__always) static func multiplyAdd(_ acc: V16, _ a: V16, _ b: V16) -> V16 { acc.addingProduct(a, b) }
    @inline(__always) static func multiplyAdd(_ acc: V8, _ a: V8, _ b: V8) -> V8 { acc.addingProduct(a, b) }
    @inline(__always) static func relu6(_ v: V16) -> V16 { pointwiseMin(pointwiseMax(v, V16()), V16(repeating: 6)) }
    // (For 8 lanes the standard library's pointwiseMin/Max stayed out-of-line calls, on
    // 128-bit halves, in the AVX2 build: comparisons and blends instead.)
    @inline(__always) static func relu6(_ v: V8) -> V8 { relu6Blend(v) }
    #else
    // Without a target CPU these would be per-lane library calls or scalar loops (see
    // TagganCore's `VectorKernels`), so: a multiply and an add, comparisons and blends.
    @inline(__always) static func multiplyAdd(_ acc: V16, _ a: V16, _ b: V16) -> V16 { acc + a * b }
    @inline(__always) static func multiplyAdd(_ acc: V8, _ a: V8, _ b: V8) -> V8 { acc + a * b }

    @inline(__always) static func relu6(_ v: V16) -> V16 {
        var v = v
        v.replace(with: V16(), where: v .< V16())
        v.replace(with: V16(repeating: 6), where: v .> V16(repeating: 6))
        return v
    }

    @inline(__always) static func relu6(_ v: V8) -> V8 { relu6Blend(v) }
    #endif

    @inline(__always) static func relu6Blend(_ v: V8) -> V8 {
        var v = v
        v.replace(with: V8(), where: v .< V8())
        v.replace(with: V8(repeating: 6), where: v .> V8(repeating: 6))
        return v
    }

    @inline(__always) static func relu6(_ v: Float) -> Float { min(max(v, 0), 6) }
}

/// A kernel written once for 16- and 8-lane vectors (`Lanes.V16`, `Lanes.V8`): the
/// operations it uses, as `Lanes` defines them for each width. Specialised where it is
/// inlined, so it compiles to what the same code written for one width would.
protocol LaneVector: SIMD where Scalar == Float {
    static func load(_ p: UnsafePointer<Float>) -> Self
    static func store(_ v: Self, _ p: UnsafeMutablePointer<Float>)
    static func multiplyAdd(_ acc: Self, _ a: Self, _ b: Self) -> Self
    static func relu6(_ v: Self) -> Self
}

extension SIMD16: LaneVector where Scalar == Float {
    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> Self { Lanes.load16(p) }
    @inline(__always) static func store(_ v: Self, _ p: UnsafeMutablePointer<Float>) { Lanes.store16(v, p) }
    @inline(__always) static func multiplyAdd(_ acc: Self, _ a: Self, _ b: Self) -> Self { Lanes.multiplyAdd(acc, a, b) }
    @inline(__always) static func relu6(_ v: Self) -> Self { Lanes.relu6(v) }
}

extension SIMD8: LaneVector where Scalar == Float {
    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> Self { Lanes.load8(p) }
    @inline(__always) static func store(_ v: Self, _ p: UnsafeMutablePointer<Float>) { Lanes.store8(v, p) }
    @inline(__always) static func multiplyAdd(_ acc: Self, _ a: Self, _ b: Self) -> Self { Lanes.multiplyAdd(acc, a, b) }
    @inline(__always) static func relu6(_ v: Self) -> Self { Lanes.relu6(v) }
}

/// The entry points Features calls through its kernel table (one per variant).
public enum Kernels {
    /// Which build this is: "generic", "avx2" or "avx512" (Features checks that its
    /// table points at the module it names).
    public static var variant: String {
        #if TAGGAN_VECTOR_512
        return "avx512"
        #elseif TAGGAN_VECTOR_FMA
        return "avx2"
        #else
        return "generic"
        #endif
    }
}
