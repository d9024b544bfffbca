import Foundation
import Testing
import TestSupport
@testable import taggan

/// The commands as typed values: parsed and validated without a subprocess, and the
/// command-line view (groups, list options, the module picture) they give.
@Suite("commands as types")
struct CommandTypeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func parsedOptionsArriveTypedWithTheirDefaults() throws {
        let train = try TrainCommand.parse(["--workspace", "w", "--vectors", "v.bin", "--mode", "icgan", "--mismatch=0.25"])
        #expect(train.mode == .icgan && train.mismatch == 0.25 && train.neighbours == 20 && train.steps == 5000)
        #expect(train.$mismatch.given && !train.$neighbours.given && train.learningRate == nil)
        let eval = try EvalCommand.parse(["--workspace", "w", "--report", "r"])
        #expect(eval.split == .test && eval.samples == 100 && eval.vocab == "tags")
    }

    /// The default in the help text is the declared default itself, never a second copy.
    @Test func helpShowsTheDeclaredDefaults() {
        #expect(TrainCommand.helpText.contains("training steps (default \(TrainCommand().steps))"))
        #expect(DoctorCommand.helpText.contains("(default \(DoctorCommand().size))"))
        #expect(VectorsTrain.helpText.contains("vector size (default \(VectorsTrain().dim))"))
    }

    @Test func validationRefusesOptionsThatDoNotGoTogether() {
        #expect(throws: (any Error).self) { try AnnotateCommand.parse(["folder", "--workspace", "w"]) }
        #expect(throws: (any Error).self) { try IngestCommand.parse(["--workspace", "w", "--resplit"]) }
        #expect(throws: (any Error).self) { try ClassCondCommand.parse(["train", "--workspace", "w", "--long", "--steps", "3"]) }
        #expect(throws: Never.self) { try AnnotateCommand.parse(["folder", "--workspace", "w", "--xmp"]) }
    }

    /// A list option takes the words after it up to the next option, as a shell glob gives them.
    @Test func listOptionsTakeEveryWordUpToTheNextOption() throws {
        let features = try FeaturesCommand.parse(["--classify", "a.png", "b.png", "c.jpg", "--batch", "4"])
        #expect(features.classify == ["a.png", "b.png", "c.jpg"] && features.batch == 4)
        let eval = try VectorsEval.parse(["v.bin", "--similarity", "a.tsv", "b.tsv"])
        #expect(eval.path == "v.bin" && eval.similarity == ["a.tsv", "b.tsv"])
    }

    @Test func groupHelpListsSubcommandsAndExitsZero() throws {
        for arguments in [["vectors", "--help"], ["vectors", "-h"], ["help", "vectors"], ["bench", "--help"]] {
            let run = try TagganProcess(arguments)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
            #expect(run.stdout.hasPrefix("USAGE: taggan \(arguments.contains("bench") ? "bench" : "vectors") SUBCOMMAND"), "\(arguments)")
        }
        let vectors = try TagganProcess(["vectors", "--help"])
        for subcommand in ["train", "eval", "nearest"] { #expect(vectors.stdout.contains("  \(subcommand) ")) }
    }

    /// `features --classify a.png b.png`: every file classified, each named in the output.
    @Test func classifyTakesSeveralFiles() throws {
        let fixtures = Self.repository.appendingPathComponent("Tests/FeaturesTests/Fixtures")
        let files = ["chelsea.png", "rocket.jpg"].map { fixtures.appendingPathComponent($0).path }
        let run = try TagganProcess(["features", "--classify"] + files + ["--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let images = try #require(object["images"] as? [[String: Any]])
        #expect(images.compactMap { $0["file"] as? String } == files)
    }

    /// The README's module picture, checked against every import line; and the check
    /// itself catches a stage module importing another.
    @Test func importsFollowTheModulePicture() throws {
        let script = Self.repository.appendingPathComponent("scripts/check-imports.sh").path
        let clean = try Shell.run("/bin/bash", [script])
        #expect(clean.status == 0, "\(clean.output)")
        let tree = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-imports-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tree) }
        try FileManager.default.createDirectory(at: tree.appendingPathComponent("Sources/Eval"), withIntermediateDirectories: true)
        try "import TagganCore\nimport Ingest\n".write(to: tree.appendingPathComponent("Sources/Eval/Bad.swift"), atomically: true, encoding: .utf8)
        let broken = try Shell.run("/bin/bash", [script, tree.path])
        #expect(broken.status == 1 && broken.output.contains("Sources/Eval/Bad.swift: imports Ingest"), "\(broken.output)")
    }
}

/// A script run with its output (stdout and stderr together).
enum Shell {
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
