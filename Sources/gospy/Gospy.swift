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
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            // Usage errors, --help and --version: ArgumentParser's own messages and exit codes
            // (64 for a bad command line).
            exit(withError: error)
        }
        do {
            try command.run()
        } catch {
            // Every command's failure, in one place: one line on stderr and gospy's exit code.
            Diagnosis.exit(with: error)
        }
    }
}
