/// Errors every command reports the same way: the file (when there is one) and the
/// reason, on stderr, with exit status 1 (`usage` gets 2).
public enum TagganError: Error, CustomStringConvertible, Equatable {
    /// Something wrong with a file: its path and why.
    case file(String, String)
    /// Bad command-line usage (exit status 2).
    case usage(String)
    /// A failure with no single file to blame.
    case failure(String)

    public var description: String {
        switch self {
        case .file(let path, let reason): return "\(path): \(reason)"
        case .usage(let message): return message
        case .failure(let message): return message
        }
    }

    /// The process exit status for this error.
    public var exitStatus: Int32 {
        if case .usage = self { return 2 }
        return 1
    }
}
