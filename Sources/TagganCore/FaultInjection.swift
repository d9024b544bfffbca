import Foundation

/// Kill points for tests of crash safety: `TAGGAN_KILL_AT=NAME` makes the process send
/// itself SIGKILL when it reaches the point called NAME (right after a write it
/// commits), so a test can check that a run killed there resumes to the full result.
/// The variable is read here and nowhere else; unset, a point costs one dictionary look-up.
public enum FaultInjection {
    private static let target = ProcessInfo.processInfo.environment["TAGGAN_KILL_AT"]

    /// Dies here when `TAGGAN_KILL_AT` names this point.
    public static func point(_ name: String) {
        guard let target, target == name else { return }
        kill(getpid(), SIGKILL)
    }
}
