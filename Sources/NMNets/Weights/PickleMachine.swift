/// A value on the pickle machine's stack.
///
/// Containers live in the arenas of `PickleResult` and are referred to by index, so values never
/// nest: freeing them never recurses (however deep a hostile pickle nests) and reference cycles
/// are harmless.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits: little-endian two's-complement bytes as in LONG1.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(Int)
    case list(Int)
    case dict(Int)
    case global(PickleGlobal)
    case storage(Int)
    case tensor(Int)

    /// The Python type name, for error messages.
    var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let global): return "global \(global)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// The only globals a checkpoint may name. They are never imported or called: each is a tag the
/// machine interprets itself.
enum PickleGlobal: Equatable, CustomStringConvertible {
    case orderedDict
    case rebuildTensor, rebuildTensorV2, rebuildParameter, rebuildParameterWithState
    case storageType(TorchDType)

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
        default:
            guard let dtype = TorchDType(storageModule: module, name: name) else { return nil }
            self = .storageType(dtype)
        }
    }

    var description: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensor: return "torch._utils._rebuild_tensor"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .storageType(let dtype): return "torch storage of \(dtype)"
        }
    }
}

/// A dict or OrderedDict in insertion order. Re-setting a string or int key replaces its value,
/// as in Python.
struct PickleDict {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var index: [HashableKey: Int] = [:]

    private enum HashableKey: Hashable {
        case string(String)
        case int(Int)
    }

    mutating func set(_ key: PickleValue, _ value: PickleValue) {
        let hashable: HashableKey?
        switch key {
        case .string(let string): hashable = .string(string)
        case .int(let int): hashable = .int(int)
        default: hashable = nil
        }
        if let hashable, let existing = index[hashable] {
            values[existing] = value
            return
        }
        if let hashable { index[hashable] = keys.count }
        keys.append(key)
        values.append(value)
    }

    func value(forString key: String) -> PickleValue? {
        index[.string(key)].map { values[$0] }
    }
}

/// A storage named by a persistent id: `('storage', storage_type, key, location, numel)`, plus
/// in legacy files an optional view `(view_key, offset, numel)` into that root storage.
struct StorageReference {
    var key: String
    var dtype: TorchDType
    /// Elements of the root storage `key`.
    var numel: Int
    /// The view's first element in the root storage and its length (`nil` = the whole storage).
    var view: (offset: Int, count: Int)?
}

/// A tensor rebuilt by `_rebuild_tensor_v2(storage, storage_offset, size, stride, …)`.
struct TensorReference {
    var storage: Int  // index into `PickleResult.storages`
    var layout: StridedLayout
}

/// The object graph of one pickle: the root value plus the arenas its indices refer to.
struct PickleResult {
    var root: PickleValue = .none
    var tuples: [[PickleValue]] = []
    var lists: [[PickleValue]] = []
    var dicts: [PickleDict] = []
    var storages: [StorageReference] = []
    var tensors: [TensorReference] = []
    /// Byte offset just after the STOP opcode.
    var endOffset = 0
}

/// A pickle virtual machine restricted to what `torch.save` writes.
///
/// Opcodes outside a whitelist (protocols 2–5 as torch uses them, plus the harmless structural
/// DICT, LIST, POP, POP_MARK, DUP, BINUNICODE8, BINBYTES8 and LONG4) and globals outside
/// `PickleGlobal` throw; nothing is ever imported or executed. REDUCE is interpreted only for
/// the whitelisted globals, BUILD (used by torch for an OrderedDict's `_metadata`) is accepted
/// on dicts and tensors and its state discarded.
struct PickleMachine {
    private let bytes: [UInt8]
    private let file: String
    private var position: Int
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var result = PickleResult()

    /// Runs the pickle that starts at `offset` of `bytes` up to its STOP opcode.
    /// - Parameter file: the file name used in error messages.
    /// - Throws: `WeightLoadingError` (`.unsupportedOpcode`, `.forbiddenGlobal`, `.truncated`,
    ///   `.malformedPickle`, `.unsupportedPickleProtocol`).
    static func unpickle(_ bytes: [UInt8], at offset: Int = 0, file: String) throws -> PickleResult {
        var machine = PickleMachine(bytes: bytes, file: file, position: offset)
        return try machine.run()
    }

    private init(bytes: [UInt8], file: String, position: Int) {
        self.bytes = bytes
        self.file = file
        self.position = position
    }

