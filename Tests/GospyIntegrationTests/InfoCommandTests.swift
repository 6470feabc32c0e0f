import Foundation
import Testing

/// `gospy info --json` on every binary of the matrix.
@Suite struct InfoCommandTests {
    struct Report: Decodable {
        struct Global: Decodable {
            let name: String
            let address: String?
            let foundBy: String?
        }
        let goVersion: String
        let positionIndependent: Bool
        let stripped: Bool
        let externalLinking: Bool
        let trimpath: Bool
        let functions: Int
        let layoutsFrom: String
        let globals: [Global]
        let waitReasons: Int?
    }

    @Test(arguments: TestTargets.matrix)
    func describesTheBuild(binary: TargetBinary) throws {
        let result = try Subprocess.run(Subprocess.gospy, ["info", "--bin", binary.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        // The version equals the toolchain's own `go version`.
        #expect(report.goVersion == binary.goVersion)
        #expect(report.positionIndependent == (binary.mode == "pie" || binary.mode == "distro"))
        #expect(report.stripped == binary.isStripped)
        #expect(report.externalLinking == (binary.mode == "cgo" || binary.mode == "distro"))
        #expect(report.trimpath == (binary.mode == "trimpath" || binary.mode == "distro"))
        #expect(report.functions > 1000)
        #expect(report.layoutsFrom.hasPrefix(binary.isStripped ? "built-in table" : "DWARF"))
        for global in report.globals {
            #expect(global.address != nil, "\(global.name) not found")
            if binary.isStripped { #expect(global.foundBy?.hasPrefix("symbol") == false) }
        }
        #expect((report.waitReasons ?? 0) >= 27)
    }

    @Test func textOutputNamesEachGlobalAndHowItWasFound() throws {
        let binary = try #require(TestTargets.binary(release: "1.27", mode: "distro"))
        let result = try Subprocess.run(Subprocess.gospy, ["info", "--bin", binary.path])
        #expect(result.status == 0)
        #expect(result.stdout.contains("go version:   go1.27"))
        #expect(result.stdout.contains("runtime.allgs"))
        #expect(result.stdout.contains("code of runtime.allgadd"))
        #expect(result.stdout.contains("section .go.module"))
    }
}
