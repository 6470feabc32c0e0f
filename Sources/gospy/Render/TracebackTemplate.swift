import GospyBinary
import GospyRuntime

/// One distinct stack's traceback text as the runtime prints it, the same for every goroutine
/// whose stack has these PCs, with holes for what differs between them: each physical frame's
/// arguments and, at GOTRACEBACK=system, its fp and sp. A dump of a million goroutines on a few
/// hundred stacks formats each function, file:line and +0x offset once per stack, not per
/// goroutine.
struct TracebackTemplate {
    enum Piece {
        /// Fixed text: a range of `text`.
        case text(Range<Int>)
        /// A physical frame's arguments (between the parentheses), or "..." when not read.
        case arguments(frame: Int)
        /// A physical frame's " fp=... sp=..." (GOTRACEBACK=system).
        case framePointers(frame: Int)
    }

    private(set) var text: [UInt8] = []
    private(set) var pieces: [Piece] = []
    /// Per physical frame: where its arguments are among the stack's words.
    let slots: [ArgumentSlot?]
    /// Per physical frame, with frame pointers shown: fp - sp (nil: unknown, printed as "?").
    let framePointerOffsets: [UInt64?]
    /// Where the fixed text not yet in a piece starts.
    private var pending = 0

    /// The text of `body`, the traceback of a stack with these `frames`.
    init(body: TracebackBody, frames: FrameList, symbolizer: Symbolizer, framePointers: Bool) {
        slots = symbolizer.argumentSlots(frames)
        framePointerOffsets = framePointers ? frames.map { symbolizer.framePointerOffset(of: $0) } : []
        for frame in body.frames { append(frame, framePointers: framePointers) }
        if let elided = body.elidedCount {
            append("...")
            ASCIINumbers.appendDecimal(UInt64(elided), to: &text)
            append(" frames elided...\n")
            for frame in body.tail { append(frame, framePointers: framePointers) }
        }
        if body.additionalElided { append("...additional frames elided...\n") }
        closeText()
    }

    /// The traceback of `stack` (one with the PCs this template was made for) appended to `out`.
    func write(_ stack: UnwoundStack, into out: inout [UInt8]) {
        // Through buffer pointers: no reference counting per piece, for every goroutine.
        text.withUnsafeBufferPointer { text in
            pieces.withUnsafeBufferPointer { pieces in
                for piece in pieces {
                    switch piece {
                    case let .text(range):
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: text[range]))
                    case let .arguments(index):
                        if !Symbolizer.appendArgumentText(of: stack, frame: index, slot: index < slots.count ? slots[index] : nil,
                                                          into: &out) {
                            out.append(contentsOf: "...".utf8)
                        }
                    case let .framePointers(index):
                        appendFramePointers(of: stack, frame: index, into: &out)
                    }
                }
            }
        }
    }

    /// " fp=0x... sp=0x..." for physical frame `index` of `stack`.
    private func appendFramePointers(of stack: UnwoundStack, frame index: Int, into out: inout [UInt8]) {
        guard index < stack.frames.count, index < framePointerOffsets.count else { return }
        let sp = stack.frames[index].sp
        out.append(contentsOf: " fp=".utf8)
        if let offset = framePointerOffsets[index] {
            out.append(contentsOf: "0x".utf8)
            ASCIINumbers.appendHex(sp &+ offset, to: &out)
        } else {
            out.append(UInt8(ascii: "?"))
        }
        out.append(contentsOf: " sp=0x".utf8)
        ASCIINumbers.appendHex(sp, to: &out)
    }

    /// One frame as runtime.traceback prints it: inlined calls print "(...)"; a physical frame
    /// its arguments and, past its entry, its +0x offset.
    private mutating func append(_ frame: LogicalFrame, framePointers: Bool) {
        append(frame.function)
        if frame.inlined {
            append("(...)\n\t")
            appendPosition(frame)
            append("\n")
            return
        }
        append("(")
        hole(.arguments(frame: frame.physicalIndex))
        append(")\n\t")
        appendPosition(frame)
        if frame.pc > frame.entry {
            append(" +0x")
            ASCIINumbers.appendHex(frame.offset, to: &text)
        }
        if framePointers {
            hole(.framePointers(frame: frame.physicalIndex))
            append(" pc=0x")
            ASCIINumbers.appendHex(frame.pc, to: &text)
        }
        append("\n")
    }

    private mutating func appendPosition(_ frame: LogicalFrame) {
        append(frame.file)
        append(":")
        ASCIINumbers.appendDecimal(Int64(frame.line), to: &text)
    }

    private mutating func append(_ string: String) {
        text.append(contentsOf: string.utf8)
    }

    private mutating func hole(_ piece: Piece) {
        closeText()
        pieces.append(piece)
    }

    private mutating func closeText() {
        if pending < text.count { pieces.append(.text(pending..<text.count)) }
        pending = text.count
    }
}
