import Foundation
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore

/// Shared pieces of the commands that run and measure models (`run`, `verify`, `bench`, `optimize`, sizes for `inspect`/`convert`).
enum RuntimeSupport {
    /// Reads a dataset and checks it against the graph's single input: shape (naming the dim),
    /// dtype and finite values.
    static func loadDataset(_ path: String, xKey: String, yKey: String?, for graph: Graph, strictDTypes: Bool,
                            console: Console) throws -> Dataset {
        let data = try ModelInputOptions.loadDataset(path, xKey: xKey, yKey: yKey, for: graph, strictDTypes: strictDTypes, console: console)
        try data.checkShapes(against: graph, source: path)
        try data.checkFinite(source: path)
        return data
    }

    /// "1,8,64" → [1, 8, 64]; every value positive.
    static func positiveList(_ text: String, option: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw RuntimeError.badOption("\(option) must be a comma-separated list of positive integers, got '\(text)'")
        }
        return values.map { $0! }
    }

    /// A file's size, or the total size of the regular files under a directory; a symbolic link
    /// counts as the file it leads to (a Hugging Face cache is made of links).
    static func sizeOnDisk(_ path: String) -> Int {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { return 0 }
        let url = URL(fileURLWithPath: path)
        guard isDirectory.boolValue else { return inputFileSize(url) ?? 0 }
        var total = 0
        let walker = fm.enumerator(at: url.resolvingSymlinksInPath(), includingPropertiesForKeys: nil)
        while let item = walker?.nextObject() as? URL {
            let values = try? item.resolvingSymlinksInPath().resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
            if values?.isRegularFile == true { total += values?.fileSize ?? 0 }
        }
        return total
    }
}
