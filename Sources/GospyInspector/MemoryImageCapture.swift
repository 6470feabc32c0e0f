import GospyMemory
import GospyRuntime

extension Inspector {
    /// Stops the target, reads one whole snapshot through a recorder (allgs, every g, Ps, Ms,
    /// the scheduler, every used stack as an offline walk reads it, argument words, labels),
    /// resumes it, and returns the memory read: an image the snapshot decoder can be run over
    /// offline (the mutated-image test, the snapshot fuzz target).
    public func captureMemoryImage() throws -> BufferMemoryReader {
        let recorder = RecordingMemoryReader(memory)
        do {
            try stopper.whileStopped {
                let snapshot = try SnapshotReader(image: image, memory: recorder).read(consistent: true)
                let collector = StackCollector(symbolizer: symbolizer, memory: recorder)
                _ = collector.unwind(snapshot.goroutines, collector.capture(snapshot.goroutines.map(\.stackExtent)), arguments: true)
                let labels = LabelReader(image: image, memory: recorder)
                for goroutine in snapshot.goroutines { _ = labels.labels(of: goroutine) }
            }
        } catch {
            throw mapReadError(error, during: "capturing its memory")
        }
        return recorder.recorded()
    }
}
