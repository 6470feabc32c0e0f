import Foundation
import GospyRuntime
import Testing
@testable import gospy

/// `dump --format json` is written goroutine by goroutine, in blocks on several threads: the
/// document must be byte for byte the one encoding it whole gives (empty objects and arrays,
/// nested ones, strings that need escaping, block and thread boundaries included).
@Suite struct StreamedDumpJSONTests {
    static func items(_ count: Int) -> [DumpedGoroutine] {
        let rendering = UnreadableLabelsRenderingTests()
        return (0..<count).map { index in
            rendering.item(id: UInt64(index + 1), labelsUnreadable: index % 7 == 3 ? "bad \"labels\"\n\\ at 0x1/2" : nil)
        }
    }

    static func labels(_ items: [DumpedGoroutine]) -> [UInt64: [(String, String)]] {
        var labels: [UInt64: [(String, String)]] = [:]
        for (index, item) in items.enumerated() where index % 3 == 0 {
            labels[item.goroutine.address] = [("request", "r\(index)"), ("path", "/api/v1/ü")]
        }
        return labels
    }

    static func streamed(_ items: [DumpedGoroutine], labels: [UInt64: [(String, String)]]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try DumpJSON.write(goVersion: "go1.27.3", items: items, labels: labels, runtimeFrames: false,
                           symbolizer: UnreadableLabelsRenderingTests.symbolizer) { bytes += $0 }
        return bytes
    }

    @Test(arguments: [0, 1, 2, DumpJSON.blockSize + 1, 3 * DumpJSON.blockSize + 5])
    func streamedEqualsTheWholeEncode(count: Int) throws {
        let items = Self.items(count)
        let labels = Self.labels(items)
        let whole = try DumpJSON(goVersion: "go1.27.3", items: items, labels: labels, runtimeFrames: false,
                                 symbolizer: UnreadableLabelsRenderingTests.symbolizer).json()
        let streamed = try Self.streamed(items, labels: labels)
        #expect(streamed == Array(whole.utf8), "\(count) goroutines: streamed \(streamed.count) bytes, whole \(whole.utf8.count)")
    }
}
