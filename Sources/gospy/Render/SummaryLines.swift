import GospyBinary
import GospyInspector
import GospyRuntime

/// summary's goroutine lines, made from the snapshot as they are written: the same fields the
/// JSON shows, without a record per goroutine. Made in blocks on several threads and written in
/// order (`OrderedBlockText`): a line depends on its goroutine alone.
struct SummaryLines {
    let inspector: Inspector
    let capture: Inspector.Capture
    let locationKind: LocationKind
    let showSystem: Bool

    /// Goroutines per block.
    static let blockSize = 2_048

    /// Writes every shown goroutine's line.
    func write(style: TerminalStyle, to output: inout BufferedOutput) {
        var machineIDs: [UInt64: Int64] = [:]
        for machine in capture.snapshot.machines { machineIDs[machine.address] = machine.id }
        OrderedBlockText.render(
            count: capture.snapshot.goroutines.count, blockSize: Self.blockSize, bytesPerItem: 160,
            makeWorker: { _ in LineMaker(lines: self, machineIDs: machineIDs, style: style) },
            make: { maker, indices, bytes in maker.append(indices, to: &bytes) },
            sink: { bytes, _ in output.append(bytes: bytes) })
    }

    /// One thread's lines, with its own tables of what it already made: nothing a line needs
    /// is looked up under a lock or counted by another thread.
    private struct LineMaker {
        let lines: SummaryLines
        let machineIDs: [UInt64: Int64]
        let style: TerminalStyle
        let image: RuntimeImage
        let symbolizer: Symbolizer
        let snapshot: RuntimeSnapshot
        /// The walked stacks when the location is read from them.
        let stacks: [UnwoundStack]?
        /// The texts made so far (locations, creators), end to end; the tables below hold
        /// where each is. A million goroutines share a few hundred stacks and go statements.
        var texts: [UInt8] = []
        /// Location text by stack.
        var locations: [TracebackIdentity: Range<Int>] = [:]
        /// The last few stacks looked up (goroutine indices) and their location texts: goroutines
        /// next to each other often share a stack, and comparing frames costs less than hashing.
        var recent: [(index: Int, text: Range<Int>)] = []
        var nextRecent = 0
        /// Location text by the PC it depends on, for the locations not read from stacks.
        var pcLocations: [UInt64: Range<Int>] = [:]
        /// "created by" function by go statement PC (nil: none shown).
        var creators: [UInt64: Range<Int>?] = [:]
        let system: SystemGoroutines

        init(lines: SummaryLines, machineIDs: [UInt64: Int64], style: TerminalStyle) {
            self.lines = lines
            self.machineIDs = machineIDs
            self.style = style
            image = lines.inspector.image
            symbolizer = lines.inspector.symbolizer
            snapshot = lines.capture.snapshot
            let byStack = lines.locationKind == .user || lines.locationKind == .userCode
            stacks = byStack ? lines.capture.stacks : nil
            system = SystemGoroutines(image: image)
        }

        /// Appends the lines of the shown goroutines among `indices`; returns how many. Each
        /// line is appended piece by piece: no string per goroutine.
        mutating func append(_ indices: Range<Int>, to bytes: inout [UInt8]) -> Int {
            var shown = 0
            for index in indices {
                let goroutine = snapshot.goroutines[index]
                guard lines.showSystem || !system.contains(goroutine) else { continue }
                // Looked up first, made only on a miss, without a closure per goroutine.
                var location: Range<Int>?
                var madeLocation = ""
                if let stacks, index < stacks.count {
                    let identity = TracebackIdentity(frames: stacks[index].frames)
                    if let known = recent.first(where: { TracebackIdentity(frames: stacks[$0.index].frames) == identity }) {
                        location = known.text
                    } else {
                        let text: Range<Int>
                        if let known = locations[identity] {
                            text = known
                        } else {
                            text = keep(locationText(of: goroutine, index: index))
                            locations[identity] = text
                        }
                        location = text
                        // Four kept, the oldest replaced.
                        if recent.count < 4 { recent.append((index, text)) } else { recent[nextRecent] = (index, text) }
                        nextRecent = (nextRecent + 1) % 4
                    }
                } else if let pc = GoroutineLocation.locationPC(of: goroutine, kind: lines.locationKind, symbolizer: symbolizer) {
                    if let known = pcLocations[pc] {
                        location = known
                    } else {
                        let text = keep(locationText(of: goroutine, index: index))
                        pcLocations[pc] = text
                        location = text
                    }
                } else {
                    madeLocation = locationText(of: goroutine, index: index)
                }
                // "created by" depends on the go statement's PC alone, except for goroutine 1.
                let creator: Range<Int>?
                if goroutine.id != 1, let known = creators[goroutine.creatorPC] {
                    creator = known
                } else {
                    creator = symbolizer.createdBy(goroutine).map { keep($0.function) }
                    if goroutine.id != 1 { creators[goroutine.creatorPC] = creator }
                }
                let line = SummaryLines.Line(
                    id: goroutine.id, m: goroutine.m == 0 ? nil : machineIDs[goroutine.m], state: goroutine.stateText,
                    waitMinutes: goroutine.waitMinutes(now: snapshot.monotonicNow), locked: goroutine.lockedToThread,
                    status: goroutine.status.name, parentID: goroutine.parentID)
                texts.withUnsafeBufferPointer { texts in
                    line.write(location: location.map { UnsafeBufferPointer(rebasing: texts[$0]) },
                               otherLocation: madeLocation, creator: creator.map { UnsafeBufferPointer(rebasing: texts[$0]) },
                               style: style, to: &bytes)
                }
                shown += 1
            }
            return shown
        }

