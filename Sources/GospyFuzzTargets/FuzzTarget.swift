import Foundation
import GospyMemory

/// The fuzz targets: each takes arbitrary bytes and runs one of gospy's parsers over them.
/// None may trap, hang or allocate without bound, whatever the bytes; errors are the expected
/// outcome of most inputs. The same functions run under libFuzzer (gospy-fuzz built with
/// -sanitize=fuzzer), replay saved inputs (gospy-fuzz replay) and serve the regression tests.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A whole file as an executable: ELF headers and program headers, .go.buildinfo, pclntab
    /// location, moduledata discovery, runtime layouts and the globals derivation.
    case executable
    /// The .go.buildinfo blob.
    case buildinfo
    /// A pclntab with its gofunc data: function table, names, files, pcvalue tables, inline
    /// trees, funcdata, argument layouts.
    case pclntab
    /// moduledata discovery in a data region, and reading the candidates.
    case moduledata
    /// The x86-64 decoder over arbitrary code.
    case x86
    /// The globals derivation (x86 decoding of runtime functions) with one function's code
    /// replaced by the input.
    case globals
    /// ArgInfo programs and their rendering.
    case arginfo
    /// The snapshot decoder over a captured memory image of a real target, with the input's
    /// mutations applied to its g structs, stacks, allgs and labels.
    case snapshot
    /// The NETLINK_SOCK_DIAG reply parser (unix socket peers) over one reply datagram.
    case sockdiag
    /// The stack-map decoding of live stack words (LiveStackSlots) over a stack in real
    /// functions whose tables, stack maps and stack objects the input patches.
    case stackmaps

    /// The targets that need an `Environment` (a real executable, and for snapshot its image).
    public var needsEnvironment: Bool { [.globals, .snapshot, .stackmaps].contains(self) }

    /// Runs the target over `data`, with `Environment.shared` for the executable-backed ones.
    public func run(_ data: [UInt8]) { run(data, environment: Environment.shared) }

    /// Runs the target over `data`. Executable-backed targets do nothing without `environment`.
    public func run(_ data: [UInt8], environment: Environment?) {
        switch self {
        case .executable: BinaryTargets.executable(data)
        case .buildinfo: BinaryTargets.buildinfo(data)
        case .pclntab: BinaryTargets.pclntab(data)
        case .moduledata: BinaryTargets.moduledata(data)
        case .x86: BinaryTargets.x86(data)
        case .globals: environment.map { BinaryTargets.globals(data, environment: $0) }
        case .arginfo: BinaryTargets.arginfo(data)
        case .snapshot: environment.map { SnapshotTarget.run(data, environment: $0) }
        case .sockdiag: SockDiagTarget.run(data)
        case .stackmaps: environment.map { StackMapsTarget.run(data, environment: $0) }
        }
    }
}

/// Reads fields off the front of a fuzz input; a short input reads as zeros.
struct InputCursor {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: [UInt8] { position < bytes.count ? Array(bytes[position...]) : [] }
    var isAtEnd: Bool { position >= bytes.count }

    mutating func u8() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() -> UInt16 {
        UInt16(u8()) | UInt16(u8()) << 8
    }

    mutating func u32() -> UInt32 {
        (0..<4).reduce(UInt32(0)) { value, shift in value | UInt32(u8()) << (8 * UInt32(shift)) }
    }

    mutating func u64() -> UInt64 {
        (0..<8).reduce(UInt64(0)) { value, shift in value | UInt64(u8()) << (8 * UInt64(shift)) }
    }

    /// The next `count` bytes (fewer at the end).
    mutating func take(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, position + max(0, count))
        defer { position = end }
        return position < end ? Array(bytes[position..<end]) : []
    }
}

/// Appends little-endian fields, for writing seeds in the formats `InputCursor` reads.
struct InputWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func append(_ more: [UInt8]) { bytes.append(contentsOf: more) }
}
