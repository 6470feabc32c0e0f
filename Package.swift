// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "gospy",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "gospy", targets: ["gospy"]),
        // Fuzz targets: built normally it replays inputs; scripts/fuzz.sh builds it with libFuzzer.
        .executable(name: "gospy-fuzz", targets: ["gospy-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libelf + libdw from elfutils, found through pkg-config.
        .systemLibrary(
            name: "CElfutils",
            pkgConfig: "libdw",
            providers: [.apt(["libdw-dev", "libelf-dev"])]
        ),
        // Thin C shims for what Swift cannot call directly (variadic ptrace).
        .target(name: "CGospyShims"),
        // One memory-reading protocol; buffer and file-image readers.
        .target(name: "GospyMemory"),
        // Process access: /proc, ptrace (one tracer thread), process_vm_readv.
        .target(name: "GospyProcess", dependencies: ["GospyMemory", "CGospyShims"]),
        // Binary analysis: ELF, buildinfo, pclntab, moduledata, DWARF, x86 decoding.
        .target(name: "GospyBinary", dependencies: ["GospyMemory", "CElfutils"]),
        // Go runtime knowledge: versions, struct layouts as data.
        .target(name: "GospyRuntime", dependencies: ["GospyMemory", "GospyBinary"]),
        // A live process seen through its runtime: attach, stop, snapshot, resume.
        .target(name: "GospyInspector", dependencies: ["GospyRuntime", "GospyProcess", "GospyMemory"]),
        // zlib, for gzip: pprof files are gzipped. libdw-dev and libelf-dev depend on zlib1g-dev.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Output formats, independent of how stacks are obtained: pprof's profile.proto (kept
        // beside its hand-written encoder, ProtobufWriter, as the reference for field numbers).
        .target(name: "GospyOutput", dependencies: ["CZlib"], exclude: ["Pprof/profile.proto"]),
        .executableTarget(
            name: "gospy",
            dependencies: [
                "GospyMemory", "GospyBinary", "GospyRuntime", "GospyProcess", "GospyInspector", "GospyOutput",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The fuzz targets over hostile files and memory images (GospyFuzzTargets), and their driver.
        .target(name: "GospyFuzzTargets", dependencies: ["GospyMemory", "GospyBinary", "GospyRuntime", "GospyProcess"]),
        .executableTarget(name: "gospy-fuzz", dependencies: ["GospyFuzzTargets", "GospyInspector", "GospyMemory"]),
        // Every input a fuzz target ever crashed on, replayed (Tests/GospyFuzzTests/Regressions).
        .testTarget(name: "GospyFuzzTests", dependencies: ["GospyFuzzTargets", "GospyMemory"], exclude: ["Regressions"]),
        .testTarget(name: "GospyMemoryTests", dependencies: ["GospyMemory"]),
        .testTarget(name: "GospyProcessTests", dependencies: ["GospyProcess", "GospyMemory"]),
        .testTarget(name: "GospyOutputTests", dependencies: ["GospyOutput", "CZlib"]),
        // Test helpers shared by the test targets (building the Go probe, synthetic pclntabs).
        .target(name: "GospyTestSupport", dependencies: ["GospyBinary"], path: "Tests/GospyTestSupport"),
        // Spawning a program with none of the test process's descriptors (tmux in the top tests).
        .target(name: "CTestSpawn", path: "Tests/CTestSpawn"),
        // TopModel (grouping, leak streaks, sorting) lives in the gospy executable, next to the view.
        .testTarget(name: "GospyTopModelTests", dependencies: ["gospy"]),
        .testTarget(name: "GospyBinaryTests", dependencies: ["GospyBinary", "GospyMemory", "GospyRuntime", "GospyTestSupport"]),
        // The CLI's error policy (each error's exit code and one-line message), through @testable import.
        .testTarget(
            name: "GospyCLITests",
            dependencies: ["gospy", "GospyBinary", "GospyMemory", "GospyRuntime", "GospyProcess", "GospyInspector", "GospyTestSupport"]
        ),
        // The runtime stage without Go or ptrace: unwinder, traceback filtering and labels over
        // synthetic pclntabs and memory buffers; runs in seconds.
        .testTarget(
            name: "GospyRuntimeTests",
            dependencies: ["GospyRuntime", "GospyBinary", "GospyMemory", "GospyTestSupport"]
        ),
        .testTarget(
            name: "GospyIntegrationTests",
            dependencies: ["GospyBinary", "GospyMemory", "GospyRuntime", "GospyProcess", "GospyInspector", "GospyTestSupport", "CTestSpawn",
                           "GospyFuzzTargets"]
        ),
    ]
)
