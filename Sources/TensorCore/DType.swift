/// The element types a tensor can hold. Raw values are the names used in model.json and the artifact.
public enum DType: String, Codable, CaseIterable, Sendable {
    case f32, f16, bf16, i8, u8, i32, i64, bool

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16: return 2
        case .i8, .u8, .bool: return 1
        case .i64: return 8
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f16, .bf16: return true
        case .i8, .u8, .i32, .i64, .bool: return false
        }
    }
}
