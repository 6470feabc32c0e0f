import CElfutils

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One member of a struct type read from DWARF.
///
/// In `DwarfStructType.flattenedMembers` the name is a dotted path ("sched.pc") and the offset
/// is from the start of the outermost struct.
public struct DwarfMember: Sendable, Hashable, CustomStringConvertible {
    /// The member's name, or a dotted path for members of nested structs.
    public let name: String
    /// Byte offset from the start of the struct (`DW_AT_data_member_location`).
    public let offset: Int
    /// The name of the member's type as DWARF gives it ("uintptr", "*runtime.g",
    /// "runtime/internal/atomic.Uint32"); nil when the type has no name.
    public let typeName: String?
    /// The size of the member's type in bytes, when DWARF says.
    public let typeSize: Int?

    public init(name: String, offset: Int, typeName: String?, typeSize: Int?) {
        self.name = name
        self.offset = offset
        self.typeName = typeName
        self.typeSize = typeSize
    }

    public var description: String {
        let size = typeSize.map { String($0) } ?? "?"
        return "\(name) @0x\(String(offset, radix: 16)) \(typeName ?? "<anonymous>") (\(size) bytes)"
    }
}

/// A struct type read from DWARF: its size and members.
public struct DwarfStructType: Sendable, Equatable {
    /// The type's name as Go writes it in DWARF ("runtime.g").
    public let name: String
    /// `DW_AT_byte_size`.
    public let size: Int
    /// Direct members, in declaration order.
    public let members: [DwarfMember]
    /// Direct members and, recursively, the members of members whose type is a struct, as dotted
    /// paths ("sched", "sched.sp", "sched.pc", ...), in declaration order (a struct member comes
    /// before its own members). Offsets are from the start of this struct.
    public let flattenedMembers: [DwarfMember]

    public init(name: String, size: Int, members: [DwarfMember], flattenedMembers: [DwarfMember]) {
        self.name = name
        self.size = size
        self.members = members
        self.flattenedMembers = flattenedMembers
    }

    /// The first member with this name or dotted path.
    public func member(_ path: String) -> DwarfMember? {
        flattenedMembers.first { $0.name == path }
    }
}

/// Why DWARF could not be read. Every case names the file; type-level cases name the type.
public enum DwarfError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened.
    case cannotOpen(path: String, errno: Int32)
    /// The file is not an ELF object.
    case notELF(path: String)
    /// The ELF headers or section table could not be read (truncated or damaged file).
    case badELF(path: String, reason: String)
    /// The file is ELF but has no DWARF (`.debug_info`): built with `-s -w`, or stripped.
    case noDWARF(path: String)
    /// DWARF sections exist but libdw could not decode them.
    case corrupt(path: String, reason: String)
    /// No struct type of this name in the DWARF.
    case typeNotFound(path: String, typeName: String)
    /// The type exists but its DIE is not usable (no size, a member without an offset, ...).
    case malformedType(path: String, typeName: String, reason: String)

    public var path: String {
        switch self {
        case let .cannotOpen(path, _), let .notELF(path), let .badELF(path, _), let .noDWARF(path),
             let .corrupt(path, _), let .typeNotFound(path, _), let .malformedType(path, _, _):
            return path
        }
    }

    public var description: String {
        switch self {
        case let .cannotOpen(path, code):
            return "\(path): cannot open: \(String(cString: strerror(code)))"
        case let .notELF(path):
            return "\(path): not an ELF file"
        case let .badELF(path, reason):
            return "\(path): damaged ELF file: \(reason)"
        case let .noDWARF(path):
            return "\(path): no DWARF debug information (built with -ldflags=-w or stripped)"
        case let .corrupt(path, reason):
            return "\(path): DWARF cannot be read: \(reason)"
        case let .typeNotFound(path, typeName):
            return "\(path): DWARF has no struct type \(typeName)"
        case let .malformedType(path, typeName, reason):
            return "\(path): DWARF type \(typeName) is malformed: \(reason)"
        }
    }
}

