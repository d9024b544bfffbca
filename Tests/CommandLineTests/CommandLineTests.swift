import Foundation
import Testing
import TagganCore
import TestSupport

typealias Run = TagganProcess

@Suite("taggan command line")
struct CommandLineTests {
    static let commands = ["ingest", "merge", "vectors train", "vectors eval", "vectors nearest", "features",
                           "train", "eval", "annotate", "demo", "doctor", "bench kernels", "bench gemm"]

    @Test func topLevelHelpListsEveryCommand() throws {
        let run = try Run("--help")
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("taggan 0.1.0: tag images with a conditional GAN over word vectors."))
        #expect(run.stdout.contains("USAGE: taggan COMMAND [options]"))
        for command in Self.commands { #expect(run.stdout.contains("  \(command) "), "\(command) missing") }
        #expect(run.stderr.isEmpty)
    }

    @Test func noArgumentsShowsHelpAndIsAUsageError() throws {
        let run = try Run()
        #expect(run.status == 2)
        #expect(run.stdout.contains("USAGE: taggan COMMAND"))
    }

    /// A BLAS library named by TAGGAN_BLAS that cannot be opened is an error naming it
    /// (exit 1), never a silent switch to another library nor a crash.
    @Test func unopenableBLASNamedByTheUserIsAnError() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-blas-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let vectors = folder.appendingPathComponent("v.txt")
        try "2 2\ncat 1 0\ndog 0 1\n".write(to: vectors, atomically: true, encoding: .utf8)
        let similarity = folder.appendingPathComponent("pairs.tsv")
        try "cat\tdog\t5\n".write(to: similarity, atomically: true, encoding: .utf8)
        let library = folder.appendingPathComponent("no-such-libcblas.so").path
        for arguments in [["vectors", "nearest", vectors.path, "cat"], ["vectors", "eval", vectors.path, "--similarity", similarity.path]] {
            let run = try Run(arguments, environment: ["TAGGAN_BLAS": library])
            #expect(run.status == 1, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains("\(library): cannot open the BLAS library TAGGAN_BLAS names"), "\(run.stderr)")
        }
        let fine = try Run(["vectors", "nearest", vectors.path, "cat"])
        #expect(fine.status == 0 && fine.stdout.contains("dog"), "\(fine.stderr)")
    }

    /// `vectors nearest` on a vocabulary of that one word prints no neighbours and says
    /// why on stderr (it printed nothing at all), exit 0; JSON gives an empty list.
    @Test func nearestInAOneWordVocabularySaysItHasNoNeighbours() throws {
        let folder = TemporaryFolder("taggan-one-word")
        let vectors = try folder.write("v.txt", Data("1 2\ncat 1 0\n".utf8))
        let run = try Run(["vectors", "nearest", vectors.path, "cat"])
        #expect(run.status == 0 && run.stdout.isEmpty, "\(run.stdout)")
        #expect(run.stderr == "taggan: warning: \(vectors.path): 'cat' is its only word, so it has no neighbours\n", "\(run.stderr)")
        let json = try Run(["vectors", "nearest", vectors.path, "cat", "--json"])
        #expect(json.status == 0 && json.stdout.contains("\"neighbours\":[]"), "\(json.stdout)")
        withExtendedLifetime(folder) {}
    }

    /// A word-vector file that lists a word twice is read with the word's first row and a
    /// warning naming the file, the number of repeats and the first repeat's rows.
    @Test func aRepeatedWordIsWarnedAboutAndKeepsItsFirstRow() throws {
        let folder = TemporaryFolder("taggan-repeat")
        let vectors = try folder.write("v.txt", Data("4 2\ncat 1 0\ndog 0.9 0.1\nbird 0 1\ncat 0 1\n".utf8))
        let run = try Run(["vectors", "nearest", vectors.path, "cat", "-k", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("\(vectors.path): 1 row repeats a word listed before (the first: row 4 'cat', first at row 1)"),
                "\(run.stderr)")
        #expect(run.stdout.contains("dog") && !run.stdout.contains("bird"), "\(run.stdout)")
        withExtendedLifetime(folder) {}   // (the folder is removed when it goes)
    }

    @Test func version() throws {
        let run = try Run("--version")
        #expect(run.status == 0 && run.stdout == "taggan 0.1.0\n")
    }

    @Test("each command's --help shows its usage and options", arguments: commands)
    func commandHelp(_ command: String) throws {
        let words = command.split(separator: " ").map(String.init)
        let run = try Run(words + ["--help"])
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("USAGE: taggan \(command)"))
        #expect(run.stdout.contains("OPTIONS:"))
        #expect(run.stdout.contains("  --json "))
        #expect(run.stdout.contains("  -h, --help "))
        let viaHelp = try Run(["help"] + words)
        #expect(viaHelp.status == 0 && viaHelp.stdout == run.stdout)
    }

    @Test func trainHelpText() throws {
        let run = try Run("train", "--help")
        #expect(run.stdout.hasPrefix("""
            USAGE: taggan train --workspace W --vectors V.bin [options]

            Train the conditional GAN that generates tag vectors for an image.
            """))
        #expect(run.stdout.contains("--mode M"))
        #expect(run.stdout.contains("--neighbours K"))
        #expect(run.stdout.contains("--resume"))
    }

    /// Bad usage: each gets exit status 2 and exactly this message on stderr.
    static let usageErrors: [([String], String)] = [
        (["frobnicate"], "taggan: error: unknown command 'frobnicate'\nRun 'taggan --help' for the list of commands.\n"),
        (["doctr"], "taggan: error: unknown command 'doctr' (did you mean 'doctor'?)\nRun 'taggan --help' for the list of commands.\n"),
        (["--frob"], "taggan: error: unknown option '--frob'\nRun 'taggan --help' for the list of commands.\n"),
        (["doctor", "--frob"], "taggan: error: taggan doctor: unknown option '--frob'\nRun 'taggan doctor --help' for its options.\n"),
        (["doctor", "--sise", "3"], "taggan: error: taggan doctor: unknown option '--sise' (did you mean '--size'?)\nRun 'taggan doctor --help' for its options.\n"),
        (["doctor", "--size"], "taggan: error: taggan doctor: option --size needs a value (N)\n"),
        (["doctor", "--size", "big"], "taggan: error: taggan doctor: option --size expects an integer, got 'big'\n"),
        (["doctor", "--size", "0"], "taggan: error: taggan doctor: --size must be positive\n"),
        (["doctor", "--json=yes"], "taggan: error: taggan doctor: option --json takes no value\n"),
        (["doctor", "extra"], "taggan: error: taggan doctor: unexpected argument 'extra'\nUSAGE: taggan doctor [options]\n"),
        (["vectors"], "taggan: error: taggan vectors: missing subcommand (one of: train, eval, nearest)\n"),
        (["vectors", "trian"], "taggan: error: taggan vectors: unknown subcommand 'trian' (one of: train, eval, nearest)\n"),
        (["vectors", "nearest", "v.bin"], "taggan: error: taggan vectors nearest: missing V.bin WORD\nUSAGE: taggan vectors nearest V.bin WORD [options]\n"),
        (["train", "--workspace", "w"], "taggan: error: taggan train: missing required option --vectors\nUSAGE: taggan train --workspace W --vectors V.bin [options]\n"),
        (["ingest", "--workspace", "w"], "taggan: error: taggan ingest: missing SOURCE...\nUSAGE: taggan ingest SOURCE... --workspace W [options]\n"),
        (["eval", "--report", "r", "--report", "s", "--workspace", "w"], "taggan: error: taggan eval: option --report given more than once\n"),
        // Sizes past what memory or the loops hold: exit 2 naming the option, not a crash.
        (["vectors", "train", "c.txt", "--out", "v.bin", "--window", "1000000000"], "taggan: error: taggan vectors train: --window must be in [1, 1000]\n"),
        (["vectors", "train", "c.txt", "--out", "v.bin", "--negative", "9223372036854775807"], "taggan: error: taggan vectors train: --negative must be in [0, 1000]\n"),
        (["vectors", "train", "c.txt", "--out", "v.bin", "--alpha", "1e30"], "taggan: error: taggan vectors train: --alpha must be in (0, 1]\n"),
        (["vectors", "train", "c.txt", "--out", "c.txt"], "taggan: error: taggan vectors train: --out c.txt is the corpus c.txt: it would be overwritten\n"),
        (["train", "--workspace", "w", "--vectors", "v", "--batch-size", "9223372036854775807"], "taggan: error: taggan train: --batch-size must be in [1, 10000]\n"),
        (["eval", "--workspace", "w", "--report", "r", "--samples", "100000"], "taggan: error: taggan eval: --samples must be in [1, 1000]\n"),
        (["classcond", "train", "--workspace", "w", "--batch-size", "9223372036854775807"], "taggan: error: taggan classcond: --batch-size must be in [1, 10000]\n"),
        (["merge", "--annotations", "a.jsonl", "a.jsonl", "b.jsonl"], "taggan: error: taggan merge: --annotations a.jsonl is the input a.jsonl: it would be overwritten\n"),
        (["merge", "--workspace", "w", "s", "s"], "taggan: error: taggan merge: a shard is given twice\n"),
        (["vectors", "nearest", "v.bin", ""], "taggan: error: taggan vectors nearest: WORD is empty\n"),
    ]

    @Test("bad usage exits 2 with a message naming the problem", arguments: usageErrors)
    func usageError(_ arguments: [String], _ message: String) throws {
        let run = try Run(arguments)
        #expect(run.status == 2)
        #expect(run.stderr == message)
        #expect(!run.stdout.contains("{"))
    }

    @Test("commands on a missing workspace fail with the file and the reason",
          arguments: [["eval", "--report", "/tmp/taggan-no-report"], ["features"],
                      ["annotate", "/tmp", "--jsonl", "/tmp/taggan-no.jsonl"]])
    func missingWorkspace(_ command: [String]) throws {
        let workspace = "/nonexistent/taggan-workspace"
        let run = try Run(command + ["--workspace", workspace])
        #expect(run.status == 1)
        #expect(run.stderr.contains("taggan: error: \(workspace)"), "\(run.stderr)")
    }

    /// A workspace path that is a regular file: an error naming it and the reason, not
    /// Foundation's "Error Domain=... UserInfo=..." dump.
    @Test func aWorkspaceThatIsAFileIsAnErrorNamingIt() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-not-a-folder-\(UUID().uuidString)")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try Run(["ingest", "/tmp/taggan-no-such-source", "--workspace", file.path])
        #expect(run.status == 1)
        #expect(run.stderr.contains("taggan: error: \(file.path): ") && !run.stderr.contains("Error Domain"), "\(run.stderr)")
    }

    /// eval's --report is checked before the evaluation runs: a regular file there is an
    /// error naming it at once (it was found only after all the work).
    @Test func evalReportThatIsAFileIsRefusedFirst() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-report-file-\(UUID().uuidString)")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try Run(["eval", "--workspace", "/nonexistent/taggan-workspace", "--report", file.path])
        #expect(run.status == 1 && run.stderr.contains("\(file.path): is not a folder"), "\(run.stderr)")
    }

    @Test func optionValuesMayUseEqualsAndDoubleDashEndsOptions() throws {
        let run = try Run("doctor", "--size=64", "--json")
        #expect(run.status == 0)
        let parsed = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let sgemm = try #require(parsed["sgemm"] as? [String: Any])
        #expect(sgemm["size"] as? Int == 64)
        // The share of CPU time the hypervisor took while sgemm ran: 0...1 on Linux.
        let stolen = try #require(sgemm["stolen_share"] as? Double)
        #expect(stolen >= 0 && stolen <= 1)
        let ended = try Run("vectors", "nearest", "--", "-v.bin", "--word")
        #expect(ended.status == 1 && ended.stderr == "taggan: error: -v.bin: no such file\n")
    }

    /// A TAGGAN_THREADS that is not a positive number is reported once on stderr (it was
    /// ignored without a word; an empty one means unset), and one past 4 per processor (at least 64) is held there
    /// and reported (99999 was taken as it was: 99999 workers on 2 cores).
    @Test func oddTAGGANTHREADSValuesAreReportedAndBounded() throws {
        let processors = ProcessInfo.processInfo.activeProcessorCount, maximum = max(64, 4 * processors)
        for value in ["0", "-1", "abc", "", "2x"] {
            let run = try TagganProcess(["doctor", "--json", "--size", "64"], environment: ["TAGGAN_THREADS": value])
            #expect(run.status == 0)
            let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            #expect(object["threads"] as? Int == processors)
            let warning = "taggan: TAGGAN_THREADS=\(value) is not a positive number of threads; using the \(processors) active processors\n"
            #expect(run.stderr.components(separatedBy: warning).count == (value.isEmpty ? 1 : 2), "\(value): \(run.stderr)")
        }
        let large = try TagganProcess(["doctor", "--json", "--size", "64"], environment: ["TAGGAN_THREADS": "99999"])
        #expect(large.status == 0)
        let object = try #require(JSONSerialization.jsonObject(with: Data(large.stdout.utf8)) as? [String: Any])
        #expect(object["threads"] as? Int == maximum)
        #expect(large.stderr.components(separatedBy: "taggan: TAGGAN_THREADS=99999 is more than \(maximum) (4 per processor); using \(maximum)\n").count == 2,
                "\(large.stderr)")
    }

    /// An OPENBLAS_CORETYPE the user (or a machine image) set is honoured, and doctor says
    /// which core type taggan would set for this CPU when it is another (Haswell forced on
    /// an AVX-512 CPU runs sgemm at about half speed).
    @Test func doctorSaysWhenTheUsersBLASCoreTypeIsNotTheOneForThisCPU() throws {
        let own = try #require(BLAS.coretypeForThisCPU, "this CPU has neither AVX-512 nor AVX2 + FMA")
        let other = own == "Haswell" ? "Sandybridge" : "Haswell"
        let forced = try TagganProcess(["doctor", "--size", "64"], environment: ["OPENBLAS_CORETYPE": other])
        #expect(forced.status == 0)
        #expect(forced.stdout.contains("OPENBLAS_CORETYPE=\(other) set by the user; taggan would choose \(own) for this CPU"), "\(forced.stdout)")
        let same = try TagganProcess(["doctor", "--size", "64", "--json"], environment: ["OPENBLAS_CORETYPE": own])
        let blas = try #require((JSONSerialization.jsonObject(with: Data(same.stdout.utf8)) as? [String: Any])?["blas"] as? [String: Any])
        #expect(blas["kernel_chosen_by"] as? String == "user" && blas["kernel_taggan_would_choose"] as? String == own, "\(blas)")
        let plain = try TagganProcess(["doctor", "--size", "64"], environment: ["OPENBLAS_CORETYPE": own])
        #expect(!plain.stdout.contains("taggan would choose"), "\(plain.stdout)")
    }

    @Test("doctor names the conv kernel variant and why: TAGGAN_KERNELS=generic when set, else the widest the CPU runs")
    func doctorNamesTheKernelVariant() throws {
        let forced = try TagganProcess(["doctor", "--json", "--size", "64"], environment: ["TAGGAN_KERNELS": "generic"])
        #expect(forced.status == 0)
        let object = try #require(JSONSerialization.jsonObject(with: Data(forced.stdout.utf8)) as? [String: Any])
        let kernels = try #require(object["conv_kernels"] as? [String: Any])
        #expect(kernels["variant"] as? String == "generic")
        #expect(kernels["reason"] as? String == "TAGGAN_KERNELS=generic set by the user")
        let supported = try #require(kernels["supported"] as? [String])
        #expect(supported.first == "generic")
        let automatic = try TagganProcess(["doctor", "--size", "64"], environment: ["TAGGAN_KERNELS": ""])
        let line = try #require(automatic.stdout.split(separator: "\n").first { $0.hasPrefix("conv kernels:") })
        #expect(line.hasSuffix("(the widest this CPU runs (\(MachineInfo.cpuVectorFeatures)))"), "\(line)")
        #expect(line.contains(supported.last!), "the widest supported variant, \(supported.last!): \(line)")
        #expect(automatic.stdout.contains("caches:") && automatic.stdout.contains("conv blocking:"))
    }

    @Test("bench kernels times the conv kernels of every variant this CPU runs, on each lite0 shape")
    func benchKernelsCoversEveryVariant() throws {
        let run = try Run("bench", "kernels", "--json", "--length", "16")
        #expect(run.status == 0)
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let rows = try #require(object["conv_kernels"] as? [[String: Any]])
        let supported = KernelVariant.allCases.filter(\.isSupported).map(\.rawValue)
        #expect(Set(rows.compactMap { $0["variant"] as? String }) == Set(supported))
        let shapes = Set(rows.compactMap { $0["shape"] as? String })
        #expect(shapes.count == 19 && shapes.contains("1x1 196x320x1280") && shapes.contains("dw 56x144 3x3/1"))
        #expect(rows.count == shapes.count * supported.count)
        #expect(rows.allSatisfy { ($0["gflops"] as? Double ?? 0) > 0 })
    }

    @Test("bench features --serve says ready, then times one batch per line of input and stops at its end")
    func benchFeaturesServesOneBatchPerLine() throws {
        try #require(FileManager.default.fileExists(atPath: PipelineTests.cache.appendingPathComponent("models/efficientnet-lite0.pth").path),
                     "EfficientNet-Lite0 weights are missing: run bash corpora/fetch-all.sh")
        let process = Process()
        process.executableURL = TagganProcess.executable
        process.arguments = ["bench", "features", "--serve", "--batch", "2", "--threads", "1"]
        process.environment = ProcessInfo.processInfo.environment.merging(["TAGGAN_CORPORA": PipelineTests.cache.path]) { $1 }
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data("go\ngo\ngo\n".utf8))
        try input.fileHandleForWriting.close()
        let lines = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(lines.first == "ready")
        let seconds = lines.dropFirst().compactMap(Double.init)
        #expect(lines.count == 4 && seconds.count == 3, "\(lines)")
        #expect(seconds.allSatisfy { $0 > 0 && $0 < 60 }, "\(seconds)")
    }

    @Test("bench gemm times every product of the GAN step every way, and every way's products match sgemm's")
    func benchGEMMCoversTheStepsProducts() throws {
        let run = try Run("bench", "gemm", "--json", "--batch", "7", "--features", "19", "--words", "5",
                          "--milliseconds", "1", "--mismatch")
        #expect(run.status == 0)
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let rows = try #require(object["products"] as? [[String: Any]])
        #expect(rows.count == 28)
        #expect(Set(rows.compactMap { $0["kind"] as? String }) == ["NN", "NT", "TN"])
        #expect(rows.contains { $0["m"] as? Int == 21 && $0["n"] as? Int == 3000 && $0["k"] as? Int == 500 })
        for method in ["blas1", "blas2", "split2", "own1", "own2", "packed1"] {
            #expect(rows.allSatisfy { ($0[method + "_gflops"] as? Double ?? 0) > 0 }, "\(method)")
        }
        #expect(rows.allSatisfy { ($0["largest_difference"] as? Double ?? 1) < 1e-5 })
    }

    /// The command line flushes denormals on every thread that computes (main, Parallel's
    /// workers, OpenBLAS's pool, which multiplies denormals to 0 only if it inherited the
    /// switch); TAGGAN_DENORMALS=ieee keeps IEEE underflow, and the same probe then sees it.
    @Test("taggan flushes denormals to zero on the main thread, its workers and the BLAS threads; TAGGAN_DENORMALS=ieee keeps them")
    func doctorProbesDenormalsOnEveryComputeThread() throws {
        func probe(_ environment: [String: String]) throws -> [String: Bool] {
            let run = try TagganProcess(["doctor", "--json", "--size", "64"], environment: environment)
            #expect(run.status == 0, "\(run.stderr)")
            let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            return try #require(object["denormals"] as? [String: Bool])
        }
        let flushed = try probe(["TAGGAN_DENORMALS": "", "TAGGAN_THREADS": "2"])
        #expect(flushed == ["flushed": true, "main_thread": true, "workers": true, "blas_threads": true])
        let ieee = try probe(["TAGGAN_DENORMALS": "ieee", "TAGGAN_THREADS": "2"])
        #expect(ieee == ["flushed": false, "main_thread": false, "workers": false, "blas_threads": false])
    }

    @Test func doctorJSONDescribesTheBLASAndLibraries() throws {
        let run = try Run("doctor", "--json", "--size", "256")
        #expect(run.status == 0)
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 1, "one JSON object on stdout")
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let blas = try #require(object["blas"] as? [String: Any])
        #expect((blas["library"] as? String)?.isEmpty == false)
        let sgemm = try #require(object["sgemm"] as? [String: Any])
        #expect((sgemm["gflops"] as? Double ?? 0) > 0)
        let libraries = try #require(object["libraries"] as? [String: String])
        #expect(libraries["libjpeg"]?.contains("libjpeg") == true)
        #expect(libraries["libpng"]?.hasPrefix("libpng 1.6") == true)
        #expect(libraries["libxml2"]?.hasPrefix("libxml2 2.") == true)
        #expect(libraries["sqlite"]?.hasPrefix("SQLite 3.") == true)
    }

    @Test func doctorRespectsAUserChosenCoreType() throws {
        let process = Process()
        process.executableURL = Run.executable
        process.arguments = ["doctor", "--json", "--size", "64"]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = "Haswell"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let object = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let blas = try #require(object["blas"] as? [String: Any])
        if (blas["config"] as? String)?.hasPrefix("OpenBLAS") == true {
            #expect(blas["kernel_chosen_by"] as? String == "user")
            #expect(blas["kernel"] as? String == "Haswell")
        }
    }
}
