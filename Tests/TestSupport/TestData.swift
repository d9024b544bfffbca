import Foundation

/// Where the tests find the repository and the fetched data: one lookup for every target.
public enum TestData {
    /// The repository root (this file is Tests/TestSupport/TestData.swift).
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Where corpora/ put the real data: `$TAGGAN_CORPORA`, else `<repo>/corpora/cache`.
    /// Tests that need it fail (not skip) when it is missing: the test command fetches it.
    public static var corporaCache: URL {
        if let path = ProcessInfo.processInfo.environment["TAGGAN_CORPORA"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return repository.appendingPathComponent("corpora/cache")
    }
}

/// A fresh temporary folder, removed when the value is dropped.
public final class TemporaryFolder {
    public let url: URL

    public init(_ label: String = "taggan-test") {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    public func path(_ relative: String) -> String { url.appendingPathComponent(relative).path }

    @discardableResult
    public func write(_ relative: String, _ data: Data) throws -> URL {
        let file = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
        return file
    }

    @discardableResult
    public func write(_ relative: String, _ text: String) throws -> URL { try write(relative, Data(text.utf8)) }

    /// Writes the file and returns its path, for APIs that take paths.
    @discardableResult
    public func writePath(_ relative: String, _ text: String) throws -> String { try write(relative, Data(text.utf8)).path }
    @discardableResult
    public func writePath(_ relative: String, _ bytes: [UInt8]) throws -> String { try write(relative, Data(bytes)).path }

    public func link(_ relative: String, to destination: String) throws {
        let file = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: file.path, withDestinationPath: destination)
    }

    /// The names in the folder, sorted.
    public var contents: [String] { (try? FileManager.default.contentsOfDirectory(atPath: url.path))?.sorted() ?? [] }
}
