/// A program's commands, found by their leading words ("vectors train"), with the
/// help of a command group ("vectors": its subcommands).
public struct CommandSet {
    public let program: String
    public let commands: [any ParsableCommand.Type]

    public init(program: String, commands: [any ParsableCommand.Type]) {
        self.program = program
        self.commands = commands
    }

    /// What the leading words of a command line name.
    public enum Found {
        case command(any ParsableCommand.Type, arguments: [String])
        /// A group asked for its help (`taggan vectors --help`): the text to print.
        case groupHelp(String)
    }

    /// Two-space-indented rows with the descriptions aligned.
    public static func table(_ rows: [(String, String)]) -> String {
        let width = (rows.map { $0.0.count }.max() ?? 0) + 2
        return rows.map { "  " + $0.0 + String(repeating: " ", count: width - $0.0.count) + $0.1 + "\n" }.joined()
    }

    /// Each command's words and summary.
    public var summaryTable: String {
        Self.table(commands.map { ($0.configuration.words.joined(separator: " "), $0.configuration.summary) })
    }

    public func groupHelp(_ group: String, _ members: [any ParsableCommand.Type]) -> String {
        "USAGE: \(program) \(group) SUBCOMMAND [options]\n\nSUBCOMMANDS:\n"
            + Self.table(members.map { ($0.configuration.words.dropFirst().joined(separator: " "), $0.configuration.summary) })
            + "\nRun '\(program) \(group) SUBCOMMAND --help' for a subcommand's options.\n"
    }

    /// The command named by the leading words of `arguments` (and the words after them),
    /// a group's help, or a usage error that says what is known.
    public func find(_ arguments: [String]) throws -> Found {
        let words = arguments.prefix { !$0.hasPrefix("-") }
        for length in stride(from: min(words.count, 2), through: 1, by: -1) {
            if let command = commands.first(where: { $0.configuration.words == Array(words.prefix(length)) }) {
                return .command(command, arguments: Array(arguments.dropFirst(length)))
            }
        }
        guard let first = arguments.first else { throw UsageError("missing command\nRun '\(program) --help' for the list of commands.") }
        let group = commands.filter { $0.configuration.words.count > 1 && $0.configuration.words[0] == first }
        if !group.isEmpty {
            if words.count < 2, arguments.contains(where: { $0 == "--help" || $0 == "-h" }) { return .groupHelp(groupHelp(first, group)) }
            let names = group.map { $0.configuration.words[1] }.joined(separator: ", ")
            if words.count < 2 { throw UsageError("\(program) \(first): missing subcommand (one of: \(names))") }
            throw UsageError("\(program) \(first): unknown subcommand '\(words[1])' (one of: \(names))")
        }
        var message = "unknown command '\(first)'"
        if let close = closest(first, among: Set(commands.map { $0.configuration.words[0] }).sorted()) { message += " (did you mean '\(close)'?)" }
        throw UsageError(message + "\nRun '\(program) --help' for the list of commands.")
    }
}
