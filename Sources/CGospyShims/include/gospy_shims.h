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

#endif
