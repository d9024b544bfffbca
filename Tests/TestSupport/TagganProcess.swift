import Foundation

/// Runs the built `taggan` executable as a user would and captures what it prints:
/// one helper for every test target that checks the command line end to end.
public struct TagganProcess {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    /// The `taggan` binary SwiftPM built beside the test bundle, or `$TAGGAN_EXECUTABLE`
    /// (to check that a new test fails on another build, e.g. main's).
    public static let executable: URL = {
        if let path = ProcessInfo.processInfo.environment["TAGGAN_EXECUTABLE"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return built
    }()

    /// The `taggan` binary SwiftPM built beside the test bundle (for fixtures that must
    /// be made by this build whatever `$TAGGAN_EXECUTABLE` says).
    public static let built: URL = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL,
            Bundle.main.bundleURL.deletingLastPathComponent(),
        ].map { $0.appendingPathComponent("taggan") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }()

    /// Starts `taggan arguments` with `environment` added to this process's.
    public static func start(_ arguments: [String], environment: [String: String] = [:],
                             executable: URL = TagganProcess.executable) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    public init(_ arguments: [String], environment: [String: String] = [:], executable: URL = TagganProcess.executable) throws {
        let (process, out, err) = try Self.start(arguments, environment: environment, executable: executable)
        // Read before waiting so a full pipe cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        status = process.terminationStatus
        stdout = String(decoding: outData, as: UTF8.self)
        stderr = String(decoding: errData, as: UTF8.self)
    }

    public init(_ arguments: String...) throws {
        try self.init(arguments)
    }
}
