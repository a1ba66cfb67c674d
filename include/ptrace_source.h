/*
 * ptrace_source: the event source that stops threads. Seizes processes
 * (or launches a command under the seccomp filter), waits for their
 * stops, turns each into events for its sink (source.h), holds a thread
 * while the model wants it held, restarts every tracee with exactly the
 * signal it must get, and detaches. The only module that calls ptrace()
 * or wait4() on tracees and resumes them (ptrace is per tracer thread).
 * DESIGN.md section 4 lists the ptrace rules followed here.
 *
 * Capabilities: can hold, can launch, not lossy.
 *
 * Life: ptrace_source_new() (blocks SIGCHLD, which it reads on its own
 * signalfd, the fd the loop polls), then ptrace_source_attach() for each
 * process or ptrace_source_launch(); ptrace_source_drain() whenever that
 * fd is readable, until it returns -1 (no tracee left);
 * ptrace_source_free().
 *
 * Threads: the loop's thread only. Ownership: the source owns its
 * per-thread state; the sink's ctx is the caller's.
 */
#ifndef MMAPWATCH_PTRACE_SOURCE_H
#define MMAPWATCH_PTRACE_SOURCE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "procfs.h"
#include "source.h"

struct ptrace_source;
struct map_filter;

/* The source as the loop sees it (source.h), with a struct ptrace_source
 * as its state. */
extern const struct source_ops PTRACE_SOURCE_OPS;

/* NULL after saying why. Call before starting any other thread: SIGCHLD
 * must be blocked in every thread. */
struct ptrace_source *ptrace_source_new(const struct event_sink *sink);
void ptrace_source_free(struct ptrace_source *s);

/* Seizes every thread of process pid (rescanning /proc/PID/task until no
 * new thread appears); the sink gets EVENT_SPAWN for each, then
 * EVENT_ATTACHED. 0 (also when pid is followed already), or -1 after
 * logging one line that names the pid and what to do. */
int ptrace_source_attach(struct ptrace_source *s, pid_t pid);

/* Starts argv under filter (launch mode), traced from its first
 * instruction, with signal mask mask. The sink gets EVENT_SPAWN for it.
 * Its pid, or -1 after logging why. */
pid_t ptrace_source_launch(struct ptrace_source *s, char *const argv[], const sigset_t *mask,
                           struct map_filter *filter);

/* Serves every pending stop (after SIGCHLD), all collected before any is
 * handled. Returns how many were served (at most PTRACE_SOURCE_BATCH - 1
 * is said), PTRACE_SOURCE_BATCH (SOURCE_MORE) when memory ran short and
 * more may be pending, or -1 when no tracee is left (ECHILD). */
#define PTRACE_SOURCE_BATCH SOURCE_MORE
int ptrace_source_drain(struct ptrace_source *s);

/* The model lets a held thread go (one hold; it resumes at the last). */
void ptrace_source_release(struct ptrace_source *s, pid_t tid);

/* The thread's name now, "?" when it cannot be read (threads rename
 * themselves: read each time, through a kept fd). */
void ptrace_source_thread_name(struct ptrace_source *s, pid_t pid, pid_t tid,
                               char out[PROCFS_COMM_MAX]);

/* The user registers of thread tid, which must be in a stop (the first
 * half of a stack's capture, unwind.h). false when they cannot be read. */
bool ptrace_source_capture_regs(struct ptrace_source *s, pid_t tid, struct stack_regs *out);

/* Interrupts every tracee so each is detached at its next stop (safe at
 * any time; new tracees are detached at their first stop). */
void ptrace_source_detach_all(struct ptrace_source *s);

/* Threads traced now. */
size_t ptrace_source_count(const struct ptrace_source *s);

/* Whether process pid (or thread pid) is traced, or will be (a child
 * forked by a tracee, traced by the kernel before its first stop). */
bool ptrace_source_follows(const struct ptrace_source *s, pid_t pid);

/* The launched command's wait status, once it is gone. */
bool ptrace_source_launched_status(const struct ptrace_source *s, int *status);

/* For -v: stops served, by kind. */
struct ptrace_stats {
    unsigned long total, syscall, seccomp, signal, group, event, exited;
};
#endif
