/// Errors every module reports the same way: the file (when there is one) and the
/// reason. The executable prints them on stderr with exit status 1; bad command-line
/// usage is the executable's own error (ArgumentParsing's `UsageError`, exit status 2),
/// never a library's.
public enum TagganError: Error, CustomStringConvertible, Equatable {
    /// Something wrong with a file: its path and why.
    case file(String, String)
    /// A failure with no single file to blame.
    case failure(String)

    public var description: String {
        switch self {
        case .file(let path, let reason): return "\(path): \(reason)"
        case .failure(let message): return message
        }
    }

    /// The process exit status for this error.
    public var exitStatus: Int32 { 1 }
}
