/*
 * event: what an event source (ptrace today, perf_event next) tells the
 * model, in terms that know nothing of how it was learnt.
 *
 * A source fills one struct event per thing that happened and hands it to
 * the model (model.h) in the order of their times (time_ns), across all
 * threads: a source with several buffers (perf's per-CPU rings) merges
 * them by timestamp. A syscall's entry and exit are two events, with other
 * threads' events between them; the model's rules (track.h: address reuse
 * across threads) rely on that order, not on entry and exit being
 * adjacent.
 *
 * Ownership: the event and everything it points to belong to the source
 * and are valid only during the call that hands it over.
 */
#ifndef MMAPWATCH_EVENT_H
#define MMAPWATCH_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum event_kind {
    EVENT_CALL_ENTER,  /* a syscall of syscalls.h began: call */
    EVENT_CALL_DONE,   /* the thread's syscall returned: result (the model
                          pairs it with the thread's last EVENT_CALL_ENTER) */
    EVENT_SPAWN,       /* a thread or process the model did not know: spawn */
    EVENT_EXEC,        /* the thread's process ran a new program: exec */
    EVENT_THREAD_EXIT, /* the thread is exiting, its memory still there: exit */
    EVENT_GONE,        /* the thread is gone for good (reaped): gone */
    EVENT_ATTACHED,    /* a process was seized with its threads: attached */
    EVENT_DETACHED,    /* the source let the thread go (it lives on, untraced) */
    EVENT_LOST,        /* the source dropped events: lost */
    EVENT_CALL_VOIDED, /* the thread's last EVENT_CALL_ENTER gets no result: a
                          loss may have taken it (its EVENT_LOST counts it) */
};

/* The user registers a stack walk starts from (x86_64; a perf sample's
 * PERF_SAMPLE_REGS_USER or PTRACE_GETREGS). */
struct stack_regs {
    uint64_t ip, sp, bp, bx, r12, r13, r14, r15;
    uint64_t ax, cx, dx, si, di, r8, r9, r10, r11;
};

/* Registers and a copy of the top of the user stack, for a source that
 * cannot keep the thread stopped until its stack is walked (a perf
 * sample), or taken at the stop (unwind_capture): the walk (unwind.h)
 * reads these instead of a live thread. x86_64 only. */
struct stack_snapshot {
    struct stack_regs regs;
    const uint8_t *bytes;     /* the stack from regs.sp upward */
    size_t len;
};

struct event {
    enum event_kind kind;
    pid_t pid;                /* thread group id */
    pid_t tid;
    uint32_t arch;            /* SYSCALL_ARCH_* of the syscall (calls only) */
    uint64_t time_ns;         /* CLOCK_MONOTONIC: comparable across sources */
    const char *comm;         /* the thread's name when the source has it; NULL:
                                 the model asks source_ops.thread_name */
    bool stopped;             /* the thread is stopped now and the source can
                                 hold it there (model_reply.holds) */
    const struct stack_snapshot *stack; /* NULL: none (a stopped thread's stack
                                 is captured through source_ops) */
    union {
        struct {
            uint64_t nr;      /* the arch's number (syscalls.h) */
            uint64_t args[6];
        } call;
        struct {
            int64_t rval;     /* raw return value (negative errno when is_error) */
            bool is_error;
        } result;
        struct {
            pid_t parent;     /* the thread that created it; if unknown, the parent
                                 process (PPid); 0 when neither is known */
            bool shares_vm;   /* a process that shares its parent's memory
                                 (vfork, clone with CLONE_VM) until it execs */
        } spawn;
        struct {
            pid_t former_tid; /* the thread that ran exec: a non-leader takes
                                 over the leader's tid (this event's tid) */
        } exec;
        struct {
            bool killed;      /* by a fatal signal: the whole group goes with it */
        } exit;
        struct {
            int status;       /* as wait4 reports it */
        } gone;
        struct {
            unsigned threads;
        } attached;
        struct {
            uint64_t count;   /* events dropped (0: unknown how many) */
            uint64_t from_ns, to_ns; /* when (CLOCK_MONOTONIC) */
            /* Calls the source voided for it: their entries were sent, their
             * results never will be (a thread may have several in the
             * window; 0 from a source that does not count them). */
            uint64_t calls_voided;
        } lost;
    };
};

#endif
