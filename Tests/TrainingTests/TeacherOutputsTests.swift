import XCTest
import ModelRuntime
import TensorCore
@testable import Training

/// Teacher outputs written per shard and read back (docs/scale-out.md, "Teacher outputs").
final class TeacherOutputsTests: XCTestCase {
    private func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("teacher-outputs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func outputs(teacher: String, rows: [String], firstLogit: Float) -> TeacherOutputs {
        let logits = rows.indices.flatMap { [firstLogit + Float($0), -Float($0)] }
        return TeacherOutputs(teacherDigest: teacher, rowDigests: rows, logits: Tensor(logits, shape: [rows.count, 2]),
                              hidden: ["a1": Tensor(rows.indices.map(Float.init), shape: [rows.count, 1])])
    }

    private func digest(_ i: Int) -> String { String(repeating: String(i % 10), count: 64) }

    /// Parts join in file order; rows are looked up by digest whatever their order; a repeated row keeps its first output.
    func testPartsJoinAndRowsAreFoundByDigest() throws {
        let dir = try scratch()
        let teacher = String(repeating: "ab", count: 32)
        let a = dir.appendingPathComponent("part-0.npz").path, b = dir.appendingPathComponent("part-1.npz").path
        try outputs(teacher: teacher, rows: [digest(0), digest(1)], firstLogit: 10).write(to: a)
        try outputs(teacher: teacher, rows: [digest(2), digest(1)], firstLogit: 20).write(to: b)
        XCTAssertThrowsError(try outputs(teacher: teacher, rows: [digest(0)], firstLogit: 0).write(to: a), "no overwrite without force")

        let joined = try TeacherOutputs.load(paths: [a, b])
        XCTAssertEqual(joined.rowDigests, [digest(0), digest(1), digest(2)])
        XCTAssertEqual(joined.hidden["a1"]?.floats, [0, 1, 0])
        let picked = try joined.logits(forRows: [digest(2), digest(0), digest(1)], source: "parts")
        XCTAssertEqual(picked.shape, [3, 2])
        XCTAssertEqual(picked.values, [20, 0, 10, 0, 11, -1])
        XCTAssertThrowsError(try joined.logits(forRows: [digest(0), digest(7)], source: "parts/*.npz")) {
            XCTAssertEqual("\($0)", "sample 1 (row digest 7777777777777777…) has no teacher output in parts/*.npz; run teacher-outputs on this data")
        }
    }

    func testPartsFromAnotherTeacherOrWithOtherOutputsAreRefused() throws {
        let dir = try scratch()
        let a = dir.appendingPathComponent("a.npz").path, b = dir.appendingPathComponent("b.npz").path
        let c = dir.appendingPathComponent("c.npz").path
        try outputs(teacher: String(repeating: "a", count: 64), rows: [digest(0)], firstLogit: 0).write(to: a)
        try outputs(teacher: String(repeating: "b", count: 64), rows: [digest(1)], firstLogit: 0).write(to: b)
        XCTAssertThrowsError(try TeacherOutputs.load(paths: [a, b])) {
            XCTAssertEqual("\($0)", "teacher outputs \(b): made by another teacher (digest bbbbbbbbbbbbbbbb…) than \(a) (aaaaaaaaaaaaaaaa…)")
        }
        var wider = outputs(teacher: String(repeating: "a", count: 64), rows: [digest(1)], firstLogit: 0)
        wider.logits = Tensor([1, 2, 3], shape: [1, 3])
        try wider.write(to: c)
        XCTAssertThrowsError(try TeacherOutputs.load(paths: [a, c])) {
            XCTAssertEqual("\($0)", "teacher outputs \(c): 'logits' has shape [1, 3] unlike \(a)")
        }
    }
}
