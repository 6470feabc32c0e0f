import ArgumentParser
import GospyProcess

@main
struct Gospy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gospy",
        abstract: "Inspect the goroutines of a live Go process from outside, without DWARF.",
        version: BuildStamp.text,
        subcommands: [
            SummaryCommand.self,
            DumpCommand.self,
            TopCommand.self,
            WaitsCommand.self,
            RecordCommand.self,
            InfoCommand.self,
            Addr2lineCommand.self,
            LayoutsCommand.self,
            PsCommand.self,
            ServeCommand.self,
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
        // `gospy`, `gospy --help` and `gospy help X` parse to ArgumentParser's own commands,
        // whose run() throws the request for help: not a failure to diagnose.
        let isGospyCommand = configuration.subcommands.contains { ObjectIdentifier($0) == ObjectIdentifier(type(of: command)) }
        do {
            try command.run()
        } catch where isGospyCommand {
            // Every gospy command's failure, in one place: one line on stderr and gospy's exit code.
            Diagnosis.exit(with: error)
        } catch {
            exit(withError: error)
        }
    }
}
