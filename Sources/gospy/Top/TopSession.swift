import FoundationEssentials
import GospyInspector
import GospyProcess
import GospyRuntime

/// One `gospy top` run: snapshots on a timer, keys, and drawing.
final class TopSession {
    let command: TopCommand
    let inspector: Inspector
    let model: TopModel
    var sort = TopModel.Sort.count
    var filter = ""
    var editingFilter: String?
    var paused = false
    var showHelp = false
    var lastCapture: Inspector.Capture?
    var lastError: String?
    let groupings: [TopModel.Grouping]

    init(command: TopCommand, inspector: Inspector) {
        self.command = command
        self.inspector = inspector
        let initial = TopModel.Grouping(parsing: command.groupBy) ?? .function
        model = TopModel(grouping: initial)
        var cycle: [TopModel.Grouping] = [.function, .stack, .state, .object]
        if case .label = initial { cycle.append(initial) }
        groupings = cycle
    }

    /// Stacks are walked only when a group names a stack's frame or the stack itself.
    var needsStacks: Bool { command.pc == .user || command.pc == .userCode || model.grouping == .stack }

    /// Takes a snapshot and feeds the model. A failure is kept for the header and retried at
    /// the next refresh, unless the target is gone.
    func refresh() throws {
        do {
            let capture = try inspector.capture(blocking: !command.process.nonBlocking, stacks: needsStacks, incremental: true)
            model.update(samples(capture))
            lastCapture = capture
            lastError = nil
        } catch {
            if !inspector.procfs.exists { throw ProcessError.exited(pid: inspector.pid, during: "watching it") }
            if let error = error as? ProcessError, case .exited = error { throw error }
            lastError = Diagnosis.describe(error).message
        }
    }

    func samples(_ capture: Inspector.Capture) -> [TopModel.Sample] {
        let image = inspector.image
        let symbolizer = inspector.symbolizer
        let kind = command.pc
        let locate = { (goroutine: Goroutine, index: Int) in
            GoroutineLocation.locate(goroutine, index: index, capture: capture, image: image, symbolizer: symbolizer, kind: kind)
        }
        let snapshot = capture.snapshot
        var labelReader: LabelReader?
        if case .label = model.grouping { labelReader = LabelReader(image: image, memory: inspector.memory) }
        // Wait objects only when grouped by them (read after the capture, while the target runs).
        let waits = model.grouping == .object ? try? inspector.readWaits(snapshot, stacks: capture.stacks) : nil
        func objectKey(_ goroutine: Goroutine) -> String {
            guard let waits, let object = waits.objects[goroutine.address] else {
                switch goroutine.status {
                case .waiting, .leaked, .syscall: return "(not read: \(goroutine.stateText))"
                default: return "(none: \(goroutine.stateText))"
                }
            }
            return WaitDescription(object, waits: waits).groupKey
        }
        var result: [TopModel.Sample] = []
        result.reserveCapacity(snapshot.goroutines.count)
        // A million goroutines share a few hundred stacks and start functions: name each once.
        var names: [RuntimeImage.Location: String] = [:]
        var byStack: [StackPCs: (name: String, stack: [String])] = [:]
        func describe(_ location: RuntimeImage.Location?) -> String {
            guard let location else { return "?" }
            return names.value(for: location) {
                "\(location.function) (\(location.file.split(separator: "/").last.map(String.init) ?? location.file):\(location.line))"
            }
        }
        let perStack = needsStacks
        // Read once: an option's property wrapper costs a lookup of generic metadata per access.
        let showSystem = command.systemGoroutines.included
        let grouping = model.grouping
        for (index, goroutine) in snapshot.goroutines.enumerated() {
            if !showSystem && image.isSystemGoroutine(goroutine) { continue }
            let name: String, stack: [String]
            if perStack, let stacks = capture.stacks, index < stacks.count {
                (name, stack) = byStack.value(for: StackPCs(frames: stacks[index].frames)) {
                    (describe(locate(goroutine, index)),
                     grouping == .stack ? symbolizer.traceback(stacks[index]).frames.map(\.function) : [])
                }
            } else {
                (name, stack) = (describe(locate(goroutine, index)), [])
            }
            var labels: [String: String] = [:]
            var labelsUnreadable = false
            if let labelReader {
                let read = labelReader.read(of: goroutine)
                for pair in read.text { labels[pair.key] = pair.value }
                labelsUnreadable = read.unreadable != nil
            }
            let waited = goroutine.waitSince != 0 && (goroutine.status == .waiting || goroutine.status == .syscall)
                ? Double(snapshot.monotonicNow &- goroutine.waitSince) / 1e9 : nil
            result.append(TopModel.Sample(id: goroutine.id, state: goroutine.stateText, runtimeWaitSeconds: waited,
                                          location: name, stack: stack, labels: labels,
                                          object: grouping == .object ? objectKey(goroutine) : "",
                                          labelsUnreadable: labelsUnreadable))
        }
        return result
    }

