/*
 * ptrace_internal: what the two files of the ptrace source share
 * (src/ptrace_source.c: stops, restarts, detach, launch; src/ptrace_attach.c:
 * seizing a running process). Private to them: everything else uses
 * ptrace_source.h.
 *
 * Threads: the loop's thread only.
 */
#ifndef MMAPWATCH_PTRACE_INTERNAL_H
#define MMAPWATCH_PTRACE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "event.h"
#include "ptrace_source.h"
#include "source.h"

enum syscall_state {
    SYSCALL_UNKNOWN,  /* just attached: the next syscall stop may be either */
    SYSCALL_OUTSIDE,  /* the next syscall stop is an entry */
    SYSCALL_INSIDE,   /* entered (or seccomp-stopped); the next is the exit */
};

/* One traced thread, as this source needs to know it. */
struct thread {
    pid_t tid;
    pid_t pid;                  /* thread group id */
    enum syscall_state syscall;
    uint32_t arch;              /* AUDIT_ARCH_* of that syscall */
    uint64_t nr;                /* syscall number seen at entry */
    bool want_exit_stop;        /* launch mode: restart with PTRACE_SYSCALL to see the result */
    bool detaching;             /* detach at the next stop */
    unsigned holds;             /* the model wants it held until released this often */
    struct thread *next;
};

/* A stop collected by wait4, to be handled once the batch is complete. */
struct ptrace_stop {
    pid_t tid;
    int status;
    uint64_t time_ns;
};

struct ptrace_source {
    struct event_sink sink;
    int sigchld_fd;             /* signalfd for SIGCHLD: readable when a tracee stopped */
    unsigned long ptrace_options;
    bool launch_mode;
    pid_t launched_pid;
    int launched_status;
    bool launched_done;
    bool detaching;
    struct timespec detach_started; /* for -v: how long letting go took */
    struct thread **buckets;
    size_t nbuckets, count;     /* nbuckets: a power of two */
    /* Detach events of leaders let go while threads of theirs were still
     * traced: the model's "detach" means the whole process is let go, so
     * each is said once the process's last thread is (remove_thread). */
    struct event *unsaid_detaches;
    size_t nunsaid, capunsaid;
    struct ptrace_stats stats;
    struct ptrace_stop *batch;  /* room for a stop of every tracee: see ptrace_source_drain */
    size_t batch_cap;
};

double ptrace_seconds_since(const struct timespec *t0);

/* The thread table. */
struct thread *ptrace_find(const struct ptrace_source *s, pid_t tid);
struct thread *ptrace_add_thread(struct ptrace_source *s, pid_t tid, pid_t pid);

/* A thread seized or launched: known here, then (EVENT_SPAWN) to the
 * model. NULL on ENOMEM. */
struct thread *ptrace_adopt(struct ptrace_source *s, pid_t pid, pid_t tid);

/* An event about t, and its delivery to the sink (holds taken on t). */
struct event ptrace_event_of(const struct thread *t, enum event_kind kind, uint64_t time_ns);
struct model_reply ptrace_send(struct ptrace_source *s, struct thread *t, const struct event *e);

/* One stop as wait4 reported it, served (the tracee restarted unless held). */
void ptrace_handle_stop(struct ptrace_source *s, pid_t tid, int status, uint64_t time_ns);

#endif
