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
            case .dense, .int8, .paramNonzero, .paramNonzeroXor:
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
                compressor.endBlock()
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
            for plane in 0..<width {  // one zstd block (and Huffman table) per byte plane
                compressor.append(UnsafeRawBufferPointer(start: block + plane * m, count: m))
                compressor.endBlock()
            }
            start += m
        }
    }
}

/// Why a payload's decoded bytes do not fit its declared encoding.
struct PayloadError: Error { let reason: String }

/// Receives a member's decoded bytes in order and writes the tensor elements into `destination`
/// (which must be zero-filled: `sparse` only writes the non-zero elements). zstd decodes straight
/// into `window()`: the destination itself for dense data without a transform, otherwise a staging
/// area of one shuffle block (plus the bitmap for `sparse`), so memory stays small.
final class PayloadDecoder {
    private let destination: UnsafeMutableRawPointer
    private let count: Int
    private let width: Int
    private let encoding: TensorEncoding
    private let shuffled: Bool
    private let encodedBytes: Int
    private let bitmapBytes: Int

    /// Dense without a transform: bytes written so far.
    private var written = 0
    /// Staged data: elements (dense) or packed values (sparse) completed so far.
    private var done = 0
    private let staging: UnsafeMutableRawBufferPointer
    private var stagingUsed = 0
    private let unshuffled: UnsafeMutableRawBufferPointer
    // Sparse state.
    private let bitmap: UnsafeMutableRawBufferPointer
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
        bitmapBytes = encoding == .sparse ? (count + 7) / 8 : 0
        // The bitmap is padded to whole 64-bit words (zero) for the bit scan.
        bitmap = .allocate(byteCount: encoding == .sparse ? ((count + 63) / 64) * 8 : 0, alignment: 8)
        bitmap.initializeMemory(as: UInt8.self, repeating: 0)
        let staged = shuffled || encoding == .sparse
        staging = .allocate(byteCount: staged ? min(max(count, 1), ByteShuffle.blockElements) * width : 0, alignment: 64)
        unshuffled = .allocate(byteCount: shuffled && encoding == .sparse ? staging.count : 0, alignment: 64)
    }

    deinit {
        bitmap.deallocate()
        staging.deallocate()
        unshuffled.deallocate()
    }

    private var staged: Bool { shuffled || encoding == .sparse }
    private var stagedTotal: Int { encoding == .sparse ? valueCount : count }
    private var blockLength: Int { min(ByteShuffle.blockElements, stagedTotal - done) * width }

    /// Where the next decoded bytes go; empty once everything declared has arrived.
    func window() -> UnsafeMutableRawBufferPointer {
        if bitmapUsed < bitmapBytes { return UnsafeMutableRawBufferPointer(rebasing: bitmap[bitmapUsed..<bitmapBytes]) }
        if !staged { return UnsafeMutableRawBufferPointer(start: destination + written, count: count * width - written) }
        return UnsafeMutableRawBufferPointer(rebasing: staging[stagingUsed..<max(stagingUsed, blockLength)])
    }

    /// `n` bytes were written into the last window.
    func commit(_ n: Int) throws {
        if bitmapUsed < bitmapBytes {
            bitmapUsed += n
            if bitmapUsed == bitmapBytes { try bitmapComplete() }
        } else if !staged {
            written += n
        } else {
            stagingUsed += n
            let length = blockLength
            if stagingUsed == length { try blockComplete(elements: length / width) }
        }
    }

    /// Copies bytes through the window (for callers that already hold decoded bytes).
    func consume(_ chunk: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < chunk.count {
            let w = window()
            guard w.count > 0 else { throw PayloadError(reason: "more element bytes than declared") }
            let take = min(w.count, chunk.count - offset)
            w.baseAddress!.copyMemory(from: chunk.baseAddress! + offset, byteCount: take)
            offset += take
            try commit(take)
        }
    }

    /// Checks that every declared byte arrived.
    func finish() throws {
        let complete = bitmapUsed == bitmapBytes && (staged ? done == stagedTotal && stagingUsed == 0 : written == count * width)
        guard complete else { throw PayloadError(reason: "payload ends early") }
    }

    private func bitmapComplete() throws {
        // Bits past the last element must be clear, or the bitmap is not canonical (corrupted).
        if count % 8 != 0, bitmap[(count - 1) / 8] >> UInt8(count % 8) != 0 {
            throw PayloadError(reason: "sparse bitmap has bits set past the last element")
        }
        let words = bitmap.count / 8
        valueCount = (0..<words).reduce(0) { $0 + bitmap.load(fromByteOffset: 8 * $1, as: UInt64.self).nonzeroBitCount }
        guard bitmapBytes + valueCount * width == encodedBytes else {
            throw PayloadError(reason: "sparse bitmap marks \(valueCount) values but the payload holds \((encodedBytes - bitmapBytes) / max(width, 1))")
        }
        word = words > 0 ? bitmap.load(as: UInt64.self) : 0
    }

    private func blockComplete(elements m: Int) throws {
        stagingUsed = 0
        if encoding != .sparse {
            ByteShuffle.unshuffleBlock(staging.baseAddress!, destination + done * width, count: m, width: width)
            done += m
            return
        }
        if shuffled { ByteShuffle.unshuffleBlock(staging.baseAddress!, unshuffled.baseAddress!, count: m, width: width) }
        let values = shuffled ? unshuffled.baseAddress! : staging.baseAddress!
        // A set bit stands for an element with a non-zero byte (docs/formats.md §4.1).
        if let v = (0..<m).first(where: { ElementBits.isAllZero(values, $0, width: width) }) {
            throw PayloadError(reason: "sparse value \(done + v) is zero although its bitmap bit is set")
        }
        for v in 0..<m {
            while word == 0 {
                wordIndex += 1
                word = bitmap.load(fromByteOffset: 8 * wordIndex, as: UInt64.self)
            }
            let position = wordIndex * 64 + word.trailingZeroBitCount
            word &= word - 1
            (destination + position * width).copyMemory(from: values + v * width, byteCount: width)
        }
        done += m
    }
}
