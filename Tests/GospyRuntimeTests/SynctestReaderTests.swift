import GospyBinary
import GospyMemory
import Testing
@testable import GospyRuntime

/// A goroutine's synctest bubble read from memory laid out as each release's tables say.
@Suite struct SynctestReaderTests {
    static func words(_ values: UInt64...) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    }

    static func bubbled(_ bubble: UInt64) -> Goroutine {
        var g = SyntheticProgram.goroutine()
        g.bubble = bubble
        return g
    }

    static func reader(_ release: String, _ memory: BufferMemoryReader) throws -> SynctestReader {
        let parts = release.split(separator: ".").compactMap { Int($0) }
        return SynctestReader(version: GoVersion(major: parts[0], minor: parts[1]),
                              layout: try #require(RuntimeLayout.builtin(release: release)), memory: memory)
    }

    @Test(arguments: ["1.25", "1.26", "1.27"])
    func bubbleIDFromTheBubble(release: String) throws {
        let layout = try #require(RuntimeLayout.builtin(release: release))
        let idOffset = try layout.offset("runtime.synctestBubble", "id")
        let bubble: UInt64 = 0xc000_5000
        var bytes = [UInt8](repeating: 0xee, count: try layout.size(of: "runtime.synctestBubble"))
        bytes.replaceSubrange(idOffset..<idOffset + 8, with: Self.words(42))
        let reader = try Self.reader(release, BufferMemoryReader(address: bubble, bytes: bytes))
        #expect(reader.membership(of: Self.bubbled(bubble)) == .bubble(id: 42))
        #expect(reader.membership(of: Self.bubbled(0)) == nil)
        // A pointer into nothing readable: still in a bubble, its id unknown.
        #expect(reader.membership(of: Self.bubbled(0xdead_0000)) == .unreadable)
    }

    @Test func go124NamesTheGroupByItsRootGoroutine() throws {
        let layout = try #require(RuntimeLayout.builtin(release: "1.24"))
        let rootOffset = try layout.offset("runtime.synctestGroup", "root")
        let goidOffset = try layout.offset("runtime.g", "goid")
        let group: UInt64 = 0xc000_6000, root: UInt64 = 0xc000_7000
        var memory = BufferMemoryReader()
        var groupBytes = [UInt8](repeating: 0, count: try layout.size(of: "runtime.synctestGroup"))
        groupBytes.replaceSubrange(rootOffset..<rootOffset + 8, with: Self.words(root))
        memory.add(address: group, bytes: groupBytes)
        var gBytes = [UInt8](repeating: 0, count: try layout.size(of: "runtime.g"))
        gBytes.replaceSubrange(goidOffset..<goidOffset + 8, with: Self.words(18))
        memory.add(address: root, bytes: gBytes)
        #expect(try Self.reader("1.24", memory).membership(of: Self.bubbled(group)) == .group(rootID: 18))
        // A group whose root is nil or unreadable.
        var broken = BufferMemoryReader()
        broken.add(address: group, bytes: [UInt8](repeating: 0, count: groupBytes.count))
        #expect(try Self.reader("1.24", broken).membership(of: Self.bubbled(group)) == .unreadable)
    }

    @Test func layoutsHaveTheBubbleFromGo124() throws {
        for release in RuntimeLayout.builtinReleases {
            let g = try #require(RuntimeLayout.builtin(release: release)).g
            let minor = Int(release.split(separator: ".")[1]) ?? 0
            #expect((g.bubble != nil) == (minor >= 24), "Go \(release)")
        }
    }
}
