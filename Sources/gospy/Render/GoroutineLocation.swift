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
        case .caller:
            return goroutine.creatorPC == 0 ? nil : image.location(at: goroutine.creatorPC, returnAddress: true)
        case .current:
            let inSyscall = symbolizer.isInSyscall(status: goroutine.status, syscallSP: goroutine.syscallSP)
            let pc = inSyscall ? goroutine.syscallPC : goroutine.schedPC
            return pc == 0 ? nil : image.location(at: pc, returnAddress: true)
        }
    }
}
