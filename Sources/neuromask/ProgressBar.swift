import Foundation

/// A one-line progress bar on a terminal: drawn only when stdout is a TTY, and only once the run
/// has lasted a second; redrawn at most ten times a second.
struct ProgressBar {
    let total: Int
    let isEnabled: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var hasDrawn = false

    init(total: Int, quiet: Bool) {
        self.total = total
        isEnabled = !quiet && isatty(STDOUT_FILENO) != 0
    }

    mutating func update(done: Int, status: String) {
        guard isEnabled else { return }
        let now = Date()
        guard now.timeIntervalSince(start) >= 1, now.timeIntervalSince(lastDraw) >= 0.1 || done == total else { return }
        lastDraw = now
        hasDrawn = true
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        print("\r[\(bar)] \(done)/\(total) \(status)", terminator: "")
        fflush(nil)  // all C streams: print() buffers stdout
    }

    /// Ends the line if anything was drawn.
    func finish() {
        guard hasDrawn else { return }
        print("")
    }
}
