import Foundation
import GospyRuntime
import Testing
@testable import gospy

/// `dump --format json` and `summary --json` are written goroutine by goroutine, in blocks on several threads: the
/// document must be byte for byte the one encoding it whole gives (empty objects and arrays,
/// nested ones, strings that need escaping, block and thread boundaries included).
@Suite struct StreamedJSONDocumentTests {
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

    @Test(arguments: [0, 1, 2, StreamedJSONDocument.blockSize + 1, 3 * StreamedJSONDocument.blockSize + 5])
    func streamedEqualsTheWholeEncode(count: Int) throws {
        let items = Self.items(count)
        let labels = Self.labels(items)
        let whole = try DumpJSON(goVersion: "go1.27.3", items: items, labels: labels, runtimeFrames: false,
                                 symbolizer: UnreadableLabelsRenderingTests.symbolizer).json()
        let streamed = try Self.streamed(items, labels: labels)
        #expect(streamed == Array(whole.utf8), "\(count) goroutines: streamed \(streamed.count) bytes, whole \(whole.utf8.count)")
    }

    /// The array between other top-level keys (summary's document), objects with nested and
    /// empty members.
    struct Document: JSONOutput {
        struct Object: Encodable {
            let id: Int
            let tags: [String: String]
            let path: String?
            let list: [Int]
        }
        let alpha: String
        let goroutines: [Object]
        let zeta: [String: Int]
    }

    @Test(arguments: [0, 1, 5, 2 * StreamedJSONDocument.blockSize + 3])
    func arrayAmongOtherKeys(count: Int) throws {
        let objects = (0..<count).map {
            Document.Object(id: $0, tags: $0 % 2 == 0 ? [:] : ["k": "v/\($0)"], path: $0 % 3 == 0 ? nil : "a\"b\\c", list: $0 % 4 == 0 ? [] : [1, $0])
        }
        let whole = try Document(alpha: "x", goroutines: objects, zeta: ["one": 1, "empty": 0]).json()
        var streamed: [UInt8] = []
        try StreamedJSONDocument.write(Document(alpha: "x", goroutines: [], zeta: ["one": 1, "empty": 0]), arrayKey: "goroutines",
                                       count: count, makeWorker: { _ in () }, object: { _, index in objects[index] }) { streamed += $0 }
        #expect(streamed == Array(whole.utf8), "\(count) objects: streamed \(streamed.count) bytes, whole \(whole.utf8.count)")
    }
}
