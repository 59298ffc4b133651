import Foundation
import Synchronization

/// The library's own threads: `ComputeThreads.count − 1` persistent workers that, together with
/// the calling thread, run the chunks of one `parallelFor` at a time. OpenBLAS runs
/// single-threaded inside those chunks, so the process never has more compute threads than
/// cores (GCD's pool plus OpenBLAS's spinning workers made four threads fight over two cores:
/// ~30 % of an EfficientNet-Lite0 iteration's samples were in the scheduler).
///
/// A worker spins for `spinNanoseconds` after its last job (waking a sleeping thread costs tens
/// of microseconds, more than many of the jobs), yielding its core at every turn after the
/// first thousand (so that on a busy or oversubscribed machine the threads with work run), then
/// sleeps on a condition variable. The calling thread claims chunks too, so a job never waits
/// for a sleeping worker to wake: it only waits for chunks a worker has already started.
///
/// One job at a time: a call made while a job runs (another thread's, or a nested call from
/// inside a chunk) runs its chunks inline on the calling thread. Chunk boundaries never depend
/// on who runs them, so results are the same either way.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// How long an idle worker spins before it sleeps (5 ms measured faster than 0.5 ms on
    /// EfficientNet-Lite0: the serial stretches of an iteration are mostly shorter).
    static let spinNanoseconds: UInt64 = 5_000_000

    /// Even: job `generation / 2` is published; odd: the last job is closed, the next one is
    /// being written. Workers read the job's fields only while registered in `participants`
    /// under an unchanged even generation, and the caller writes them only when nobody is.
    private let generation = Atomic<Int>(1)
    private let participants = Atomic<Int>(0)
    private let nextChunk = Atomic<Int>(0)
    private let finishedChunks = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let isBusy = Atomic<Bool>(false)
    private let wakeUp = NSCondition()
    private let workersLock = NSLock()
    private var workerCount = 0  // guarded by workersLock

    // The published job; written only while `participants` is 0 and `generation` is odd.
    nonisolated(unsafe) private var chunkCount = 0
    nonisolated(unsafe) private var body: ((Int) -> Void)?

    /// Runs `body(0..<chunks)` — each index once, on this thread and up to `threads − 1`
    /// workers — and returns when all are done. `body` must only write state of its own chunk.
    func run(chunks: Int, threads: Int, _ body: (Int) -> Void) {
        guard chunks > 1, threads > 1, isBusy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
        defer { isBusy.store(false, ordering: .releasing) }
        ensureWorkers(threads - 1)
        withoutActuallyEscaping(body) { escapable in
            publish(chunks: chunks, body: escapable)
            // The caller claims chunks like any worker; then waits for the ones in flight.
            runClaimedChunks(chunks, escapable)
            spin { finishedChunks.load(ordering: .acquiring) >= chunks }
            close()
        }
    }

    private func publish(chunks: Int, body: @escaping (Int) -> Void) {
        self.chunkCount = chunks
        self.body = body
        nextChunk.store(0, ordering: .relaxed)
        finishedChunks.store(0, ordering: .relaxed)
        generation.add(1, ordering: .sequentiallyConsistent)  // odd → even: published
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            wakeUp.lock()
            wakeUp.broadcast()
            wakeUp.unlock()
        }
    }

    private func close() {
        generation.add(1, ordering: .sequentiallyConsistent)  // even → odd: no new participants
        spin { participants.load(ordering: .sequentiallyConsistent) == 0 }
        body = nil
    }

    /// Busy-waits until `isDone()`; after a while it yields the core at every turn, so that a
    /// worker sharing this core (more threads than free cores) gets to finish its chunk.
    @inline(__always)
    private func spin(until isDone: () -> Bool) {
        var turns = 0
        while !isDone() {
            turns &+= 1
            if turns > 1000 { sched_yield() }
        }
    }

    /// A worker's share of the published job. Not inlined, so that every retain of `body` it
    /// makes is released before the worker leaves `participants`: `run` may return (and
    /// `withoutActuallyEscaping` check that `body` did not escape) as soon as it has left.
    @inline(never)
    private func runPublishedJob() {
        runClaimedChunks(chunkCount, body!)
    }

    /// Claims and runs chunks of the published job until none are left.
    private func runClaimedChunks(_ chunks: Int, _ body: (Int) -> Void) {
        while true {
            let chunk = nextChunk.add(1, ordering: .relaxed).oldValue
            guard chunk < chunks else { return }
            body(chunk)
            finishedChunks.add(1, ordering: .releasing)
        }
    }

    private func ensureWorkers(_ count: Int) {
        workersLock.lock()
        defer { workersLock.unlock() }
        while workerCount < count {
            let thread = Thread { [unowned self] in self.workerLoop() }
            thread.name = "neuromask-worker-\(workerCount + 1)"
            thread.start()
            workerCount += 1
        }
    }

    private func workerLoop() {
        var lastSeen = generation.load(ordering: .acquiring) | 1
        while true {
            let published = waitForJob(after: lastSeen)
            lastSeen = published
            participants.add(1, ordering: .sequentiallyConsistent)
            if generation.load(ordering: .sequentiallyConsistent) == published {
                runPublishedJob()
            }
            participants.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    /// Spins, then sleeps, until a job newer than `lastSeen` is published; returns its generation.
    private func waitForJob(after lastSeen: Int) -> Int {
        func published() -> Int? {
            let current = generation.load(ordering: .sequentiallyConsistent)
            return current & 1 == 0 && current != lastSeen ? current : nil
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
        var spins = 0
        while true {
            if let current = published() { return current }
            spins &+= 1
            if spins > 1000 { sched_yield() }  // a thread waiting for this core runs first
            if spins & 255 == 0 && DispatchTime.now().uptimeNanoseconds > deadline { break }
        }
        wakeUp.lock()
        defer { wakeUp.unlock() }
        sleepers.add(1, ordering: .sequentiallyConsistent)
        defer { sleepers.subtract(1, ordering: .sequentiallyConsistent) }
        while true {
            if let current = published() { return current }
            wakeUp.wait()
        }
    }
}
