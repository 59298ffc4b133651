import Foundation
import NMTensor

/// Reads PyTorch checkpoints (`torch.save(state_dict, path)`) in Swift, executing nothing.
///
/// Both formats are read:
/// - **zip** (the default since torch 1.6): `<archive>/data.pkl` plus one stored member
///   `<archive>/data/<key>` per storage;
/// - **legacy** (`_use_new_zipfile_serialization=False`, and every file written before 1.6): a
///   magic-number pickle, a protocol-version pickle (1001), a system-info pickle, the state-dict
///   pickle, the list of storage keys, then each storage as an 8-byte little-endian element count
///   followed by its little-endian elements. Legacy storage views (torch < 1.0) are resolved.
///
/// The pickles run on `PickleMachine`, which accepts only the opcodes torch writes and the
/// globals `collections.OrderedDict`, `torch._utils._rebuild_tensor(_v2)`,
/// `torch._utils._rebuild_parameter(_with_state)` and `torch[.cuda].<Type>Storage`; anything else
/// (a `__reduce__` naming `os.system`, say) throws before any value is used.
///
/// Only tensor state dicts are accepted: the top-level object must be a dict or OrderedDict of
/// string → tensor (a checkpoint that nests the state dict under "state_dict" or "model", or
/// holds non-tensor values, throws). Tensors may have any storage offset, size and stride
/// (including the non-contiguous strides of channels-last weights); they are materialised
/// row-major. Tensors that share a storage (tied weights, views) are decoded once.
public enum TorchCheckpoint {
    /// One entry of a state dict: its name, the element type stored in the file, and its values
    /// converted to Float32.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let dtype: TorchDType
        public let tensor: Tensor
    }

    /// Loads a state dict as name → Float32 tensor.
    ///
    /// Every entry is returned, integer ones included: float64, float16 and bfloat16 are
    /// converted to Float32 (float64 rounds to nearest), and integer and bool tensors (such as
    /// BatchNorm's int64 `num_batches_tracked`) become Float32 values, exact up to 2^24 in
    /// magnitude. Use `entries(from:)` to see each entry's stored dtype or the file order.
    /// - Parameter url: a file written by `torch.save` (zip or legacy format).
    /// - Returns: one tensor per state-dict key, shaped as in PyTorch (`[]` for scalars).
    /// - Throws: `WeightLoadingError` naming the file and the problem: unreadable, truncated,
    ///   a forbidden global or opcode, a non-tensor entry, an impossible stride, …
    /// - Complexity: O(file size); the 18.8 MB EfficientNet-Lite0 file loads in well under a
    ///   second in release builds.
    public static func load(from url: URL) throws -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for entry in try entries(from: url) { tensors[entry.name] = entry.tensor }
        return tensors
    }

    /// Loads a state dict's entries in file order, with the dtype each was stored as.
    /// - Parameter url: a file written by `torch.save` (zip or legacy format).
    /// - Throws: `WeightLoadingError`, as `load(from:)`.
    public static func entries(from url: URL) throws -> [Entry] {
        let file = url.path
        let bytes: [UInt8]
        do {
            bytes = try readBytes(of: url)
        } catch {
            throw WeightLoadingError.unreadableFile(file: file, reason: error.localizedDescription)
        }
        return try entries(decoding: bytes, file: file)
    }

    /// The file's bytes, read in 16 MiB chunks straight into the array: no memory-mapped copy of
    /// the file stays resident beside it (the decoded tensors are the only other large block,
    /// so loading peaks near twice the file size).
    private static func readBytes(of url: URL) throws -> [UInt8] {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: 0)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(size))
        while let chunk = try handle.read(upToCount: 1 << 24), !chunk.isEmpty {
            bytes.append(contentsOf: chunk)
        }
        return bytes
    }

    /// The entries of a checkpoint held in memory; `file` names it in errors.
    static func entries(decoding bytes: [UInt8], file: String) throws -> [Entry] {
        if ZipArchive.hasZipSignature(bytes) {
            return try readZip(bytes, file: file)
        }
        guard bytes.first == 0x80 else { throw WeightLoadingError.unrecognizedFormat(file: file) }
        return try readLegacy(bytes, file: file)
    }

    // MARK: Zip format

    private static func readZip(_ bytes: [UInt8], file: String) throws -> [Entry] {
        let archive = try ZipArchive(bytes: bytes, file: file)
        // As torch's PyTorchStreamReader: the archive folder is the first member's top folder.
        guard let first = archive.members.first else { throw WeightLoadingError.malformedZip(file: file, reason: "the archive is empty") }
        guard let slash = first.name.firstIndex(of: "/") else {
            throw WeightLoadingError.malformedZip(file: file, reason: "member '\(first.name)' is not inside an archive folder")
        }
        let prefix = String(first.name[..<slash])

        if let byteOrder = archive.member(named: "\(prefix)/byteorder") {
            let order = String(decoding: bytes[try archive.dataRange(of: byteOrder)], as: UTF8.self)
            guard order == "little" else { throw WeightLoadingError.unsupportedByteOrder(file: file, byteOrder: order) }
        }
        guard let pickleMember = archive.member(named: "\(prefix)/data.pkl") else {
            throw WeightLoadingError.missingZipMember(file: file, member: "\(prefix)/data.pkl")
        }
        let pickleBytes = Array(bytes[try archive.dataRange(of: pickleMember)])
        let pickle = try PickleMachine.unpickle(pickleBytes, file: file)

        var locations: [String: Range<Int>] = [:]
        for reference in pickle.storages where locations[reference.key] == nil {
            let name = "\(prefix)/data/\(reference.key)"
            guard let member = archive.member(named: name) else {
                throw WeightLoadingError.missingZipMember(file: file, member: name)
            }
            locations[reference.key] = try archive.dataRange(of: member)
        }
        for reference in pickle.storages {
            let byteCount = locations[reference.key]?.count ?? 0  // filled above for every reference
            let elementSize = reference.dtype.elementSize
            guard byteCount % elementSize == 0, byteCount / elementSize == reference.numel else {
                throw WeightLoadingError.storageSizeMismatch(
                    file: file, storage: reference.key, expected: reference.numel, found: byteCount / reference.dtype.elementSize)
            }
        }
        return try assemble(pickle, bytes: bytes, locations: locations, file: file)
    }

    // MARK: Legacy format

    /// PyTorch's legacy magic number 0x1950a86a20f9469cfc6c as LONG1 writes it (little-endian).
    private static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    private static func readLegacy(_ bytes: [UInt8], file: String) throws -> [Entry] {
        let magic = try PickleMachine.unpickle(bytes, at: 0, file: file)
        guard case .bigInt(legacyMagic) = magic.root else { throw WeightLoadingError.badMagicNumber(file: file) }

        let version = try PickleMachine.unpickle(bytes, at: magic.endOffset, file: file)
        guard case .int(1001) = version.root else {
            let found: String
            if case .int(let number) = version.root { found = String(number) } else { found = "a \(version.root.typeName)" }
            throw WeightLoadingError.unsupportedLegacyVersion(file: file, version: found)
        }

        let systemInfo = try PickleMachine.unpickle(bytes, at: version.endOffset, file: file)
        if case .dict(let dict) = systemInfo.root, case .bool(false)? = systemInfo.dicts[dict].value(forString: "little_endian") {
            throw WeightLoadingError.unsupportedByteOrder(file: file, byteOrder: "big")
        }

        let pickle = try PickleMachine.unpickle(bytes, at: systemInfo.endOffset, file: file)
        let keyList = try PickleMachine.unpickle(bytes, at: pickle.endOffset, file: file)
        guard case .list(let list) = keyList.root else {
            throw WeightLoadingError.malformedCheckpoint(file: file, reason: "the storage key list is a \(keyList.root.typeName)")
        }

        // Every storage has one element type; its data follows in key-list order.
        var dtypes: [String: TorchDType] = [:]
        var numels: [String: Int] = [:]
        for reference in pickle.storages {
            if let known = dtypes[reference.key], known != reference.dtype {
                throw WeightLoadingError.malformedCheckpoint(
                    file: file, reason: "storage '\(reference.key)' is used as both \(known) and \(reference.dtype)")
            }
            if let known = numels[reference.key], known != reference.numel {
                throw WeightLoadingError.malformedCheckpoint(
                    file: file, reason: "storage '\(reference.key)' is declared with \(known) and \(reference.numel) elements")
            }
            dtypes[reference.key] = reference.dtype
            numels[reference.key] = reference.numel
        }
        var locations: [String: Range<Int>] = [:]
        var offset = keyList.endOffset
        for item in keyList.lists[list] {
            guard case .string(let key) = item else {
                throw WeightLoadingError.malformedCheckpoint(file: file, reason: "a storage key is a \(item.typeName)")
            }
            guard let dtype = dtypes[key], let numel = numels[key] else {
                throw WeightLoadingError.malformedCheckpoint(file: file, reason: "storage '\(key)' is listed but no tensor uses it")
            }
            guard bytes.count - offset >= 8 else {
                throw WeightLoadingError.truncated(file: file, reading: "the element count of storage '\(key)'")
            }
            let count = Int64(bitPattern: UInt64(littleEndian: bytes, at: offset))
            offset += 8
            guard count == Int64(numel) else {
                throw WeightLoadingError.storageSizeMismatch(file: file, storage: key, expected: numel, found: Int(count))
            }
            // numel ≤ file size first, so that the byte count cannot overflow
            guard numel <= bytes.count, numel * dtype.elementSize <= bytes.count - offset else {
                throw WeightLoadingError.truncated(file: file, reading: "storage '\(key)' (\(numel) × \(dtype))")
            }
            let byteCount = numel * dtype.elementSize
            locations[key] = offset..<(offset + byteCount)
            offset += byteCount
        }
        for key in dtypes.keys where locations[key] == nil {
            throw WeightLoadingError.malformedCheckpoint(file: file, reason: "storage '\(key)' is used but not in the storage key list")
        }
        return try assemble(pickle, bytes: bytes, locations: locations, file: file)
    }

    // MARK: State dict

    /// Checks that the root is a dict of string → tensor and materialises each tensor.
    /// `locations` gives each storage key's bytes; their sizes are already checked.
    private static func assemble(_ pickle: PickleResult, bytes: [UInt8], locations: [String: Range<Int>], file: String) throws -> [Entry] {
        guard case .dict(let dictIndex) = pickle.root else {
            throw WeightLoadingError.notATensorStateDict(file: file, found: "a \(pickle.root.typeName)")
        }
        let dict = pickle.dicts[dictIndex]

        struct StorageID: Hashable {
            var key: String
            var dtype: TorchDType
        }
        var decoded: [StorageID: [Float]] = [:]
        var entries: [Entry] = []
        entries.reserveCapacity(dict.keys.count)
        for (key, value) in zip(dict.keys, dict.values) {
            guard case .string(let name) = key else {
                throw WeightLoadingError.notATensorStateDict(file: file, found: "a dict with a key of type \(key.typeName)")
            }
            guard case .tensor(let tensorIndex) = value else {
                throw WeightLoadingError.nonTensorEntry(file: file, key: name, found: value.typeName)
            }
            let tensor = pickle.tensors[tensorIndex]
            let storage = pickle.storages[tensor.storage]
            let id = StorageID(key: storage.key, dtype: storage.dtype)
            let values: [Float]
            if let cached = decoded[id] {
                values = cached
            } else {
                guard let range = locations[storage.key] else {  // the format readers located every referenced key
                    throw WeightLoadingError.malformedCheckpoint(file: file, reason: "storage '\(storage.key)' has no data")
                }
                values = decodeLittleEndian(bytes, start: range.lowerBound, count: storage.numel, dtype: storage.dtype)
                decoded[id] = values
            }
            // A legacy view is a window [view.offset, view.offset + view.count) of the root storage.
            let window = storage.view ?? (offset: 0, count: storage.numel)
            let count: Int
            switch tensor.layout.validate(storageCount: window.count) {
            case .success(let elements): count = elements
            case .failure(let problem): throw WeightLoadingError.invalidTensor(file: file, key: name, reason: problem.reason)
            }
            var layout = tensor.layout
            layout.offset += window.offset
            let scalars = layout.gather(from: values, count: count)
            entries.append(Entry(name: name, dtype: storage.dtype, tensor: Tensor(shape: layout.size, scalars: scalars)))
        }
        return entries
    }
}
