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
        DoctorCommand.self, KernelsBenchCommand.self, DecodeBenchCommand.self, FeaturesBenchCommand.self,
        ClassCondCommand.self,
    ] }

    static var topLevelHelp: String {
        var text = """
        taggan \(version): tag images with a conditional GAN over word vectors.

        USAGE: taggan COMMAND [options]

        COMMANDS:

        """
        text += table(all.map { ($0.configuration.words.joined(separator: " "), $0.configuration.summary) })
        text += """

        Run 'taggan COMMAND --help' for a command's options. Every command prints progress
        on stderr and, with --json, one JSON summary on stdout. Exit status: 0 success
        (skipped items are reported), 1 failure, 2 bad usage.

        """
        return text
    }

    /// `taggan vectors --help`: a group's subcommands.
    static func groupHelp(_ group: String, _ members: [any TagganCommand.Type]) -> String {
        "USAGE: taggan \(group) SUBCOMMAND [options]\n\nSUBCOMMANDS:\n"
            + table(members.map { ($0.configuration.words.dropFirst().joined(separator: " "), $0.configuration.summary) })
            + "\nRun 'taggan \(group) SUBCOMMAND --help' for a subcommand's options.\n"
    }

    static func table(_ rows: [(String, String)]) -> String {
        let width = (rows.map { $0.0.count }.max() ?? 0) + 2
        return rows.map { "  " + $0.0 + String(repeating: " ", count: width - $0.0.count) + $0.1 + "\n" }.joined()
    }

    /// The command named by the leading words of `arguments` and the words after them,
    /// or nil after printing a group's help.
    static func find(_ arguments: [String]) throws -> (any TagganCommand.Type, [String])? {
        let words = arguments.prefix { !$0.hasPrefix("-") }
        for length in stride(from: min(words.count, 2), through: 1, by: -1) {
            if let command = all.first(where: { $0.configuration.words == Array(words.prefix(length)) }) {
                return (command, Array(arguments.dropFirst(length)))
            }
        }
        let first = arguments[0]
        let group = all.filter { $0.configuration.words.count > 1 && $0.configuration.words[0] == first }
        if !group.isEmpty {
            if words.count < 2, arguments.contains(where: { $0 == "--help" || $0 == "-h" }) {
                print(groupHelp(first, group), terminator: "")
                return nil
            }
            let names = group.map { $0.configuration.words[1] }.joined(separator: ", ")
            if words.count < 2 { throw UsageError("taggan \(first): missing subcommand (one of: \(names))") }
            throw UsageError("taggan \(first): unknown subcommand '\(words[1])' (one of: \(names))")
        }
        var message = "unknown command '\(first)'"
        let names = Set(all.map { $0.configuration.words[0] })
        if let close = closest(first, among: names.sorted()) { message += " (did you mean '\(close)'?)" }
        throw UsageError(message + "\nRun 'taggan --help' for the list of commands.")
    }

    /// Runs the command line and returns the exit status.
    static func main(_ arguments: [String]) -> Int32 {
        if arguments.isEmpty || arguments == ["help"] || arguments.first == "--help" || arguments.first == "-h" {
            print(topLevelHelp, terminator: "")
            return arguments.isEmpty ? 2 : 0
        }
        if arguments.first == "--version" {
            print("taggan \(version)")
            return 0
        }
        do {
            if arguments.first == "help" {
                guard let (command, _) = try find(Array(arguments.dropFirst()) + ["--help"]) else { return 0 }
                print(command.helpText, terminator: "")
                return 0
            }
            if arguments.first!.hasPrefix("-") {
                throw UsageError("unknown option '\(arguments[0])'\nRun 'taggan --help' for the list of commands.")
            }
            guard let (type, rest) = try find(arguments) else { return 0 }
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
        case let error as CustomStringConvertible: (message, exitStatus) = (error.description, 1)
        default: (message, exitStatus) = ("\(error)", 1)
        }
    }
}
