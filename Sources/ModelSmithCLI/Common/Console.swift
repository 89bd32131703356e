import Foundation

/// Where a command talks to its user: results on stdout; notes and progress on stderr,
/// silenced by `--quiet`, details only with `--verbose`.
struct Console {
    let quiet: Bool
    let verbose: Bool

    init(_ options: CommonOptions) {
        quiet = options.quiet
        verbose = options.verbose
    }

    /// A result line (or table) on stdout.
    func output(_ text: String) {
        FileHandle.standardOutput.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    /// A table on stdout, unless `--quiet` ("print only errors"): then it is not even rendered,
    /// so a model with a huge graph costs nothing to check quietly.
    func table(_ render: @autoclosure () -> String) {
        guard !quiet else { return }
        output(render())
    }

    /// A note on stderr, unless `--quiet`.
    func note(_ message: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    /// Detail on stderr, only with `--verbose`.
    func detail(_ message: String) {
        guard verbose, !quiet else { return }
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    /// A warning on stderr, always (even with `--quiet`).
    func warning(_ message: String) {
        FileHandle.standardError.write(Data("modelsmith: warning: \(message)\n".utf8))
    }
}
