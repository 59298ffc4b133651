import Foundation

// NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
//
//     "\x93NUMPY" | major | minor | header length (UInt16 LE for 1.0, UInt32 LE for 2.0/3.0)
//     | header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//       padded with spaces and ended by '\n' | the elements, packed, row-major.

extension Tensor {
    /// Reads a NumPy `.npy` file (format 1.0, 2.0 or 3.0).
    ///
    /// Element types: `<f4` is read exactly; `<f8`, `<f2`, `<i8`, `<i4`, `<i2`, `|i1`, `<u8`,
    /// `<u4`, `<u2`, `|u1` and `|b1`, and the big-endian (`>`) variants, are converted to `Float`
    /// (rounded to nearest; Float64 values beyond Float's range become ±∞; integers above 2²⁴
    /// in magnitude may round; booleans become 0 and 1). A 0-d array becomes a rank-0 tensor.
    /// - Throws: `TensorIOError.fileNotFound`, `.unreadableFile`, or `.inFile(path, problem)`
    ///   with a problem from `init(npyData:)`.
    public init(npyFile url: URL) throws {
        self = try parseFile(url) { try Tensor(npyData: $0) }
    }

    /// Parses the bytes of a `.npy` file; see `init(npyFile:)` for the element types.
    /// - Throws: `TensorIOError.emptyData`, `.badMagic`, `.unsupportedVersion`,
    ///   `.malformedHeader` (naming the field), `.unsupportedDType`, `.fortranOrder`,
    ///   `.truncated(expected:actual:)` when the header or data is short, and
    ///   `.trailingBytes(expected:actual:)` when the data is longer than the shape needs.
    public init(npyData data: Data) throws {
        let bytes = [UInt8](data)
        let header = try NPYHeader.parse(bytes)
        let payloadSize = bytes.count - header.dataOffset
        guard payloadSize >= header.byteCount else {
            throw TensorIOError.truncated(expected: header.dataOffset + header.byteCount, actual: bytes.count)
        }
        guard payloadSize == header.byteCount else {
            throw TensorIOError.trailingBytes(expected: header.dataOffset + header.byteCount, actual: bytes.count)
        }
        let scalars = bytes.withUnsafeBytes { raw in
            header.elementType.decode(UnsafeRawBufferPointer(rebasing: raw[header.dataOffset...]), count: header.elementCount)
        }
        self.init(shape: header.shape, scalars: scalars)
    }

    /// The tensor as the bytes of a `.npy` file: format 1.0 (2.0 if the header needs more than
    /// 65 535 bytes), `'<f4'`, C order, with the header padded as NumPy 2 pads it, so the bytes
    /// equal those of `np.save` for the same float32 array.
    public func npyData() -> Data {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // NumPy leaves room to grow the first dimension in place (GROWTH_AXIS_MAX_DIGITS = 21).
        if let first = shape.first { header += String(repeating: " ", count: Swift.max(0, 21 - String(first).count)) }
        // Pad so that the elements start at a multiple of 64 bytes; the header ends with '\n'.
        func padding(preambleSize: Int) -> Int { (64 - (preambleSize + header.utf8.count + 1) % 64) % 64 }
        let isVersion1 = header.utf8.count + padding(preambleSize: 10) + 1 <= Int(UInt16.max)
        header += String(repeating: " ", count: padding(preambleSize: isVersion1 ? 10 : 12)) + "\n"

        var data = Data([0x93] + Array("NUMPY".utf8))
        data.append(contentsOf: isVersion1 ? [1, 0] : [2, 0])
        let headerLength = header.utf8.count
        if isVersion1 {
            data.append(contentsOf: [UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)])
        } else {
            data.append(contentsOf: (0..<4).map { UInt8((headerLength >> (8 * $0)) & 0xFF) })
        }
        data.append(contentsOf: Array(header.utf8))
        data.append(littleEndianBytes(scalars))
        return data
    }

    /// Writes the tensor as a `.npy` file (see `npyData()`), atomically.
    /// - Throws: `TensorIOError.unwritableFile`.
    public func writeNPY(to url: URL) throws {
        try writeFileAtomically(npyData(), to: url)
    }
}

