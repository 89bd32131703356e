import CZstd

/// One-shot zstd frames over libzstd (frames carry their content size and a content checksum).
public enum Zstd {
    public static let defaultLevel = 3

    /// Compresses `bytes` into one frame at `level`, with the content size and checksum flag set.
    public static func compress(_ bytes: UnsafeRawBufferPointer, level: Int = defaultLevel) -> [UInt8] {
        let stream = ZstdCompressor(level: level, contentSize: bytes.count)
        stream.append(bytes)
        return stream.finish()
    }

    /// Decompresses one frame whose decoded size must be exactly `expectedSize` (a bomb guard:
    /// at most `expectedSize` bytes are ever produced). Errors say what is wrong, without a path.
    public static func decompress(_ frame: UnsafeRawBufferPointer, expectedSize: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: expectedSize)
        try out.withUnsafeMutableBytes { dst in
            let decoder = try ZstdDecompressor()
            var sink = FixedBufferSink(dst)
            try decoder.decode(frame, declaredSize: expectedSize) { chunk in sink.write(chunk) }
            try decoder.finish(declaredSize: expectedSize)
        }
        return out
    }

    public static func decompress(_ frame: [UInt8], expectedSize: Int) throws -> [UInt8] {
        try frame.withUnsafeBytes { try decompress($0, expectedSize: expectedSize) }
    }
}

/// Why a zstd frame could not be decoded (wrapped into `FormatError` by callers that know the file).
public struct ZstdError: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public var description: String { reason }
}

/// Streaming compression of one frame with a pledged content size.
final class ZstdCompressor {
    private let context: OpaquePointer
    private(set) var output: [UInt8] = []

    init(level: Int, contentSize: Int) {
        context = ZSTD_createCCtx()
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level))
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        ZSTD_CCtx_setPledgedSrcSize(context, UInt64(contentSize))
        output.reserveCapacity(ZSTD_compressBound(contentSize) + 64)
    }

    deinit { ZSTD_freeCCtx(context) }

    func append(_ bytes: UnsafeRawBufferPointer) { run(bytes, directive: ZSTD_e_continue) }

    /// Ends the current zstd block, so the bytes that follow get entropy tables of their own
    /// (a bitmap and float byte planes have very different byte distributions).
    func endBlock() { run(UnsafeRawBufferPointer(start: nil, count: 0), directive: ZSTD_e_flush) }

    func finish() -> [UInt8] {
        run(UnsafeRawBufferPointer(start: nil, count: 0), directive: ZSTD_e_end)
        return output
    }

    private func run(_ bytes: UnsafeRawBufferPointer, directive: ZSTD_EndDirective) {
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        var scratch = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        while true {
            let remaining = scratch.withUnsafeMutableBytes { buf -> Int in
                var out = ZSTD_outBuffer(dst: buf.baseAddress, size: buf.count, pos: 0)
                let r = ZSTD_compressStream2(context, &out, &input, directive)
                // Compression of in-memory input only fails on programming errors (bad parameters).
                precondition(ZSTD_isError(r) == 0, String(cString: ZSTD_getErrorName(r)))
                output.append(contentsOf: UnsafeRawBufferPointer(start: buf.baseAddress, count: out.pos))
                return r
            }
            let done = directive == ZSTD_e_end ? remaining == 0 : input.pos == input.size
            if done { return }
        }
    }
}

/// Streaming decompression of one frame, producing decoded chunks for a consumer and refusing to
/// produce more than the declared size.
final class ZstdDecompressor {
    private let context: OpaquePointer
    private let scratch: UnsafeMutableRawBufferPointer
    private var produced = 0
    private var frameEnded = false
    private var headerChecked = false
    /// The first five bytes of the frame (magic number and frame header descriptor), as they arrive.
    private var header: [UInt8] = []

    init() throws {
        guard let ctx = ZSTD_createDCtx() else { throw ZstdError(reason: "cannot allocate a zstd context") }
        context = ctx
        scratch = .allocate(byteCount: ZSTD_DStreamOutSize(), alignment: 64)
    }

    deinit {
        ZSTD_freeDCtx(context)
        scratch.deallocate()
    }

