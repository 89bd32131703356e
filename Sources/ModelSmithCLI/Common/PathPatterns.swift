import Foundation
import ModelFormats
#if canImport(Glibc)
import Glibc
#endif

/// Expands shell-style patterns in path arguments (`'stats/part-*.calib.json'`, quoted so that a
/// Kubernetes command line or a long file list reaches us unexpanded): each argument with `*`, `?`
/// or `[` becomes its matches in sorted order; one that matches nothing is refused as a missing file.
enum PathPatterns {
    static func expand(_ arguments: [String]) throws -> [String] {
        var out: [String] = []
        for argument in arguments {
            guard argument.contains(where: { "*?[".contains($0) }) else { out.append(argument); continue }
            var matches = glob_t()
            defer { globfree(&matches) }
            guard glob(argument, 0, nil, &matches) == 0 else {
                throw FormatError.fileNotFound(path: argument)
            }
            out += (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }.sorted()
        }
        return out
    }
}
