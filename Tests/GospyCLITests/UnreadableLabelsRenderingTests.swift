import Foundation
import GospyBinary
import GospyMemory
@testable import GospyRuntime
import GospyTestSupport
import Testing
@testable import gospy

/// A goroutine whose labels could not be read is marked in every dump format, never shown as a
/// goroutine without labels (MutatedImageTests damages a real image's labels; this is the
/// rendering of the mark).
@Suite struct UnreadableLabelsRenderingTests {
    static let symbolizer: Symbolizer = {
        var builder = PclntabBuilder(format: .go120)
        builder.functions = [.init(name: "main.main", size: 0x20, sp: [(0, 0x20)], file: [(0, 0x20)], line: [(10, 0x20)],
                                   funcID: 0, flag: 0)]
        let table = try! Pclntab(data: ByteView(bytes: builder.build().table, baseAddress: 0x50_0000), address: 0x50_0000,
                                 textStart: nil, gofunc: nil, reader: nil, path: "synthetic")
        return Symbolizer(pclntab: table, version: GoVersion(major: 1, minor: 22))
    }()

    func item(id: UInt64, labelsUnreadable: String?) -> DumpedGoroutine {
        let goroutine = Goroutine(
            address: 0xc000_2000 + id * 0x400, id: id, status: .waiting, scanning: false, waitReason: 1,
            waitReasonText: "chan receive", waitSince: 0, m: 0, lockedM: 0, startPC: 0, creatorPC: 0, parentID: nil,
            schedPC: 0, schedSP: 0, schedBP: 0, syscallPC: 0, syscallSP: 0, stackLo: 0, stackHi: 0, labels: 0xc001_0000)
        let stack = UnwoundStack(frames: [], end: .complete, origin: "sched")
        var item = DumpedGoroutine(goroutine: goroutine, stack: stack, body: Self.symbolizer.traceback(stack, showRuntime: false),
                                   createdBy: nil, waitMinutes: nil, system: false)
        item.labelsUnreadable = labelsUnreadable
        return item
    }

    static let reason = "labels at 0xc001_0000 claim 1099511627776 pairs (at most 256)"

    @Test func tracebackSaysSo() {
        let text = TracebackRenderer.render(item(id: 7, labelsUnreadable: Self.reason), symbolizer: Self.symbolizer)
        #expect(text.contains("\n...labels unreadable: \(Self.reason)\n"), "\(text)")
        #expect(!TracebackRenderer.render(item(id: 8, labelsUnreadable: nil), symbolizer: Self.symbolizer).contains("labels unreadable"))
    }

    @Test func jsonSaysSo() throws {
        let json = try DumpJSON(goVersion: "go1.22.0", items: [item(id: 7, labelsUnreadable: Self.reason), item(id: 8, labelsUnreadable: nil)],
                                labels: [:], runtimeFrames: false, symbolizer: Self.symbolizer).json()
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let goroutines = try #require(object?["goroutines"] as? [[String: Any]])
        #expect(goroutines.count == 2)
        #expect(goroutines[0]["labelsUnreadable"] as? String == Self.reason)
        #expect(goroutines[1]["labelsUnreadable"] == nil)
    }

    @Test func groupedKeepsThemApartAndSaysSo() {
        let text = GroupedRenderer.render([item(id: 7, labelsUnreadable: Self.reason), item(id: 8, labelsUnreadable: nil)],
                                          labels: [:], symbolizer: Self.symbolizer)
        #expect(text.contains("\n# labels unreadable\n"), "\(text)")
        #expect(text.components(separatedBy: "\n1 @").count - 1 == 2, "\(text)")
    }

    @Test func pprofCarriesTheMark() {
        let samples = PprofRenderer.samples([item(id: 7, labelsUnreadable: Self.reason), item(id: 8, labelsUnreadable: nil)],
                                            labels: [:], symbolizer: Self.symbolizer)
        #expect(samples[0].labels.contains { $0.key == "gospy.labels" && $0.value == "unreadable" }, "\(samples[0].labels)")
        #expect(samples[1].labels.isEmpty, "\(samples[1].labels)")
    }
}
