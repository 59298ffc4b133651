// Timing helpers: a monotonic clock, medians, alternating comparisons and an optimisation barrier.

/// Keeps `value` alive so the optimiser cannot drop the work that produced it.
@inline(never) @_optimize(none)
func blackHole<T>(_ value: T) {}

/// Seconds taken by one call of `body` (monotonic clock).
func seconds(_ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    let elapsed = clock.measure(body)
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

/// The median of a non-empty sample.
func median(_ samples: [Double]) -> Double {
    let sorted = samples.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// Times two implementations of the same work, alternating them (A B, then B A, …) so that
/// drift in machine load falls on both equally. Each runs `warmup` untimed calls first.
/// - Returns: the per-call seconds of each, `repetitions` samples apiece.
func alternate(repetitions: Int, warmup: Int = 2, _ first: () -> Void, _ second: () -> Void) -> (first: [Double], second: [Double]) {
    for _ in 0..<warmup {
        first()
        second()
    }
    var firstTimes: [Double] = []
    var secondTimes: [Double] = []
    for repetition in 0..<repetitions {
        if repetition % 2 == 0 {
            firstTimes.append(seconds(first))
            secondTimes.append(seconds(second))
        } else {
            secondTimes.append(seconds(second))
            firstTimes.append(seconds(first))
        }
    }
    return (firstTimes, secondTimes)
}

/// Times one implementation: `warmup` untimed calls, then `repetitions` timed ones.
func repeatedly(repetitions: Int, warmup: Int = 2, _ body: () -> Void) -> [Double] {
    for _ in 0..<warmup { body() }
    return (0..<repetitions).map { _ in seconds(body) }
}

/// `text` padded with spaces on the right to `width` characters.
func left(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// `text` padded with spaces on the left to `width` characters.
func right(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}
