import CBLASShim
import Foundation

/// The one place that decides how many threads the numerical kernels use: the library's own
/// `WorkerPool`, which runs every parallel loop and splits every GEMM. OpenBLAS itself always
/// runs single-threaded inside those loops (its own pool would compete with ours for the cores).
///
/// Default: the environment variable `NEUROMASK_NUM_THREADS` if it holds a positive integer,
/// otherwise the number of active cores. `ComputeThreads.set(_:)` overrides both. Results are
/// reproducible for a fixed seed and a fixed thread count.
public enum ComputeThreads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var configured: Int?

    /// The environment variable read at first use.
    public static let environmentVariable = "NEUROMASK_NUM_THREADS"

    /// The number of threads in use (configures OpenBLAS on first call).
    public static var count: Int {
        lock.lock()
        defer { lock.unlock() }
        if let configured { return configured }
        let initial = defaultCount()
        nm_set_num_threads(1)
        configured = initial
        return initial
    }

    /// Sets the thread count of the library's loops and GEMMs.
    /// - Precondition: `threads >= 1`.
    public static func set(_ threads: Int) {
        precondition(threads >= 1, "ComputeThreads.set: thread count must be ≥ 1, got \(threads)")
        lock.lock()
        defer { lock.unlock() }
        nm_set_num_threads(1)
        configured = threads
    }

    /// OpenBLAS's kernel family, build configuration and its own thread count (1: each call runs
    /// on the thread that makes it, inside the library's worker pool).
    public static var blasDescription: String {
        _ = count
        let core = String(cString: nm_blas_corename())
        let config = String(cString: nm_blas_config()).trimmingCharacters(in: .whitespaces)
        return "OpenBLAS \(config) core=\(core) threads per call=\(nm_get_num_threads())"
    }

    private static func defaultCount() -> Int {
        if let text = ProcessInfo.processInfo.environment[environmentVariable],
            let value = Int(text.trimmingCharacters(in: .whitespaces)), value >= 1
        {
            return value
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }
}
