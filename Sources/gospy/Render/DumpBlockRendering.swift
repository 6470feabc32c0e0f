import Dispatch
import GospyInspector
import GospyProcess
import GospyRuntime
import Synchronization

/// A streamed traceback dump rendered on several threads: the goroutines, in the runtime's
/// order, cut into blocks; worker threads take the next block as they finish one, while the
/// calling thread writes finished blocks in order. Rendering (argument texts, frames) is most of
/// a large dump's time after the capture, and each goroutine's text depends on it alone; the
/// writes overlap the rendering, and no thread waits for a whole wave to finish. Memory stays
/// bounded by a window of blocks, whose buffers are reused.
enum DumpBlockRendering {
    /// Goroutines per block.
    static let blockSize = 2_048
    /// Threads rendering at once at most.
    static let maxThreads = 4
    /// Blocks rendered ahead of the writer per rendering thread at most.
    static let blocksAheadPerThread = 2

    /// Renders every item in the traceback format with `style` and hands the text to `sink` in
    /// order, a blank line between goroutines. Returns how many were written.
    static func render(inspector: Inspector, capture: Inspector.Capture, all: Bool, runtimeFrames: Bool,
                       style: TracebackHeaderStyle, sink: (ArraySlice<UInt8>) -> Void) -> Int {
        let first = DumpAssembly.ItemMaker(inspector: inspector, capture: capture, all: all, runtimeFrames: runtimeFrames)
        let order = first.order
        let blocks = (order.count + blockSize - 1) / blockSize
        let workers = max(1, min(maxThreads, SnapshotReader.processors, blocks / 2))
        let makers = [first] + (1..<workers).map { _ in
            DumpAssembly.ItemMaker(inspector: inspector, capture: capture, all: all, runtimeFrames: runtimeFrames, order: order,
                                   memory: inspector.memory.readerForAnotherThread())
        }
        let writers = makers.map { _ in TracebackRenderer.Writer(symbolizer: inspector.symbolizer, style: style) }
        /// Block `block`'s text into `text` (emptied first), each goroutine after a blank line;
        /// how many goroutines it holds.
        let renderBlock = { (worker: Int, block: Int, text: inout [UInt8]) -> Int in
            text.removeAll(keepingCapacity: true)
            var count = 0
            let start = block * blockSize
            // Once per block: a maker copied per goroutine retains all its tables each time.
            let maker = makers[worker]
            let writer = writers[worker]
            for position in start..<min(order.count, start + blockSize) {
                guard let (item, _) = maker.item(order[position]) else { continue }
                text.append(UInt8(ascii: "\n"))
                writer.render(item, into: &text)
                count += 1
            }
            return count
        }
        var written = 0
        func write(_ text: [UInt8], _ count: Int) {
            guard count > 0 else { return }
            // The very first goroutine's blank line is dropped.
            sink(written == 0 ? text.dropFirst() : text[...])
            written += count
        }
        if workers == 1 {
            var text: [UInt8] = []
            text.reserveCapacity(blockSize * 512)
            for block in 0..<blocks {
                let count = renderBlock(0, block, &text)
                write(text, count)
            }
            return written
        }
        let window = BlockWindow(blocks: blocks, slots: workers * blocksAheadPerThread)
        nonisolated(unsafe) let render = renderBlock
        for worker in 0..<workers {
            OSThread.start(name: "gospy-dump-\(worker)") {
                while let (block, slot) = window.take() {
                    window.fill(slot) { render(worker, block, &$0) }
                }
                window.workerDone()
            }
        }
        for block in 0..<blocks {
            window.withRendered(block, write)
        }
        window.waitForWorkers(workers)
        return written
    }

    /// The blocks being rendered: a ring of slots, each a block's text and count, that worker
    /// threads fill in block order and the writer empties in block order. A worker takes a
    /// block only when its slot is free, so at most `slots` blocks are held.
    final class BlockWindow: @unchecked Sendable {
        private let blocks: Int
        private let slotCount: Int
        private let next = Mutex(0)
        /// Free slots (a worker waits for one before taking a block).
        private let free: DispatchSemaphore
        /// Per slot: signalled when its block is rendered.
        private let ready: [DispatchSemaphore]
        private let finished = DispatchSemaphore(value: 0)
        /// Each slot is touched by one thread at a time (handed over through the semaphores).
        private let texts: UnsafeMutablePointer<[UInt8]>
        private let counts: UnsafeMutablePointer<Int>

        init(blocks: Int, slots: Int) {
            self.blocks = blocks
            slotCount = slots
            free = DispatchSemaphore(value: slots)
            ready = (0..<slots).map { _ in DispatchSemaphore(value: 0) }
            texts = .allocate(capacity: slots)
            texts.initialize(repeating: [], count: slots)
            counts = .allocate(capacity: slots)
            counts.initialize(repeating: 0, count: slots)
        }

        deinit {
            texts.deinitialize(count: slotCount)
            texts.deallocate()
            counts.deallocate()
        }

        /// The next block to render and its slot, once a slot is free; nil when none is left.
        func take() -> (block: Int, slot: Int)? {
            free.wait()
            let block = next.withLock { next in
                defer { next += 1 }
                return next
            }
            guard block < blocks else {
                free.signal()
                return nil
            }
            return (block, block % slotCount)
        }

        /// Renders a taken block into its slot with `body` (which returns its goroutine count).
        func fill(_ slot: Int, _ body: (inout [UInt8]) -> Int) {
            if texts[slot].capacity == 0 { texts[slot].reserveCapacity(DumpBlockRendering.blockSize * 512) }
            counts[slot] = body(&texts[slot])
            ready[slot].signal()
        }

        /// Waits for `block` (the next in order) to be rendered, hands it to `body`, and frees its slot.
        func withRendered(_ block: Int, _ body: ([UInt8], Int) -> Void) {
            let slot = block % slotCount
            ready[slot].wait()
            body(texts[slot], counts[slot])
            free.signal()
        }

        func workerDone() { finished.signal() }

        func waitForWorkers(_ count: Int) {
            for _ in 0..<count { finished.wait() }
        }
    }
}
