import Foundation

/// Failure to write an explanation's files; nothing of the group is left behind.
struct OutputError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "cannot write to \(path): \(reason)" }
}

/// Writes a group of files into one directory all-or-nothing: each goes to a hidden temporary
/// file first and all are renamed into place only when every one was written.
func writeAtomically(_ files: [(name: String, data: Data)], into directory: URL) throws {
    let manager = FileManager.default
    do {
        try manager.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
        throw OutputError(path: directory.path, reason: "cannot create the directory (\(error.localizedDescription))")
    }
    var written: [(temporary: URL, final: URL)] = []
    do {
        for file in files {
            let temporary = directory.appendingPathComponent(".\(file.name).\(UUID().uuidString).tmp")
            written.append((temporary, directory.appendingPathComponent(file.name)))
            try file.data.write(to: temporary)
        }
        for pair in written {
            if manager.fileExists(atPath: pair.final.path) { try manager.removeItem(at: pair.final) }
            try manager.moveItem(at: pair.temporary, to: pair.final)
        }
    } catch {
        for pair in written { try? manager.removeItem(at: pair.temporary) }
        throw OutputError(path: directory.path, reason: error.localizedDescription)
    }
}
