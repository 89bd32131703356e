import Foundation
import TensorCore

/// Machine-readable output (`--json`): pretty, sorted keys, on stdout.
enum JSONOutput {
    static func text(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    static func print(_ value: some Encodable) throws {
        FileHandle.standardOutput.write(Data(try text(value).utf8))
    }
}

extension JSONValue {
    /// A JSON number from an integer.
    static func int(_ n: Int) -> JSONValue { .number(Double(n)) }
    /// A list of integers (a shape).
    static func ints(_ values: [Int]) -> JSONValue { .array(values.map { .number(Double($0)) }) }
}
