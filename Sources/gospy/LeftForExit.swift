/// Values a command leaves for the process's exit to free: a million goroutines' stacks and
/// records freed one allocation at a time take tens of milliseconds after the output is
/// written, where the exit returns the whole address space at once.
enum LeftForExit {
    nonisolated(unsafe) private static var values: [Any] = []

    /// Keeps `value` alive until the process exits. From the main thread only, at the end of a
    /// command's run: nothing is freed or reused after it.
    static func keep(_ value: Any) {
        values.append(value)
    }
}
