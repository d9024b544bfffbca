import TagganCore

/// One option a command accepts.
struct OptionSpec: Sendable {
    /// Long name with dashes, e.g. "--workspace".
    let name: String
    /// A short alias such as "-k", if any.
    var short: String? = nil
    /// Placeholder for the value ("W", "N"); nil for a flag.
    var value: String? = nil
    let help: String
    var required = false
    /// May be given more than once (each value is kept).
    var repeats = false
}

/// A subcommand: its words ("vectors train"), usage, options and what runs it.
struct CommandSpec: Sendable {
    let words: [String]
    let summary: String
    /// The positional arguments in the usage line, e.g. "SOURCE...".
    var positionals: String = ""
    var minimumPositionals = 0
    var maximumPositionals: Int? = 0
    var options: [OptionSpec] = []
    var discussion: String = ""
    var run: @Sendable (ParsedArguments) throws -> Int32

    var name: String { "taggan " + words.joined(separator: " ") }

    /// Options every command takes, after its own.
    static let commonOptions = [
        OptionSpec(name: "--json", help: "print one JSON object summarising what was done on stdout"),
        OptionSpec(name: "--help", short: "-h", help: "show this help and exit"),
    ]

    var allOptions: [OptionSpec] { options + Self.commonOptions }

    var usageLine: String {
        var parts = [name]
        if !positionals.isEmpty { parts.append(positionals) }
        for option in options where option.required {
            parts.append(option.value.map { "\(option.name) \($0)" } ?? option.name)
        }
        parts.append("[options]")
        return parts.joined(separator: " ")
    }

    var help: String {
        var text = "USAGE: \(usageLine)\n\n\(summary)\n"
        if !discussion.isEmpty { text += "\n\(discussion)\n" }
        text += "\nOPTIONS:\n"
        let rows = allOptions.map { option -> (String, String) in
            var left = option.short.map { "\($0), " } ?? ""
            left += option.name
            if let value = option.value { left += " \(value)" }
            var right = option.help
            if option.required { right += " (required)" }
            if option.repeats { right += " (repeatable)" }
            return (left, right)
        }
        let width = min(28, (rows.map { $0.0.count }.max() ?? 0) + 2)
        for (left, right) in rows {
            let padding = max(2, width - left.count)
            text += "  " + left + String(repeating: " ", count: padding) + right + "\n"
        }
        return text
    }
}

/// What the parser found on the command line for one command.
struct ParsedArguments {
    let command: CommandSpec
    var values: [String: [String]] = [:]
    var positionals: [String] = []

    var json: Bool { values["--json"] != nil }

    func flag(_ name: String) -> Bool { values[name] != nil }

    func value(_ name: String) -> String? { values[name]?.last }

    func all(_ name: String) -> [String] { values[name] ?? [] }

    func required(_ name: String) throws -> String {
        guard let value = value(name) else {
            throw TagganError.usage("\(command.name): missing required option \(name)")
        }
        return value
    }

    func integer(_ name: String, default fallback: Int) throws -> Int {
        guard let text = value(name) else { return fallback }
        guard let number = Int(text) else {
            throw TagganError.usage("\(command.name): option \(name) expects an integer, got '\(text)'")
        }
        return number
    }

    func number(_ name: String, default fallback: Double) throws -> Double {
        guard let text = value(name) else { return fallback }
        guard let number = Double(text), number.isFinite else {
            throw TagganError.usage("\(command.name): option \(name) expects a number, got '\(text)'")
        }
        return number
    }
}

/// Parses `arguments` (everything after the command words) against `command`.
///
/// Accepted forms: `--name value`, `--name=value`, `-k value`, flags, and `--` to end
/// options. Errors are usage errors (exit status 2) that name the command and option.
func parse(_ arguments: [String], for command: CommandSpec) throws -> ParsedArguments {
    var parsed = ParsedArguments(command: command)
    var index = 0
    var optionsEnded = false
    func find(_ name: String) -> OptionSpec? {
        command.allOptions.first { $0.name == name || $0.short == name }
    }
    while index < arguments.count {
        let argument = arguments[index]
        index += 1
        if optionsEnded || !argument.hasPrefix("-") || argument == "-" {
            parsed.positionals.append(argument)
            continue
        }
        if argument == "--" {
            optionsEnded = true
            continue
        }
        var name = argument
        var inlineValue: String? = nil
        if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
            name = String(argument[..<equals])
            inlineValue = String(argument[argument.index(after: equals)...])
        }
        guard let option = find(name) else {
            var message = "\(command.name): unknown option '\(name)'"
            if let close = closest(name, among: command.allOptions.map(\.name)) {
                message += " (did you mean '\(close)'?)"
            }
            throw TagganError.usage(message + "\nRun '\(command.name) --help' for its options.")
        }
        if option.value == nil {
            if inlineValue != nil {
                throw TagganError.usage("\(command.name): option \(option.name) takes no value")
            }
            parsed.values[option.name, default: []].append("")
            continue
        }
        let value: String
        if let inlineValue {
            value = inlineValue
        } else if index < arguments.count {
            value = arguments[index]
            index += 1
        } else {
            throw TagganError.usage("\(command.name): option \(option.name) needs a value (\(option.value!))")
        }
        if !option.repeats, parsed.values[option.name] != nil {
            throw TagganError.usage("\(command.name): option \(option.name) given more than once")
        }
        parsed.values[option.name, default: []].append(value)
    }
    if parsed.flag("--help") { return parsed }
    if parsed.positionals.count < command.minimumPositionals {
        throw TagganError.usage(
            "\(command.name): missing \(command.positionals)\nUSAGE: \(command.usageLine)")
    }
    if let maximum = command.maximumPositionals, parsed.positionals.count > maximum {
        let extra = parsed.positionals[maximum]
        throw TagganError.usage("\(command.name): unexpected argument '\(extra)'\nUSAGE: \(command.usageLine)")
    }
    for option in command.options where option.required && parsed.values[option.name] == nil {
        throw TagganError.usage(
            "\(command.name): missing required option \(option.name)\nUSAGE: \(command.usageLine)")
    }
    return parsed
}

/// The candidate nearest to `word` by edit distance, if it is close enough to be a typo.
func closest(_ word: String, among candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1,
                                 previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
    let scored = candidates.map { ($0, distance(Array(word), Array($0))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    return best.1 <= max(2, word.count / 3) ? best.0 : nil
}
