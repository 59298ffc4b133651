import Foundation

/// A stored element type that the NPY and safetensors readers convert to `Float`.
///
/// Conversion rules (documented on the public readers too): floating-point values are rounded
/// to the nearest `Float` (Float64 values beyond Float's range become ±∞, tiny ones become
/// subnormals or ±0); integers are rounded to the nearest `Float`, so magnitudes above 2²⁴ may
/// change (for example 16 777 217 reads as 16 777 216); booleans read as 0 and 1.
struct ElementType: Equatable, Sendable {
    enum Kind: Sendable {
        case floatingPoint  // IEEE 754 binary16, binary32 or binary64
        case bfloat16
        case signedInteger
        case unsignedInteger
        case boolean
    }

    let kind: Kind
    /// Bytes per element.
    let size: Int
    let isBigEndian: Bool

    static let float32LittleEndian = ElementType(kind: .floatingPoint, size: 4, isBigEndian: false)

    /// Converts `count` packed elements to `Float`.
    /// - Precondition: `bytes.count == count * size`.
    func decode(_ bytes: UnsafeRawBufferPointer, count: Int) -> [Float] {
        precondition(bytes.count == count * size, "ElementType.decode: \(bytes.count) bytes for \(count) elements of \(size) bytes")
        var result = [Float](repeating: 0, count: count)
        guard count > 0 else { return result }
        let bigEndian = isBigEndian
        result.withUnsafeMutableBufferPointer { output in
            switch (kind, size) {
            case (.floatingPoint, 2):
                for index in 0..<count { output[index] = floatFromHalf(load16(bytes, index &* 2, bigEndian)) }
            case (.bfloat16, 2):
                for index in 0..<count { output[index] = Float(bitPattern: UInt32(load16(bytes, index &* 2, bigEndian)) << 16) }
            case (.floatingPoint, 4):
                for index in 0..<count { output[index] = Float(bitPattern: load32(bytes, index &* 4, bigEndian)) }
            case (.floatingPoint, 8):
                for index in 0..<count { output[index] = Float(Double(bitPattern: load64(bytes, index &* 8, bigEndian))) }
            case (.signedInteger, 1):
                for index in 0..<count { output[index] = Float(Int8(bitPattern: bytes[index])) }
            case (.signedInteger, 2):
                for index in 0..<count { output[index] = Float(Int16(bitPattern: load16(bytes, index &* 2, bigEndian))) }
            case (.signedInteger, 4):
                for index in 0..<count { output[index] = Float(Int32(bitPattern: load32(bytes, index &* 4, bigEndian))) }
            case (.signedInteger, 8):
                for index in 0..<count { output[index] = Float(Int64(bitPattern: load64(bytes, index &* 8, bigEndian))) }
            case (.unsignedInteger, 1):
                for index in 0..<count { output[index] = Float(bytes[index]) }
            case (.unsignedInteger, 2):
                for index in 0..<count { output[index] = Float(load16(bytes, index &* 2, bigEndian)) }
            case (.unsignedInteger, 4):
                for index in 0..<count { output[index] = Float(load32(bytes, index &* 4, bigEndian)) }
            case (.unsignedInteger, 8):
                for index in 0..<count { output[index] = Float(load64(bytes, index &* 8, bigEndian)) }
            case (.boolean, 1):
                for index in 0..<count { output[index] = bytes[index] == 0 ? 0 : 1 }
            default:
                preconditionFailure("ElementType.decode: no conversion for \(kind) of \(size) bytes")
            }
        }
        return result
    }
}

@inline(__always)
private func load16(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ bigEndian: Bool) -> UInt16 {
    let raw = bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
    return bigEndian ? UInt16(bigEndian: raw) : UInt16(littleEndian: raw)
}

@inline(__always)
private func load32(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ bigEndian: Bool) -> UInt32 {
    let raw = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
    return bigEndian ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)
}

@inline(__always)
private func load64(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ bigEndian: Bool) -> UInt64 {
    let raw = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
    return bigEndian ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw)
}

/// IEEE 754 binary16 → binary32 (exact: every half value is a float). Written out rather than
/// using `Float16`, which is unavailable on some platforms.
@inline(__always)
func floatFromHalf(_ bits: UInt16) -> Float {
    let sign: UInt32 = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0 {
        // Zero or subnormal: mantissa · 2⁻²⁴, exact in Float.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))  // ±∞ or NaN (payload kept)
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// The little-endian bytes of `scalars` as packed Float32.
func littleEndianBytes(_ scalars: [Float]) -> Data {
    let words = scalars.map { $0.bitPattern.littleEndian }
    return words.withUnsafeBytes { Data($0) }
}
