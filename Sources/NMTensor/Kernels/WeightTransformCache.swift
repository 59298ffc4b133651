import Foundation

/// Remembers what a convolution derives from its weight tensor — Winograd transforms (3×3 and
/// one-dimensional), packed GEMM operands — so that a layer whose weights do not change
/// (inference, explanation) derives each once. Thread-safe.
///
/// A cached value is reused while the weight passed in shares its storage with the one it was
/// computed from: the cache keeps that storage alive, so it can be neither freed nor modified in
/// place (a write to a shared array copies it first), and sharing storage therefore means equal
/// contents. Any change to the weights yields new storage and a recomputation.
/// Memory: each Winograd transform 4× the weight tensor, each packed matrix about 1×.
public final class WeightTransformCache: @unchecked Sendable {
    private let lock = NSLock()
    private var weight: Tensor?  // the storage every cached value was computed from
    private var winogradForward: WinogradFilter?
    private var winogradInputGradient: WinogradFilter?
    private var lineWinogradForward: LineWinogradFilter?
    private var lineWinogradInputGradient: LineWinogradFilter?
    private var packedForward: PackedMatrix?
    private var packedInputGradient: PackedMatrix?

    public init() {}

    /// `WinogradFilter(weight: weight, packed: packed)`, computed at most once per weight
    /// storage (`packed` applies when it is computed).
    /// - Parameter weight: `[K, C, 3, 3]`.
    public func winogradFilter(for weight: Tensor, packed: Bool = false) -> WinogradFilter {
        cached(\.winogradForward, for: weight) { WinogradFilter(weight: weight, packed: packed) }
    }

    /// `WinogradFilter(inputGradientOf: weight, packed: packed)`, computed at most once per weight
    /// storage (`packed` applies when it is computed).
    /// - Parameter weight: `[K, C, 3, 3]`.
    public func winogradInputGradientFilter(for weight: Tensor, packed: Bool = false) -> WinogradFilter {
        cached(\.winogradInputGradient, for: weight) { WinogradFilter(inputGradientOf: weight, packed: packed) }
    }

    /// `LineWinogradFilter(weight: weight, packed: packed)`, computed at most once per weight
    /// storage (`packed` applies when it is computed).
    /// - Parameter weight: `[K, C, r, 1]` or `[K, C, 1, r]`.
    public func lineWinogradFilter(for weight: Tensor, packed: Bool = false) -> LineWinogradFilter {
        cached(\.lineWinogradForward, for: weight) { LineWinogradFilter(weight: weight, packed: packed) }
    }

    /// `LineWinogradFilter(inputGradientOf: weight, packed: packed)`, computed at most once per
    /// weight storage (`packed` applies when it is computed).
    /// - Parameter weight: `[K, C, r, 1]` or `[K, C, 1, r]`.
    public func lineWinogradInputGradientFilter(for weight: Tensor, packed: Bool = false) -> LineWinogradFilter {
        cached(\.lineWinogradInputGradient, for: weight) { LineWinogradFilter(inputGradientOf: weight, packed: packed) }
    }

    /// The weight as the packed `[OC, C·KH·KW]` left operand of the forward GEMM.
    /// - Parameter weight: `[OC, C, KH, KW]` (one group).
    public func packedForward(for weight: Tensor) -> PackedMatrix {
        cached(\.packedForward, for: weight) {
            PackedMatrix(weight, rows: weight.shape[0], columns: weight.count / max(1, weight.shape[0]))
        }
    }

    /// The transposed weight as the packed `[C·KH·KW, OC]` left operand of the input-gradient GEMM.
    /// - Parameter weight: `[OC, C, KH, KW]` (one group).
    public func packedInputGradient(for weight: Tensor) -> PackedMatrix {
        cached(\.packedInputGradient, for: weight) {
            PackedMatrix(weight, rows: weight.count / max(1, weight.shape[0]), columns: weight.shape[0], transposed: true)
        }
    }

    /// The value in `slot`, made by `make` unless it was computed from `weight`'s storage.
    private func cached<Value>(
        _ slot: ReferenceWritableKeyPath<WeightTransformCache, Value?>, for weight: Tensor, make: () -> Value
    ) -> Value {
        lock.lock()
        defer { lock.unlock() }
        forgetUnless(weight)
        if let value = self[keyPath: slot] { return value }
        let value = make()
        self[keyPath: slot] = value
        return value
    }

    /// Drops the cached values unless `weight` shares the cached weight's storage.
    private func forgetUnless(_ weight: Tensor) {
        if let cached = self.weight, cached.shape == weight.shape, storageAddress(cached) == storageAddress(weight) { return }
        self.weight = weight
        winogradForward = nil
        winogradInputGradient = nil
        lineWinogradForward = nil
        lineWinogradInputGradient = nil
        packedForward = nil
        packedInputGradient = nil
    }

    private func storageAddress(_ tensor: Tensor) -> UInt {
        tensor.scalars.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
    }
}
