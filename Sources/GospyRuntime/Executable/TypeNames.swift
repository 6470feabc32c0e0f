import GospyMemory

/// Go type names from runtime type descriptors (an *abi.Type, e.g. a channel's elemtype), as
/// reflect and fmt print them. Works stripped: the names live in the type data that
/// moduledata.types points at, which no strip removes.
public struct TypeNameReader {
    /// A name longer than this is cut (the runtime's own names are far shorter).
    static let maxNameLength = 4096

    let reader: MemoryReader
    let typesStart: UInt64
    let typesEnd: UInt64
    let tflag: Int
    let str: Int

    /// Nil when this release's tables lack the fields or the live moduledata cannot be read.
    public init?(image: RuntimeImage, reader: MemoryReader) {
        let layout = image.layout
        guard let typesField = layout.optionalOffset("runtime.moduledata", "types"),
              let etypesField = layout.optionalOffset("runtime.moduledata", "etypes") else { return nil }
        if let t = layout.optionalOffset("internal/abi.Type", "TFlag"), let s = layout.optionalOffset("internal/abi.Type", "Str") {
            (tflag, str) = (t, s)
        } else if let t = layout.optionalOffset("runtime._type", "tflag"), let s = layout.optionalOffset("runtime._type", "str") {
            (tflag, str) = (t, s)
        } else {
            return nil
        }
        // Read from the process: its moduledata holds relocated addresses (PIE included).
        let moduledata = image.executable.moduleData.address &+ image.loadBias
        guard let start = try? reader.fetchPointer(from: moduledata &+ UInt64(typesField)),
              let end = try? reader.fetchPointer(from: moduledata &+ UInt64(etypesField)),
              start < end else { return nil }
        self.reader = reader
        typesStart = start
        typesEnd = end
    }

    /// The type's name ("*main.job", "[]string"), nil when the descriptor is not one.
    public func name(ofType descriptor: UInt64) -> String? {
        guard descriptor >= typesStart, descriptor < typesEnd,
              let flags = try? reader.fetch(UInt8.self, from: descriptor &+ UInt64(tflag)),
              let nameOffset = try? reader.fetch(Int32.self, from: descriptor &+ UInt64(str)), nameOffset > 0 else { return nil }
        let name = typesStart &+ UInt64(nameOffset)
        guard name < typesEnd, let header = try? reader.fetchBytes(from: name, count: 11) else { return nil }
        // abi.Name: a flags byte, the length as a uvarint, then the bytes.
        var length = 0, shift = 0, index = 1
        while index < header.count {
            let byte = header[index]
            length |= Int(byte & 0x7f) << shift
            index += 1
            if byte & 0x80 == 0 { break }
            shift += 7
            guard shift < 28 else { return nil }
        }
        guard length > 0, length <= Self.maxNameLength,
              let bytes = try? reader.fetchBytes(from: name &+ UInt64(index), count: length) else { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        // tflagExtraStar: the name is stored with a '*' the type itself does not have.
        if flags & 0x2 != 0, text.hasPrefix("*") { text.removeFirst() }
        return text
    }
}
