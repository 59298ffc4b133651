/// A minimal reader for the zip archives `torch.save` writes (PKWARE APPNOTE 6.3): end of
/// central directory (with its ZIP64 variant, which torch writes even for small files), central
/// directory, local headers. Members must be stored (method 0, as torch writes them); each
/// member's CRC-32 is checked when it is read. The archive is not copied: members are ranges of
/// the file's bytes.
struct ZipArchive {
    struct Member {
        var name: String
        var method: Int
        var flags: Int
        var crc32: UInt32
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    let bytes: [UInt8]
    let file: String
    /// Members in central-directory order.
    private(set) var members: [Member] = []
    private var memberIndex: [String: Int] = [:]

    /// Whether `bytes` start like a zip archive (a local file header signature).
    static func hasZipSignature(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    /// Reads the central directory.
    /// - Throws: `WeightLoadingError.malformedZip` when a record is missing, has a bad signature
    ///   or points outside the file.
    init(bytes: [UInt8], file: String) throws {
        self.bytes = bytes
        self.file = file
        let directory = try locateCentralDirectory()
        var offset = directory.offset
        for _ in 0..<directory.count {
            let member = try readCentralHeader(at: &offset)
            memberIndex[member.name] = members.count
            members.append(member)
        }
    }

    func member(named name: String) -> Member? {
        memberIndex[name].map { members[$0] }
    }

    /// The byte range of a member's data inside `bytes`, after checking its local header,
    /// compression method and CRC-32.
    /// - Throws: `.unsupportedZipCompression`, `.zipChecksumMismatch`, `.malformedZip`.
    func dataRange(of member: Member) throws -> Range<Int> {
        guard member.flags & 1 == 0 else { throw malformed("member '\(member.name)' is encrypted") }
        guard member.method == 0 else {
            throw WeightLoadingError.unsupportedZipCompression(file: file, member: member.name, method: member.method)
        }
        guard member.compressedSize == member.uncompressedSize else {
            throw malformed("stored member '\(member.name)' has compressed size \(member.compressedSize) ≠ \(member.uncompressedSize)")
        }
        let header = member.localHeaderOffset
        guard let signature = uint32(at: header), signature == 0x0403_4B50,
              let nameLength = uint16(at: header + 26), let extraLength = uint16(at: header + 28)
        else { throw malformed("no local header for '\(member.name)' at offset \(header)") }
        let start = header + 30 + nameLength + extraLength
        guard start <= bytes.count, member.compressedSize <= bytes.count - start else {
            throw malformed("member '\(member.name)' extends past the end of the file")
        }
        let range = start..<(start + member.compressedSize)
        guard crc32(bytes[range]) == member.crc32 else {
            throw WeightLoadingError.zipChecksumMismatch(file: file, member: member.name)
        }
        return range
    }

    // MARK: Records

    private func malformed(_ reason: String) -> WeightLoadingError {
        .malformedZip(file: file, reason: reason)
    }

    /// Offset and entry count of the central directory, from the (ZIP64) end record.
    private func locateCentralDirectory() throws -> (offset: Int, count: Int) {
        // The end record is 22 bytes plus a comment of up to 65 535 bytes; search backwards.
        let lowest = max(0, bytes.count - 22 - 65_535)
        var end = bytes.count - 22
        while end >= lowest, uint32(at: end) != 0x0605_4B50 { end -= 1 }
        guard end >= lowest, let entries = uint16(at: end + 10), let size = uint32(at: end + 12),
              let offset = uint32(at: end + 16)
        else { throw malformed("no end-of-central-directory record (not a zip file, or truncated)") }

        var directory = (offset: Int(offset), count: entries, size: Int(size))
        // ZIP64 end-of-central-directory locator: 20 bytes just before the end record.
        if end >= 20, uint32(at: end - 20) == 0x0706_4B50 {
            guard let recordOffset = uint64(at: end - 20 + 8), recordOffset < UInt64(bytes.count),
                  uint32(at: Int(recordOffset)) == 0x0606_4B50,
                  let count = uint64(at: Int(recordOffset) + 32), let size = uint64(at: Int(recordOffset) + 40),
                  let offset = uint64(at: Int(recordOffset) + 48),
                  count <= UInt64(bytes.count), size <= UInt64(bytes.count), offset <= UInt64(bytes.count)
            else { throw malformed("bad ZIP64 end-of-central-directory record") }
            directory = (Int(offset), Int(count), Int(size))
        }
        // Each central header is at least 46 bytes; this also bounds the member count.
        guard directory.offset <= bytes.count, directory.size <= bytes.count - directory.offset,
              directory.count <= directory.size / 46
        else { throw malformed("the central directory (\(directory.count) members at offset \(directory.offset)) lies outside the file") }
        return (directory.offset, directory.count)
    }

    private func readCentralHeader(at offset: inout Int) throws -> Member {
        let start = offset
        guard uint32(at: start) == 0x0201_4B50, let flags = uint16(at: start + 8), let method = uint16(at: start + 10),
              let crc = uint32(at: start + 16), let compressed32 = uint32(at: start + 20),
              let uncompressed32 = uint32(at: start + 24), let nameLength = uint16(at: start + 28),
              let extraLength = uint16(at: start + 30), let commentLength = uint16(at: start + 32),
              let localOffset32 = uint32(at: start + 42),
              start + 46 + nameLength + extraLength + commentLength <= bytes.count
        else { throw malformed("bad central directory header at offset \(start)") }
        let nameStart = start + 46
        guard let name = String(validating: bytes[nameStart..<(nameStart + nameLength)], as: UTF8.self) else {
            throw malformed("a member name at offset \(start) is not UTF-8")
        }
        var compressed = UInt64(compressed32), uncompressed = UInt64(uncompressed32), localOffset = UInt64(localOffset32)

        // ZIP64 extended information (header id 1) holds the 64-bit values of the fields that are
        // 0xFFFFFFFF, in the order uncompressed, compressed, local header offset.
        var extra = nameStart + nameLength
        let extraEnd = extra + extraLength
        while extra + 4 <= extraEnd, let id = uint16(at: extra), let length = uint16(at: extra + 2) {
            let body = extra + 4
            guard body + length <= extraEnd else { throw malformed("bad extra field in '\(name)'") }
            if id == 1 {
                var field = body
                func next() throws -> UInt64 {
                    guard field + 8 <= body + length, let value = uint64(at: field) else {
                        throw malformed("short ZIP64 extra field in '\(name)'")
                    }
                    field += 8
                    return value
                }
                if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                if compressed == 0xFFFF_FFFF { compressed = try next() }
                if localOffset == 0xFFFF_FFFF { localOffset = try next() }
            }
            extra = body + length
        }
        guard compressed <= UInt64(bytes.count), uncompressed <= UInt64(Int.max), localOffset <= UInt64(bytes.count) else {
            throw malformed("member '\(name)' has sizes or an offset beyond the file")
        }
        offset = extraEnd + commentLength
        return Member(name: name, method: method, flags: flags, crc32: crc, compressedSize: Int(compressed),
                      uncompressedSize: Int(uncompressed), localHeaderOffset: Int(localOffset))
    }

    // MARK: Little-endian fields (nil when outside the file)

    private func uint16(at offset: Int) -> Int? {
        guard offset >= 0, offset <= bytes.count - 2 else { return nil }
        return Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
    }

    private func uint32(at offset: Int) -> UInt32? {
        guard offset >= 0, offset <= bytes.count - 4 else { return nil }
        return UInt32(littleEndian: bytes, at: offset)
    }

    private func uint64(at offset: Int) -> UInt64? {
        guard offset >= 0, offset <= bytes.count - 8 else { return nil }
        return UInt64(littleEndian: bytes, at: offset)
    }
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as zip uses it.
/// - Complexity: O(n), slicing-by-4 over a table.
func crc32(_ data: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    let table = crc32Tables
    var index = data.startIndex
    let end = data.endIndex
    while end - index >= 4 {
        crc ^= UInt32(data[index]) | UInt32(data[index &+ 1]) << 8 | UInt32(data[index &+ 2]) << 16 | UInt32(data[index &+ 3]) << 24
        crc = table[3 &* 256 &+ Int(crc & 0xFF)] ^ table[2 &* 256 &+ Int((crc >> 8) & 0xFF)]
            ^ table[256 &+ Int((crc >> 16) & 0xFF)] ^ table[Int(crc >> 24)]
        index &+= 4
    }
    while index < end {
        crc = table[Int((crc ^ UInt32(data[index])) & 0xFF)] ^ (crc >> 8)
        index &+= 1
    }
    return crc ^ 0xFFFF_FFFF
}

/// Four 256-entry tables for slicing-by-4: table k maps a byte to its CRC after k more zero bytes.
private let crc32Tables: [UInt32] = {
    var table = [UInt32](repeating: 0, count: 4 * 256)
    for byte in 0..<256 {
        var crc = UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        table[byte] = crc
    }
    for slice in 1..<4 {
        for byte in 0..<256 {
            let previous = table[(slice - 1) * 256 + byte]
            table[slice * 256 + byte] = table[Int(previous & 0xFF)] ^ (previous >> 8)
        }
    }
    return table
}()
