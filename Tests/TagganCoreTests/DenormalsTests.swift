import Foundation
import Testing
@testable import TagganCore

@Suite("Flush-to-zero for denormal floats")
struct DenormalsTests {
    /// Computed through memory the optimiser cannot see through, so the CPU does the
    /// arithmetic under the thread's current control register.
    @inline(never)
    static func halve(_ values: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0 ..< count { values[i] = values[i] * 0.5 }
    }

    @Test("with the switch on, denormal results are zero and denormal inputs read as zero; off, IEEE gradual underflow")
    func switchChangesOnlyDenormals() {
        let smallest = Float.leastNormalMagnitude
        func run(_ on: Bool) -> [Float] {
            Denormals.withFlush(on) {
                var values: [Float] = [smallest, smallest * 4, Float(bitPattern: 0x000A_E398) /* 1.0e-39 */, 3.0]
                values.withUnsafeMutableBufferPointer { Self.halve($0.baseAddress!, $0.count) }
                return values
            }
        }
        let flushed = run(true), ieee = run(false)
        // smallest/2 is denormal: written as 0 under FTZ, kept under IEEE.
        #expect(flushed[0] == 0 && ieee[0] == smallest / 2 && ieee[0] > 0)
        // smallest*4/2 stays normal: the same either way.
        #expect(flushed[1] == smallest * 2 && ieee[1] == smallest * 2)
        // 1e-39 is a denormal input: read as 0 under DAZ.
        #expect(flushed[2] == 0 && ieee[2] > 0)
        #expect(flushed[3] == 1.5 && ieee[3] == 1.5)
    }

    @Test("withFlush restores the thread's previous setting")
    func withFlushRestores() {
        let before = Denormals.flushedOnThisThread
        Denormals.withFlush(!before) { #expect(Denormals.flushedOnThisThread == !before) }
        #expect(Denormals.flushedOnThisThread == before)
    }
}