    func status() -> TopView.Status {
        return TopView.Status(
            pid: inspector.pid, binary: inspector.executableName, goVersion: inspector.image.executable.buildInfo.goVersion,
            uptime: inspector.procfs.uptime(), gomaxprocs: lastCapture?.snapshot.gomaxprocs ?? 0,
            goroutineCounts: lastCapture?.snapshot.goroutineCountsByStatus ?? [:], total: lastCapture?.snapshot.goroutines.count ?? 0,
            threads: lastCapture?.threadStates ?? [:], snapshotSeconds: lastCapture?.elapsedSeconds,
            stoppedSeconds: lastCapture?.stoppedSeconds, interval: command.interval, paused: paused,
            grouping: model.grouping.description, sort: sort, filter: editingFilter.map { $0 + "_" } ?? filter,
            error: lastError, unreadable: lastCapture?.snapshot.unreadableGoroutines ?? 0,
            heap: lastCapture?.snapshot.heap.map(HeapReport.init))
    }

    func lines(style: TerminalStyle, limit: Int?) -> [String] {
        var lines = TopView.header(status(), style: style)
        if showHelp { lines += [""] + TopView.help }
        lines.append("")
        lines.append(TopView.columns(style: style))
        let rows = model.view(sort: sort, filter: filter)
        let shown = limit.map { Array(rows.prefix(max(0, $0 - lines.count))) } ?? rows
        lines += shown.map { TopView.row($0, style: style) }
        return lines
    }

    func runPlain() throws {
        let style = TerminalStyle(enabled: false)
        var count = 0
        while true {
            let started = Date()
            try refresh()
            count += 1
            Output.write(lines(style: style, limit: nil).joined(separator: "\n") + "\n\n")
            if let iterations = command.iterations, count >= iterations { return }
            // Refreshes start every interval, whatever a snapshot costs.
            OSThread.sleep(seconds: command.interval - Date().timeIntervalSince(started))
        }
    }

    func runFullScreen() throws {
        let terminal = Terminal()
        terminal.enter()
        defer { terminal.restore() }
        let style = TerminalStyle(enabled: !command.color.noColor)
        var nextRefresh = Date()
        var lastSize = terminal.size()
        var refreshes = 0
        var dirty = true
        while true {
            if !paused && Date() >= nextRefresh {
                let started = Date()
                try refresh()
                refreshes += 1
                nextRefresh = started.addingTimeInterval(command.interval)
                dirty = true
                if let iterations = command.iterations, refreshes > iterations { return }
            }
            let size = terminal.size()
            if size != lastSize {
                lastSize = size
                dirty = true
            }
            if dirty {
                terminal.draw(lines(style: style, limit: size.rows))
                dirty = false
            }
            let wait = paused ? 0.1 : min(0.1, max(0, nextRefresh.timeIntervalSinceNow))
            let keys = terminal.readKeys(timeout: Int32(wait * 1000))
            for key in keys {
                if handle(key) == .quit { return }
                dirty = true
            }
        }
    }

    enum KeyResult { case handled, quit }

    func handle(_ key: UInt8) -> KeyResult {
        if var text = editingFilter {
            switch key {
            case 0x0d, 0x0a:
                filter = text
                editingFilter = nil
            case 0x1b:
                filter = ""
                editingFilter = nil
            case 0x7f, 0x08:
                if !text.isEmpty { text.removeLast() }
                editingFilter = text
            default:
                if key >= 0x20 && key < 0x7f { text.append(Character(UnicodeScalar(key))) }
                editingFilter = text
            }
            return .handled
        }
        switch Character(UnicodeScalar(key)) {
        case "q", "\u{03}": return .quit
        case "c": sort = .count
        case "d": sort = .change
        case "w": sort = .wait
        case "n": sort = .name
        case "/": editingFilter = ""
        case "p": paused.toggle()
        case "r": model.resetBaseline()
        case "?", "h": showHelp.toggle()
        case "g":
            let index = groupings.firstIndex(of: model.grouping) ?? -1
            model.setGrouping(groupings[(index + 1) % groupings.count])
            if let capture = lastCapture, capture.stacks != nil || model.grouping != .stack { model.update(samples(capture)) }
        default: break
        }
        return .handled
    }
}
