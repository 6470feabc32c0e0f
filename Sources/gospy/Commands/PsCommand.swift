import ArgumentParser
import GospyInspector

/// `gospy ps`: every Go process on the host, read without stopping any.
struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "Every Go process on the host: pid, user, Go version, module, executable, uptime, RSS, threads, goroutines (allglen, read without stopping), container.")

    @Flag(name: .long, help: "Print a JSON array.")
    var json = false

    func run() throws {
        let processes = HostScan().scan()
        Output.write(json ? try ProcessTable.json(processes) : ProcessTable.text(processes))
    }
}
