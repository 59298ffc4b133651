import Foundation

/// Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
///
///     header length N (UInt64 little-endian) | N bytes of JSON header | data region
///
/// The header maps each tensor name to `{"dtype": "F32", "shape": [2, 3], "data_offsets":
/// [begin, end]}` (offsets relative to the data region) and may hold `"__metadata__"`, a map
/// from strings to strings.
///
/// Element types read: `F32` exactly; `F64`, `F16`, `BF16`, `I64`, `I32`, `I16`, `I8`, `U64`,
/// `U32`, `U16`, `U8` and `BOOL` converted to `Float` (rounded to nearest; F64 values beyond
/// Float's range become ±∞; integers above 2²⁴ in magnitude may round; booleans become 0 and
/// 1). The FP8 types are refused. Written files hold `F32` only.
public enum Safetensors {
    /// The largest header accepted, as in the reference implementation (100 MB).
    public static let maximumHeaderLength: UInt64 = 100_000_000

    /// The tensors of a safetensors file, by name.
    /// - Throws: `TensorIOError.fileNotFound`, `.unreadableFile`, or `.inFile(path, problem)`
    ///   with a problem from `read(data:)`.
    public static func read(from url: URL) throws -> [String: Tensor] {
        try readWithMetadata(from: url).tensors
    }

    /// The tensors held in the bytes of a safetensors file, by name.
    /// - Throws: `TensorIOError.emptyData`; `.truncated` when the file is shorter than 8 bytes;
    ///   `.headerLengthOutOfRange`; `.malformedHeader` when the header is not a JSON object of
    ///   entries; `.invalidEntry(key:reason:)` naming the tensor whose dtype, shape or
    ///   data_offsets is wrong (unsupported dtype, size ≠ shape × dtype size, out of the data
    ///   region, overlapping or leaving a gap); `.incompleteDataRegion` when bytes are left over.
    public static func read(data: Data) throws -> [String: Tensor] {
        try readWithMetadata(data: data).tensors
    }

    /// The tensors of a safetensors file and its `__metadata__` map (empty when absent).
    /// - Throws: as `read(from:)`.
    public static func readWithMetadata(from url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try parseFile(url) { try readWithMetadata(data: $0) }
    }

    /// The tensors held in the bytes of a safetensors file and its `__metadata__` map.
    /// - Throws: as `read(data:)`.
    public static func readWithMetadata(data: Data) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let bytes = [UInt8](data)
        guard !bytes.isEmpty else { throw TensorIOError.emptyData }
        guard bytes.count >= 8 else { throw TensorIOError.truncated(expected: 8, actual: bytes.count) }
        var headerLength: UInt64 = 0
        for index in 0..<8 { headerLength |= UInt64(bytes[index]) << (8 * UInt64(index)) }
        guard headerLength <= maximumHeaderLength, headerLength <= UInt64(bytes.count - 8) else {
            throw TensorIOError.headerLengthOutOfRange(length: headerLength, available: bytes.count - 8)
        }
        let dataStart = 8 + Int(headerLength)
        let entries = try parseHeader(Data(bytes[8..<dataStart]))
        let dataSize = bytes.count - dataStart

