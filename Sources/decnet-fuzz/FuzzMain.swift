import DecnetFuzz

#if canImport(Glibc)
import Glibc
#endif

#if DECNET_FUZZ
/// libFuzzer's entry: the target named by DECNET_FUZZ_TARGET (scripts/fuzz.sh sets it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let name = getenv("DECNET_FUZZ_TARGET").map { String(cString: $0) } ?? "http-nginx"
    guard let target = FuzzTargets.target(name) else { fatalError("no fuzz target \(name)") }
    target(count == 0 ? [] : Array(UnsafeRawBufferPointer(start: start, count: count)))
    return 0
}
#else
/// Without libFuzzer: `decnet-fuzz <target> <file>…` replays inputs (a crash case, a corpus) through a target.
@main
struct FuzzReplay {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTargets.target(name) else {
            print(
                "usage: decnet-fuzz <target> <file>…; targets: \(FuzzTargets.all.map(\.name).joined(separator: ", "))"
            )
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let handle = fopen(path, "rb") else {
                print("\(path): cannot open")
                exit(1)
            }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = fread(&buffer, 1, buffer.count, handle)
                if count <= 0 { break }
                bytes += buffer[..<count]
            }
            fclose(handle)
            target(bytes)
            print("\(path): \(bytes.count) bytes, no crash")
        }
    }
}
#endif