    /// Feeds compressed bytes; `consume` receives decoded bytes in order. May be called repeatedly
    /// with consecutive pieces of the frame.
    func decode(_ compressed: UnsafeRawBufferPointer, declaredSize: Int,
                _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        let scratch = self.scratch
        try decode(compressed, declaredSize: declaredSize, window: { scratch }) { count in
            try consume(UnsafeRawBufferPointer(start: scratch.baseAddress, count: count))
        }
    }

    /// Feeds compressed bytes, decoding straight into the buffer `window` names each time (the
    /// consumer's own memory, so no copy); `commit` is told how many bytes landed there. An empty
    /// window means the consumer expects no more bytes: any further output is an error.
    func decode(_ compressed: UnsafeRawBufferPointer, declaredSize: Int,
                window: () -> UnsafeMutableRawBufferPointer, commit: (Int) throws -> Void) throws {
        if !headerChecked {
            header.append(contentsOf: compressed.prefix(5 - header.count))
            if header.count == 5 { try Self.checkFrameHeader(header); headerChecked = true }
        }
        var input = ZSTD_inBuffer(src: compressed.baseAddress, size: compressed.count, pos: 0)
        while true {
            if frameEnded {
                if input.pos < input.size { throw ZstdError(reason: "data after the end of the zstd frame") }
                return
            }
            let target = window()
            var out = target.count > 0
                ? ZSTD_outBuffer(dst: target.baseAddress, size: target.count, pos: 0)
                : ZSTD_outBuffer(dst: scratch.baseAddress, size: 1, pos: 0)  // any byte here is an overflow
            let r = ZSTD_decompressStream(context, &out, &input)
            if ZSTD_isError(r) != 0 { throw ZstdError(reason: "zstd: " + String(cString: ZSTD_getErrorName(r))) }
            if out.pos > declaredSize - produced || (target.count == 0 && out.pos > 0) {
                throw ZstdError(reason: "decodes to more than the declared \(declaredSize) bytes")
            }
            produced += out.pos
            if out.pos > 0 { try commit(out.pos) }
            if r == 0 { frameEnded = true; continue }
            // Input used up and everything flushed: wait for the next piece.
            if input.pos == input.size && out.pos < out.size { return }
        }
    }

    /// The frame header as docs/formats.md §4 requires it: the zstd magic number, the content
    /// checksum and content size flags set, no dictionary, the reserved (3) and unused (4) bits 0
    /// (libzstd ignores the unused bit, so a flip there would otherwise go unnoticed).
    static func checkFrameHeader(_ bytes: [UInt8]) throws {
        guard bytes.prefix(4) == [0x28, 0xB5, 0x2F, 0xFD] else { throw ZstdError(reason: "not a zstd frame (bad magic number)") }
        let descriptor = bytes[4]
        if descriptor & 0x18 != 0 { throw ZstdError(reason: "zstd frame header has reserved bits set") }
        if descriptor & 0x04 == 0 { throw ZstdError(reason: "zstd frame has no content checksum") }
        if descriptor & 0xC0 == 0 && descriptor & 0x20 == 0 { throw ZstdError(reason: "zstd frame does not declare its content size") }
        if descriptor & 0x03 != 0 { throw ZstdError(reason: "zstd frame names a dictionary") }
    }

    /// Checks the frame ended and produced exactly the declared size.
    func finish(declaredSize: Int? = nil) throws {
        guard headerChecked else { throw ZstdError(reason: "zstd frame header is truncated") }
        guard frameEnded else { throw ZstdError(reason: "zstd frame is truncated") }
        if let size = declaredSize, produced != size {
            throw ZstdError(reason: "decodes to \(produced) bytes, declared \(size)")
        }
    }

    var producedBytes: Int { produced }
}

/// Copies decoded chunks into a fixed destination.
struct FixedBufferSink {
    let destination: UnsafeMutableRawBufferPointer
    var offset = 0
    init(_ destination: UnsafeMutableRawBufferPointer) { self.destination = destination }
    mutating func write(_ chunk: UnsafeRawBufferPointer) {
        guard let base = chunk.baseAddress, chunk.count > 0 else { return }
        (destination.baseAddress! + offset).copyMemory(from: base, byteCount: chunk.count)
        offset += chunk.count
    }
}
