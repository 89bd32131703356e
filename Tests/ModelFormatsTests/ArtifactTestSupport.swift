import Foundation
import TensorCore
@testable import ModelFormats

/// Helpers shared by the artifact and export tests.
enum ArtifactFixtures {
    static let graph = Data(#"{"modelsmith": 1, "name": "tiny", "inputs": [{"name": "x", "shape": [-1, 4]}], "outputs": ["y"], "nodes": [{"name": "fc", "op": "linear", "inputs": ["x"], "output": "y", "params": {"weight": "fc.weight", "bias": "fc.bias"}}]}"#.utf8)

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("msa-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A tensor of `dtype` whose bytes are reproducible pseudo-random values (floats are finite normals).
    static func tensor(_ dtype: DType, _ shape: Shape, seed: UInt64, zeroFraction: Float = 0) -> Tensor {
        var rng = SeededRNG(seed: seed)
        var t = Tensor(zeros: dtype, shape)
        let n = t.elementCount
        t.withUnsafeMutableBytes { raw in
            for i in 0..<n {
                if rng.nextFloat() < zeroFraction { continue }
                let v = rng.normal()
                switch dtype {
                case .f32: raw.storeBytes(of: v.bitPattern, toByteOffset: 4 * i, as: UInt32.self)
                case .f16: raw.storeBytes(of: Float16(v).bitPattern, toByteOffset: 2 * i, as: UInt16.self)
                case .bf16: raw.storeBytes(of: UInt16(v.bitPattern >> 16), toByteOffset: 2 * i, as: UInt16.self)
                case .i8: raw.storeBytes(of: Int8(clamping: Int(v * 40)), toByteOffset: i, as: Int8.self)
                case .u8: raw.storeBytes(of: UInt8(truncatingIfNeeded: rng.next()), toByteOffset: i, as: UInt8.self)
                case .bool: raw.storeBytes(of: UInt8(rng.next() & 1), toByteOffset: i, as: UInt8.self)
                case .i32: raw.storeBytes(of: Int32(truncatingIfNeeded: rng.next()), toByteOffset: 4 * i, as: Int32.self)
                case .i64: raw.storeBytes(of: Int64(bitPattern: rng.next()), toByteOffset: 8 * i, as: Int64.self)
                }
            }
        }
        return t
    }

    /// Byte offset of a tar member's data in an uncompressed ustar archive (headers are 512-byte
    /// blocks whose first 100 bytes are the name).
    static func memberDataOffset(_ archive: [UInt8], member: String) -> Int? {
        let name = Array(member.utf8)
        var block = 0
        while block + 512 <= archive.count {
            if Array(archive[block..<block + name.count]) == name && archive[block + name.count] == 0 { return block + 512 }
            block += 512
        }
        return nil
    }
}
