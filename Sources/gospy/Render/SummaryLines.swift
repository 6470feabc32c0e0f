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
        let stacks = byStack ? capture.stacks : nil
        // Looked up first, made only on a miss, without a closure per goroutine: one would copy
        // the image, the symbolizer and the goroutine into its context a million times.
        for (index, goroutine) in snapshot.goroutines.enumerated() {
            guard showSystem || !image.isSystemGoroutine(goroutine) else { continue }
            let location: String
            if let stacks, index < stacks.count {
                let identity = TracebackIdentity(frames: stacks[index].frames)
                if let known = locationTexts[identity] {
                    location = known
                } else {
                    location = locationText(of: goroutine, index: index, image: image, symbolizer: symbolizer)
                    locationTexts[identity] = location
                }
            } else {
                location = locationText(of: goroutine, index: index, image: image, symbolizer: symbolizer)
            }
            // "created by" depends on the go statement's PC alone, except for goroutine 1.
            let creator: String?
            if goroutine.id != 1, let known = creators[goroutine.creatorPC] {
                creator = known
            } else {
                creator = symbolizer.createdBy(goroutine)?.function
                if goroutine.id != 1 { creators[goroutine.creatorPC] = creator }
            }
            Self.write(id: goroutine.id, m: goroutine.m == 0 ? nil : machineIDs[goroutine.m], state: goroutine.stateText,
                       waitMinutes: goroutine.waitMinutes(now: snapshot.monotonicNow), locked: goroutine.lockedToThread,
                       status: goroutine.status.name, location: location, creator: creator, parentID: goroutine.parentID,
                       style: style, to: &output)
        }
    }

    private func locationText(of goroutine: Goroutine, index: Int, image: RuntimeImage, symbolizer: Symbolizer) -> String {
        Self.locationText(GoroutineLocation.locate(goroutine, index: index, capture: capture, image: image,
                                                   symbolizer: symbolizer, kind: locationKind))
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
            if style.enabled {
                let parent = parentID.map { " in goroutine \($0)" } ?? ""
                output.append(style.dim("  created by \(creator)" + parent))
            } else {
                output.append("  created by ")
                output.append(creator)
                if let parentID {
                    output.append(" in goroutine ")
                    output.append(String(parentID))
                }
            }
        }
        output.append("\n")
    }
}
