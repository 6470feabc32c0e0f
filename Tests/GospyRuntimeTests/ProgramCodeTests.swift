import Testing
@testable import GospyRuntime

/// The program's own code told from the standard library's by package path and build info.
@Suite struct ProgramCodeTests {
    @Test func packagePaths() {
        #expect(ProgramCode.packagePath(of: "net/http.(*conn).serve") == "net/http")
        #expect(ProgramCode.packagePath(of: "main.main.func1") == "main")
        #expect(ProgramCode.packagePath(of: "example.com/a/b.F[...]") == "example.com/a/b")
        #expect(ProgramCode.packagePath(of: "example.com/a.G[go.shape.struct { x/y.z }]") == "example.com/a")
        #expect(ProgramCode.packagePath(of: "internal/sync.runtime_SemacquireMutex") == "internal/sync")
        #expect(ProgramCode.packagePath(of: "runtime.gopark") == "runtime")
    }

    @Test func tellsTheProgramFromTheStandardLibrary() {
        let code = ProgramCode(modules: ["myapp", "github.com/lib/pq"])
        for function in ["main.main", "myapp/internal/store.(*DB).Get", "github.com/lib/pq.(*conn).recv", "golang.org/x/sync/errgroup.(*Group).Wait"] {
            #expect(code.isProgram(function: function), "\(function)")
        }
        for function in ["runtime.gopark", "internal/poll.runtime_pollWait", "net.(*conn).Read", "sync.(*Mutex).Lock",
                         "vendor/golang.org/x/net/http2/hpack.(*Decoder).Write", "myappx.F"] {
            #expect(!code.isProgram(function: function), "\(function)")
        }
    }
}
