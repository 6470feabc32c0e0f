import GospyInspector
import GospyRuntime

/// The location that labels a goroutine for `--pc`, shared by summary and top.
enum GoroutineLocation {
    static func locate(_ goroutine: Goroutine, index: Int, capture: Inspector.Capture, image: RuntimeImage, symbolizer: Symbolizer,
                       kind: LocationKind) -> RuntimeImage.Location? {
        switch kind {
        case .user:
            guard let stacks = capture.stacks, index < stacks.count,
                  let frame = symbolizer.traceback(stacks[index]).frames.first else { return nil }
            return frame.location
        case .userCode:
            guard let stacks = capture.stacks, index < stacks.count else { return nil }
            let frames = symbolizer.traceback(stacks[index]).frames
            return (frames.first(where: { image.programCode.isProgram(function: $0.function) }) ?? frames.first)?.location
        case .start:
            return image.startFunction(at: goroutine.startPC)
        case .caller, .current:
            guard let pc = locationPC(of: goroutine, kind: kind, symbolizer: symbolizer), pc != 0 else { return nil }
            return image.location(at: pc, returnAddress: true)
        }
    }

    /// The one PC a location of `kind` depends on (start, caller, current): goroutines with the
    /// same one have the same location. nil for the kinds read from the stack.
    static func locationPC(of goroutine: Goroutine, kind: LocationKind, symbolizer: Symbolizer) -> UInt64? {
        switch kind {
        case .user, .userCode:
            return nil
        case .start:
            return goroutine.startPC
        case .caller:
            return goroutine.creatorPC
        case .current:
            let inSyscall = symbolizer.isInSyscall(status: goroutine.status, syscallSP: goroutine.syscallSP)
            return inSyscall ? goroutine.syscallPC : goroutine.schedPC
        }
    }
}
