import ArgumentParser

/// The `modelsmith` command tree. Each subcommand is one type in its own file.
public struct ModelSmith: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "modelsmith",
        abstract: "Make trained neural networks smaller and faster, and prove it.",
        version: "0.1.0",
        subcommands: []
    )

    public init() {}
}
