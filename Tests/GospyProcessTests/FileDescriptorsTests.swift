import Testing
@testable import GospyProcess

/// /proc's descriptor, socket-table, epoll and syscall texts, parsed.
@Suite struct FileDescriptorsParsingTests {
    @Test func parsesTCPTablesIntoGoStyleAddresses() throws {
        let tcp = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           1: 0100007F:8F6D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1504994 1 000000008e414b17 100 0 0 10 0
           4: 0100007F:A788 0100007F:A275 06 00000000:00000000 03:00000BEB 00000000     0        0 0 3 000000008d45a3e6
          13: 0100007F:83E2 0100007F:B2B5 01 00000000:00000000 02:00000510 00000000     0        0 1505003 2 0000000079945a68 20 0 0 10 -1
        """
        let rows = Dictionary(SocketTable.tcp.parse(tcp), uniquingKeysWith: { $1 })
        let listener = try #require(rows[1504994])
        #expect(listener.local == "127.0.0.1:36717" && listener.remote == nil && listener.state == "LISTEN")
        let connection = try #require(rows[1505003])
        #expect(connection.local == "127.0.0.1:33762" && connection.remote == "127.0.0.1:45749")
        #expect(connection.state == "ESTABLISHED" && connection.kind == .tcp)
    }

    @Test func parsesIPv6AddressesAsGoPrintsThem() {
        #expect(SocketTable.address("00000000000000000000000001000000:0050") == "[::1]:80")
        #expect(SocketTable.address("0000000000000000FFFF00000100007F:0050") == "127.0.0.1:80")
        #expect(SocketTable.address("B80D0120000000000000000001000000:01BB") == "[2001:db8::1]:443")
        #expect(SocketTable.address("00000000000000000000000000000000:0000") == "[::]:0")
        #expect(SocketTable.address("zz:0050") == nil)
        #expect(SocketTable.address("0100007F") == nil)
    }

    @Test func parsesUnixTable() throws {
        let unix = """
        Num       RefCount Protocol Flags    Type St Inode Path
        0000000000000000: 00000002 00000000 00010000 0001 01 1402971 /tmp/x y/sock
        0000000000000000: 00000003 00000000 00000000 0001 03 1402972
        """
        let rows = Dictionary(SocketTable.unix.parse(unix), uniquingKeysWith: { $1 })
        #expect(rows[1402971]?.local == "/tmp/x y/sock" && rows[1402971]?.state == "STREAM")
        #expect(try #require(rows[1402972]).local == nil)
    }

    @Test func parsesEpollInfoAndSyscallState() {
        let info = """
        pos:\t0
        flags:\t02000002
        tfd:       19 events: 8000201d data: 3f9b6d36d5000001  pos:0 ino:1563dc sdev:9
        tfd:        6 events:       19 data:                0  pos:0 ino:40f sdev:10
        tfd: garbage
        """
        #expect(ProcFS.parseEpollInfo(info) == [EpollRegistration(fd: 19, data: 0x3f9b6d36d5000001), EpollRegistration(fd: 6, data: 0)])
        #expect(ThreadSyscallState(parsing: "0 0x1b 0xc000087e5f 0x1 0x0 0x0 0x0 0xc000087d28 0x4031ee\n")
                == .inSyscall(number: 0, arguments: [0x1b, 0xc000087e5f, 1, 0, 0, 0]))
        #expect(ThreadSyscallState(parsing: "running\n") == .running)
        #expect(ThreadSyscallState(parsing: "-1 0x7ffd 0x4031ee\n") == .notInSyscall)
        #expect(ThreadSyscallState(parsing: "0 0x1") == nil)
        #expect(ThreadSyscallState(parsing: "") == nil)
        #expect(LinuxSyscalls.name(0) == "read" && LinuxSyscalls.name(9999) == "syscall 9999")
    }
}
