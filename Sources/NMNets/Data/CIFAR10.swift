import Foundation
import NMTensor

/// Everything that can go wrong while reading a dataset file. Each case names the file (a path
/// as given) and carries its evidence.
public enum DatasetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No file (or a directory) at `path`.
    case fileNotFound(path: String)
    /// The file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// The file holds no records (0 bytes).
    case emptyFile(path: String)
    /// The file's length is not a whole number of records (a truncated download or another format).
    case invalidLength(path: String, byteCount: Int, recordSize: Int)
    /// A record's label byte is not a class index.
    case labelOutOfRange(path: String, record: Int, label: Int, classCount: Int)

    public var description: String {
        switch self {
        case let .fileNotFound(path):
            return "\(path): no such file"
        case let .unreadableFile(path, reason):
            return "\(path): cannot read the file (\(reason))"
        case let .emptyFile(path):
            return "\(path): the file is empty (0 records)"
        case let .invalidLength(path, byteCount, recordSize):
            return "\(path): \(byteCount) bytes is not a whole number of \(recordSize)-byte records "
                + "(\(byteCount / recordSize) records and \(byteCount % recordSize) bytes left over; truncated file?)"
        case let .labelOutOfRange(path, record, label, classCount):
            return "\(path): record \(record) has label \(label), outside 0..<\(classCount)"
        }
    }
}

/// The CIFAR-10 dataset in its binary distribution (`cifar-10-binary.tar.gz`, extracted):
/// `data_batch_1.bin` … `data_batch_5.bin` (10 000 training images each) and `test_batch.bin`.
///
/// Each file is a sequence of 3073-byte records: one label byte in 0..<10, then 3072 pixel
/// bytes — the 1024 red values, then the green, then the blue, each a row-major 32×32 plane.
/// (Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009.)
public enum CIFAR10 {
    /// Which files to read.
    public enum Split: Sendable {
        /// `data_batch_1.bin` … `data_batch_5.bin`.
        case training
        /// `test_batch.bin`.
        case test

        /// The file names of the split, in reading order.
        public var fileNames: [String] {
            switch self {
            case .training: return (1...5).map { "data_batch_\($0).bin" }
            case .test: return ["test_batch.bin"]
            }
        }
    }

    /// Image side in pixels.
    public static let imageSize = 32
    /// Colour channels (R, G, B).
    public static let channels = 3
    /// Number of classes.
    public static let classCount = 10
    /// Bytes per record: one label byte and 3 × 32 × 32 pixel bytes.
    public static let recordSize = 1 + 3 * 32 * 32
    /// The class labels by index.
    public static let classNames = ClassNames.cifar10

    /// Reads the files of `split` from `directory` and concatenates them.
    /// - Parameters:
    ///   - directory: the folder holding the `.bin` files (`cifar-10-batches-bin`).
    ///   - limit: read at most this many records in total (≥ 0), or all when nil.
    /// - Returns: images `[N, 3, 32, 32]`, Float32 pixels in [0, 1] (byte / 255), and N labels in 0..<10.
    /// - Throws: `DatasetError` for a missing, unreadable, empty or malformed file.
    public static func load(directory: URL, split: Split, limit: Int? = nil) throws -> (images: Tensor, labels: [Int]) {
        var scalars: [Float] = []
        var labels: [Int] = []
        for name in split.fileNames {
            let remaining = limit.map { $0 - labels.count }
            if let remaining, remaining <= 0 { break }
            let (images, fileLabels) = try load(file: directory.appendingPathComponent(name), limit: remaining)
            scalars += images.scalars
            labels += fileLabels
        }
        return (Tensor(shape: [labels.count, channels, imageSize, imageSize], scalars: scalars), labels)
    }

    /// Reads one CIFAR-10 binary file.
    /// - Parameters:
    ///   - file: a `.bin` file of 3073-byte records.
    ///   - limit: decode at most this many records (≥ 0; the whole file is still validated), or
    ///     all when nil.
    /// - Returns: images `[N, 3, 32, 32]`, Float32 pixels in [0, 1] (byte / 255), and N labels in 0..<10.
    /// - Throws: `DatasetError.fileNotFound`, `.unreadableFile`, `.emptyFile`, `.invalidLength`
    ///   (length not a multiple of 3073) or `.labelOutOfRange` (a label byte ≥ 10).
    public static func load(file: URL, limit: Int? = nil) throws -> (images: Tensor, labels: [Int]) {
        precondition(limit.map { $0 >= 0 } ?? true, "CIFAR10.load: negative limit \(limit!)")
        let path = file.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw DatasetError.fileNotFound(path: path)
        }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw DatasetError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        return try decode([UInt8](data), path: path, limit: limit)
    }

    /// Decodes the bytes of a CIFAR-10 binary file (see `load(file:limit:)`); `path` names the
    /// source in errors.
    public static func decode(_ bytes: [UInt8], path: String, limit: Int? = nil) throws -> (images: Tensor, labels: [Int]) {
        guard !bytes.isEmpty else { throw DatasetError.emptyFile(path: path) }
        guard bytes.count % recordSize == 0 else {
            throw DatasetError.invalidLength(path: path, byteCount: bytes.count, recordSize: recordSize)
        }
        let recordCount = bytes.count / recordSize
        for record in 0..<recordCount where Int(bytes[record * recordSize]) >= classCount {
            throw DatasetError.labelOutOfRange(path: path, record: record, label: Int(bytes[record * recordSize]), classCount: classCount)
        }
        let count = min(recordCount, limit ?? recordCount)
        let pixelCount = recordSize - 1  // 3 · 32 · 32, already in [C, H, W] order
        var scalars = [Float](repeating: 0, count: count * pixelCount)
        var labels: [Int] = []
        labels.reserveCapacity(count)
        for record in 0..<count {
            let source = record &* recordSize
            labels.append(Int(bytes[source]))
            let destination = record &* pixelCount
            for offset in 0..<pixelCount {
                scalars[destination &+ offset] = Float(bytes[source &+ 1 &+ offset]) / 255
            }
        }
        return (Tensor(shape: [count, channels, imageSize, imageSize], scalars: scalars), labels)
    }
}
