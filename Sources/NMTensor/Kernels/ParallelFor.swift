import Dispatch

/// Splits `0..<count` into at most `ComputeThreads.count` contiguous chunks and runs `body` on
/// each chunk concurrently. Chunk boundaries depend only on `count`, the thread count and
/// `minimumChunk`, never on scheduling, so results are deterministic. Small ranges run inline.
/// - Parameters:
///   - count: number of independent work items.
///   - minimumChunk: the least number of items worth sending to another thread.
///   - body: called once per chunk with its range, possibly on another thread; it must only
///     write state that belongs to its own chunk.
@inlinable
public func parallelFor(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let chunks = min(ComputeThreads.count, max(1, count / max(1, minimumChunk)))
    if chunks == 1 {
        body(0..<count)
        return
    }
    withoutActuallyEscaping(body) { escapable in
        // Safe to share: chunks are disjoint and concurrentPerform returns only when all are done.
        nonisolated(unsafe) let work = escapable
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            work((count * chunk / chunks)..<(count * (chunk + 1) / chunks))
        }
    }
}
