import Foundation
import Testing
import TagganCore

@Suite("Kernel variant choice and cache sizes")
struct MachineTests {
    @Test("TAGGAN_KERNELS unset or auto: the widest variant this CPU runs, which it can run")
    func automatic() {
        for requested in [nil, "", "auto", " AUTO "] {
            let choice = KernelVariant.choose(requested: requested)
            #expect(choice.variant == KernelVariant.widestSupported)
            #expect(choice.variant.isSupported)
            #expect(choice.warning == nil)
            #expect(choice.reason.hasPrefix("the widest this CPU runs"))
        }
        // Variants are ordered narrow to wide, and generic runs everywhere.
        #expect(KernelVariant.generic.isSupported && KernelVariant.generic.unsupportedReason == nil)
        if KernelVariant.avx512.isSupported { #expect(KernelVariant.avx2.isSupported) }
    }

    @Test("TAGGAN_KERNELS names a variant: used when the CPU runs it, else refused with the reason")
    func forced() {
        for variant in KernelVariant.allCases {
            let choice = KernelVariant.choose(requested: variant.rawValue)
            if let why = variant.unsupportedReason {
                #expect(choice.variant == KernelVariant.widestSupported)
                #expect(choice.warning == "TAGGAN_KERNELS=\(variant) cannot run here (\(why)); using \(KernelVariant.widestSupported)")
                #expect(why.hasPrefix("this CPU lacks "))
            } else {
                #expect(choice == KernelVariant.Choice(variant: variant, reason: "TAGGAN_KERNELS=\(variant) set by the user", warning: nil))
            }
        }
    }

    @Test("TAGGAN_KERNELS with an unknown name: a warning listing the names, and the automatic choice")
    func unknown() {
        let choice = KernelVariant.choose(requested: "sse4")
        #expect(choice.variant == KernelVariant.widestSupported)
        #expect(choice.warning == "TAGGAN_KERNELS=sse4 is not one of generic, avx2, avx512, auto; using \(KernelVariant.widestSupported)")
    }

    @Test("cache sizes from a sysfs folder (K and M suffixes, instruction caches ignored); defaults without one")
    func caches() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("caches-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        for (index, level, type, size) in [(0, 1, "Data", "48K"), (1, 1, "Instruction", "32K"), (2, 2, "Unified", "2048K"),
                                           (3, 3, "Unified", "105M")] {
            let folder = root.appendingPathComponent("index\(index)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try "\(level)\n".write(to: folder.appendingPathComponent("level"), atomically: true, encoding: .utf8)
            try "\(type)\n".write(to: folder.appendingPathComponent("type"), atomically: true, encoding: .utf8)
            try "\(size)\n".write(to: folder.appendingPathComponent("size"), atomically: true, encoding: .utf8)
        }
        let caches = MachineInfo.readCaches(root: root.path)
        #expect(caches == MachineInfo.Caches(level1Data: 48 << 10, level2: 2 << 20, level3: 105 << 20, source: "sysfs"))
        #expect(caches.description == "L1d 48 KiB, L2 2 MiB, L3 105 MiB (sysfs)")
        let missing = MachineInfo.readCaches(root: root.appendingPathComponent("nothing").path)
        #expect(missing == MachineInfo.Caches(level1Data: 32 << 10, level2: 1 << 20, level3: 32 << 20, source: "assumed"))
    }

    @Test("sizes as sysfs and TAGGAN_L2 write them: 512K, 1M, bytes; anything else is not a size")
    func sizes() {
        #expect(MachineInfo.parseSize("512K") == 512 << 10)
        #expect(MachineInfo.parseSize("1M\n") == 1 << 20)
        #expect(MachineInfo.parseSize("4096") == 4096)
        for bad in ["", "K", "big", "-1K", "0", "1.5M"] { #expect(MachineInfo.parseSize(bad) == nil, "\(bad)") }
    }

    @Test("CPU time from /proc/stat: the first eight fields summed, steal the eighth; the stolen share between two readings")
    func cpuTimes() throws {
        let earlier = try #require(MachineInfo.CPUTimes(procStat: """
            cpu  1000 10 200 5000 40 0 50 700 300 0
            cpu0 500 5 100 2500 20 0 25 350 150 0

            """))
        #expect(earlier == MachineInfo.CPUTimes(total: 7000, stolen: 700))
        let later = MachineInfo.CPUTimes(total: 7000 + 400, stolen: 700 + 100)
        #expect(later.stolenShare(since: earlier) == 0.25)
        #expect(earlier.stolenShare(since: earlier) == 0)
        // Readings given the wrong way round: no share rather than a wrapped-around count.
        #expect(earlier.stolenShare(since: later) == 0)
        #expect(MachineInfo.CPUTimes(total: 7100, stolen: 600).stolenShare(since: earlier) == 0)
        // A kernel without the steal column: no steal, not a misread field.
        #expect(MachineInfo.CPUTimes(procStat: "cpu 1 2 3 4\n") == MachineInfo.CPUTimes(total: 10, stolen: 0))
        for bad in ["", "cpu0 1 2 3 4 5 6 7 8", "intr 1 2 3 4", "cpu 1 2 x 4 5 6 7 8", "cpu 1 2"] {
            #expect(MachineInfo.CPUTimes(procStat: bad) == nil, "\(bad)")
        }
        // This machine's reading: some CPU time, the steal within it.
        if let now = MachineInfo.cpuTimes() {
            #expect(now.total > 0 && now.stolen <= now.total)
        }
    }
}