/// Reads struct types from an ELF file's DWARF with libdw.
///
/// Compressed debug sections (`SHF_COMPRESSED`, which Go's linker writes, and the older
/// `.zdebug_*`) are decompressed by libdw. Nothing here traps on bad input: every failure is a
/// `DwarfError`. Not thread-safe: use one reader per thread.
public final class DwarfTypeReader {
    /// The file this reader reads.
    public let path: String
    /// The names of the debug sections that were stored compressed in the file.
    let compressedSections: [String]

    private let fd: Int32
    private let elf: OpaquePointer
    private let dwarf: OpaquePointer
    /// Top-level DIE offsets of struct types (and typedefs of struct types) by name; built on
    /// first lookup.
    private var typeIndex: [String: Dwarf_Off]?

    /// How deep `flattenedMembers` goes into nested structs ("a.b.c.d" is depth 4).
    public static let defaultFlattenDepth = 4

    /// Opens `path` and its DWARF.
    public init(path: String) throws(DwarfError) {
        self.path = path
        _ = Self.libelfReady
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        // ELF_C_READ reads through the descriptor rather than mapping the file, so a file that
        // shrinks while we read it gives an error instead of SIGBUS.
        guard let elf = elf_begin(fd, ELF_C_READ, nil) else {
            let reason = Self.elfMessage()
            close(fd)
            throw .badELF(path: path, reason: reason)
        }
        guard elf_kind(elf) == ELF_K_ELF else {
            elf_end(elf)
            close(fd)
            throw .notELF(path: path)
        }
        let sections: (hasDebugInfo: Bool, compressed: [String])
        do {
            sections = try Self.scanSections(elf, path: path)
        } catch {
            elf_end(elf)
            close(fd)
            throw error
        }
        guard sections.hasDebugInfo else {
            elf_end(elf)
            close(fd)
            throw .noDWARF(path: path)
        }
        guard let dwarf = dwarf_begin_elf(elf, DWARF_C_READ, nil) else {
            let reason = Self.dwarfMessage()
            elf_end(elf)
            close(fd)
            throw .corrupt(path: path, reason: reason)
        }
        self.fd = fd
        self.elf = elf
        self.dwarf = dwarf
        self.compressedSections = sections.compressed
    }

    deinit {
        dwarf_end(dwarf)
        elf_end(elf)
        close(fd)
    }

    /// The struct type named `name` ("runtime.g").
    public func structType(
        named name: String, flattenDepth: Int = DwarfTypeReader.defaultFlattenDepth
    ) throws(DwarfError) -> DwarfStructType {
        guard let found = try lookupStruct(named: name, flattenDepth: flattenDepth) else {
            throw .typeNotFound(path: path, typeName: name)
        }
        return found
    }

    /// The struct types among `names` that exist; absent names are left out.
    public func structTypes(
        named names: some Sequence<String>, flattenDepth: Int = DwarfTypeReader.defaultFlattenDepth
    ) throws(DwarfError) -> [String: DwarfStructType] {
        var result: [String: DwarfStructType] = [:]
        for name in names where result[name] == nil {
            if let found = try lookupStruct(named: name, flattenDepth: flattenDepth) {
                result[name] = found
            }
        }
        return result
    }

    /// The names of all struct types (and typedefs of them), sorted; `prefix` ("runtime.")
    /// narrows them.
    func structTypeNames(withPrefix prefix: String = "") throws(DwarfError) -> [String] {
        try index().keys.filter { $0.hasPrefix(prefix) }.sorted()
    }

    // MARK: - Lookup

