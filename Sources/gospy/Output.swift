#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to a file descriptor (stdio's globals are not concurrency-safe in Swift 6).
enum Output {
    static func write(_ text: String, to fd: Int32 = STDOUT_FILENO) {
        write(Array(text.utf8), to: fd)
    }

    static func error(_ text: String) { write(text, to: STDERR_FILENO) }

    static func write(_ bytes: [UInt8], to fd: Int32 = STDOUT_FILENO) {
        write(bytes[...], to: fd)
    }

    static func write(_ bytes: ArraySlice<UInt8>, to fd: Int32 = STDOUT_FILENO) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}

/// Output written in blocks as it is made: a long text (a million lines) is never held whole.
struct BufferedOutput {
    let fd: Int32
    private var buffer: [UInt8] = []
    static let blockSize = 1 << 16

    init(fd: Int32 = STDOUT_FILENO) {
        self.fd = fd
        buffer.reserveCapacity(Self.blockSize + 4096)
    }

    mutating func append(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.blockSize { flush() }
    }

    /// Bytes made elsewhere (a block of lines): written through when they fill a block.
    mutating func append(bytes: [UInt8]) {
        if buffer.count + bytes.count < Self.blockSize {
            buffer.append(contentsOf: bytes)
            return
        }
        flush()
        Output.write(bytes, to: fd)
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        Output.write(buffer, to: fd)
        buffer.removeAll(keepingCapacity: true)
    }
}
