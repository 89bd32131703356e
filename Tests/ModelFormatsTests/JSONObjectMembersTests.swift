import Foundation
import XCTest
@testable import ModelFormats

/// The manifest's member scanner: values delimited exactly (brackets and quotes inside strings
/// included), and the object rebuilt from them parses to the same members.
final class JSONObjectMembersTests: XCTestCase {
    func testMembersAreDelimitedExactly() throws {
        let text = #" { "a" : "}{,\"]" , "b": [1, {"c": "]"}, []],"d":-1.5e3, "e": {}, "f":true } "#
        let bytes = Array(text.utf8)
        let members = try bytes.withUnsafeBytes { try JSONObjectMembers($0).members }
        XCTAssertEqual(members.map(\.key), ["a", "b", "d", "e", "f"])
        XCTAssertEqual(members.map { String(decoding: bytes[$0.value], as: UTF8.self) },
                       [#""}{,\"]""#, #"[1, {"c": "]"}, []]"#, "-1.5e3", "{}", "true"])
        let rebuilt = bytes.withUnsafeBytes { JSONObjectMembers.object($0, members: members, excluding: ["b"], appending: [("z", Array("[2]".utf8))]) }
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(rebuilt)) as? NSDictionary)
        XCTAssertEqual(parsed, ["a": "}{,\"]", "d": -1500, "e": [String: Any](), "f": true, "z": [2]] as NSDictionary)
    }

    func testAnEmptyObjectHasNoMembers() throws {
        XCTAssertEqual(try Array(" {\n} ".utf8).withUnsafeBytes { try JSONObjectMembers($0).members.count }, 0)
    }

    func testWhatIsNotOneObjectIsRefused() {
        for text in ["", "[]", "{", #"{"a": 1"#, #"{"a" 1}"#, #"{"a": 1,}"#, #"{"a": [1}"#, #"{"a": "x}"#, #"{"a": 1} x"#, #"{a: 1}"#] {
            XCTAssertThrowsError(try Array(text.utf8).withUnsafeBytes { try JSONObjectMembers($0) }, text) {
                XCTAssertTrue("\($0)".hasPrefix("not a JSON object ("), "\(text): \($0)")
            }
        }
    }
}
