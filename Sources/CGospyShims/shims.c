#define _GNU_SOURCE
#include "gospy_shims.h"
#include <sys/ptrace.h>
#include <sys/user.h>
#include <pthread.h>
#include <linux/perf_event.h>
#include <asm/perf_regs.h>
#include <sys/syscall.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int gospy_perf_open_sampler(pid_t tid, uint64_t period_ns, uint32_t stack_bytes) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.sample_period = period_ns;
    attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
    attr.sample_regs_user = (1ULL << PERF_REG_X86_BP) | (1ULL << PERF_REG_X86_SP) | (1ULL << PERF_REG_X86_IP);
    attr.sample_stack_user = stack_bytes;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC;
    /* No wakeups: the buffer is polled. Written backward over its oldest records (with a
       read-only mapping: overwrite mode), so the newest sample is always at data_head. */
    attr.wakeup_events = 0;
    attr.write_backward = 1;
    long fd = syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    return (int)fd;
}

uint64_t gospy_perf_data_head(const void *page) {
    const struct perf_event_mmap_page *header = page;
    return __atomic_load_n(&header->data_head, __ATOMIC_ACQUIRE);
}