        /// Adds `text` to `texts`; returns where it is.
        private mutating func keep(_ text: String) -> Range<Int> {
            let start = texts.count
            texts.append(contentsOf: text.utf8)
            return start..<texts.count
        }

        private func locationText(of goroutine: Goroutine, index: Int) -> String {
            SummaryLines.locationText(GoroutineLocation.locate(goroutine, index: index, capture: lines.capture, image: image,
                                                               symbolizer: symbolizer, kind: lines.locationKind))
        }
    }

    /// "  function (file:line)", or nothing.
    static func locationText(_ location: RuntimeImage.Location?) -> String {
        location.map { "  \($0.function) (\($0.file):\($0.line))" } ?? ""
    }

    /// One goroutine's line, but for its location and creator (texts shared by many lines).
    struct Line {
        let id: UInt64
        let m: Int64?
        let state: String
        let waitMinutes: Int?
        let locked: Bool
        let status: String
        let parentID: UInt64?

        /// Appends the line: `location` (a kept text) or else `otherLocation`, then "created by"
        /// `creator` when there is one.
        func write(location: UnsafeBufferPointer<UInt8>?, otherLocation: String, creator: UnsafeBufferPointer<UInt8>?,
                   style: TerminalStyle, to bytes: inout [UInt8]) {
            ASCIINumbers.appendDecimal(id, to: &bytes)
            if let m {
                bytes.append(contentsOf: " M".utf8)
                ASCIINumbers.appendDecimal(m, to: &bytes)
            }
            bytes.append(UInt8(ascii: " "))
            if style.enabled {
                var state = state
                if let waitMinutes { state += ", \(waitMinutes) minutes" }
                if locked { state += ", locked to thread" }
                bytes.append(contentsOf: style.state("[\(state)]", status: status).utf8)
            } else {
                bytes.append(UInt8(ascii: "["))
                bytes.append(contentsOf: state.utf8)
                if let waitMinutes {
                    bytes.append(contentsOf: ", ".utf8)
                    ASCIINumbers.appendDecimal(Int64(waitMinutes), to: &bytes)
                    bytes.append(contentsOf: " minutes".utf8)
                }
                if locked { bytes.append(contentsOf: ", locked to thread".utf8) }
                bytes.append(UInt8(ascii: "]"))
            }
            if let location {
                bytes.append(contentsOf: location)
            } else {
                bytes.append(contentsOf: otherLocation.utf8)
            }
            if let creator {
                if style.enabled {
                    let parent = parentID.map { " in goroutine \($0)" } ?? ""
                    bytes.append(contentsOf: style.dim("  created by \(String(decoding: creator, as: UTF8.self))" + parent).utf8)
                } else {
                    bytes.append(contentsOf: "  created by ".utf8)
                    bytes.append(contentsOf: creator)
                    if let parentID {
                        bytes.append(contentsOf: " in goroutine ".utf8)
                        ASCIINumbers.appendDecimal(parentID, to: &bytes)
                    }
                }
            }
            bytes.append(UInt8(ascii: "\n"))
        }
    }
}
