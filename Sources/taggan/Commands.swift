import ArgumentParsing
import Foundation
import TagganCore
import Workspace

/// The command-line contract of DESIGN.md: every command, found by its words.
enum Commands {
    static let version = "0.1.0"

    static var all: [any TagganCommand.Type] { [
        IngestCommand.self, VectorsTrain.self, VectorsEval.self, VectorsNearest.self, FeaturesCommand.self,
        TrainCommand.self, EvalCommand.self, AnnotateCommand.self, MergeCommand.self, DemoCommand.self,
        DoctorCommand.self, KernelsBenchCommand.self, GEMMBenchCommand.self, DecodeBenchCommand.self, FeaturesBenchCommand.self,
        ClassCondCommand.self,
    ] }

    static var topLevelHelp: String {
        var text = """
        taggan \(version): tag images with a conditional GAN over word vectors.

        USAGE: taggan COMMAND [options]

        COMMANDS:

        """
        text += set.summaryTable
        text += """

        Run 'taggan COMMAND --help' for a command's options. Every command prints progress
        on stderr and, with --json, one JSON summary on stdout. Exit status: 0 success
        (skipped items are reported), 1 failure, 2 bad usage.

        """
        return text
    }

    static var set: CommandSet { CommandSet(program: "taggan", commands: all) }

    /// Runs the command line and returns the exit status.
    static func main(_ arguments: [String]) -> Int32 {
        // First, before any thread exists that computes: every thread made later inherits it.
        // TAGGAN_DENORMALS=ieee keeps IEEE gradual underflow (slower; for comparisons).
        if ProcessInfo.processInfo.environment["TAGGAN_DENORMALS"] != "ieee" { Denormals.enable() }
        if arguments.isEmpty || arguments == ["help"] || arguments.first == "--help" || arguments.first == "-h" {
            print(topLevelHelp, terminator: "")
            return arguments.isEmpty ? 2 : 0
        }
        if arguments.first == "--version" {
            print("taggan \(version)")
            return 0
        }
        do {
            if arguments.first == "help" { return main(Array(arguments.dropFirst()) + ["--help"]) }
            if arguments.first!.hasPrefix("-") {
                throw UsageError("unknown option '\(arguments[0])'\nRun 'taggan --help' for the list of commands.")
            }
            let found = try set.find(arguments)
            guard case .command(let named, let rest) = found, let type = named as? any TagganCommand.Type else {
                if case .groupHelp(let text) = found { print(text, terminator: "") }
                return 0
            }
            if type.asksForHelp(rest) {
                print(type.helpText, terminator: "")
                return 0
            }
            let command = try type.parse(rest)
            // A missing or unopenable BLAS is an error naming the library, before any work.
            if type.needsBLAS { _ = try BLAS.backend() }
            return try command.run()
        } catch {
            Log.error(ErrorReport(error).message)
            return ErrorReport(error).exitStatus
        }
    }
}

/// A taggan command: `--json` and `--help` besides its own options.
protocol TagganCommand: ParsableCommand {
    /// False for commands that never multiply matrices (doctor reports a missing BLAS itself).
    static var needsBLAS: Bool { get }
}

extension TagganCommand {
    static var needsBLAS: Bool { true }
}

/// How an error reaches the user: its message (which names the file and the reason) and
/// the exit status (2 for bad usage, else 1).
struct ErrorReport {
    let message: String
    let exitStatus: Int32

    init(_ error: Error) {
        switch error {
        case let usage as UsageError: (message, exitStatus) = (usage.message, 2)
        case let tooFew as TrainingJob.TooFewImages: (message, exitStatus) = (tooFew.description, 2)
        case let error as TagganError: (message, exitStatus) = (error.description, error.exitStatus)
        case let error as NSError where error.domain == NSCocoaErrorDomain || error.domain == NSPOSIXErrorDomain:
            // Foundation's file errors: the path and the reason, not "Error Domain=... UserInfo=...".
            let path = (error.userInfo[NSFilePathErrorKey] as? String) ?? (error.userInfo[NSURLErrorKey] as? URL)?.path
            let reason = error.localizedDescription
            (message, exitStatus) = (path.map { "\($0): \(reason)" } ?? reason, 1)
        case let error as CustomStringConvertible: (message, exitStatus) = (error.description, 1)
        default: (message, exitStatus) = ("\(error)", 1)
        }
    }
}

/// Whether two paths name the same file: the same device and inode when both exist (links
/// and ".." resolved by the kernel), else the same standardized path.
func sameFile(_ a: String, _ b: String) -> Bool {
    var x = stat(), y = stat()
    if stat(a, &x) == 0 && stat(b, &y) == 0 { return x.st_dev == y.st_dev && x.st_ino == y.st_ino }
    return URL(fileURLWithPath: a).standardizedFileURL == URL(fileURLWithPath: b).standardizedFileURL
}
