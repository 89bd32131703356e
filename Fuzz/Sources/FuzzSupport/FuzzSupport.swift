import Foundation
import ModelFormats

/// libFuzzer's driver (from `-sanitize=fuzzer`): parses libFuzzer's flags from argv and calls
/// `callback` with each input until it stops or finds a crash.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// The parser under test. A C callback cannot capture, so `runFuzzer` parks it here; libFuzzer
/// calls it from one thread only.
nonisolated(unsafe) private var fuzzBody: (([UInt8]) -> Void)?

/// Runs libFuzzer with `body` as the target and exits with its status. `body` gets each input's
/// bytes; thrown errors are the expected outcome for bad input and must be swallowed by `body`
/// (`try?`): only traps, sanitizer reports, leaks, timeouts and memory blow-ups are findings.
public func runFuzzer(_ body: @escaping ([UInt8]) -> Void) -> Never {
    fuzzBody = body
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        fuzzBody?(bytes)
        return 0
    }
    exit(status)
}

/// Limits for fuzzing: the same checks as the defaults, with caps small enough that an input
/// which passes them cannot hit libFuzzer's 2 GB malloc limit (a finding would then be a real
/// failure to bound memory, not a large-but-allowed allocation).
public let fuzzLimits: ReadLimits = {
    var limits = ReadLimits()
    limits.maxDecodedBytes = 64 << 20
    limits.expansionRatioFloorBytes = 8 << 20
    limits.maxHeaderBytes = 1 << 20
    limits.maxEntries = 10_000
    limits.maxTensors = 10_000
    return limits
}()

/// The `MemoryBudget` of targets that plan sessions: far below libFuzzer's 2 GB malloc limit, so
/// an allocation past it is a budget that was not checked.
public let fuzzMemoryBudget = 256 << 20

/// A file in /dev/shm (tmpfs) for parsers that read paths; one per process and extension,
/// rewritten for every input.
public func scratchFile(_ bytes: [UInt8], extension ext: String) -> URL {
    let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let url = URL(fileURLWithPath: "\(directory)/modelsmith-fuzz-\(getpid()).\(ext)")
    // Data(bytes).write is atomic by default (temp + rename); a plain write is cheaper here.
    _ = FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
    return url
}
