import ArgumentParser
import Foundation

/// The `modelsmith` command tree. Each subcommand is one type in `Commands/`, listed here once.
public struct ModelSmith: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "modelsmith",
        abstract: "Make trained neural networks smaller and faster, and prove it.",
        version: "0.1.0",
        subcommands: [
            InspectCommand.self,
            ConvertCommand.self,
            QuantizeCommand.self,
            CalibrateCommand.self,
            OptimizeCommand.self,
            PruneCommand.self,
            TrainCommand.self,
            DistillCommand.self,
            TeacherOutputsCommand.self,
            RunCommand.self,
            VerifyCommand.self,
            BenchCommand.self,
            ServeCommand.self,
        ]
    )

    public init() {}

    /// Entry point: runs the command and maps outcomes to exit codes (DESIGN §8):
    /// 0 success; 1 a check failed; 2 bad usage or bad input, with one line on stderr.
    public static func mainEntry(_ arguments: [String]? = nil) -> Never {
        setlocale(LC_ALL, "C.UTF-8")  // libarchive needs it for non-ASCII entry names
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch let failure as CheckFailure {
            FileHandle.standardError.write(Data("modelsmith: check failed: \(failure.message)\n".utf8))
            Foundation.exit(1)
        } catch let error as CleanExit {
            ModelSmith.exit(withError: error)
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch {
            if isArgumentParserError(error) {
                let message = fullMessage(for: error)
                let success = exitCode(for: error) == .success  // --help and --version go to stdout
                (success ? FileHandle.standardOutput : FileHandle.standardError).write(Data((message.isEmpty ? "" : message + "\n").utf8))
                Foundation.exit(success ? 0 : 2)
            }
            FileHandle.standardError.write(Data("modelsmith: error: \(oneLine(error))\n".utf8))
            Foundation.exit(2)
        }
    }

    private static func isArgumentParserError(_ error: Error) -> Bool {
        error is ValidationError || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }
}

/// A verification that ran and did not pass (thresholds, accuracy budget): exit code 1.
public struct CheckFailure: Error {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// Module errors describe themselves in one line (CustomStringConvertible); keep it that way here.
func oneLine(_ error: Error) -> String {
    let text = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
    return text.split(whereSeparator: \.isNewline).joined(separator: " ")
}
