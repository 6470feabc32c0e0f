// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "gospy",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "gospy", targets: ["gospy"]),
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
        .executableTarget(
            name: "gospy",
            dependencies: [
                "GospyMemory", "GospyBinary", "GospyRuntime", "GospyProcess", "GospyInspector",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "GospyMemoryTests", dependencies: ["GospyMemory"]),
        .testTarget(name: "GospyProcessTests", dependencies: ["GospyProcess", "GospyMemory"]),
        .testTarget(name: "GospyBinaryTests", dependencies: ["GospyBinary", "GospyMemory", "GospyRuntime"]),
        .testTarget(
            name: "GospyIntegrationTests",
            dependencies: ["GospyBinary", "GospyMemory", "GospyRuntime", "GospyProcess", "GospyInspector"]
        ),
    ]
)
