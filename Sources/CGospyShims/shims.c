#define _GNU_SOURCE
#include "gospy_shims.h"
#include <sys/ptrace.h>
#include <sys/user.h>
#include <pthread.h>

long gospy_ptrace_seize(pid_t tid, unsigned long options) {
    return ptrace(PTRACE_SEIZE, tid, 0, (void *)options);
}

long gospy_ptrace_interrupt(pid_t tid) {
    return ptrace(PTRACE_INTERRUPT, tid, 0, 0);
}

long gospy_ptrace_detach(pid_t tid, int signal) {
    return ptrace(PTRACE_DETACH, tid, 0, (void *)(long)signal);
}

long gospy_ptrace_registers(pid_t tid, gospy_registers *out) {
    struct user_regs_struct regs;
    long result = ptrace(PTRACE_GETREGS, tid, 0, &regs);
    if (result == 0) {
        out->rip = regs.rip;
        out->rsp = regs.rsp;
        out->rbp = regs.rbp;
        out->r14 = regs.r14;
        out->fs_base = regs.fs_base;
    }
    return result;
}

ssize_t gospy_process_vm_readv(pid_t pid, const struct iovec *local, unsigned long local_count,
                               const struct iovec *remote, unsigned long remote_count) {
    return process_vm_readv(pid, local, local_count, remote, remote_count, 0);
}

int gospy_name_current_thread(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
