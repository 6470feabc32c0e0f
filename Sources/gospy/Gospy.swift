import ArgumentParser
import GospyProcess

@main
struct Gospy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gospy",
        abstract: "Inspect the goroutines of a live Go process from outside, without DWARF.",
        subcommands: [
            SummaryCommand.self,
            DumpCommand.self,
            TopCommand.self,
            InfoCommand.self,
            Addr2lineCommand.self,
            LayoutsCommand.self,
        ]
    )

    static func main() {
        // Before any other thread exists: signals are then taken by one thread that resumes a
        // stopped target before gospy exits.
        EmergencyResume.install()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
