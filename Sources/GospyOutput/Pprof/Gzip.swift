import CZlib

/// gzip (RFC 1952) through zlib: profile.proto files are gzipped on disk, as the runtime writes them.
enum Gzip {
    static func compress(_ input: [UInt8]) throws(GoroutineProfileError) -> [UInt8] {
        // zlib counts in 32-bit uInt; one deflate call with Z_FINISH must see all the input.
        guard input.count <= Int(UInt32.max) else { throw .tooLarge(bytes: input.count) }
        var stream = z_stream()
        let initStatus = gospy_deflate_init_gzip(&stream, Z_DEFAULT_COMPRESSION)
        guard initStatus == Z_OK else { throw .compression(zlibStatus: initStatus) }
        defer { deflateEnd(&stream) }

        var input = input
        // deflateBound includes the gzip header and trailer, so one Z_FINISH call completes.
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))))
        let status = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = source.baseAddress
                stream.avail_in = uInt(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = uInt(target.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw .compression(zlibStatus: status) }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }
}
