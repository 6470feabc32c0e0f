import GospyBinary
import Testing
@testable import GospyRuntime

/// Struct layouts from a binary's DWARF are bounded before use: a damaged size or offset would
/// make every g read that many bytes (a million gs times a huge size).
@Suite struct LayoutBoundsTests {
    func g(size: Int, goidAt offset: Int) -> [String: DwarfStructType] {
        let member = DwarfMember(name: "goid", offset: offset, typeName: "uint64", typeSize: 8)
        return ["runtime.g": DwarfStructType(name: "runtime.g", size: size, members: [member], flattenedMembers: [member])]
    }

    @Test func keepsAPlausibleLayout() throws {
        let structs = try RuntimeLayout.bounded(g(size: 440, goidAt: 152), path: "/x")
        #expect(structs["runtime.g"]?.size == 440 && structs["runtime.g"]?.fields["goid"] == 152)
    }

    @Test func refusesAHugeStruct() {
        #expect(throws: LayoutError.self) { try RuntimeLayout.bounded(g(size: 1 << 40, goidAt: 152), path: "/x") }
        #expect(throws: LayoutError.self) { try RuntimeLayout.bounded(g(size: -8, goidAt: 0), path: "/x") }
    }

    @Test func refusesAFieldOutsideItsStruct() {
        #expect(throws: LayoutError.self) { try RuntimeLayout.bounded(g(size: 440, goidAt: 1 << 40), path: "/x") }
        #expect(throws: LayoutError.self) { try RuntimeLayout.bounded(g(size: 440, goidAt: -8), path: "/x") }
    }
}
