/// Parses the words after a command's name into its declarations, and writes its help.
///
/// Accepted forms: `--name value`, `--name=value`, `-k value`, flags, list options that
/// take the words up to the next option, and `--` to end options. Errors name the
/// command and the option.
struct Parser {
    let configuration: CommandConfiguration
    let all: [Declaration]
    let help = Declaration(kind: .flag, name: "--help", short: "-h", valueName: nil, help: "show this help and exit",
                           defaultText: nil, required: false, repeats: false, upToNextOption: false, accept: { _ in })

    init(command: Any, configuration: CommandConfiguration) {
        self.configuration = configuration
        all = declarations(of: command)
    }

    var name: String { configuration.name }
    var options: [Declaration] { all.filter { $0.kind != .argument } + [help] }
    var arguments: [Declaration] { all.filter { $0.kind == .argument } }
    var positionals: String { arguments.map { $0.repeats ? "\($0.name)..." : $0.name }.joined(separator: " ") }

    func parse(_ words: [String]) throws {
        var index = 0, optionsEnded = false
        var positional: [String] = []
        while index < words.count {
            let word = words[index]
            index += 1
            if optionsEnded || !word.hasPrefix("-") || word == "-" {
                positional.append(word)
                continue
            }
            if word == "--" { optionsEnded = true; continue }
            var key = word
            var inline: String? = nil
            if word.hasPrefix("--"), let equals = word.firstIndex(of: "=") {
                key = String(word[..<equals])
                inline = String(word[word.index(after: equals)...])
            }
            guard let option = options.first(where: { $0.name == key || $0.short == key }) else {
                var message = "\(name): unknown option '\(key)'"
                if let close = closest(key, among: options.map(\.name)) { message += " (did you mean '\(close)'?)" }
                throw UsageError(message + "\nRun '\(name) --help' for its options.")
            }
            if option.kind == .flag {
                if inline != nil { throw UsageError("\(name): option \(option.name) takes no value") }
                try option.accept("")
                option.given = true
                continue
            }
            if option.given && !option.repeats { throw UsageError("\(name): option \(option.name) given more than once") }
            var values: [String] = []
            if let inline {
                values = [inline]
            } else if index < words.count {
                values = [words[index]]
                index += 1
            } else {
                throw UsageError("\(name): option \(option.name) needs a value (\(option.valueName ?? "VALUE"))")
            }
            while option.upToNextOption, index < words.count, !words[index].hasPrefix("-") || words[index] == "-" {
                values.append(words[index])
                index += 1
            }
            for value in values { try accept(value, for: option, shownAs: "option \(option.name)") }
            option.given = true
        }
        try assign(positional)
        for option in options where option.required && !option.given {
            throw UsageError("\(name): missing required option \(option.name)\nUSAGE: \(usageLine)")
        }
    }

    /// Positional words to the declared arguments in order; a list takes what the later ones leave.
    private func assign(_ words: [String]) throws {
        var rest = words[...]
        let declared = arguments
        for (i, argument) in declared.enumerated() {
            let after = declared[(i + 1)...].filter { !$0.repeats }.count
            if argument.repeats {
                while rest.count > after { try accept(rest.removeFirst(), for: argument, shownAs: argument.name) }
            } else if let word = rest.first {
                rest.removeFirst()
                try accept(word, for: argument, shownAs: argument.name)
            } else if argument.required {
                throw UsageError("\(name): missing \(positionals)\nUSAGE: \(usageLine)")
            } else {
                continue
            }
            argument.given = true
        }
        if declared.contains(where: { $0.required && $0.repeats && !$0.given }) {
            throw UsageError("\(name): missing \(positionals)\nUSAGE: \(usageLine)")
        }
        if let extra = rest.first { throw UsageError("\(name): unexpected argument '\(extra)'\nUSAGE: \(usageLine)") }
    }

    private func accept(_ value: String, for declaration: Declaration, shownAs shown: String) throws {
        do {
            try declaration.accept(value)
        } catch UsageError.Reason.complaint(let message) {
            throw UsageError("\(name): \(message.make(shown))")
        } catch UsageError.Reason.check(let phrase, let raw) {
            let got = Double(raw) == nil ? ", got '\(raw)'" : ""
            throw UsageError("\(name): \(declaration.name) \(phrase)\(got)")
        }
    }

    var usageLine: String {
        var parts = [name]
        if !positionals.isEmpty { parts.append(positionals) }
        for option in options where option.required { parts.append("\(option.name) \(option.valueName ?? "")") }
        parts.append("[options]")
        return parts.joined(separator: " ")
    }

    var helpText: String {
        var text = "USAGE: \(usageLine)\n\n\(configuration.summary)\n"
        if !configuration.discussion.isEmpty { text += "\n\(configuration.discussion)\n" }
        text += "\nOPTIONS:\n"
        let rows = options.map { option -> (String, String) in
            var left = option.short.map { "\($0), " } ?? ""
            left += option.name
            if let value = option.valueName { left += " \(value)" }
            var right = option.help
            let notes = [option.choices, option.defaultText.map { "default \($0)" }].compactMap { $0 }
            if !notes.isEmpty { right += " (" + notes.joined(separator: "; ") + ")" }
            if option.required { right += " (required)" }
            if option.repeats { right += option.upToNextOption ? " (one or more; repeatable)" : " (repeatable)" }
            return (left, right)
        }
        let width = min(28, (rows.map { $0.0.count }.max() ?? 0) + 2)
        for (left, right) in rows {
            text += "  " + left + String(repeating: " ", count: max(2, width - left.count)) + right + "\n"
        }
        return text
    }
}

/// The candidate nearest to `word` by edit distance, if it is close enough to be a typo.
public func closest(_ word: String, among candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        guard !a.isEmpty else { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
    let scored = candidates.map { ($0, distance(Array(word), Array($0))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    return best.1 <= max(2, word.count / 3) ? best.0 : nil
}
