#!/usr/bin/env python3
"""Runs a command with perf_event_open(2) refused (EACCES), the way a container's seccomp
profile refuses it: for showing and testing `gospy record`'s fallback without touching the
machine-wide kernel.perf_event_paranoid.

Usage: scripts/deny-perf-events.py COMMAND [ARGS...]"""
import ctypes
import os
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
NR_PERF_EVENT_OPEN = 298  # x86-64
AUDIT_ARCH_X86_64 = 0xC000003E
EACCES = 13


def instruction(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    program = b"".join([
        instruction(0x20, 0, 0, 4),                       # A = arch
        instruction(0x15, 1, 0, AUDIT_ARCH_X86_64),       # if A == x86-64, go on
        instruction(0x06, 0, 0, 0x7FFF0000),              # else allow (not ours to judge)
        instruction(0x20, 0, 0, 0),                       # A = syscall number
        instruction(0x15, 0, 1, NR_PERF_EVENT_OPEN),      # perf_event_open?
        instruction(0x06, 0, 0, 0x00050000 | EACCES),     # refuse it with EACCES
        instruction(0x06, 0, 0, 0x7FFF0000),              # allow the rest
    ])
    filters = ctypes.create_string_buffer(program)
    fprog = struct.pack("HxxxxxxQ", len(program) // 8, ctypes.addressof(filters))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit(f"deny-perf-events: PR_SET_NO_NEW_PRIVS: {os.strerror(ctypes.get_errno())}")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.c_void_p(ctypes.addressof(fprog_buffer)), 0, 0) != 0:
        sys.exit(f"deny-perf-events: PR_SET_SECCOMP: {os.strerror(ctypes.get_errno())}")
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
