import Foundation
import ModelFormats
import ONNXProto
import TensorCore

/// Reads initializer bytes kept outside the `.onnx` file (ONNX "external data"): `location` is a
/// path relative to the model's folder, `offset`/`length` a byte range of it. Paths that are
/// absolute, contain `..`, or resolve (through symlinks) outside the folder are refused; ranges
/// past the file's end are refused; the bytes read in total count against `maxDecodedBytes`
/// (docs/onnx.md, "External data").
final class ONNXExternalData {
    private let folder: URL
    private let limits: ReadLimits
    private var bytesRead = 0

    init(modelURL: URL, limits: ReadLimits) {
        folder = modelURL.deletingLastPathComponent().resolvingSymlinksInPath().standardizedFileURL
        self.limits = limits
    }

    func read(_ entries: [Onnx_StringStringEntryProto], byteCount: Int, what: String) throws -> Data {
        var fields: [String: String] = [:]
        for entry in entries {
            guard fields.updateValue(entry.value, forKey: entry.key) == nil else {
                throw GraphError.malformedONNX("\(what): external_data key '\(entry.key)' appears twice")
            }
        }
        guard let location = fields["location"], !location.isEmpty else {
            throw GraphError.malformedONNX("\(what): external data without a 'location'")
        }
        let offset = try number(fields["offset"], key: "offset", what: what) ?? 0
        let length = try number(fields["length"], key: "length", what: what)
        if let length, length != byteCount {
            throw GraphError.malformedONNX("\(what): external data length \(length) disagrees with its dims (\(byteCount) bytes)")
        }
        let url = try resolve(location, what: what)
        guard bytesRead <= limits.maxDecodedBytes - byteCount else {
            throw GraphError.malformedONNX("\(what): external data exceeds the decoded-bytes limit \(limits.maxDecodedBytes)")
        }
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw GraphError.malformedONNX("\(what): cannot open external data '\(location)': \(error.localizedDescription)")
        }
        defer { try? handle.close() }
        let fileSize = (try? handle.seekToEnd()).map { Int($0) } ?? 0
        guard offset <= fileSize, byteCount <= fileSize - offset else {
            throw GraphError.malformedONNX("\(what): external data '\(location)' bytes \(offset)..<\(offset + byteCount) are past its end (\(fileSize) bytes)")
        }
        try handle.seek(toOffset: UInt64(offset))
        let data = try handle.read(upToCount: byteCount) ?? Data()
        guard data.count == byteCount else {
            throw GraphError.malformedONNX("\(what): external data '\(location)' ended after \(data.count) of \(byteCount) bytes")
        }
        bytesRead += byteCount
        return data
    }

    private func number(_ text: String?, key: String, what: String) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), value >= 0 else {
            throw GraphError.malformedONNX("\(what): external data \(key) '\(text)' is not a non-negative integer")
        }
        return value
    }

    /// The file `location` names, inside the model's folder after resolving symlinks.
    private func resolve(_ location: String, what: String) throws -> URL {
        let components = location.split(separator: "/", omittingEmptySubsequences: false)
        guard !location.hasPrefix("/"), !location.contains("\\"), !location.contains("\0"),
              !components.contains(where: { $0 == ".." }) else {
            throw GraphError.malformedONNX("\(what): external data path '\(location)' escapes the model's folder; refused")
        }
        let url = folder.appendingPathComponent(location).resolvingSymlinksInPath().standardizedFileURL
        guard url.path.hasPrefix(folder.path.hasSuffix("/") ? folder.path : folder.path + "/") else {
            throw GraphError.malformedONNX("\(what): external data path '\(location)' resolves outside the model's folder; refused")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw GraphError.malformedONNX("\(what): external data file '\(location)' does not exist")
        }
        return url
    }
}
