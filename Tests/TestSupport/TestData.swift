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

/// Runs `body` while this process holds an exclusive flock(2) on `lockFile` (created,
/// with its folder, and given this process's id), as a running taggan holds its lock files.
public func holdingLock<T>(_ lockFile: URL, _ body: () throws -> T) throws -> T {
    try FileManager.default.createDirectory(at: lockFile.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data("\(ProcessInfo.processInfo.processIdentifier)\n".utf8).write(to: lockFile)
    let descriptor = open(lockFile.path, O_RDWR | O_CLOEXEC)
    defer { if descriptor >= 0 { close(descriptor) } }
    guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
        throw CocoaError(.fileLocking, userInfo: [NSFilePathErrorKey: lockFile.path])
    }
    return try body()
}
