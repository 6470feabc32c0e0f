import GospyBinary

/// Tells the program's own code (the main module and its dependencies) from the standard
/// library and the runtime, by a function's package path: a package of a module the build
/// info names is the program's; otherwise the standard library's paths are those whose first
/// element has no dot ("net/http", "internal/poll", "vendor/golang.org/x/net/...").
public struct ProgramCode: Sendable {
    /// Module paths from the build info: the main module and every dependency (and replacement).
    let modules: [String]

    public init(buildInfo: BuildInfo) {
        var modules: [String] = []
        for line in buildInfo.moduleInfo.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            guard parts.count >= 2, ["mod", "dep", "=>", "path"].contains(parts[0]) else { continue }
            modules.append(String(parts[1]))
        }
        self.modules = modules
    }

    public init(modules: [String]) {
        self.modules = modules
    }

    /// "net/http" from "net/http.(*conn).serve", "main" from "main.main.func1", "example.com/a/b"
    /// from "example.com/a/b.F[...]".
    public static func packagePath(of function: String) -> Substring {
        // Generic type arguments may hold anything, slashes and dots included.
        let name = function.prefix { $0 != "[" }
        let lastSlash = name.lastIndex(of: "/")
        let tail = lastSlash.map { name[name.index(after: $0)...] } ?? name[...]
        guard let dot = tail.firstIndex(of: ".") else { return name }
        return name[..<dot]
    }

    /// Whether `function` belongs to the program rather than the standard library or runtime.
    public func isProgram(function: String) -> Bool {
        let package = Self.packagePath(of: function)
        if package == "main" { return true }
        for module in modules where package == module || package.hasPrefix(module + "/") {
            return true
        }
        guard let first = package.split(separator: "/").first else { return false }
        return first.contains(".") && !package.hasPrefix("vendor/")
    }
}
