/// A type an option or argument can hold: how one command-line word becomes a value.
public protocol ArgumentValue {
    /// What one word parses to (the type itself, or the wrapped / element type).
    associatedtype Parsed
    static func element(from word: String) -> Parsed?
    /// Combines a parsed word with what is there: replaces it, or appends for a list.
    static func storing(_ element: Parsed, into current: Self?) -> Self
    /// "an integer", for "option --size expects an integer, got 'big'".
    static var expectation: String { get }
    /// The error for a word that does not parse, `shown` being "option --size" or "COUNT".
    static func complaint(about word: String, shownAs shown: String) -> String
    /// The value when the option is absent and has no default: nil for a required one.
    static var absent: Self? { get }
    static var isList: Bool { get }
    /// The names a choice may take ("cgan or icgan"), shown in the help; nil for free values.
    static var choiceList: String? { get }
    /// How the help text shows this value as a default; nil: not shown.
    var defaultDescription: String? { get }
}

extension ArgumentValue {
    public static var choiceList: String? { nil }
    public static func complaint(about word: String, shownAs shown: String) -> String {
        "\(shown) expects \(expectation), got '\(word)'"
    }
}

extension ArgumentValue where Parsed == Self {
    public static func storing(_ element: Parsed, into current: Self?) -> Self { element }
    public static var absent: Self? { nil }
    public static var isList: Bool { false }
}

extension Int: ArgumentValue {
    public static func element(from word: String) -> Int? { Int(word) }
    public static var expectation: String { "an integer" }
    public var defaultDescription: String? { String(self) }
}

extension Double: ArgumentValue {
    public static func element(from word: String) -> Double? { Double(word).flatMap { $0.isFinite ? $0 : nil } }
    public static var expectation: String { "a number" }
    public var defaultDescription: String? { formatted(self) }
}

extension String: ArgumentValue {
    public static func element(from word: String) -> String? { word }
    public static var expectation: String { "a value" }
    public var defaultDescription: String? { self }
}

extension Optional: ArgumentValue where Wrapped: ArgumentValue {
    public static func element(from word: String) -> Wrapped.Parsed? { Wrapped.element(from: word) }
    public static func storing(_ element: Wrapped.Parsed, into current: Self?) -> Self {
        Wrapped.storing(element, into: current ?? nil)
    }
    public static var expectation: String { Wrapped.expectation }
    public static func complaint(about word: String, shownAs shown: String) -> String { Wrapped.complaint(about: word, shownAs: shown) }
    public static var absent: Self? { .some(nil) }
    public static var isList: Bool { Wrapped.isList }
    public static var choiceList: String? { Wrapped.choiceList }
    public var defaultDescription: String? { self?.defaultDescription }
}

extension Array: ArgumentValue where Element: ArgumentValue, Element.Parsed == Element {
    public static func element(from word: String) -> Element? { Element.element(from: word) }
    public static func storing(_ element: Element, into current: [Element]?) -> [Element] { (current ?? []) + [element] }
    public static var expectation: String { Element.expectation }
    public static func complaint(about word: String, shownAs shown: String) -> String { Element.complaint(about: word, shownAs: shown) }
    public static var absent: [Element]? { [] }
    public static var isList: Bool { true }
    public var defaultDescription: String? { nil }
}

/// A value from a fixed set of names (an enum with string raw values): the error lists them.
public protocol ArgumentChoice: ArgumentValue, CaseIterable, RawRepresentable where RawValue == String, Parsed == Self {}

extension ArgumentChoice {
    public static func element(from word: String) -> Self? { Self(rawValue: word) }
    public static var expectation: String { "one of " + choices }
    public static var choiceList: String? { choices }
    /// "--mode must be cgan or icgan, got 'x'"
    public static func complaint(about word: String, shownAs shown: String) -> String {
        "\(shown.hasPrefix("option ") ? String(shown.dropFirst(7)) : shown) must be \(choices), got '\(word)'"
    }
    public var defaultDescription: String? { rawValue }
    /// "cgan or icgan", "sgd, adam or ..."
    public static var choices: String {
        let names = allCases.map(\.rawValue)
        return names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}

/// 0.5 as "0.5", 1.0 as "1", 0.0003 as "0.0003".
func formatted(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
    return "\(value)"
}

extension Check where Element == Double {
    /// Doubles print without a trailing ".0" in the phrase: "must be in [0, 1]".
    public static func within(_ range: ClosedRange<Double>) -> Check {
        Check("must be in [\(formatted(range.lowerBound)), \(formatted(range.upperBound))]") { range.contains($0) }
    }
    public static func within(_ range: Range<Double>) -> Check {
        Check("must be in [\(formatted(range.lowerBound)), \(formatted(range.upperBound)))") { range.contains($0) }
    }
}
