import Foundation
import XCTest

/// The package root, found from this file's location (Tests/CLITests/CLITestSupport.swift).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The debug binary `swift build` produced.
let modelsmithBinary = packageRoot.appendingPathComponent(".build/debug/modelsmith")

/// Runs the built `modelsmith` with `args` (in `directory`, if given) and returns its exit
/// status and everything it wrote. Output goes through temporary files, so large outputs
/// cannot dead-lock on a full pipe. `environment` is added to this process's environment.
func runModelSmith(_ args: [String], in directory: URL? = nil,
                   environment: [String: String] = [:]) -> (status: Int32, stdout: String, stderr: String) {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("modelsmith-run-\(UUID().uuidString)")
    let outURL = scratch.appendingPathExtension("out"), errURL = scratch.appendingPathExtension("err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }
    guard let out = try? FileHandle(forWritingTo: outURL), let err = try? FileHandle(forWritingTo: errURL) else {
        return (-1, "", "cannot create temporary files")
    }
    let process = Process()
    process.executableURL = modelsmithBinary
    process.arguments = args
    if let directory { process.currentDirectoryURL = directory }
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    process.standardOutput = out
    process.standardError = err
    do {
        try process.run()
    } catch {
        return (-1, "", "cannot run \(modelsmithBinary.path): \(error) (run `swift build` first)")
    }
    process.waitUntilExit()
    try? out.close()
    try? err.close()
    let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
    let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    return (process.terminationStatus, stdout, stderr)
}

extension XCTestCase {
    /// A fresh empty directory, removed when the test ends.
    func makeTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("modelsmith-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// The path of a file in `Tests/CLITests/Fixtures/`.
    func fixture(_ name: String) -> String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)").path
    }
}
