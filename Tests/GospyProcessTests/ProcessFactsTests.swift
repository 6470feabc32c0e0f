import GospyProcess
import Testing

/// /proc/PID/status and cgroup parsing for `gospy ps`, on lines as the kernel writes them.
@Suite struct ProcessFactsTests {
    static let status = """
    Name:\tgospytarget
    Umask:\t0022
    State:\tS (sleeping)
    Tgid:\t4242
    NSpid:\t4242\t7
    Uid:\t1000\t1000\t1000\t1000
    VmRSS:\t    5120 kB
    Threads:\t6

    """

    @Test func statusFields() {
        let facts = ProcessFacts(pid: 4242, status: Self.status, cgroup: nil)
        #expect(facts.command == "gospytarget")
        #expect(facts.uid == 1000)
        #expect(facts.threads == 6)
        #expect(facts.rssBytes == 5120 * 1024)
        #expect(facts.namespacePID == 7)
        #expect(facts.container == nil)
    }

    @Test func samePIDNamespaceHasNoInnerPID() {
        let facts = ProcessFacts(pid: 9, status: "Name:\tx\nNSpid:\t9\n", cgroup: nil)
        #expect(facts.namespacePID == nil)
        #expect(facts.threads == nil && facts.rssBytes == nil)
    }

    @Test(arguments: [
        ("0::/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope", "0123456789ab"),
        ("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_1111_2222_3333_444455556666.slice/cri-containerd-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210.scope", "fedcba987654"),
        ("12:memory:/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "0123456789ab"),
        ("0::/kubepods/besteffort/pod1a2b3c4d-1111-2222-3333-444455556666", "pod 1a2b3c4d-1111-2222-3333-444455556666"),
        ("0::/user.slice/user-0.slice/session-1.scope", nil),
        ("0::/", nil),
        ("garbage without colons", nil),
    ] as [(String, String?)])
    func containerIDs(cgroup: String, expected: String?) {
        #expect(ProcessFacts.containerID(cgroup: cgroup) == expected)
    }
}
