// gospy-fuzz: gospy's fuzz targets (GospyFuzzTargets). Built normally it replays inputs,
// writes seed corpora and captures memory images; built by scripts/fuzz.sh with
// -sanitize=fuzzer -DFUZZING it hands its arguments to libFuzzer's driver, which calls
// LLVMFuzzerTestOneInput (FuzzEntry.swift). (SwiftPM links an executable's own main in place
// of libFuzzer's, so the driver is started from here.)
#if FUZZING
import Foundation

var fuzzArgc = CommandLine.argc
var fuzzArgv = CommandLine.unsafeArgv
exit(runFuzzerDriver(&fuzzArgc, &fuzzArgv))
#else
import Foundation
import GospyFuzzTargets
import GospyInspector
import GospyMemory

let usage = """
    usage: gospy-fuzz replay TARGET FILE...      run a target over saved inputs
           gospy-fuzz seeds BINARY DIR           write seed corpora from a TestTargets build
           gospy-fuzz capture PID FILE           save the memory a snapshot of PID reads
           gospy-fuzz list                       the targets
    targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))
    (globals and snapshot need GOSPY_FUZZ_BINARY, snapshot also GOSPY_FUZZ_IMAGE)

    """

func fail(_ message: String, code: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("gospy-fuzz: \(message)\n".utf8))
    exit(code)
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "replay":
    guard arguments.count >= 3, let target = FuzzTarget(rawValue: arguments[1]) else { fail("replay needs a target and files\n" + usage) }
    for path in arguments.dropFirst(2) {
        guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
        target.run(Array(data))
        print("ok \(path)")
    }
case "seeds":
    guard arguments.count == 3 else { fail(usage) }
    do { try Seeds.write(binary: arguments[1], to: arguments[2]) } catch { fail("seeds: \(error)", code: 1) }
case "capture":
    guard arguments.count == 3, let pid = Int32(arguments[1]) else { fail(usage) }
    do {
        let image = try Inspector(pid: pid).captureMemoryImage()
        try MemoryImage.write(image, to: arguments[2])
        print("\(image.regions.count) regions, \(image.regions.reduce(0) { $0 + $1.bytes.count }) bytes")
    } catch {
        fail("capture: \(error)", code: 1)
    }
case "list":
    print(FuzzTarget.allCases.map(\.rawValue).joined(separator: "\n"))
default:
    fail(usage)
}
#endif
