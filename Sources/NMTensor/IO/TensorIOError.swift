import Foundation

/// What went wrong reading or writing a tensor or image file. Every message names the problem;
/// problems found inside a file arrive wrapped in `inFile(path:_:)`, so the message names the
/// file too, and `problem` gives the unwrapped case.
public enum TensorIOError: Error, CustomStringConvertible, Equatable, Sendable {
    // MARK: Files

    /// Nothing exists at `path`.
    case fileNotFound(path: String)
    /// `path` exists but could not be read (a directory, no permission, an I/O error).
    case unreadableFile(path: String, reason: String)
    /// Writing `path` failed; an atomic write leaves any previous file untouched.
    case unwritableFile(path: String, reason: String)
    /// A content problem (any case below) found in the file at `path`.
    indirect case inFile(path: String, TensorIOError)

    // MARK: Content shared by the formats

    /// The file or buffer holds no bytes.
    case emptyData
    /// The data ends early: `expected` bytes are needed, only `actual` are present.
    case truncated(expected: Int, actual: Int)
    /// The data continues past its end: `expected` bytes were described, `actual` are present.
    case trailingBytes(expected: Int, actual: Int)
    /// The header cannot be parsed or lacks a required field; the string says which.
    case malformedHeader(String)
    /// An element type this reader does not convert (the descriptor as written in the file).
    case unsupportedDType(String)

    // MARK: NPY

    /// The data does not start with NumPy's magic string `\x93NUMPY`.
    case badMagic
    /// An NPY format version other than 1.0, 2.0 or 3.0.
    case unsupportedVersion(major: Int, minor: Int)
    /// The array is stored in column-major (Fortran) order, which this reader does not transpose.
    case fortranOrder

    // MARK: safetensors

    /// The 8-byte header length is larger than the file or than the 100 MB limit.
    case headerLengthOutOfRange(length: UInt64, available: Int)
    /// The header entry `key` is invalid (dtype, shape or data_offsets); `reason` says how.
    case invalidEntry(key: String, reason: String)
    /// The tensors' data_offsets do not cover the data region exactly: they end at `covered`
    /// bytes but the region is `size` bytes long.
    case incompleteDataRegion(covered: Int, size: Int)

    // MARK: Images

    /// The data is neither a PNG nor a JPEG (checked by signature, not by file extension).
    case unknownImageFormat
    /// The codec rejected the data; the string is its message.
    case corruptImage(String)
    /// The image has zero width or height.
    case zeroSizeImage
    /// The image has more pixels than `ImageFile.maximumPixelCount`.
    case imageTooLarge(width: Int, height: Int)
    /// The PNG encoder failed; the string is its message.
    case imageEncodingFailed(String)

    /// The case with every `inFile` wrapper removed.
    public var problem: TensorIOError {
        if case .inFile(_, let inner) = self { return inner.problem }
        return self
    }

    public var description: String {
        switch self {
        case .fileNotFound(let path): "\(path): no such file"
        case .unreadableFile(let path, let reason): "\(path): cannot read: \(reason)"
        case .unwritableFile(let path, let reason): "\(path): cannot write: \(reason)"
        case .inFile(let path, let inner): "\(path): \(inner.description)"
        case .emptyData: "empty (0 bytes)"
        case .truncated(let expected, let actual): "truncated: expected \(expected) bytes, found \(actual)"
        case .trailingBytes(let expected, let actual): "unexpected trailing bytes: expected \(expected) bytes, found \(actual)"
        case .malformedHeader(let detail): "malformed header: \(detail)"
        case .unsupportedDType(let descriptor): "unsupported element type '\(descriptor)'"
        case .badMagic: "not a NumPy .npy file (bad magic string)"
        case .unsupportedVersion(let major, let minor): "unsupported .npy format version \(major).\(minor) (expected 1.0, 2.0 or 3.0)"
        case .fortranOrder: "array is stored in Fortran (column-major) order; save it with np.ascontiguousarray"
        case .headerLengthOutOfRange(let length, let available): "safetensors header length \(length) is out of range (\(available) bytes available)"
        case .invalidEntry(let key, let reason): "tensor '\(key)': \(reason)"
        case .incompleteDataRegion(let covered, let size): "tensors cover \(covered) bytes of a \(size)-byte data region"
        case .unknownImageFormat: "not a PNG or JPEG file (unknown signature)"
        case .corruptImage(let message): "cannot decode image: \(message)"
        case .zeroSizeImage: "image has zero width or height"
        case .imageTooLarge(let width, let height): "image of \(width)×\(height) pixels exceeds the limit of \(ImageFile.maximumPixelCount) pixels"
        case .imageEncodingFailed(let message): "cannot encode PNG: \(message)"
        }
    }
}
