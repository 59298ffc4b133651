import Synchronization

/// A pool of tensor storage that repeated computations reuse instead of allocating anew.
///
/// While a workspace runs a pass (`run(_:)`), the kernels of NMTensor take each output buffer
/// from its pool: any kept buffer of the same element count that no tensor refers to any more.
/// Only when none is free does a kernel allocate, and the new buffer joins the pool. A model
/// that repeats a forward/backward pass at one input size therefore allocates no tensor
/// storage after its first pass, and within a pass, buffers of tensors that died (backward
/// gradients, im2col columns) serve later outputs, so the pool stays near the pass's peak of
/// live tensors.
///
/// Outputs are ordinary values: a buffer is reused only when the pool holds its sole
/// reference, so tensors kept from an earlier pass are never overwritten.
///
/// Kernels that draw from the active workspace: `matmul`, convolution (`im2col`, `col2im`,
/// depthwise), activations, pooling, `channelAffine`, and the elementwise arithmetic, math and
/// strided gathers of `Tensor`. The pool keeps its buffers between passes (`retainedBytes`)
/// until `releaseBuffers()`, except that free buffers of a size no pass has requested for
/// `idlePassesBeforeDropping` passes are dropped (so a batch evaluation at another size does
/// not leave its buffers behind, while alternating forward and gradient passes keep theirs).
///
/// One pass at a time: `run` on a workspace already running a pass (nested, or on another
/// thread) runs its body without the pool, so sharing a workspace is safe.
public final class TensorWorkspace: @unchecked Sendable {
    /// What one pass drew from the pool.
    public struct PassStatistics: Sendable, Equatable {
        /// Buffers the pass's kernels requested.
        public var buffers = 0
        /// Buffers that had to be allocated because no free one of their size was in the pool.
        public var allocations = 0
        /// Total size of the requested buffers in bytes.
        public var bytes = 0

        public init(buffers: Int = 0, allocations: Int = 0, bytes: Int = 0) {
            self.buffers = buffers
            self.allocations = allocations
            self.bytes = bytes
        }
    }

    /// The workspace kernels draw from on this thread (bound by `run`).
    @TaskLocal static var active: TensorWorkspace?

    private let isRunning = Mutex(false)
    // Touched only by the thread that set `isRunning` (see `run`), or under the lock.
    private var buffersByCount: [Int: [[Float]]] = [:]
    /// Pass number in which each size was last requested.
    private var lastRequest: [Int: Int] = [:]
    private var passNumber = 0
    private var statistics = PassStatistics()
    private var completedPass = PassStatistics()

    public init() {}

    /// Statistics of the last pass that ran with the pool.
    public var lastPass: PassStatistics {
        isRunning.withLock { _ in completedPass }
    }

    /// Bytes of storage the pool holds (free or in use by live tensors).
    public var retainedBytes: Int {
        isRunning.withLock { running in
            precondition(!running, "TensorWorkspace.retainedBytes: a pass is running")
            return buffersByCount.reduce(0) { $0 + $1.key * $1.value.count } * MemoryLayout<Float>.stride
        }
    }

    /// Runs `body` as one pass whose kernels draw their outputs from the pool. Runs `body`
    /// without the pool if the workspace is busy with another pass.
    public func run<Result>(_ body: () throws -> Result) rethrows -> Result {
        let acquired = isRunning.withLock { running in
            if running { return false }
            running = true
            return true
        }
        guard acquired else { return try TensorWorkspace.$active.withValue(nil, operation: body) }
        statistics = PassStatistics()
        passNumber += 1
        defer {
            dropFreeBuffersOfUnusedSizes()
            isRunning.withLock { running in
                completedPass = statistics
                running = false
            }
        }
        return try TensorWorkspace.$active.withValue(self, operation: body)
    }

    /// Drops every buffer of the pool (memory is returned once no tensor refers to it).
    public func releaseBuffers() {
        isRunning.withLock { running in
            precondition(!running, "TensorWorkspace.releaseBuffers: a pass is running")
            buffersByCount = [:]
        }
    }

    /// How many consecutive passes may leave a size unrequested before its free buffers go.
    public static let idlePassesBeforeDropping = 8

