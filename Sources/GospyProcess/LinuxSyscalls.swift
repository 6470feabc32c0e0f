/// The names of the x86-64 Linux system calls a blocked thread is commonly found in, and which
/// of them take a file descriptor as their first argument (so gospy can say what it is).
public enum LinuxSyscalls {
    /// Number -> name (arch/x86/entry/syscalls/syscall_64.tbl). Not the whole table: the calls
    /// that block, and those Go programs make.
    public static let names: [Int: String] = [
        0: "read", 1: "write", 2: "open", 3: "close", 7: "poll", 8: "lseek", 9: "mmap", 16: "ioctl",
        17: "pread64", 18: "pwrite64", 19: "readv", 20: "writev", 23: "select", 24: "sched_yield",
        34: "pause", 35: "nanosleep", 40: "sendfile", 41: "socket", 42: "connect", 43: "accept", 44: "sendto",
        45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 48: "shutdown", 56: "clone", 57: "fork", 59: "execve",
        61: "wait4", 62: "kill", 72: "fcntl", 73: "flock", 74: "fsync", 75: "fdatasync", 76: "truncate",
        77: "ftruncate", 82: "rename", 83: "mkdir", 87: "unlink", 130: "rt_sigsuspend", 202: "futex",
        213: "epoll_create", 228: "clock_gettime", 230: "clock_nanosleep", 232: "epoll_wait",
        247: "waitid", 257: "openat", 270: "pselect6", 271: "ppoll", 275: "splice", 276: "tee",
        277: "sync_file_range", 281: "epoll_pwait", 285: "fallocate", 288: "accept4", 295: "preadv",
        296: "pwritev", 299: "recvmmsg", 307: "sendmmsg", 326: "copy_file_range", 327: "preadv2",
        328: "pwritev2", 425: "io_uring_setup", 426: "io_uring_enter", 434: "pidfd_open", 441: "epoll_pwait2",
    ]

    /// Calls whose first argument is a file descriptor.
    public static let takesDescriptorFirst: Set<Int> = [
        0, 1, 3, 8, 16, 17, 18, 19, 20, 42, 43, 44, 45, 46, 47, 48, 72, 73, 74, 75, 77, 232, 275, 277, 281, 285,
        288, 295, 296, 299, 307, 326, 327, 328, 426, 441,
    ]

    public static func name(_ number: Int) -> String {
        names[number] ?? "syscall \(number)"
    }
}
