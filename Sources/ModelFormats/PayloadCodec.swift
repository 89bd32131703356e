import TensorCore

/// One encoded and compressed tensor payload: the member bytes and how they were made.
struct EncodedPayload {
    var encoding: TensorEncoding
    var transform: ByteTransform
    /// Size of the zstd-decoded payload (before the transform is undone).
    var encodedBytes: Int
    var member: [UInt8]
}

/// Builds artifact members from tensors (docs/formats.md §4), streaming the encoded bytes into
/// zstd block by block so no full-size intermediate copy is made.
enum PayloadEncoder {
    /// Every valid (encoding, transform) pair for `tensor`, cheapest to try first.
    static func candidates(for tensor: Tensor) -> [(TensorEncoding, ByteTransform)] {
        let denseEncoding: TensorEncoding = tensor.dtype == .i8 && tensor.quant != nil ? .int8 : .dense
        let width = tensor.dtype.byteSize
        var result: [(TensorEncoding, ByteTransform)] = [(denseEncoding, .none)]
        if width > 1 { result.append((denseEncoding, .shuffle)) }
        // Sparse can only win when its raw size (bitmap + non-zero values) is below the dense size.
        let n = tensor.elementCount
        let nonzero = tensor.withUnsafeBytes { raw in
            (0..<n).reduce(0) { $0 + (ElementBits.isAllZero(raw.baseAddress!, $1, width: width) ? 0 : 1) }
        }
        if n > 0 && (n + 7) / 8 + nonzero * width < n * width {
            result.append((.sparse, .none))
            if width > 1 { result.append((.sparse, .shuffle)) }
        }
        return result
    }

    /// Tries every candidate and keeps the smallest member (ties go to the earlier candidate).
    static func smallest(_ tensor: Tensor, level: Int) -> EncodedPayload {
        var best: EncodedPayload?
        for (encoding, transform) in candidates(for: tensor) {
            let payload = encode(tensor, encoding: encoding, transform: transform, level: level)
            if best == nil || payload.member.count < best!.member.count { best = payload }
        }
        return best!
    }

    static func encode(_ tensor: Tensor, encoding: TensorEncoding, transform: ByteTransform, level: Int) -> EncodedPayload {
        let width = tensor.dtype.byteSize
        let n = tensor.elementCount
        return tensor.withUnsafeBytes { raw -> EncodedPayload in
            let base = raw.baseAddress!
            switch encoding {
            case .dense, .int8, .paramNonzero:
                let compressor = ZstdCompressor(level: level, contentSize: n * width)
                appendElements(base, count: n, width: width, transform: transform, to: compressor)
                return EncodedPayload(encoding: encoding, transform: transform, encodedBytes: n * width, member: compressor.finish())
            case .sparse:
                var bitmap = [UInt8](repeating: 0, count: (n + 7) / 8)
                var packed = [UInt8]()
                packed.reserveCapacity(n * width / 4)
                for i in 0..<n where !ElementBits.isAllZero(base, i, width: width) {
                    bitmap[i >> 3] |= 1 << UInt8(i & 7)
                    packed.append(contentsOf: UnsafeRawBufferPointer(start: base + i * width, count: width))
                }
                let encodedBytes = bitmap.count + packed.count
                let compressor = ZstdCompressor(level: level, contentSize: encodedBytes)
                bitmap.withUnsafeBytes { compressor.append($0) }
                packed.withUnsafeBytes { values in
                    if let p = values.baseAddress {
                        appendElements(p, count: packed.count / width, width: width, transform: transform, to: compressor)
                    }
                }
                return EncodedPayload(encoding: .sparse, transform: transform, encodedBytes: encodedBytes, member: compressor.finish())
            }
        }
    }

    private static func appendElements(_ base: UnsafeRawPointer, count: Int, width: Int, transform: ByteTransform,
                                       to compressor: ZstdCompressor) {
        guard transform == .shuffle && width > 1 else {
            compressor.append(UnsafeRawBufferPointer(start: base, count: count * width))
            return
        }
        let block = UnsafeMutableRawPointer.allocate(byteCount: ByteShuffle.blockElements * width, alignment: 64)
        defer { block.deallocate() }
        var start = 0
        while start < count {
            let m = min(ByteShuffle.blockElements, count - start)
            ByteShuffle.shuffleBlock(base + start * width, block, count: m, width: width)
            compressor.append(UnsafeRawBufferPointer(start: block, count: m * width))
            start += m
        }
    }
}

/// Why a payload's decoded bytes do not fit its declared encoding.
struct PayloadError: Error { let reason: String }

/// Consumes a member's decoded bytes in order and writes the tensor elements into `destination`
/// (which must be zero-filled: `sparse` only writes the non-zero elements). Memory besides the
/// destination: one shuffle block, plus the bitmap for `sparse`.
struct PayloadDecoder {
    private let destination: UnsafeMutableRawPointer
    private let count: Int
    private let width: Int
    private let encoding: TensorEncoding
    private let shuffled: Bool
    private let encodedBytes: Int