    private func lookupStruct(named name: String, flattenDepth: Int) throws(DwarfError) -> DwarfStructType? {
        guard let offset = try index()[name] else { return nil }
        var die = Dwarf_Die()
        guard dwarf_offdie(dwarf, offset, &die) != nil else {
            throw .corrupt(path: path, reason: "cannot reread DIE at 0x\(String(offset, radix: 16)) for \(name): \(Self.dwarfMessage())")
        }
        var structDie = Dwarf_Die()
        guard resolveTypedefs(&die, into: &structDie), dwarf_tag(&structDie) == Int32(DW_TAG_structure_type) else {
            return nil
        }
        guard let size = byteSize(&structDie) else {
            throw .malformedType(path: path, typeName: name, reason: "no DW_AT_byte_size")
        }
        let members = try directMembers(of: &structDie, typeName: name)
        var flattened: [DwarfMember] = []
        try flatten(structDie, typeName: name, prefix: "", base: 0, depth: 1, maxDepth: max(1, flattenDepth), into: &flattened)
        return DwarfStructType(name: name, size: size, members: members, flattenedMembers: flattened)
    }

    /// Indexes the named top-level struct and typedef DIEs of every compilation unit.
    private func index() throws(DwarfError) -> [String: Dwarf_Off] {
        if let typeIndex { return typeIndex }
        var result: [String: Dwarf_Off] = [:]
        var offset: Dwarf_Off = 0
        var unitCount = 0
        while true {
            var next: Dwarf_Off = 0
            var headerSize = 0
            let status = dwarf_nextcu(dwarf, offset, &next, &headerSize, nil, nil, nil)
            if status == 1 { break }
            guard status == 0 else {
                throw .corrupt(path: path, reason: "bad compilation unit header at 0x\(String(offset, radix: 16)): \(Self.dwarfMessage())")
            }
            guard next > offset else {
                throw .corrupt(path: path, reason: "compilation unit at 0x\(String(offset, radix: 16)) does not advance")
            }
            unitCount += 1
            var unit = Dwarf_Die()
            guard dwarf_offdie(dwarf, offset + Dwarf_Off(headerSize), &unit) != nil else {
                throw .corrupt(path: path, reason: "bad compilation unit DIE at 0x\(String(offset, radix: 16)): \(Self.dwarfMessage())")
            }
            var child = Dwarf_Die()
            var more = dwarf_child(&unit, &child)
            guard more >= 0 else {
                throw .corrupt(path: path, reason: "bad children of compilation unit at 0x\(String(offset, radix: 16)): \(Self.dwarfMessage())")
            }
            while more == 0 {
                let tag = dwarf_tag(&child)
                if tag == Int32(DW_TAG_structure_type) || tag == Int32(DW_TAG_typedef),
                   dwarf_hasattr(&child, UInt32(DW_AT_declaration)) == 0,
                   let cName = dwarf_diename(&child) {
                    let name = String(cString: cName)
                    // The first definition wins; a typedef counts only when it names a struct.
                    if result[name] == nil {
                        var resolved = Dwarf_Die()
                        if tag == Int32(DW_TAG_structure_type)
                            || (resolveTypedefs(&child, into: &resolved) && dwarf_tag(&resolved) == Int32(DW_TAG_structure_type)) {
                            result[name] = dwarf_dieoffset(&child)
                        }
                    }
                }
                var sibling = Dwarf_Die()
                more = dwarf_siblingof(&child, &sibling)
                guard more >= 0 else {
                    throw .corrupt(path: path, reason: "bad DIE chain in compilation unit at 0x\(String(offset, radix: 16)): \(Self.dwarfMessage())")
                }
                child = sibling
            }
            offset = next
        }
        guard unitCount > 0 else { throw .corrupt(path: path, reason: "no compilation units in .debug_info") }
        typeIndex = result
        return result
    }

    /// Follows typedef (and const/volatile) chains to the underlying type DIE.
    private func resolveTypedefs(_ die: inout Dwarf_Die, into result: inout Dwarf_Die) -> Bool {
        result = die
        for _ in 0..<16 {
            let tag = dwarf_tag(&result)
            guard tag == Int32(DW_TAG_typedef) || tag == Int32(DW_TAG_const_type) || tag == Int32(DW_TAG_volatile_type) else {
                return true
            }
            var attribute = Dwarf_Attribute()
            var target = Dwarf_Die()
            guard dwarf_attr(&result, UInt32(DW_AT_type), &attribute) != nil,
                  dwarf_formref_die(&attribute, &target) != nil else { return false }
            result = target
        }
        return false
    }

