import Foundation

/// Reads a whole file, distinguishing a missing file, an unreadable one and an empty one.
/// - Throws: `TensorIOError.fileNotFound`, `.unreadableFile`, or `.inFile(path, .emptyData)`.
func readFileContents(_ url: URL) throws -> Data {
    let path = url.path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw TensorIOError.fileNotFound(path: path)
    }
    guard !isDirectory.boolValue else {
        throw TensorIOError.unreadableFile(path: path, reason: "is a directory")
    }
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw TensorIOError.unreadableFile(path: path, reason: "\(error.localizedDescription)")
    }
    guard !data.isEmpty else { throw TensorIOError.inFile(path: path, .emptyData) }
    return data
}

/// Runs `parse` on a file's contents and wraps any content error in `.inFile(path, …)`.
func parseFile<T>(_ url: URL, _ parse: (Data) throws -> T) throws -> T {
    let data = try readFileContents(url)
    do {
        return try parse(data)
    } catch let error as TensorIOError {
        throw TensorIOError.inFile(path: url.path, error)
    }
}

/// Writes `data` to a temporary file beside `url` and renames it over `url`, so readers never
/// see a partial file.
/// - Throws: `TensorIOError.unwritableFile`.
func writeFileAtomically(_ data: Data, to url: URL) throws {
    do {
        try data.write(to: url, options: .atomic)
    } catch {
        throw TensorIOError.unwritableFile(path: url.path, reason: "\(error.localizedDescription)")
    }
}
