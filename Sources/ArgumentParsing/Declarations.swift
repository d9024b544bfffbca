/// Commands declare their options once, as properties, in the spirit of
/// swift-argument-parser (which cannot be fetched here):
///
///     struct Nearest: ParsableCommand {
///         static let configuration = CommandConfiguration(words: ["vectors", "nearest"], summary: "...")
///         @Argument(value: "V.bin") var vectors: String
///         @Option(short: "-k", help: "how many neighbours", check: .positive) var k = 10
///         func run() throws -> Int32 { ... }
///     }
///
/// Each declaration holds the type (the property's), the default (its initial value,
/// which the help text prints), the help and a check. The long name comes from the
/// property name (`maxPixels` is `--max-pixels`) unless given. Values live in a shared
/// box, so the parser, which finds the declarations by reflection, fills the very
/// command it was handed.

/// What the parser knows of one declared option, flag or positional argument.
public final class Declaration: @unchecked Sendable {
    public enum Kind: Sendable { case option, flag, argument }
    public let kind: Kind
    /// "--max-pixels" (from the property name when not given); for an argument, its value name.
    public internal(set) var name: String
    public let short: String?
    /// The placeholder for the value ("W", "N"); nil for a flag.
    public let valueName: String?
    public let help: String
    /// Given as "(default X)" in the help; nil when there is none to show.
    let defaultText: String?
    /// The names a choice may take ("cgan or icgan"), shown in the help.
    var choices: String?
    public let required: Bool
    /// May be given more than once, each value kept (list options and arguments).
    public let repeats: Bool
    /// A list option also takes the words after it, up to the next option (`--classify *.jpg`).
    let upToNextOption: Bool
    /// Parses one value and stores it; throws a `UsageError.Reason`.
    let accept: (String) throws -> Void
    /// Whether the command line gave it (an option with a default may be left out).
    public internal(set) var given = false

    init(kind: Kind, name: String?, short: String?, valueName: String?, help: String, defaultText: String?,
         required: Bool, repeats: Bool, upToNextOption: Bool, accept: @escaping (String) throws -> Void) {
        self.kind = kind
        self.name = name ?? ""
        self.short = short
        self.valueName = valueName
        self.help = help
        self.defaultText = defaultText
        self.required = required
        self.repeats = repeats
        self.upToNextOption = upToNextOption
        self.accept = accept
    }

    /// `--max-pixels` from the property label `_maxPixels`.
    func name(fromLabel label: String) {
        guard name.isEmpty else { return }
        var result = ""
        for character in label.drop(while: { $0 == "_" }) {
            if character.isUppercase { result += "-" + character.lowercased() } else { result.append(character) }
        }
        name = kind == .argument ? result.uppercased() : "--" + result
    }
}

/// Found by reflection in a command (or an option group) by the parser.
public protocol DeclarationHolder { var declaration: Declaration { get } }

final class Box<Value>: @unchecked Sendable { var value: Value?; init(_ value: Value?) { self.value = value } }

/// `--name value` (or `--name=value`), of any `ArgumentValue` type.
@propertyWrapper
public struct Option<Value: ArgumentValue>: DeclarationHolder {
    let box: Box<Value>
    public let declaration: Declaration

    public var wrappedValue: Value {
        get { box.value ?? Value.absent! }
        nonmutating set { box.value = newValue }
    }

    /// `$option.given`: whether the command line gave it.
    public var projectedValue: Declaration { declaration }

    /// An option with a default: its initial value, shown in the help unless `showDefault` is false.
    public init(wrappedValue: Value, name: String? = nil, short: String? = nil, value: String = "N",
                help: String, showDefault: Bool = true, upToNextOption: Bool = false, check: Check<Value.Parsed>? = nil) {
        let box = Box<Value>(wrappedValue)
        self.box = box
        declaration = Declaration(kind: .option, name: name, short: short, valueName: value, help: help,
                                  defaultText: showDefault ? wrappedValue.defaultDescription : nil,
                                  required: false, repeats: Value.isList, upToNextOption: upToNextOption,
                                  accept: Self.acceptor(box, check))
        declaration.choices = Value.choiceList
    }

