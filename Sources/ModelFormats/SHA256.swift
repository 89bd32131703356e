import CKernels

/// SHA-256 digests (FIPS 180-4) over the C implementation in CKernels.
public enum SHA256 {
    /// Lower-case hex digest of `bytes`.
    public static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = Hasher()
        hasher.update(bytes)
        return hasher.finalizeHex()
    }

    public static func hex(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { hex($0) } }

    /// Incremental hashing, for data that arrives in pieces.
    public struct Hasher {
        private var context = ck_sha256_ctx()

        public init() { ck_sha256_init(&context) }

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            guard let base = bytes.baseAddress, bytes.count > 0 else { return }
            ck_sha256_update(&context, base, bytes.count)
        }

        /// The 32-byte digest; the hasher must not be used afterwards.
        public mutating func finalize() -> [UInt8] {
            var digest = [UInt8](repeating: 0, count: 32)
            digest.withUnsafeMutableBufferPointer { ck_sha256_final(&context, $0.baseAddress) }
            return digest
        }

        public mutating func finalizeHex() -> String { SHA256.hexString(finalize()) }
    }

    static func hexString(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(digest.count * 2)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
