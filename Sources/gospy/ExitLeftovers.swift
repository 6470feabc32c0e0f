/// Values a command leaves for the process's exit to free: a snapshot's goroutines and walked
/// stacks are a few hundred thousand allocations, and freeing them one by one after the output
/// is written only delays the exit (the kernel takes the memory back at once).
enum ExitLeftovers {
    /// Held until the process exits; never read.
    nonisolated(unsafe) private static var kept: [Any] = []

    static func keep(_ value: Any) {
        kept.append(value)
    }
}