    private mutating func run() throws -> PickleResult {
        while true {
            let opcode = try readByte()
            switch opcode {
            case 0x80:  // PROTO
                let version = Int(try readByte())
                guard version <= 5 else { throw WeightLoadingError.unsupportedPickleProtocol(file: file, version: version) }
            case 0x95:  // FRAME: a length hint; the data that follows is read linearly anyway
                _ = try read(8)
            case 0x2E:  // STOP
                result.root = try pop()
                result.endOffset = position
                return result

            // Stack and mark
            case 0x28: marks.append(stack.count)  // MARK
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32: stack.append(try top())  // DUP

            // Constants and scalars
            case 0x4E: stack.append(.none)  // NONE
            case 0x88: stack.append(.bool(true))  // NEWTRUE
            case 0x89: stack.append(.bool(false))  // NEWFALSE
            case 0x4A: stack.append(.int(Int(Int32(bitPattern: UInt32(try readUnsigned(4))))))  // BININT
            case 0x4B: stack.append(.int(Int(try readByte())))  // BININT1
            case 0x4D: stack.append(.int(Int(try readUnsigned(2))))  // BININT2
            case 0x8A: stack.append(try readLong(lengthBytes: 1))  // LONG1
            case 0x8B: stack.append(try readLong(lengthBytes: 4))  // LONG4
            case 0x47:  // BINFLOAT: big-endian IEEE double
                let raw = try read(8)
                stack.append(.float(Double(bitPattern: raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))

            // Strings and bytes
            case 0x58: stack.append(.string(try readString(length: try readLength(4))))  // BINUNICODE
            case 0x8C: stack.append(.string(try readString(length: try readLength(1))))  // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try readString(length: try readLength(8))))  // BINUNICODE8
            case 0x54: stack.append(.string(try readString(length: try readLength(4))))  // BINSTRING (Python 2 str)
            case 0x55: stack.append(.string(try readString(length: try readLength(1))))  // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try read(try readLength(4)))))  // BINBYTES
            case 0x43: stack.append(.bytes(Array(try read(try readLength(1)))))  // SHORT_BINBYTES
            case 0x8E: stack.append(.bytes(Array(try read(try readLength(8)))))  // BINBYTES8

            // Containers
            case 0x29: stack.append(makeTuple([]))  // EMPTY_TUPLE
            case 0x74: stack.append(makeTuple(try popMark()))  // TUPLE
            case 0x85: stack.append(makeTuple(try pop(1)))  // TUPLE1
            case 0x86: stack.append(makeTuple(try pop(2)))  // TUPLE2
            case 0x87: stack.append(makeTuple(try pop(3)))  // TUPLE3
            case 0x5D: stack.append(makeList([]))  // EMPTY_LIST
            case 0x6C: stack.append(makeList(try popMark()))  // LIST
            case 0x7D: stack.append(makeDict())  // EMPTY_DICT
            case 0x64:  // DICT
                let items = try popMark()
                let dict = makeDict()
                try setItems(items, in: dict)
                stack.append(dict)
            case 0x61:  // APPEND
                let item = try pop()
                try append([item], to: try top())
            case 0x65:  // APPENDS
                let items = try popMark()
                try append(items, to: try top())
            case 0x73:  // SETITEM
                let pair = try pop(2)
                try setItems(pair, in: try top())
            case 0x75:  // SETITEMS
                let items = try popMark()
                try setItems(items, in: try top())

            // Memo
            case 0x71: memo[Int(try readByte())] = try top()  // BINPUT
            case 0x72: memo[try readLength(4)] = try top()  // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case 0x68: stack.append(try memoValue(Int(try readByte())))  // BINGET
            case 0x6A: stack.append(try memoValue(try readLength(4)))  // LONG_BINGET

            // Objects: only the whitelisted globals, interpreted here
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try readLine()
                let name = try readLine()
                stack.append(try global(module: module, name: name))
            case 0x93:  // STACK_GLOBAL
                let pair = try pop(2)
                guard case .string(let module) = pair[0], case .string(let name) = pair[1] else {
                    throw malformed("STACK_GLOBAL expects two strings, got \(pair[0].typeName) and \(pair[1].typeName)")
                }
                stack.append(try global(module: module, name: name))
            case 0x52:  // REDUCE
                let arguments = try pop()
                let callable = try pop()
                stack.append(try reduce(callable, arguments))
            case 0x62:  // BUILD: state for an OrderedDict (_metadata) or a tensor; discarded
                let state = try pop()
                switch try top() {
                case .dict, .tensor: break
                case let target: throw malformed("BUILD with \(state.typeName) state on a \(target.typeName)")
                }
            case 0x51:  // BINPERSID
                stack.append(try persistentLoad(try pop()))

            default:
                throw WeightLoadingError.unsupportedOpcode(file: file, opcode: opcode)
            }
        }
    }

    // MARK: Reading bytes

    private mutating func readByte() throws -> UInt8 {
        guard position < bytes.count else { throw WeightLoadingError.truncated(file: file, reading: "a pickle") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func read(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else {
            throw WeightLoadingError.truncated(file: file, reading: "a pickle")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    /// A little-endian unsigned integer of `count` ≤ 8 bytes.
    private mutating func readUnsigned(_ count: Int) throws -> UInt64 {
        try read(count).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// A little-endian length that must be a non-negative Int.
    private mutating func readLength(_ count: Int) throws -> Int {
        let value = try readUnsigned(count)
        guard value <= UInt64(Int.max) else { throw malformed("length \(value) does not fit in memory") }
        return Int(value)
    }

    private mutating func readString(length: Int) throws -> String {
        let raw = try read(length)
        guard let string = String(validating: raw, as: UTF8.self) else { throw malformed("a string is not valid UTF-8") }
        return string
    }

    /// One newline-terminated line (GLOBAL's module or name).
    private mutating func readLine() throws -> String {
        guard let newline = bytes[position...].firstIndex(of: 0x0A) else {
            throw WeightLoadingError.truncated(file: file, reading: "a pickle")
        }
        let raw = bytes[position..<newline]
        position = newline + 1
        guard let line = String(validating: raw, as: UTF8.self) else { throw malformed("a GLOBAL name is not valid UTF-8") }
        return line
    }

    /// LONG1/LONG4: a little-endian two's-complement integer of the given byte length.
    private mutating func readLong(lengthBytes: Int) throws -> PickleValue {
        let raw = Array(try read(try readLength(lengthBytes)))
        if raw.isEmpty { return .int(0) }
        if raw.count > 8 { return .bigInt(raw) }
        var value = raw.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if raw.count < 8, raw[raw.count - 1] & 0x80 != 0 {  // sign-extend
            value |= ~UInt64(0) << UInt64(raw.count * 8)
        }
        return .int(Int(Int64(bitPattern: value)))
    }

    // MARK: Stack helpers

    private func malformed(_ reason: String) -> WeightLoadingError {
        .malformedPickle(file: file, reason: reason)
    }

    private mutating func pop() throws -> PickleValue {
        // Values below the topmost MARK are out of reach, as in CPython's unpickler.
        guard stack.count > (marks.last ?? 0), let value = stack.popLast() else {
            throw malformed("stack underflow at byte \(position - 1)")
        }
        return value
    }

    private mutating func pop(_ count: Int) throws -> [PickleValue] {
        guard stack.count - (marks.last ?? 0) >= count else { throw malformed("stack underflow at byte \(position - 1)") }
        defer { stack.removeLast(count) }
        return Array(stack.suffix(count))
    }

    private func top() throws -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else {
            throw malformed("stack underflow at byte \(position - 1)")
        }
        return value
    }

    /// Pops everything above the topmost MARK, and the mark.
    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw malformed("no MARK on the stack at byte \(position - 1)") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private func memoValue(_ index: Int) throws -> PickleValue {
        guard let value = memo[index] else { throw malformed("memo index \(index) was never stored") }
        return value
    }

    // MARK: Containers

    private mutating func makeTuple(_ items: [PickleValue]) -> PickleValue {
        result.tuples.append(items)
        return .tuple(result.tuples.count - 1)
    }

    private mutating func makeList(_ items: [PickleValue]) -> PickleValue {
        result.lists.append(items)
        return .list(result.lists.count - 1)
    }

    private mutating func makeDict() -> PickleValue {
        result.dicts.append(PickleDict())
        return .dict(result.dicts.count - 1)
    }

    private mutating func append(_ items: [PickleValue], to target: PickleValue) throws {
        guard case .list(let list) = target else { throw malformed("APPEND to a \(target.typeName)") }
        result.lists[list].append(contentsOf: items)
    }

    private mutating func setItems(_ items: [PickleValue], in target: PickleValue) throws {
        guard case .dict(let dict) = target else { throw malformed("SETITEM on a \(target.typeName)") }
        guard items.count.isMultiple(of: 2) else { throw malformed("SETITEMS with an odd number of items") }
        for pair in stride(from: 0, to: items.count, by: 2) {
            result.dicts[dict].set(items[pair], items[pair + 1])
        }
    }

    // MARK: Globals, REDUCE and persistent ids

    private func global(module: String, name: String) throws -> PickleValue {
        guard let global = PickleGlobal(module: module, name: name) else {
            throw WeightLoadingError.forbiddenGlobal(file: file, module: module, name: name)
        }
        return .global(global)
    }

    private mutating func reduce(_ callable: PickleValue, _ arguments: PickleValue) throws -> PickleValue {
        guard case .global(let global) = callable else { throw malformed("REDUCE calls a \(callable.typeName)") }
        guard case .tuple(let tuple) = arguments else { throw malformed("REDUCE arguments for \(global) are a \(arguments.typeName)") }
        let arguments = result.tuples[tuple]
        switch global {
        case .orderedDict:
            guard arguments.isEmpty else { throw malformed("collections.OrderedDict called with \(arguments.count) arguments") }
            return makeDict()
        case .rebuildTensor, .rebuildTensorV2:
            // v2: (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]); v1: the first four
            let expected = global == .rebuildTensor ? 4...4 : 6...7
            guard expected.contains(arguments.count),
                  case .storage(let storage) = arguments[0], case .int(let offset) = arguments[1],
                  let size = intTuple(arguments[2]), let stride = intTuple(arguments[3])
            else {
                let types = arguments.map(\.typeName).joined(separator: ", ")
                throw malformed("\(global) expects (storage, offset, size, stride, …), got (\(types))")
            }
            result.tensors.append(TensorReference(storage: storage, layout: StridedLayout(offset: offset, size: size, stride: stride)))
            return .tensor(result.tensors.count - 1)
        case .rebuildParameter, .rebuildParameterWithState:
            // (data, requires_grad, backward_hooks[, state]) → the tensor itself
            guard (3...4).contains(arguments.count), case .tensor = arguments[0] else {
                throw malformed("\(global) expects (tensor, requires_grad, backward_hooks, …)")
            }
            return arguments[0]
        case .storageType(let dtype):
            throw malformed("the storage type \(dtype) is called instead of being used in a persistent id")
        }
    }

    private func intTuple(_ value: PickleValue) -> [Int]? {
        guard case .tuple(let tuple) = value else { return nil }
        var ints: [Int] = []
        for item in result.tuples[tuple] {
            guard case .int(let int) = item else { return nil }
            ints.append(int)
        }
        return ints
    }

    /// BINPERSID: `('storage', storage_type, key, location, numel[, view_metadata])`.
    private mutating func persistentLoad(_ id: PickleValue) throws -> PickleValue {
        guard case .tuple(let tuple) = id else { throw malformed("a persistent id is a \(id.typeName), not a tuple") }
        let items = result.tuples[tuple]
        guard (5...6).contains(items.count), case .string("storage") = items[0],
              case .global(.storageType(let dtype)) = items[1], case .string(let key) = items[2],
              case .string = items[3], case .int(let numel) = items[4], numel >= 0
        else {
            let types = items.map(\.typeName).joined(separator: ", ")
            throw malformed("persistent id (\(types)) is not ('storage', storage type, key, location, numel)")
        }
        var reference = StorageReference(key: key, dtype: dtype, numel: numel, view: nil)
        if items.count == 6 {
            switch items[5] {
            case .none: break
            case .tuple(let view):
                // (view_key, offset, numel) of a view into the root storage `key`
                let viewItems = result.tuples[view]
                guard viewItems.count == 3, case .string = viewItems[0], case .int(let offset) = viewItems[1],
                      case .int(let count) = viewItems[2], offset >= 0, count >= 0, offset <= numel, count <= numel - offset
                else { throw malformed("storage view metadata of '\(key)' is not (key, offset, numel) inside \(numel) elements") }
                reference.view = (offset, count)
            default:
                throw malformed("storage view metadata of '\(key)' is a \(items[5].typeName)")
            }
        }
        result.storages.append(reference)
        return .storage(result.storages.count - 1)
    }
}