    private func directMembers(of structDie: inout Dwarf_Die, typeName: String) throws(DwarfError) -> [DwarfMember] {
        var members: [DwarfMember] = []
        try forEachMember(of: &structDie, typeName: typeName) { (member: DwarfMember, _: Dwarf_Die?) in
            members.append(member)
        }
        return members
    }

    private func flatten(
        _ structDie: Dwarf_Die, typeName: String, prefix: String, base: Int, depth: Int, maxDepth: Int,
        into result: inout [DwarfMember]
    ) throws(DwarfError) {
        var structDie = structDie
        var direct: [(DwarfMember, Dwarf_Die?)] = []
        try forEachMember(of: &structDie, typeName: typeName) { (member: DwarfMember, memberStruct: Dwarf_Die?) in
            direct.append((member, memberStruct))
        }
        for (member, memberStruct) in direct {
            let path = prefix.isEmpty ? member.name : prefix + "." + member.name
            let (offset, overflow) = base.addingReportingOverflow(member.offset)
            guard !overflow else {
                throw .malformedType(path: self.path, typeName: typeName, reason: "offset of \(path) overflows")
            }
            result.append(DwarfMember(name: path, offset: offset, typeName: member.typeName, typeSize: member.typeSize))
            if let memberStruct, depth < maxDepth {
                try flatten(memberStruct, typeName: typeName, prefix: path, base: offset, depth: depth + 1,
                            maxDepth: maxDepth, into: &result)
            }
        }
    }

    /// Calls `body` for every `DW_TAG_member` child, with the member's struct type DIE when its
    /// type is a struct.
    private func forEachMember(
        of structDie: inout Dwarf_Die, typeName: String,
        _ body: (DwarfMember, Dwarf_Die?) throws(DwarfError) -> Void
    ) throws(DwarfError) {
        var child = Dwarf_Die()
        var more = dwarf_child(&structDie, &child)
        guard more >= 0 else {
            throw .malformedType(path: path, typeName: typeName, reason: "cannot read members: \(Self.dwarfMessage())")
        }
        var index = 0
        while more == 0 {
            if dwarf_tag(&child) == Int32(DW_TAG_member) {
                let name = dwarf_diename(&child).map { String(cString: $0) } ?? "<member \(index)>"
                guard let offset = memberOffset(&child) else {
                    throw .malformedType(path: path, typeName: typeName, reason: "member \(name) has no usable DW_AT_data_member_location")
                }
                var memberType: String?
                var memberSize: Int?
                var memberStruct: Dwarf_Die?
                var attribute = Dwarf_Attribute()
                var typeDie = Dwarf_Die()
                if dwarf_attr(&child, UInt32(DW_AT_type), &attribute) != nil, dwarf_formref_die(&attribute, &typeDie) != nil {
                    memberType = dwarf_diename(&typeDie).map { String(cString: $0) }
                    var resolved = Dwarf_Die()
                    if resolveTypedefs(&typeDie, into: &resolved) {
                        memberSize = byteSize(&resolved) ?? aggregateSize(&resolved)
                        if dwarf_tag(&resolved) == Int32(DW_TAG_structure_type) { memberStruct = resolved }
                    }
                }
                try body(DwarfMember(name: name, offset: offset, typeName: memberType, typeSize: memberSize), memberStruct)
                index += 1
            }
            var sibling = Dwarf_Die()
            more = dwarf_siblingof(&child, &sibling)
            guard more >= 0 else {
                throw .malformedType(path: path, typeName: typeName, reason: "bad member chain: \(Self.dwarfMessage())")
            }
            child = sibling
        }
    }

    // MARK: - Attributes