        // Sorted by offsets, the tensors must tile the data region: no gaps, no overlaps.
        let ordered = entries.tensors.sorted { ($0.begin, $0.end, $0.key) < ($1.begin, $1.end, $1.key) }
        var covered = 0
        var tensors: [String: Tensor] = [:]
        for entry in ordered {
            guard entry.end <= dataSize else {
                throw TensorIOError.invalidEntry(key: entry.key, reason: "data_offsets [\(entry.begin), \(entry.end)] end beyond the \(dataSize)-byte data region")
            }
            guard entry.begin == covered else {
                let relation = entry.begin < covered ? "overlaps the previous tensor, which ends" : "leaves a gap after the previous tensor, which ends"
                throw TensorIOError.invalidEntry(key: entry.key, reason: "data_offsets [\(entry.begin), \(entry.end)] \(relation) at \(covered)")
            }
            covered = entry.end
            let scalars = bytes.withUnsafeBytes { raw in
                entry.elementType.decode(UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)]), count: entry.elementCount)
            }
            tensors[entry.key] = Tensor(shape: entry.shape, scalars: scalars)
        }
        guard covered == dataSize else { throw TensorIOError.incompleteDataRegion(covered: covered, size: dataSize) }
        return (tensors, entries.metadata)
    }

    /// Writes `tensors` (as F32) and optional string metadata to a safetensors file,
    /// atomically. The bytes are deterministic; see `data(_:metadata:)`.
    /// - Throws: `TensorIOError.invalidEntry` for a tensor named `__metadata__`;
    ///   `TensorIOError.unwritableFile`.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String]? = nil, to url: URL) throws {
        guard tensors["__metadata__"] == nil else {
            throw TensorIOError.invalidEntry(key: "__metadata__", reason: "the name is reserved for metadata")
        }
        try writeFileAtomically(data(tensors, metadata: metadata), to: url)
    }

    /// The bytes of a safetensors file holding `tensors` as F32: the header lists
    /// `__metadata__` first (when given) and then the tensors sorted by name, is compact JSON
    /// padded with spaces to a multiple of 8 bytes, and the data follow in the same order.
    /// - Precondition: no tensor is named `__metadata__`.
    public static func data(_ tensors: [String: Tensor], metadata: [String: String]? = nil) -> Data {
        precondition(tensors["__metadata__"] == nil, "Safetensors.data: '__metadata__' is a reserved name")
        var fields: [String] = []
        if let metadata {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            fields.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        let names = tensors.keys.sorted()
        var offset = 0
        for name in names {
            let tensor = tensors[name]!
            let size = tensor.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            fields.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var result = Data((0..<8).map { UInt8((UInt64(header.count) >> (8 * UInt64($0))) & 0xFF) })
        result.append(contentsOf: header)
        for name in names { result.append(littleEndianBytes(tensors[name]!.scalars)) }
        return result
    }

    // MARK: - Header

    private struct Entry {
        var key: String
        var elementType: ElementType
        var shape: [Int]
        var elementCount: Int
        var begin: Int
        var end: Int
    }

    private static let elementTypes: [String: ElementType] = [
        "F64": ElementType(kind: .floatingPoint, size: 8, isBigEndian: false),
        "F32": .float32LittleEndian,
        "F16": ElementType(kind: .floatingPoint, size: 2, isBigEndian: false),
        "BF16": ElementType(kind: .bfloat16, size: 2, isBigEndian: false),
        "I64": ElementType(kind: .signedInteger, size: 8, isBigEndian: false),
        "I32": ElementType(kind: .signedInteger, size: 4, isBigEndian: false),
        "I16": ElementType(kind: .signedInteger, size: 2, isBigEndian: false),
        "I8": ElementType(kind: .signedInteger, size: 1, isBigEndian: false),
        "U64": ElementType(kind: .unsignedInteger, size: 8, isBigEndian: false),
        "U32": ElementType(kind: .unsignedInteger, size: 4, isBigEndian: false),
        "U16": ElementType(kind: .unsignedInteger, size: 2, isBigEndian: false),
        "U8": ElementType(kind: .unsignedInteger, size: 1, isBigEndian: false),
        "BOOL": ElementType(kind: .boolean, size: 1, isBigEndian: false),
    ]

    private static func parseHeader(_ header: Data) throws -> (tensors: [Entry], metadata: [String: String]) {
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: header)
        } catch {
            throw TensorIOError.malformedHeader("the safetensors header is not valid JSON")
        }
        guard case .object(let object) = root else {
            throw TensorIOError.malformedHeader("the safetensors header is not a JSON object")
        }
        var tensors: [Entry] = []
        var metadata: [String: String] = [:]
        for (key, value) in object {
            if key == "__metadata__" {
                guard case .object(let pairs) = value else {
                    throw TensorIOError.invalidEntry(key: key, reason: "is not an object of strings")
                }
                for (name, text) in pairs {
                    guard case .string(let string) = text else {
                        throw TensorIOError.invalidEntry(key: key, reason: "value of '\(name)' is not a string")
                    }
                    metadata[name] = string
                }
                continue
            }
            tensors.append(try parseEntry(key: key, value))
        }
        return (tensors, metadata)
    }

    private static func parseEntry(key: String, _ value: JSONValue) throws -> Entry {
        guard case .object(let fields) = value else { throw TensorIOError.invalidEntry(key: key, reason: "is not an object") }
        guard case .string(let dtype)? = fields["dtype"] else {
            throw TensorIOError.invalidEntry(key: key, reason: "missing or non-string 'dtype'")
        }
        guard let elementType = elementTypes[dtype] else {
            throw TensorIOError.invalidEntry(key: key, reason: "unsupported dtype '\(dtype)'")
        }
        guard case .array(let shapeValues)? = fields["shape"], let shape = nonNegativeIntegers(shapeValues) else {
            throw TensorIOError.invalidEntry(key: key, reason: "'shape' is not an array of non-negative integers")
        }
        guard case .array(let offsetValues)? = fields["data_offsets"], let offsets = nonNegativeIntegers(offsetValues),
            offsets.count == 2, offsets[0] <= offsets[1]
        else {
            throw TensorIOError.invalidEntry(key: key, reason: "'data_offsets' is not [begin, end] with 0 ≤ begin ≤ end")
        }
        var elementCount = 1
        for dimension in shape {
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw TensorIOError.invalidEntry(key: key, reason: "shape \(shape) is too large") }
            elementCount = product
        }
        let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: elementType.size)
        guard !overflow, byteCount == offsets[1] - offsets[0] else {
            throw TensorIOError.invalidEntry(
                key: key, reason: "data_offsets [\(offsets[0]), \(offsets[1])] span \(offsets[1] - offsets[0]) bytes but shape \(shape) of \(dtype) needs \(overflow ? "more" : String(byteCount))")
        }
        return Entry(key: key, elementType: elementType, shape: shape, elementCount: elementCount, begin: offsets[0], end: offsets[1])
    }

    private static func nonNegativeIntegers(_ values: [JSONValue]) -> [Int]? {
        var result: [Int] = []
        for value in values {
            guard case .integer(let number) = value, number >= 0 else { return nil }
            result.append(number)
        }
        return result
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    private static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

/// A parsed JSON value; integers are kept apart from other numbers.
private enum JSONValue: Decodable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? container.decode(Int.self) {
            self = .integer(number)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let values = try? container.decode([JSONValue].self) {
            self = .array(values)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}
