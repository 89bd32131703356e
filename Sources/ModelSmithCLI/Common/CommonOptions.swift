import ArgumentParser
import ModelFormats
import TensorCore

/// Options every command shares (DESIGN §8).
public struct CommonOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON on stdout instead of tables.")
    public var json = false

    @Flag(name: .shortAndLong, help: "Print only errors.")
    public var quiet = false

    @Flag(name: .shortAndLong, help: "Print more detail on stderr.")
    public var verbose = false

    @Option(name: .customLong("max-memory"), help: ArgumentHelp(
        "The memory budget for what the input's sizes ask for (activation arenas, benchmark inputs, training state); K/M/G/T. Default: half of physical memory.",
        valueName: "size"))
    public var maxMemory: String?

    public init() {}

    /// Parses `--max-memory` and installs it as the process's `MemoryBudget` (the one budget of
    /// the process, so it is set while the options are validated, before any command runs).
    public func validate() throws {
        if let maxMemory { try Self.installMemoryBudget(maxMemory) }
    }

    /// `--max-memory SIZE` (or `serve`'s `max-memory`) as the process's `MemoryBudget`.
    static func installMemoryBudget(_ text: String) throws {
        guard let bytes = ReadLimits.parseSize(text), bytes > 0 else {
            throw ValidationError("--max-memory must be a positive size such as 512M or 8G, got '\(text)'")
        }
        MemoryBudget.limit = bytes
    }
}

/// Options of commands that write an output file.
public struct OutputOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .long], help: "The file to write.")
    public var output: String

    @Flag(name: .long, help: "Overwrite the output if it exists.")
    public var force = false

    public init() {}
}
