import Foundation
import TensorCore

/// Turns the files of a package (archive entries or directory files) into `PackageContents`:
/// `model.json` becomes the graph document, every `.npy` one tensor named by its path without
/// `.npy`, every `.safetensors` its tensors. Other files are ignored.
///
/// A package may sit at the root or under one top-level folder (`tiny/model.json`,
/// `tiny/fc1.weight.npy`); names are relative to that folder.
struct PackageAssembler {
    let path: String
    let limits: ReadLimits
    /// When false (npz), names are the full entry paths: a single top-level folder is part of the names.
    let stripsSingleTopFolder: Bool

    private var graphs: [String: Data] = [:]
    /// Decoded tensors by the file they came from, in file order; `.npy` files carry a nil name
    /// until `contents()` knows the root. A converted dtype carries its record.
    private var decoded: [(file: String, tensors: [(name: String?, tensor: Tensor, conversion: DTypeConversion?)])] = []
    private var tensorCount = 0
    /// Entries the archive loop skipped (links), reported with the contents.
    var skipped: [ReadNote] = []

    init(path: String, limits: ReadLimits, stripsSingleTopFolder: Bool = true) {
        self.path = path
        self.limits = limits
        self.stripsSingleTopFolder = stripsSingleTopFolder
    }

    /// Whether a relative path is a file the package format uses.
    static func isPackageFile(_ relative: String) -> Bool {
        let last = relative.split(separator: "/").last.map(String.init) ?? relative
        // Resource forks and Finder metadata that macOS adds to zips are never part of a package.
        if relative.hasPrefix("__MACOSX/") || last.hasPrefix("._") { return false }
        return last == "model.json" || relative.hasSuffix(".npy") || relative.hasSuffix(".safetensors")
    }

    /// Decodes one file (`relative` is already normalised by `EntryPath`).
    mutating func add(_ relative: String, data: [UInt8], entry: String?) throws {
        try data.withUnsafeBytes { try add(relative, raw: $0, entry: entry) }
    }

    /// The same over any bytes (a memory-mapped directory file).
    mutating func add(_ relative: String, raw data: UnsafeRawBufferPointer, entry: String?) throws {
        guard Self.isPackageFile(relative) else { return }
        if relative.hasSuffix(".npy") {
            try admitTensors(1)
            let (tensor, conversion) = try Npy.decodeReporting(raw: data, path: path, entry: entry, name: relative, limits: limits)
            decoded.append((relative, [(nil, tensor, conversion)]))
        } else if relative.hasSuffix(".safetensors") {
            let file = try Safetensors.decodeReporting(raw: data, path: path, entry: entry, limits: limits)
            try admitTensors(file.tensors.count)
            let conversions = Dictionary(file.conversions.map { ($0.tensor, $0) }) { a, _ in a }
            decoded.append((relative, file.tensors.map { ($0.name, $0.tensor, conversions[$0.name]) }))
        } else {
            graphs[relative] = Data(data)
        }
    }

    private mutating func admitTensors(_ n: Int) throws {
        tensorCount += n
        guard tensorCount <= limits.maxTensors else {
            throw FormatError.limitExceeded(path: path, entry: nil, limit: "the limit of \(limits.maxTensors) tensors")
        }
    }

    /// The package: graph (if any) and every tensor, refusing duplicate names.
    func contents() throws -> PackageContents {
        let root = packageRoot()
        var tensors = TensorMap()
        var notes = skipped
        for (file, items) in decoded {
            for (name, tensor, conversion) in items {
                let tensorName = name ?? String(file.dropFirst(root.count).dropLast(".npy".count))
                guard !tensors.contains(tensorName) else { throw FormatError.duplicateTensor(path: path, name: tensorName) }
                tensors[tensorName] = tensor
                if var conversion {
                    conversion.tensor = tensorName
                    notes.append(.converted(conversion))
                }
            }
        }
        return PackageContents(graphJSON: graphs[root + "model.json"], tensors: tensors, source: path, notes: notes)
    }

    /// "" when any package file is at the top level, else "folder/" when all share one top folder.
    private func packageRoot() -> String {
        guard stripsSingleTopFolder else { return "" }
        let files = Array(graphs.keys) + decoded.map(\.file)
        let tops = Set(files.map { $0.split(separator: "/", maxSplits: 1).count == 2 ? String($0.split(separator: "/")[0]) : "" })
        guard tops.count == 1, let top = tops.first, !top.isEmpty else { return "" }
        return top + "/"
    }
}

/// Whether `url` names an existing directory.
func isDirectory(_ url: URL) -> Bool {
    var directory: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &directory) && directory.boolValue
}

/// Whether the file name ends with one of the extensions (case-insensitive, e.g. "tar.gz").
func hasExtension(_ url: URL, _ extensions: [String]) -> Bool {
    let name = url.lastPathComponent.lowercased()
    return extensions.contains { name.hasSuffix("." + $0) }
}

/// The size of the file `url` names, following symbolic links: an input is the user's own file,
/// wherever a cache (Hugging Face, DVC) keeps it. Nil when it does not exist.
public func inputFileSize(_ url: URL) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: url.resolvingSymlinksInPath().path))?[.size].flatMap { ($0 as? NSNumber)?.intValue }
}

/// Calls `body` with a regular file's bytes (through any symbolic link) memory-mapped, refusing one
/// larger than the decoded-size cap first. Nothing is copied, and a page is read from disk only when
/// touched, so the decoders' header checks run before the rest of the file is read and a tensor's
/// bytes are read once, straight into the tensor.
func withMappedFile<T>(_ url: URL, limits: ReadLimits, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
    let path = displayPath(url)
    guard let size = inputFileSize(url) else { throw FormatError.fileNotFound(path: path) }
    guard size <= limits.maxDecodedBytes else {
        throw FormatError.limitExceeded(path: path, entry: nil, limit: "the decoded-size cap of \(limits.maxDecodedBytes) bytes")
    }
    let data: Data
    do { data = try Data(contentsOf: url, options: .alwaysMapped) }
    catch { throw FormatError.unreadable(path: path, reason: error.localizedDescription) }
    return try data.withUnsafeBytes(body)
}

/// A whole regular file's bytes (through any symbolic link), refusing one larger than the
/// decoded-size cap before reading it.
func readWholeFile(_ url: URL, limits: ReadLimits) throws -> [UInt8] {
    try withMappedFile(url, limits: limits) { [UInt8]($0) }
}
