import ArgumentParser
import ModelRuntime

/// `--shard K/N` of `calibrate` and `teacher-outputs`.
extension DatasetShard: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}