    /// An option without a default: required, unless the type is optional (then nil when absent).
    public init(name: String? = nil, short: String? = nil, value: String = "N", help: String,
                upToNextOption: Bool = false, check: Check<Value.Parsed>? = nil) {
        let box = Box<Value>(Value.absent)
        self.box = box
        declaration = Declaration(kind: .option, name: name, short: short, valueName: value, help: help, defaultText: nil,
                                  required: Value.absent == nil, repeats: Value.isList, upToNextOption: upToNextOption,
                                  accept: Self.acceptor(box, check))
        declaration.choices = Value.choiceList
    }

    static func acceptor(_ box: Box<Value>, _ check: Check<Value.Parsed>?) -> (String) throws -> Void {
        { raw in
            guard let element = Value.element(from: raw) else { throw UsageError.Reason.complaint(.init { Value.complaint(about: raw, shownAs: $0) }) }
            if let check, !check.test(element) { throw UsageError.Reason.check(check.phrase, raw) }
            box.value = Value.storing(element, into: box.value)
        }
    }
}

/// A positional argument (`FOLDER`), or a list of them (`SOURCE...`) when the type is an array.
@propertyWrapper
public struct Argument<Value: ArgumentValue>: DeclarationHolder {
    let box: Box<Value>
    public let declaration: Declaration

    public var wrappedValue: Value {
        get { box.value ?? Value.absent! }
        nonmutating set { box.value = newValue }
    }

    public init(wrappedValue: Value, value: String, help: String = "") {
        box = Box(wrappedValue)
        declaration = Declaration(kind: .argument, name: value, short: nil, valueName: value, help: help, defaultText: nil,
                                  required: false, repeats: Value.isList, upToNextOption: false,
                                  accept: Option<Value>.acceptor(box, nil))
    }

    public init(value: String, help: String = "") {
        box = Box(Value.absent)
        declaration = Declaration(kind: .argument, name: value, short: nil, valueName: value, help: help, defaultText: nil,
                                  required: Value.absent == nil, repeats: Value.isList, upToNextOption: false,
                                  accept: Option<Value>.acceptor(box, nil))
    }
}

/// `--name` alone: true when given.
@propertyWrapper
public struct Flag: DeclarationHolder {
    let box: Box<Bool>
    public let declaration: Declaration

    public var wrappedValue: Bool {
        get { box.value ?? false }
        nonmutating set { box.value = newValue }
    }

    public init(wrappedValue: Bool = false, name: String? = nil, short: String? = nil, help: String) {
        let box = Box<Bool>(wrappedValue)
        self.box = box
        declaration = Declaration(kind: .flag, name: name, short: short, valueName: nil, help: help, defaultText: nil,
                                  required: false, repeats: false, upToNextOption: false, accept: { _ in box.value = true })
    }
}

/// A set of declarations several commands share: a property of this type in a command
/// contributes its options to the command's.
public protocol OptionGroup { init() }

/// A test a parsed value must pass, and how the error says what it must be.
public struct Check<Element>: Sendable {
    let test: @Sendable (Element) -> Bool
    /// "must be positive"
    let phrase: String

    public init(_ phrase: String, _ test: @escaping @Sendable (Element) -> Bool) {
        self.phrase = phrase
        self.test = test
    }
}

extension Check where Element: Comparable & ExpressibleByIntegerLiteral & Sendable {
    public static var positive: Check { Check("must be positive") { $0 > 0 } }
    public static var notNegative: Check { Check("must not be negative") { $0 >= 0 } }
    public static func atLeast(_ low: Element) -> Check { Check("must be at least \(low)") { $0 >= low } }
    public static func within(_ range: ClosedRange<Element>) -> Check {
        Check("must be in [\(range.lowerBound), \(range.upperBound)]") { range.contains($0) }
    }
    public static func within(_ range: Range<Element>) -> Check {
        Check("must be in [\(range.lowerBound), \(range.upperBound))") { range.contains($0) }
    }
}
