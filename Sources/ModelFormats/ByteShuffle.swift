/// The artifact's byte-shuffle transform (docs/formats.md §4.2): within each block of up to
/// `blockElements` consecutive elements of `width` bytes, byte k of element i moves to plane k.
/// Grouping equal-significance bytes lets zstd's entropy stage see each byte plane separately.
public enum ByteShuffle {
    /// Elements per shuffle block. A block of 1-byte planes of this length is exactly one zstd block
    /// (128 KiB), so each zstd block holds one plane.
    public static let blockElements = 131_072

    /// Shuffles `count` elements of `width` bytes (one block) from `source` into `destination`.
    public static func shuffleBlock(_ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer, count: Int, width: Int) {
        let src = source.assumingMemoryBound(to: UInt8.self)
        let dst = destination.assumingMemoryBound(to: UInt8.self)
        for k in 0..<width {
            let plane = dst + k * count
            var s = src + k
            for i in 0..<count {
                plane[i] = s.pointee
                s += width
            }
        }
    }

    /// The inverse of `shuffleBlock`.
    public static func unshuffleBlock(_ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer, count: Int, width: Int) {
        let src = source.assumingMemoryBound(to: UInt8.self)
        let dst = destination.assumingMemoryBound(to: UInt8.self)
        if width == 4 {
            // The common case (f32) written so the compiler keeps it to simple loads and one store.
            let p0 = src, p1 = src + count, p2 = src + 2 * count, p3 = src + 3 * count
            let out = UnsafeMutableRawPointer(destination)
            for i in 0..<count {
                let word = UInt32(p0[i]) | UInt32(p1[i]) << 8 | UInt32(p2[i]) << 16 | UInt32(p3[i]) << 24
                out.storeBytes(of: word.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
            }
            return
        }
        for k in 0..<width {
            let plane = src + k * count
            var d = dst + k
            for i in 0..<count {
                d.pointee = plane[i]
                d += width
            }
        }
    }

    /// Shuffles a whole buffer of `count` elements block by block (reference for tests and small tensors).
    public static func shuffle(_ bytes: [UInt8], width: Int) -> [UInt8] {
        transform(bytes, width: width, shuffleBlock)
    }

    public static func unshuffle(_ bytes: [UInt8], width: Int) -> [UInt8] {
        transform(bytes, width: width, unshuffleBlock)
    }

    private static func transform(_ bytes: [UInt8], width: Int,
                                  _ block: (UnsafeRawPointer, UnsafeMutableRawPointer, Int, Int) -> Void) -> [UInt8] {
        precondition(width > 0 && bytes.count % width == 0, "byte count is not a multiple of the element width")
        var out = [UInt8](repeating: 0, count: bytes.count)
        let count = bytes.count / width
        bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                var start = 0
                while start < count {
                    let m = min(blockElements, count - start)
                    block(src.baseAddress! + start * width, dst.baseAddress! + start * width, m, width)
                    start += m
                }
            }
        }
        return out
    }
}