    /// Forgets the free buffers of sizes not requested for `idlePassesBeforeDropping` passes;
    /// buffers still held by tensors stay, to be reused once free.
    private func dropFreeBuffersOfUnusedSizes() {
        for count in Array(buffersByCount.keys)
        where passNumber - lastRequest[count, default: passNumber] >= Self.idlePassesBeforeDropping {
            var buffers = buffersByCount.removeValue(forKey: count)!
            var held: [[Float]] = []
            for index in buffers.indices where !buffers[index].isEmpty && !isSoleReference(&buffers[index]) {
                held.append(buffers[index])
            }
            if held.isEmpty {
                lastRequest[count] = nil
            } else {
                buffersByCount[count] = held
            }
        }
    }

    /// A free buffer of `count` scalars moved out of the pool (its place left empty until
    /// `giveBack`), or a new one with a fresh place. Contents are unspecified.
    fileprivate func take(count: Int) -> (index: Int, scalars: [Float]) {
        statistics.buffers += 1
        statistics.bytes += count * MemoryLayout<Float>.stride
        lastRequest[count] = passNumber
        var candidates = buffersByCount.removeValue(forKey: count) ?? []
        defer { buffersByCount[count] = candidates }
        for index in candidates.indices where isSoleReference(&candidates[index]) {
            var scalars: [Float] = []
            swap(&scalars, &candidates[index])
            return (index, scalars)
        }
        statistics.allocations += 1
        candidates.append([])
        return (candidates.count - 1, uninitializedScalars(count))
    }

    /// Returns a filled buffer to its place in the pool (the pool keeps a reference).
    fileprivate func giveBack(_ scalars: [Float], index: Int) {
        buffersByCount[scalars.count]![index] = scalars
    }
}

/// A tensor of `shape` from the active workspace (if any) after `fill` has written it.
/// `fill` receives a tensor of that shape with unspecified contents and must overwrite every
/// element; it may call kernels that take workspace buffers themselves.
@inline(__always)
func reusableTensor(_ shape: [Int], _ fill: (inout Tensor) -> Void) -> Tensor {
    let count = elementCount(shape)
    guard count > 0, let workspace = TensorWorkspace.active else {
        var tensor = Tensor(shape: shape, scalars: uninitializedScalars(count))
        fill(&tensor)
        return tensor
    }
    let (index, scalars) = workspace.take(count: count)
    var tensor = Tensor(shape: shape, scalars: consume scalars)
    fill(&tensor)
    workspace.giveBack(tensor.scalars, index: index)
    return tensor
}

/// `count` scalars from the active workspace (if any) after `fill` has written every one of them.
@inline(__always)
func reusableScalars(_ count: Int, _ fill: (UnsafeMutableBufferPointer<Float>) -> Void) -> [Float] {
    reusableTensor([count]) { tensor in
        tensor.scalars.withUnsafeMutableBufferPointer { fill($0) }
    }.scalars
}

/// Runs `body` on `count` scalars of scratch memory with unspecified contents, taken from the
/// active workspace (if any) and free again when `body` returns. The pointer must not escape.
@inline(__always)
func withScratchBuffer<Result>(_ count: Int, _ body: (UnsafeMutableBufferPointer<Float>) -> Result) -> Result {
    var result: Result?
    // One element at least, so that the base address exists even for an empty request.
    _ = reusableTensor([Swift.max(count, 1)]) { scratch in
        scratch.scalars.withUnsafeMutableBufferPointer { buffer in
            result = body(UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
        }
    }
    return result!
}

/// An array of `count` scalars whose contents are unspecified.
func uninitializedScalars(_ count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}

/// Whether `scalars` holds the only reference to its (non-empty) storage, so that no tensor
/// sees it any more. An `Array` is a single reference to its storage object; this looks at
/// that object's reference count without copying (`scalars` is unchanged on return).
func isSoleReference(_ scalars: inout [Float]) -> Bool {
    guard !scalars.isEmpty else { return false }
    var moved: [Float] = []
    swap(&moved, &scalars)
    var storage = unsafeBitCast(consume moved, to: AnyObject.self)
    let isSole = isKnownUniquelyReferenced(&storage)
    scalars = unsafeBitCast(consume storage, to: [Float].self)
    return isSole
}
