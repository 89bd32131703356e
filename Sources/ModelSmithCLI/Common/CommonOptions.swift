import ArgumentParser

/// Options every command shares (DESIGN §8).
public struct CommonOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON on stdout instead of tables.")
    public var json = false

    @Flag(name: .shortAndLong, help: "Print only errors.")
    public var quiet = false

    @Flag(name: .shortAndLong, help: "Print more detail on stderr.")
    public var verbose = false

    public init() {}
}

/// Options of commands that write an output file.
public struct OutputOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .long], help: "The file to write.")
    public var output: String

    @Flag(name: .long, help: "Overwrite the output if it exists.")
    public var force = false

    public init() {}
}