/// The parsed preamble and header dictionary of a `.npy` file.
struct NPYHeader {
    var elementType: ElementType
    var shape: [Int]
    var elementCount: Int
    var byteCount: Int
    /// Where the elements start.
    var dataOffset: Int

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    static func parse(_ bytes: [UInt8]) throws -> NPYHeader {
        guard !bytes.isEmpty else { throw TensorIOError.emptyData }
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            // A short prefix of the magic string is a truncated file, anything else is not NPY.
            if bytes.count < magic.count && Array(magic[0..<bytes.count]) == bytes {
                throw TensorIOError.truncated(expected: 10, actual: bytes.count)
            }
            throw TensorIOError.badMagic
        }
        guard bytes.count >= 8 else { throw TensorIOError.truncated(expected: 10, actual: bytes.count) }
        let (major, minor) = (Int(bytes[6]), Int(bytes[7]))
        guard minor == 0 && (1...3).contains(major) else {
            throw TensorIOError.unsupportedVersion(major: major, minor: minor)
        }
        let lengthSize = major == 1 ? 2 : 4
        let headerStart = 8 + lengthSize
        guard bytes.count >= headerStart else { throw TensorIOError.truncated(expected: headerStart, actual: bytes.count) }
        var headerLength = 0
        for index in 0..<lengthSize { headerLength |= Int(bytes[8 + index]) << (8 * index) }
        let dataOffset = headerStart + headerLength
        guard bytes.count >= dataOffset else { throw TensorIOError.truncated(expected: dataOffset, actual: bytes.count) }

        // Versions 1.0 and 2.0 encode the header in Latin-1, 3.0 in UTF-8; only ASCII matters here.
        var parser = PythonLiteralParser(bytes: Array(bytes[headerStart..<dataOffset]), isUTF8: major == 3)
        let dictionary = try parser.parseHeaderDictionary()

        let expectedKeys: Set<String> = ["descr", "fortran_order", "shape"]
        if let extra = dictionary.keys.first(where: { !expectedKeys.contains($0) }) {
            throw TensorIOError.malformedHeader("unexpected key '\(extra)'")
        }
        guard let descriptorValue = dictionary["descr"] else { throw TensorIOError.malformedHeader("missing 'descr'") }
        guard let fortranValue = dictionary["fortran_order"] else { throw TensorIOError.malformedHeader("missing 'fortran_order'") }
        guard let shapeValue = dictionary["shape"] else { throw TensorIOError.malformedHeader("missing 'shape'") }

        guard case .string(let descriptor) = descriptorValue else {
            throw TensorIOError.unsupportedDType("structured dtype \(descriptorValue)")
        }
        guard let elementType = elementType(descriptor: descriptor) else { throw TensorIOError.unsupportedDType(descriptor) }
        guard case .bool(let isFortranOrder) = fortranValue else {
            throw TensorIOError.malformedHeader("'fortran_order' is not True or False")
        }
        guard case .tuple(let dimensionValues) = shapeValue else {
            throw TensorIOError.malformedHeader("'shape' is not a tuple")
        }
        var shape: [Int] = []
        for value in dimensionValues {
            guard case .integer(let dimension) = value, dimension >= 0 else {
                throw TensorIOError.malformedHeader("'shape' holds \(value), not a non-negative integer")
            }
            shape.append(dimension)
        }
        // A 1-d or empty array reads the same in either order; NumPy writes such arrays with False.
        if isFortranOrder && shape.filter({ $0 > 1 }).count > 1 { throw TensorIOError.fortranOrder }

        var elementCount = 1
        for dimension in shape {
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw TensorIOError.malformedHeader("'shape' \(shape) is too large") }
            elementCount = product
        }
        let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: elementType.size)
        guard !overflow else { throw TensorIOError.malformedHeader("'shape' \(shape) is too large") }
        return NPYHeader(elementType: elementType, shape: shape, elementCount: elementCount, byteCount: byteCount, dataOffset: dataOffset)
    }

    /// Maps a NumPy type string such as `<f4` or `|u1` to an element type, or nil.
    static func elementType(descriptor: String) -> ElementType? {
        var characters = Substring(descriptor)
        var isBigEndian = false
        if let order = characters.first, "<>|=".contains(order) {
            isBigEndian = order == ">"
            characters = characters.dropFirst()
        }
        guard let kindCharacter = characters.first, let size = Int(characters.dropFirst()) else { return nil }
        let kind: ElementType.Kind
        let sizes: Set<Int>
        switch kindCharacter {
        case "f": (kind, sizes) = (.floatingPoint, [2, 4, 8])
        case "i": (kind, sizes) = (.signedInteger, [1, 2, 4, 8])
        case "u": (kind, sizes) = (.unsignedInteger, [1, 2, 4, 8])
        case "b": (kind, sizes) = (.boolean, [1])
        default: return nil
        }
        guard sizes.contains(size) else { return nil }
        return ElementType(kind: kind, size: size, isBigEndian: isBigEndian)
    }
}

