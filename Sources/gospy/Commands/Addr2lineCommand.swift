import ArgumentParser
import GospyProcess
import GospyRuntime
#if canImport(Glibc)
import Glibc
#endif

/// `gospy addr2line`: link-time addresses to function and file:line, in the two-line form of
/// `go tool addr2line`, so the two can be diffed.
struct Addr2lineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "addr2line",
        abstract: "Map link-time addresses to function and file:line, like `go tool addr2line`.",
        discussion: "Addresses are hexadecimal, with or without 0x; with none given they are read from standard input, one per line.")

    @OptionGroup var executable: ExecutableOption

    @Flag(name: .long, help: "Print every inlined frame at the address, innermost first.")
    var inline = false

    @Flag(name: [.customShort("a"), .customLong("addresses")], help: "Print each address (0x...) on a line before its frames.")
    var printAddresses = false

    @Argument(help: "Hexadecimal addresses.")
    var addresses: [String] = []

    func run() throws {
        let executable = try GoExecutable(path: self.executable.bin)
        ReleaseWarning.print(for: executable)
        let table = executable.pclntab
        var output = ""
        output.reserveCapacity(4096)
        func emit(_ text: String) {
            let address = text.hasPrefix("0x") || text.hasPrefix("0X") ? String(text.dropFirst(2)) : text
            if printAddresses { output += "0x\(address.lowercased())\n" }
            guard let pc = UInt64(address, radix: 16) else {
                output += "?\n?:0\n"
                return
            }
            guard let function = table.function(containing: pc) else {
                output += "?\n?:0\n"
                return
            }
            if inline {
                for frame in table.frames(at: pc, in: function) {
                    output += "\(frame.function)\n\(frame.file):\(frame.line)\n"
                }
            } else {
                // Like go tool addr2line: the physical function, the innermost position,
                // and ":-1" where the tables do not cover the address.
                let position = table.position(function: function, pc: pc)
                let name = (try? table.name(of: function)) ?? "?"
                output += "\(name)\n\(position.file ?? ""):\(position.line ?? -1)\n"
            }
            if output.utf8.count > 1 << 16 {
                Output.write(output)
                output.removeAll(keepingCapacity: true)
            }
        }
        if addresses.isEmpty {
            while let line = readLine() {
                let trimmed = line.trimmingWhitespace()
                if !trimmed.isEmpty { emit(trimmed) }
            }
        } else {
            addresses.forEach(emit)
        }
        Output.write(output)
    }
}