    private func byteSize(_ die: inout Dwarf_Die) -> Int? {
        var attribute = Dwarf_Attribute()
        var value: Dwarf_Word = 0
        guard dwarf_attr(&die, UInt32(DW_AT_byte_size), &attribute) != nil,
              dwarf_formudata(&attribute, &value) == 0 else { return nil }
        return Int(exactly: value)
    }

    private func aggregateSize(_ die: inout Dwarf_Die) -> Int? {
        var value: Dwarf_Word = 0
        guard dwarf_aggregate_size(&die, &value) == 0 else { return nil }
        return Int(exactly: value)
    }

    /// `DW_AT_data_member_location` as a constant, or as a location expression made of
    /// `DW_OP_plus_uconst` / `DW_OP_constu` (older producers).
    private func memberOffset(_ die: inout Dwarf_Die) -> Int? {
        var attribute = Dwarf_Attribute()
        guard dwarf_attr(&die, UInt32(DW_AT_data_member_location), &attribute) != nil else {
            // A union member or a member at offset 0 written without a location.
            return dwarf_hasattr(&die, UInt32(DW_AT_data_bit_offset)) == 0 ? 0 : nil
        }
        let form = dwarf_whatform(&attribute)
        switch Int(form) {
        case Int(DW_FORM_data1), Int(DW_FORM_data2), Int(DW_FORM_data4), Int(DW_FORM_data8),
             Int(DW_FORM_udata), Int(DW_FORM_sdata), Int(DW_FORM_implicit_const):
            var value: Dwarf_Word = 0
            guard dwarf_formudata(&attribute, &value) == 0 else { return nil }
            return Int(exactly: value)
        default:
            var ops: UnsafeMutablePointer<Dwarf_Op>?
            var count = 0
            guard dwarf_getlocation(&attribute, &ops, &count) == 0, let ops, count > 0, count < 16 else { return nil }
            var total: UInt64 = 0
            for i in 0..<count {
                let op = ops[i]
                switch Int(op.atom) {
                case Int(DW_OP_plus_uconst), Int(DW_OP_constu):
                    let (sum, overflow) = total.addingReportingOverflow(op.number)
                    guard !overflow else { return nil }
                    total = sum
                default:
                    return nil
                }
            }
            return Int(exactly: total)
        }
    }

    // MARK: - ELF

    private static func scanSections(_ elf: OpaquePointer, path: String) throws(DwarfError) -> (hasDebugInfo: Bool, compressed: [String]) {
        _ = elf_errno()  // libelf's error is per thread and sticky: clear what earlier calls left
        var stringIndex = 0
        guard elf_getshdrstrndx(elf, &stringIndex) == 0 else {
            throw .badELF(path: path, reason: "no section name table: \(elfMessage())")
        }
        var hasDebugInfo = false
        var compressed: [String] = []
        var section = elf_nextscn(elf, nil)
        var count = 0
        while let current = section {
            count += 1
            guard count < 1 << 20 else { throw .badELF(path: path, reason: "too many sections") }
            var header = GElf_Shdr()
            guard gelf_getshdr(current, &header) != nil else {
                throw .badELF(path: path, reason: "unreadable section header \(count): \(elfMessage())")
            }
            if let cName = elf_strptr(elf, stringIndex, Int(header.sh_name)) {
                let name = String(cString: cName)
                if name == ".debug_info" || name == ".zdebug_info" {
                    hasDebugInfo = header.sh_type != UInt32(SHT_NOBITS) && header.sh_size > 0
                }
                if name.hasPrefix(".zdebug_") || (name.hasPrefix(".debug_") && header.sh_flags & UInt64(SHF_COMPRESSED) != 0) {
                    compressed.append(name)
                }
            }
            section = elf_nextscn(elf, current)
        }
        return (hasDebugInfo, compressed)
    }

    private static let libelfReady: Bool = elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)

    private static func elfMessage() -> String {
        elf_errmsg(-1).map { String(cString: $0) } ?? "unknown libelf error"
    }

    private static func dwarfMessage() -> String {
        dwarf_errmsg(-1).map { String(cString: $0) } ?? "unknown libdw error"
    }
}
