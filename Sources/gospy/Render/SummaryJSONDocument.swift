import GospyInspector
import GospyRuntime

/// `summary --json`: the report with every shown goroutine's object, the objects made and
/// written in blocks as they are made (`StreamedJSONDocument`), not held at once.
enum SummaryJSONDocument {
    static func write(_ report: SummaryReport, inspector: Inspector, capture: Inspector.Capture, locationKind: LocationKind,
                      showSystem: Bool, waits: Waits?, sink: (ArraySlice<UInt8>) -> Void) throws {
        let snapshot = capture.snapshot
        let image = inspector.image
        let symbolizer = inspector.symbolizer
        var machineIDs: [UInt64: Int64] = [:]
        for machine in snapshot.machines { machineIDs[machine.address] = machine.id }
        // Which goroutines are shown, and whether each is a system one, decided once here.
        let systemGoroutines = SystemGoroutines(image: image)
        var shown: [(index: Int, system: Bool)] = []
        for (index, goroutine) in snapshot.goroutines.enumerated() {
            let system = systemGoroutines.contains(goroutine)
            if showSystem || !system { shown.append((index, system)) }
        }
        try StreamedJSONDocument.write(report, arrayKey: "goroutines", count: shown.count, makeWorker: { _ in () }, object: { _, position in
            let (index, system) = shown[position]
            let goroutine = snapshot.goroutines[index]
            let location = GoroutineLocation.locate(goroutine, index: index, capture: capture, image: image, symbolizer: symbolizer,
                                                    kind: locationKind)
            let creator = symbolizer.createdBy(goroutine)
            return GoroutineJSON(
                shared: GoroutineHeaderJSON(goroutine, waitMinutes: goroutine.waitMinutes(now: snapshot.monotonicNow)),
                own: SummaryReport.GoroutineDetails(
                    m: goroutine.m == 0 ? nil : machineIDs[goroutine.m],
                    location: location.map { SourceLineJSON(function: $0.function, file: $0.file, line: $0.line) },
                    startFunction: image.startFunction(at: goroutine.startPC)?.function,
                    createdBy: creator.map { SourceLineJSON(function: $0.function, file: $0.file, line: $0.line) },
                    parentId: goroutine.parentID, system: system,
                    wait: waits.flatMap { waits in waits.objects[goroutine.address].map { WaitDescription($0, waits: waits) } }))
        }, sink: sink)
    }
}
