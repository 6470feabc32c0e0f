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
        // One memory-reading protocol; buffer, file-image and (later) live readers.
        .target(name: "GospyMemory"),
        // Binary analysis: ELF, buildinfo, pclntab, moduledata, DWARF, x86 decoding.
        .target(name: "GospyBinary", dependencies: ["GospyMemory", "CElfutils"]),
        // Go runtime knowledge: versions, struct layouts as data.
        .target(name: "GospyRuntime", dependencies: ["GospyMemory", "GospyBinary"]),
        .executableTarget(
            name: "gospy",
            dependencies: [
                "GospyMemory", "GospyBinary", "GospyRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "GospyMemoryTests", dependencies: ["GospyMemory"]),
        .testTarget(name: "GospyBinaryTests", dependencies: ["GospyBinary", "GospyMemory", "GospyRuntime"]),
        .testTarget(
            name: "GospyIntegrationTests",
            dependencies: ["GospyBinary", "GospyMemory", "GospyRuntime"]
        ),
    ]
)