/// The subset of Python literal syntax that `.npy` headers use: a dict with string keys whose
/// values are strings, True/False/None, integers, and tuples or lists of those.
struct PythonLiteralParser {
    indirect enum Value: CustomStringConvertible {
        case string(String)
        case bool(Bool)
        case none
        case integer(Int)
        case tuple([Value])

        var description: String {
            switch self {
            case .string(let text): "'\(text)'"
            case .bool(let flag): flag ? "True" : "False"
            case .none: "None"
            case .integer(let number): String(number)
            case .tuple(let values): "(" + values.map(\.description).joined(separator: ", ") + ")"
            }
        }
    }

    private let bytes: [UInt8]
    private let isUTF8: Bool
    private var position = 0

    init(bytes: [UInt8], isUTF8: Bool) {
        self.bytes = bytes
        self.isUTF8 = isUTF8
    }

    /// Parses `{key: value, ...}` followed only by whitespace.
    mutating func parseHeaderDictionary() throws -> [String: Value] {
        skipWhitespace()
        try expect(UInt8(ascii: "{"), "the header does not start with '{'")
        var dictionary: [String: Value] = [:]
        while true {
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                position += 1
                break
            }
            guard case .string(let key) = try parseValue() else {
                throw TensorIOError.malformedHeader("a dictionary key is not a string")
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "expected ':' after key '\(key)'")
            let value = try parseValue()
            guard dictionary.updateValue(value, forKey: key) == nil else {
                throw TensorIOError.malformedHeader("duplicate key '\(key)'")
            }
            skipWhitespace()
            if peek() == UInt8(ascii: ",") {
                position += 1
            } else if peek() != UInt8(ascii: "}") {
                throw TensorIOError.malformedHeader("expected ',' or '}' after the value of '\(key)'")
            }
        }
        skipWhitespace()
        guard position == bytes.count else {
            throw TensorIOError.malformedHeader("unexpected text after the dictionary")
        }
        return dictionary
    }

    private mutating func parseValue() throws -> Value {
        skipWhitespace()
        guard let first = peek() else { throw TensorIOError.malformedHeader("the header ends inside the dictionary") }
        switch first {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try parseString(quote: first))
        case UInt8(ascii: "("), UInt8(ascii: "["):
            return .tuple(try parseSequence(closing: first == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "]")))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .integer(try parseInteger())
        default:
            for (word, value) in [("True", Value.bool(true)), ("False", .bool(false)), ("None", .none)] where hasPrefix(word) {
                position += word.utf8.count
                return value
            }
            throw TensorIOError.malformedHeader("unexpected character '\(Character(Unicode.Scalar(first)))' at offset \(position)")
        }
    }

    private mutating func parseString(quote: UInt8) throws -> String {
        position += 1
        let start = position
        while let byte = peek(), byte != quote {
            guard byte != UInt8(ascii: "\\") else { throw TensorIOError.malformedHeader("escape sequences in strings are not supported") }
            position += 1
        }
        guard peek() == quote else { throw TensorIOError.malformedHeader("unterminated string") }
        let content = bytes[start..<position]
        position += 1
        if isUTF8 { return String(decoding: content, as: UTF8.self) }
        return String(String.UnicodeScalarView(content.map { Unicode.Scalar($0) }))  // Latin-1
    }

    private mutating func parseSequence(closing: UInt8) throws -> [Value] {
        position += 1
        var values: [Value] = []
        while true {
            skipWhitespace()
            if peek() == closing {
                position += 1
                return values
            }
            values.append(try parseValue())
            skipWhitespace()
            if peek() == UInt8(ascii: ",") {
                position += 1
            } else if peek() != closing {
                throw TensorIOError.malformedHeader("expected ',' or a closing bracket in a tuple")
            }
        }
    }

    private mutating func parseInteger() throws -> Int {
        let isNegative = peek() == UInt8(ascii: "-")
        if isNegative { position += 1 }
        var value = 0
        var digitCount = 0
        while let byte = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { throw TensorIOError.malformedHeader("integer too large") }
            value = sum
            digitCount += 1
            position += 1
        }
        guard digitCount > 0 else { throw TensorIOError.malformedHeader("'-' without digits") }
        if peek() == UInt8(ascii: "L") { position += 1 }  // Python 2 long literal
        return isNegative ? -value : value
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private func hasPrefix(_ word: String) -> Bool {
        let utf8 = Array(word.utf8)
        return bytes.count - position >= utf8.count && Array(bytes[position..<(position + utf8.count)]) == utf8
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D { position += 1 }
    }

    private mutating func expect(_ byte: UInt8, _ message: String) throws {
        guard peek() == byte else { throw TensorIOError.malformedHeader(message) }
        position += 1
    }
}
