import Foundation
import TensorCore

/// A single `.npy` file: one tensor named after the file's stem (`fc1.weight.npy` → `fc1.weight`).
public struct NpyReader: WeightArchiveReader {
    public init() {}
    public var formatName: String { "npy" }

    public func canRead(_ url: URL) -> Bool { hasExtension(url, ["npy"]) && !isDirectory(url) }

    public func read(_ url: URL, limits: ReadLimits) throws -> PackageContents {
        let path = displayPath(url)
        let name = url.deletingPathExtension().lastPathComponent
        let (tensor, conversion) = try withMappedFile(url, limits: limits) {
            try Npy.decodeReporting(raw: $0, path: path, entry: nil, name: name, limits: limits)
        }
        var tensors = TensorMap()
        tensors[name] = tensor
        return PackageContents(tensors: tensors, source: path, notes: conversion.map { [.converted($0)] } ?? [])
    }
}
