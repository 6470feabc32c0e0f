import Dispatch
import GospyProcess
import GospyRuntime
import Synchronization

/// Text made on several threads and handed on in order: items cut into blocks; worker threads
/// take the next block as they finish one, while the calling thread hands finished blocks to
/// the sink in order. Each item's text depends on it alone, so the output is the same as one
/// thread's; the sink's writes overlap the making, no thread waits for others to finish a
/// batch, and memory stays bounded by a window of blocks whose buffers are reused. Dump and
/// summary render this way.
enum OrderedBlockText {
    /// Threads making text at once at most.
    static let maxThreads = 4
    /// Blocks made ahead of the sink per thread at most.
    static let blocksAheadPerThread = 2

    /// Makes the text of items `0..<count`: `make(&worker, range, &text)` appends items `range`
    /// to a block's (emptied) buffer and returns how many it showed; `sink(text, shown)` gets
    /// each block's text in order (blocks that showed nothing are skipped). `makeWorker(thread)`
    /// makes each thread's worker: its own state (caches, a memory reader), never shared.
    /// `bytesPerItem` sizes the buffers.
    static func render<Worker>(count: Int, blockSize: Int, bytesPerItem: Int, makeWorker: (Int) -> Worker,
                               make: @escaping (inout Worker, Range<Int>, inout [UInt8]) -> Int,
                               sink: ([UInt8], Int) -> Void) {
        let blocks = (count + blockSize - 1) / blockSize
        let threads = max(1, min(maxThreads, SnapshotReader.processors, blocks / 2))
        var workers = (0..<threads).map(makeWorker)
        let makeBlock = { (worker: inout Worker, block: Int, text: inout [UInt8]) -> Int in
            text.removeAll(keepingCapacity: true)
            let start = block * blockSize
            return make(&worker, start..<min(count, start + blockSize), &text)
        }
        if threads == 1 {
            var text: [UInt8] = []
            text.reserveCapacity(blockSize * bytesPerItem)
            for block in 0..<blocks {
                let shown = makeBlock(&workers[0], block, &text)
                if shown > 0 { sink(text, shown) }
            }
            return
        }
        let window = BlockWindow(blocks: blocks, slots: threads * blocksAheadPerThread, reserve: blockSize * bytesPerItem)
        workers.withUnsafeMutableBufferPointer { workers in
            // Each thread touches only its own worker.
            nonisolated(unsafe) let (workers, makeBlock) = (workers, makeBlock)
            for thread in 0..<threads {
                OSThread.start(name: "gospy-text-\(thread)") {
                    while let (block, slot) = window.take() {
                        window.fill(slot) { makeBlock(&workers[thread], block, &$0) }
                    }
                    window.workerDone()
                }
            }
            for block in 0..<blocks {
                window.withRendered(block) { text, shown in
                    if shown > 0 { sink(text, shown) }
                }
            }
            window.waitForWorkers(threads)
        }
    }
}

/// The blocks being rendered: a ring of slots, each a block's text and count, that worker
/// threads fill in block order and the writer empties in block order. A worker takes a
/// block only when its slot is free, so at most `slots` blocks are held.
final class BlockWindow: @unchecked Sendable {
    private let blocks: Int
    private let slotCount: Int
    /// Bytes each slot's buffer starts with.
    private let reserve: Int
    private let next = Mutex(0)
    /// Free slots (a worker waits for one before taking a block).
    private let free: DispatchSemaphore
    /// Per slot: signalled when its block is rendered.
    private let ready: [DispatchSemaphore]
    private let finished = DispatchSemaphore(value: 0)
    /// Each slot is touched by one thread at a time (handed over through the semaphores).
    private let texts: UnsafeMutablePointer<[UInt8]>
    private let counts: UnsafeMutablePointer<Int>

    init(blocks: Int, slots: Int, reserve: Int) {
        self.blocks = blocks
        slotCount = slots
        self.reserve = reserve
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

    /// Makes a taken block into its slot with `body` (which returns how many items it showed).
    func fill(_ slot: Int, _ body: (inout [UInt8]) -> Int) {
        if texts[slot].capacity == 0 { texts[slot].reserveCapacity(reserve) }
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