    /// Dense: elements completed so far. Sparse: packed values completed so far.
    private var done = 0
    /// Dense without a transform: bytes copied so far.
    private var written = 0
    private var staging: [UInt8] = []
    private var stagingUsed = 0
    private var unshuffled: [UInt8] = []
    // Sparse state.
    private var bitmap: [UInt8] = []
    private var bitmapUsed = 0
    private var valueCount = 0
    private var wordIndex = 0
    private var word: UInt64 = 0

    init(destination: UnsafeMutableRawPointer, count: Int, width: Int, encoding: TensorEncoding,
         transform: ByteTransform, encodedBytes: Int) {
        self.destination = destination
        self.count = count
        self.width = width
        self.encoding = encoding
        self.shuffled = transform == .shuffle && width > 1
        self.encodedBytes = encodedBytes
        if encoding == .sparse {
            bitmap = [UInt8](repeating: 0, count: ((count + 63) / 64) * 8)
        }
        if shuffled || encoding == .sparse {
            staging = [UInt8](repeating: 0, count: min(max(count, 1), ByteShuffle.blockElements) * width)
        }
        if shuffled && encoding == .sparse { unshuffled = staging }
    }

    /// Takes the next decoded bytes.
    mutating func consume(_ chunk: UnsafeRawBufferPointer) throws {
        guard var p = chunk.baseAddress else { return }
        var remaining = chunk.count
        if encoding == .sparse && bitmapUsed < (count + 7) / 8 {
            let take = min(remaining, (count + 7) / 8 - bitmapUsed)
            bitmap.withUnsafeMutableBytes { ($0.baseAddress! + bitmapUsed).copyMemory(from: p, byteCount: take) }
            bitmapUsed += take
            p += take
            remaining -= take
            if bitmapUsed == (count + 7) / 8 { try bitmapComplete() }
        }
        if remaining == 0 { return }
        if encoding != .sparse && !shuffled {
            guard written + remaining <= count * width else { throw PayloadError(reason: "more element bytes than the shape holds") }
            (destination + written).copyMemory(from: p, byteCount: remaining)
            written += remaining
            return
        }
        let total = encoding == .sparse ? valueCount : count
        while remaining > 0 {
            let blockLength = min(ByteShuffle.blockElements, total - done) * width
            guard blockLength > 0 else { throw PayloadError(reason: "more element bytes than declared") }
            let take = min(remaining, blockLength - stagingUsed)
            staging.withUnsafeMutableBytes { ($0.baseAddress! + stagingUsed).copyMemory(from: p, byteCount: take) }
            stagingUsed += take
            p += take
            remaining -= take
            if stagingUsed == blockLength { try blockComplete(elements: blockLength / width) }
        }
    }

    /// Checks that every declared byte arrived.
    func finish() throws {
        if encoding != .sparse && !shuffled {
            guard written == count * width else { throw PayloadError(reason: "payload ends early") }
            return
        }
        let expectedValues = encoding == .sparse ? valueCount : count
        let bitmapDone = encoding != .sparse || bitmapUsed == (count + 7) / 8
        guard bitmapDone && done == expectedValues && stagingUsed == 0 else {
            throw PayloadError(reason: "payload ends early")
        }
    }

    private mutating func bitmapComplete() throws {
        let bits = bitmap.withUnsafeBytes { raw in
            (0..<raw.count / 8).reduce(0) { $0 + raw.loadUnaligned(fromByteOffset: 8 * $1, as: UInt64.self).nonzeroBitCount }
        }
        // Bits past the last element must be clear, or the bitmap is not canonical (corrupted).
        if count % 8 != 0, bitmap[(count - 1) / 8] >> UInt8(count % 8) != 0 {
            throw PayloadError(reason: "sparse bitmap has bits set past the last element")
        }
        valueCount = bits
        guard (count + 7) / 8 + bits * width == encodedBytes else {
            throw PayloadError(reason: "sparse bitmap marks \(bits) values but the payload holds \((encodedBytes - (count + 7) / 8) / max(width, 1))")
        }
        word = bitmap.withUnsafeBytes { $0.isEmpty ? 0 : $0.loadUnaligned(as: UInt64.self) }
    }

    private mutating func blockComplete(elements m: Int) throws {
        stagingUsed = 0
        if encoding != .sparse {
            staging.withUnsafeBytes { ByteShuffle.unshuffleBlock($0.baseAddress!, destination + done * width, count: m, width: width) }
            done += m
            return
        }
        if shuffled {
            staging.withUnsafeBytes { src in
                unshuffled.withUnsafeMutableBytes { ByteShuffle.unshuffleBlock(src.baseAddress!, $0.baseAddress!, count: m, width: width) }
            }
        }
        let values = shuffled ? unshuffled : staging
        values.withUnsafeBytes { raw in
            bitmap.withUnsafeBytes { bits in
                for v in 0..<m {
                    while word == 0 {
                        wordIndex += 1
                        word = bits.loadUnaligned(fromByteOffset: 8 * wordIndex, as: UInt64.self)
                    }
                    let position = wordIndex * 64 + word.trailingZeroBitCount
                    word &= word - 1
                    (destination + position * width).copyMemory(from: raw.baseAddress! + v * width, byteCount: width)
                }
            }
        }
        done += m
    }
}
