import NMTensor

/// The element type of a PyTorch storage, named after `torch.dtype`.
public enum TorchDType: String, Sendable, CaseIterable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    /// Bytes per element in the file.
    public var elementSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// Whether the type is a floating-point type (float32/64, float16, bfloat16).
    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float64, .float16, .bfloat16: return true
        default: return false
        }
    }

    /// The dtype of a whitelisted storage class (`torch.FloatStorage`, `torch.cuda.HalfStorage`, …).
    init?(storageModule module: String, name: String) {
        guard module == "torch" || module == "torch.cuda" else { return nil }
        switch name {
        case "FloatStorage": self = .float32
        case "DoubleStorage": self = .float64
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }
}

/// Decodes `count` little-endian elements of `dtype` starting at byte `start` into Float32.
///
/// Float64 rounds to nearest (overflow gives ±∞), float16 and bfloat16 widen exactly, integers
/// convert exactly up to 2^24 in magnitude and round to nearest beyond, bool gives 0 or 1.
/// - Precondition: `start + count · dtype.elementSize <= bytes.count` (the caller checks it).
/// - Complexity: O(count), safe indexing only; a few milliseconds per million elements in release.
func decodeLittleEndian(_ bytes: [UInt8], start: Int, count: Int, dtype: TorchDType) -> [Float] {
    precondition(start >= 0 && count >= 0 && start + count * dtype.elementSize <= bytes.count,
                 "decodeLittleEndian: \(count) × \(dtype) at \(start) exceeds \(bytes.count) bytes")
    var result = [Float](repeating: 0, count: count)
    var byte = start
    switch dtype {
    case .float32:
        for index in 0..<count {
            result[index] = Float(bitPattern: UInt32(littleEndian: bytes, at: byte))
            byte &+= 4
        }
    case .float64:
        for index in 0..<count {
            result[index] = Float(Double(bitPattern: UInt64(littleEndian: bytes, at: byte)))
            byte &+= 8
        }
    case .float16:
        for index in 0..<count {
            result[index] = floatFromHalfBits(UInt16(bytes[byte]) | UInt16(bytes[byte &+ 1]) << 8)
            byte &+= 2
        }
    case .bfloat16:
        for index in 0..<count {
            result[index] = Float(bitPattern: (UInt32(bytes[byte]) | UInt32(bytes[byte &+ 1]) << 8) << 16)
            byte &+= 2
        }
    case .int64:
        for index in 0..<count {
            result[index] = Float(Int64(bitPattern: UInt64(littleEndian: bytes, at: byte)))
            byte &+= 8
        }
    case .int32:
        for index in 0..<count {
            result[index] = Float(Int32(bitPattern: UInt32(littleEndian: bytes, at: byte)))
            byte &+= 4
        }
    case .int16:
        for index in 0..<count {
            result[index] = Float(Int16(bitPattern: UInt16(bytes[byte]) | UInt16(bytes[byte &+ 1]) << 8))
            byte &+= 2
        }
    case .int8:
        for index in 0..<count { result[index] = Float(Int8(bitPattern: bytes[start &+ index])) }
    case .uint8:
        for index in 0..<count { result[index] = Float(bytes[start &+ index]) }
    case .bool:
        for index in 0..<count { result[index] = bytes[start &+ index] == 0 ? 0 : 1 }
    }
    return result
}

/// IEEE 754 binary16 bits → Float32, exactly (subnormals, ±∞ and NaN payloads included).
func floatFromHalfBits(_ bits: UInt16) -> Float {
    let sign: UInt32 = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    switch exponent {
    case 0:  // zero or subnormal: mantissa · 2^-24, exact in Float32
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    case 0x1F:  // ±∞ or NaN
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    default:  // rebias 15 → 127
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
}

extension UInt32 {
    /// The four bytes at `offset` read as a little-endian integer (the caller checks the range).
    @inline(__always)
    init(littleEndian bytes: [UInt8], at offset: Int) {
        self = UInt32(bytes[offset]) | UInt32(bytes[offset &+ 1]) << 8
            | UInt32(bytes[offset &+ 2]) << 16 | UInt32(bytes[offset &+ 3]) << 24
    }
}

extension UInt64 {
    /// The eight bytes at `offset` read as a little-endian integer (the caller checks the range).
    @inline(__always)
    init(littleEndian bytes: [UInt8], at offset: Int) {
        self = UInt64(UInt32(littleEndian: bytes, at: offset)) | UInt64(UInt32(littleEndian: bytes, at: offset &+ 4)) << 32
    }
}

/// Where a tensor's elements sit in a decoded storage: PyTorch's `storage_offset`, `size` and
/// `stride`, all in elements.
struct StridedLayout: Equatable {
    var offset: Int
    var size: [Int]
    var stride: [Int]

    /// Checks the layout against a storage of `storageCount` elements and returns the element
    /// count, or a reason why the layout is impossible. Arithmetic overflow counts as impossible.
    func validate(storageCount: Int) -> Result<Int, LayoutProblem> {
        guard size.count == stride.count else {
            return .failure(LayoutProblem("size \(size) and stride \(stride) have different ranks"))
        }
        guard offset >= 0, size.allSatisfy({ $0 >= 0 }), stride.allSatisfy({ $0 >= 0 }) else {
            return .failure(LayoutProblem("negative offset, size or stride (offset \(offset), size \(size), stride \(stride))"))
        }
        var count = 1
        for dimension in size {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return .failure(LayoutProblem("size \(size) overflows")) }
            count = product
        }
        if count == 0 { return .success(0) }
        var last = offset  // index of the last element: offset + Σ (size − 1) · stride
        for (dimension, step) in zip(size, stride) {
            let (span, overflow) = (dimension - 1).multipliedReportingOverflow(by: step)
            let (sum, overflow2) = last.addingReportingOverflow(span)
            guard !overflow, !overflow2 else { return .failure(LayoutProblem("stride \(stride) overflows")) }
            last = sum
        }
        guard last < storageCount else {
            return .failure(LayoutProblem(
                "offset \(offset), size \(size) and stride \(stride) reach element \(last) of a storage of \(storageCount) elements"))
        }
        return .success(count)
    }

    /// Whether the layout is row-major contiguous (strides of size-1 dimensions are ignored).
    var isContiguous: Bool {
        var expected = 1
        for axis in Swift.stride(from: size.count - 1, through: 0, by: -1) where size[axis] != 1 {
            if self.stride[axis] != expected { return false }
            expected *= size[axis]
        }
        return true
    }

    /// Copies the elements into a row-major array (a plain slice copy when contiguous).
    /// - Precondition: `validate(storageCount: storage.count)` succeeded with `count`.
    func gather(from storage: [Float], count: Int) -> [Float] {
        if count == 0 { return [] }
        if isContiguous { return Array(storage[offset..<(offset + count)]) }
        var result = [Float](repeating: 0, count: count)
        let rank = size.count
        let innerSize = size[rank - 1], innerStride = self.stride[rank - 1]
        var index = [Int](repeating: 0, count: rank)  // odometer over all axes but the last
        var base = offset
        var out = 0
        while out < count {
            var source = base
            for _ in 0..<innerSize {
                result[out] = storage[source]
                out &+= 1
                source &+= innerStride
            }
            // advance the odometer over axes rank-2 … 0
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                base += self.stride[axis]
                if index[axis] < size[axis] { break }
                base -= self.stride[axis] * size[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}

/// Why a strided layout does not fit its storage (wrapped into `WeightLoadingError.invalidTensor`).
struct LayoutProblem: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
