/// Bad command-line usage: the message, which names the command and the option.
/// The executable prints it and exits with status 2.
public struct UsageError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// Why a value was refused, before the parser knows which option it was for.
    enum Reason: Error {
        /// The message, given how the option is shown ("option --size").
        case complaint(Complaint)
        case check(String, String)
    }

    /// Makes the message once the option's name is known.
    final class Complaint: @unchecked Sendable {
        let make: (String) -> String
        init(_ make: @escaping (String) -> String) { self.make = make }
    }
}

/// What a command is called and says about itself.
public struct CommandConfiguration: Sendable {
    /// ["vectors", "train"]
    public let words: [String]
    public let summary: String
    public let discussion: String

    public init(words: [String], summary: String, discussion: String = "") {
        self.words = words
        self.summary = summary
        self.discussion = discussion
    }

    public var name: String { (["taggan"] + words).joined(separator: " ") }
}

/// A command: its options as declared properties, `validate()` for rules that tie
/// several of them together, and `run()`, which sees the parsed, typed values.
public protocol ParsableCommand {
    static var configuration: CommandConfiguration { get }
    init()
    /// Throws a `UsageError` (see `usage(_:)`) when the options do not go together.
    func validate() throws
    /// The exit status: 0 success (skipped items are reported), 1 failure.
    func run() throws -> Int32
}

extension ParsableCommand {
    public func validate() throws {}

    /// A usage error that names this command: "taggan train: --resplit needs --split".
    public func usage(_ message: String) -> UsageError { UsageError("\(Self.configuration.name): \(message)") }

    /// The command with `arguments` (the words after its name) parsed and validated.
    public static func parse(_ arguments: [String]) throws -> Self {
        let command = Self()
        try Parser(command: command, configuration: configuration).parse(arguments)
        try command.validate()
        return command
    }

    /// Whether `arguments` ask for the help text (then nothing else is checked).
    public static func asksForHelp(_ arguments: [String]) -> Bool {
        for argument in arguments {
            if argument == "--" { return false }
            if argument == "--help" || argument == "-h" { return true }
        }
        return false
    }

    public static var helpText: String { Parser(command: Self(), configuration: configuration).helpText }
    public static var usageLine: String { Parser(command: Self(), configuration: configuration).usageLine }
}

/// `--json` and `--help`, which every command takes.
public struct CommonOptions: OptionGroup {
    @Flag(help: "print one JSON object summarising what was done on stdout") public var json: Bool
    public init() {}
}

/// The declarations of a command (its own, then its option groups'), in declaration order.
func declarations(of value: Any) -> [Declaration] {
    var found: [Declaration] = [], groups: [Declaration] = []
    for child in Mirror(reflecting: value).children {
        if let holder = child.value as? DeclarationHolder {
            holder.declaration.name(fromLabel: child.label ?? "")
            found.append(holder.declaration)
        } else if child.value is OptionGroup {
            groups += declarations(of: child.value)
        }
    }
    return found + groups
}
