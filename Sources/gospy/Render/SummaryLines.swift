import GospyInspector
import GospyRuntime

/// summary's goroutine lines, made one at a time from the snapshot as they are written: the
/// same fields the JSON shows, without a record per goroutine.
struct SummaryLines {
    let inspector: Inspector
    let capture: Inspector.Capture
    let locationKind: LocationKind
    let showSystem: Bool

    /// Writes every shown goroutine's line. The location and creator texts are made once per
    /// distinct stack and go statement (a million goroutines share a few hundred), and each
    /// line is appended piece by piece: no string per goroutine.
    func write(style: TerminalStyle, to output: inout BufferedOutput) {
        let snapshot = capture.snapshot
        let image = inspector.image
        let symbolizer = inspector.symbolizer
        var machineIDs: [UInt64: Int64] = [:]
        for machine in snapshot.machines { machineIDs[machine.address] = machine.id }
        let byStack = (locationKind == .user || locationKind == .userCode) && capture.stacks != nil
        var locationTexts: [TracebackIdentity: String] = [:]
        var creators: [UInt64: String?] = [:]
        for (index, goroutine) in snapshot.goroutines.enumerated() {
            guard showSystem || !image.isSystemGoroutine(goroutine) else { continue }
            let locate = {
                Self.locationText(GoroutineLocation.locate(goroutine, index: index, capture: capture, image: image,
                                                           symbolizer: symbolizer, kind: locationKind))
            }
            let location: String
            if byStack, let stacks = capture.stacks, index < stacks.count {
                location = locationTexts.value(for: TracebackIdentity(frames: stacks[index].frames), orMake: locate)
            } else {
                location = locate()
            }
            // "created by" depends on the go statement's PC alone, except for goroutine 1.
            let creatorName = { symbolizer.createdBy(goroutine)?.function }
            let creator = goroutine.id == 1 ? creatorName() : creators.value(for: goroutine.creatorPC, orMake: creatorName)
            Self.write(id: goroutine.id, m: goroutine.m == 0 ? nil : machineIDs[goroutine.m], state: goroutine.stateText,
                       waitMinutes: goroutine.waitMinutes(now: snapshot.monotonicNow), locked: goroutine.lockedToThread,
                       status: goroutine.status.name, location: location, creator: creator, parentID: goroutine.parentID,
                       style: style, to: &output)
        }
    }

    /// "  function (file:line)", or nothing.
    static func locationText(_ location: RuntimeImage.Location?) -> String {
        location.map { "  \($0.function) (\($0.file):\($0.line))" } ?? ""
    }

    /// One goroutine's line.
    static func write(id: UInt64, m: Int64?, state: String, waitMinutes: Int?, locked: Bool, status: String,
                      location: String, creator: String?, parentID: UInt64?, style: TerminalStyle, to output: inout BufferedOutput) {
        output.append(String(id))
        if let m {
            output.append(" M")
            output.append(String(m))
        }
        var state = state
        if let waitMinutes { state += ", \(waitMinutes) minutes" }
        if locked { state += ", locked to thread" }
        output.append(" ")
        if style.enabled {
            output.append(style.state("[\(state)]", status: status))
        } else {
            output.append("[")
            output.append(state)
            output.append("]")
        }
        output.append(location)
        if let creator {
            let parent = parentID.map { " in goroutine \($0)" } ?? ""
            if style.enabled {
                output.append(style.dim("  created by \(creator)" + parent))
            } else {
                output.append("  created by ")
                output.append(creator)
                output.append(parent)
            }
        }
        output.append("\n")
    }
}
