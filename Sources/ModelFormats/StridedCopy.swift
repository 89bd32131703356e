/// Copies a strided view into row-major (C) order: element `i` of `destination` is
/// `source[offset + Σ index[d]·stride[d]]`, where `index` runs over `shape` with the last dimension
/// fastest. Offset and strides count elements of `itemSize` bytes. Used for Fortran-order `.npy`
/// arrays and for PyTorch tensors that are views (transposed, sliced, expanded).
func copyStrided(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int,
                 shape: [Int], stride: [Int], offset: Int, itemSize: Int) {
    var index = [Int](repeating: 0, count: shape.count)
    var position = offset
    for i in 0..<count {
        (destination + i * itemSize).copyMemory(from: source + position * itemSize, byteCount: itemSize)
        // Advance the multi-index like an odometer from the last dimension, the offset in step.
        var d = shape.count - 1
        while d >= 0 {
            index[d] += 1
            position += stride[d]
            if index[d] < shape[d] { break }
            position -= stride[d] * shape[d]
            index[d] = 0
            d -= 1
        }
    }
}
