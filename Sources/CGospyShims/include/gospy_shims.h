#ifndef GOSPY_SHIMS_H
#define GOSPY_SHIMS_H

#include <sys/types.h>
#include <sys/uio.h>
#include <stdint.h>

/* ptrace(2) is variadic, which Swift cannot call: these fix its arguments. Each returns what
   ptrace returns and leaves errno set on failure. */
long gospy_ptrace_seize(pid_t tid, unsigned long options);
long gospy_ptrace_interrupt(pid_t tid);
long gospy_ptrace_detach(pid_t tid, int signal);

/* The x86-64 registers gospy reads from a stopped thread. */
typedef struct {
    uint64_t rip, rsp, rbp, r14, fs_base;
} gospy_registers;

long gospy_ptrace_registers(pid_t tid, gospy_registers *out);

/* process_vm_readv, declared here so Swift sees one signature on every glibc. */
ssize_t gospy_process_vm_readv(pid_t pid, const struct iovec *local, unsigned long local_count,
                               const struct iovec *remote, unsigned long remote_count);

/* pthread_setname_np is a GNU extension the Glibc module does not declare. */
int gospy_name_current_thread(const char *name);

/* perf_event_open(2) has no glibc wrapper: opens a cpu-clock sampling event on one thread,
   every `period_ns` of its CPU time, recording the user registers BP, SP, IP, the thread id,
   the time (CLOCK_MONOTONIC) and a copy of `stack_bytes` of its user stack from SP. User
   mode only (exclude_kernel: what perf_event_paranoid 2 allows without privileges). Returns
   the fd (close-on-exec) or -1 with errno set. The ring is written backward: map it read-only
   and the newest record starts at data_head. */
int gospy_perf_open_sampler(pid_t tid, uint64_t period_ns, uint32_t stack_bytes);

/* The ring buffer's producer position (acquire), in the perf_event_mmap_page at `page`. */
uint64_t gospy_perf_data_head(const void *page);

#endif
