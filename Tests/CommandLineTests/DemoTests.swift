import Foundation
import Testing
import TestSupport

/// `taggan demo --json` on a small copy of the default data (45 OpenClipart images, the
/// first 2 MB of the English corpus, the real EfficientNet-Lite0 weights), two training
/// steps per model: what a script that runs the demo reads from its stdout.
@Suite("taggan demo (real data)")
struct DemoTests {
    /// A --workspace that holds the user's files (a folder named annotate-sample, a
    /// report/, an annotations.csv) and no .taggan-demo mark is refused before any step,
    /// naming it, and every file stays as it was (the demo removed annotate-sample/ whole
    /// and overwrote the rest); a file as --workspace is refused too. An empty folder is
    /// taken and marked.
    @Test func refusesAWorkspaceHoldingOtherFilesAndChangesNothing() throws {
        let root = TemporaryFolder("taggan-demo-claim")
        let user = root.url.appendingPathComponent("mine")
        try root.write("mine/annotate-sample/holiday.txt", "precious")
        try root.write("mine/report/report.md", "my notes")
        try root.write("mine/annotations.csv", "mine")
        let run = try TagganProcess(["demo", "--workspace", user.path, "--steps", "1"], environment: ["TAGGAN_CORPORA": PipelineTests.cache.path])
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("taggan: error: \(user.path): holds files and is not a taggan demo's workspace (it has no .taggan-demo)"),
                "\(run.stderr)")
        #expect(try String(contentsOf: user.appendingPathComponent("annotate-sample/holiday.txt"), encoding: .utf8) == "precious")
        #expect(try String(contentsOf: user.appendingPathComponent("report/report.md"), encoding: .utf8) == "my notes")
        #expect(try String(contentsOf: user.appendingPathComponent("annotations.csv"), encoding: .utf8) == "mine")
        #expect(try FileManager.default.contentsOfDirectory(atPath: user.path).sorted() == ["annotate-sample", "annotations.csv", "report"])

        let file = try root.write("file", "not a folder")
        let onFile = try TagganProcess(["demo", "--workspace", file.path], environment: ["TAGGAN_CORPORA": PipelineTests.cache.path])
        #expect(onFile.status == 1)
        #expect(onFile.stderr.hasPrefix("taggan: error: \(file.path): is a file, not a folder"), "\(onFile.stderr)")
        #expect(try String(contentsOf: file, encoding: .utf8) == "not a folder")
    }

    @Test func demoJSONPrintsExactlyOneJSONObjectOnStdout() throws {
        let cache = PipelineTests.cache
        let clipart = cache.appendingPathComponent("openclipart")
        try #require(FileManager.default.fileExists(atPath: clipart.appendingPathComponent("png/animals").path),
                     "OpenClipart is missing: run bash corpora/fetch-all.sh")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("taggan-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let small = root.appendingPathComponent("cache")
        let fm = FileManager.default
        for folder in ["food/fruit", "animals", "buildings"] {
            let names = try fm.contentsOfDirectory(atPath: clipart.appendingPathComponent("png/\(folder)").path).filter { $0.hasSuffix(".png") }.sorted()
            var copied = 0
            for name in names where copied < 15 {
                let svg = clipart.appendingPathComponent("svg/\(folder)/\(name.dropLast(4)).svg")
                guard fm.fileExists(atPath: svg.path) else { continue }
                for (from, to) in [(clipart.appendingPathComponent("png/\(folder)/\(name)"), "png/\(folder)/\(name)"),
                                   (svg, "svg/\(folder)/\(name.dropLast(4)).svg")] {
                    let destination = small.appendingPathComponent("openclipart/\(to)")
                    try fm.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try fm.copyItem(at: from.resolvingSymlinksInPath(), to: destination)
                }
                copied += 1
            }
        }
        try fm.createDirectory(at: small.appendingPathComponent("text"), withIntermediateDirectories: true)
        let english = try FileHandle(forReadingFrom: cache.appendingPathComponent("text/english.txt"))
        let text = try english.read(upToCount: 2_000_000) ?? Data()
        try english.close()
        try text.write(to: small.appendingPathComponent("text/english.txt"))
        try fm.createDirectory(at: small.appendingPathComponent("models"), withIntermediateDirectories: true)
        try fm.createSymbolicLink(at: small.appendingPathComponent("models/efficientnet-lite0.pth"),
                                  withDestinationURL: cache.appendingPathComponent("models/efficientnet-lite0.pth").resolvingSymlinksInPath())

        let workspace = root.appendingPathComponent("W")
        let run = try TagganProcess(["demo", "--workspace", workspace.path, "--steps", "2", "--json"],
                                    environment: ["TAGGAN_CORPORA": small.path])
        #expect(run.status == 0, "\(run.stderr.suffix(1500))")
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "stdout:\n\(run.stdout)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "stdout:\n\(run.stdout)")
        #expect(object["command"] as? String == "demo" && object["training_steps"] as? Int == 2)
        let artifacts = try #require(object["artifacts"] as? [String: String])
        #expect(fm.fileExists(atPath: try #require(artifacts["report"])))
        // The steps' own summaries went to stderr.
        #expect(run.stderr.contains("ingest: ") && run.stderr.contains("annotate: "), "\(run.stderr.suffix(1500))")
    }
}
