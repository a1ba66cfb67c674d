/*
 * perf_pair: what the perf source's records mean, in time order (source
 * layer; pure: no system calls, unit-tested with synthetic records).
 *
 * The perf source decodes records from one ring per CPU; each ring is in
 * time order, the rings together are not. perf_pair takes the decoded
 * items (perf_pair_push), keeps them until the caller says no earlier
 * item can still arrive (perf_pair_release's watermark), and then handles
 * them in kernel-timestamp order:
 *
 *   - duplicates are dropped: a thread covered twice (its own events opened
 *     at attach, and events inherited from the thread that created it while
 *     we attached) makes every record twice, from two different opened
 *     events ("owners"), back to back, with the same content;
 *   - a syscall's entry is said at once (PERF_EV_CALL_ENTER, for a model
 *     that wants entries and exits in time order across threads) and kept
 *     per thread until its exit; the pair then becomes one
 *     PERF_EV_MAP_CALL (arguments, result, both times). An exit
 *     with no entry is dropped and counted (the entry was filtered in the
 *     kernel by --min-size, or happened before the attach);
 *   - a LOST record voids every entry that began before the end of the
 *     loss: their exits may be among the lost records, and pairing a later
 *     exit with them could join two different calls. Marked records (the
 *     BPF reader's: each says how many records of its thread's bucket were
 *     dropped before it) need no window: an exit whose mark differs from
 *     its entry's voids that entry, wherever the loss was, and a marked
 *     LOST voids nothing itself; the rest of this item is about unmarked
 *     ones. The kernel writes a
 *     LOST record just before the first record that fits again, and stamps
 *     it after that record's own time: so a LOST is handled right after the
 *     last record its ring had before the gap, and entries up to the LOST's
 *     own time are voided even when handled after it. Voided map entries
 *     come out as PERF_EV_MAP_UNFINISHED (the call may or may not have
 *     happened). The PERF_EV_LOST comes once the loss's window has passed
 *     (overlapping losses as one), after every entry it voided and before
 *     any record from after the window: it counts them (calls_voided), and
 *     every call still open when it comes is one it voided;
 *   - an i386 entry (not_native: raw tracepoints only) ends what the
 *     thread had waiting like any entry, and is dropped: one
 *     PERF_EV_NOT_NATIVE says so; its exit then has no entry;
 *   - an exec (a COMM record with the exec flag) names the thread that
 *     called execve (its entry is waiting): a non-leader exec takes over the
 *     leader's tid, and the event says which tid it was (former_tid);
 *   - a stack sample taken apart from its call's record (PERF_ITEM_STACK:
 *     the BPF reader's calls, their stacks from perf events that sample
 *     only what the programs let through) joins the entry its thread has
 *     waiting, when that entry wants one (wants_stack): the kernel takes
 *     the sample in the same syscall entry, after the program's record, so
 *     in time order it falls between the entry and its exit. A sample no entry takes is dropped and counted
 *     (stray_stacks: its record was dropped, or the call was voided); an
 *     entry that wanted one and reaches its exit without it is counted
 *     (stacks_missing) and reported stackless.
 *
 * Ownership: perf_pair owns the stack snapshot of an item once pushed and
 * frees it; a struct perf_ev and its stack are valid only during the emit
 * callback. Not thread-safe (the loop's thread only).
 */
#ifndef MMAPWATCH_PERF_PAIR_H
#define MMAPWATCH_PERF_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PERF_COMM_MAX 16
#define PERF_STACK_REGS_MAX 24

/* The user registers asked for with stacks (x86_64 perf_regs numbering:
 * AX..IP and R8..R15), and where each lands in perf_stack.regs[]. */
#define PERF_STACK_REGS_MASK 0x00ff01ffULL
enum perf_stack_reg {
    PERF_STACK_AX, PERF_STACK_BX, PERF_STACK_CX, PERF_STACK_DX, PERF_STACK_SI,
    PERF_STACK_DI, PERF_STACK_BP, PERF_STACK_SP, PERF_STACK_IP, PERF_STACK_R8,
    PERF_STACK_R9, PERF_STACK_R10, PERF_STACK_R11, PERF_STACK_R12, PERF_STACK_R13,
    PERF_STACK_R14, PERF_STACK_R15, PERF_STACK_NREGS
};

/* Registers and a copy of the top of the user stack, taken by the kernel
 * at a syscall's entry (PERF_SAMPLE_REGS_USER + PERF_SAMPLE_STACK_USER).
 * regs[] are in the order of the bits of regs_mask (enum perf_stack_reg
 * for PERF_STACK_REGS_MASK). */
struct perf_stack {
    uint64_t abi;        /* PERF_SAMPLE_REGS_ABI_64 / _32 */
    uint64_t regs_mask;
    unsigned nregs;
    uint64_t regs[PERF_STACK_REGS_MAX];
    uint64_t size;       /* bytes in data, copied from the stack pointer up */
    unsigned char data[];
};

enum perf_item_kind {
    PERF_ITEM_ENTER,     /* sys_enter_* (or raw): nr, args */
    PERF_ITEM_EXIT,      /* sys_exit_*: nr, ret */
    PERF_ITEM_COMM,      /* comm; exec when the exec flag was set */
    PERF_ITEM_FORK,      /* pid/tid: the new thread; ppid/ptid: its creator */
    PERF_ITEM_TASK_EXIT, /* pid/tid: the thread that ended */
    PERF_ITEM_LOST,      /* lost records on cpu, between lost_from and time (the
                          * LOST record's own time stamp) */
    PERF_ITEM_NEWTASK,   /* task:task_newtask, written by the creator (pid/tid)
                          * after its FORK record: child, clone_flags */
    PERF_ITEM_STACK,     /* stack: the registers and stack copy of the entry
                          * tid has waiting (taken apart from its record) */
};

/* One decoded record, as the source pushes it. */
struct perf_item {
    enum perf_item_kind kind;
    uint64_t time;        /* CLOCK_MONOTONIC ns */
    uint32_t owner;       /* which opened event wrote it (the tid it was opened for) */
    uint64_t content;     /* a hash of what the record says (duplicate check) */
    uint32_t cpu;
    pid_t pid, tid;
    pid_t ppid, ptid;     /* FORK */
    uint32_t tp;          /* ENTER/EXIT: the tracepoint id */
    int nr;               /* ENTER/EXIT: the syscall number */
    bool is_exec_call;    /* ENTER of execve/execveat (never a map call) */
    bool not_native;      /* ENTER: an i386 call (raw tracepoints): dropped, said */
    bool abi_unsure;      /* ENTER, not_native: or an x86_64 one, the registers
                           * could not tell (perf_rawsys.h) */
    uint64_t args[6];     /* ENTER */
    int64_t ret;          /* EXIT */
    bool exec;            /* COMM: caused by an exec */
    char comm[PERF_COMM_MAX];
    pid_t child;          /* NEWTASK: the new task's tid */
    uint64_t clone_flags; /* NEWTASK */
    uint64_t lost;        /* LOST: how many records */
    uint64_t lost_from;   /* LOST: the ring's last record time before the gap */
    uint64_t lost_to;     /* LOST: set by perf_pair_push (the record's time) */
    bool by_counter;      /* LOST: found by the events' lost counters, not a record;
                           * lost 0: a record for losses already reported that way
                           * (it still voids, but says nothing) */
    bool marked;          /* ENTER, EXIT, LOST: from a reader whose records carry
                           * their thread's drop mark (the BPF reader) */
    uint64_t drop_mark;   /* ENTER, EXIT (marked): records of the thread's bucket
                           * dropped before this one (perf_bpf_prog.h) */
    bool wants_stack;     /* ENTER: its stack comes as a PERF_ITEM_STACK */
    struct perf_stack *stack; /* ENTER with -k, STACK: owned by perf_pair once pushed */
};

enum perf_ev_kind {
    PERF_EV_CALL_ENTER,     /* a syscall's entry, in time order (args, stack);
                             * its MAP_CALL or MAP_UNFINISHED follows */
    PERF_EV_MAP_CALL,       /* entry and exit of a memory-map syscall */
    PERF_EV_MAP_UNFINISHED, /* an entry whose exit a loss may have taken */
    PERF_EV_COMM,           /* a thread renamed itself */
    PERF_EV_EXEC,           /* pid's image replaced; tid == pid; former_tid called it */
    PERF_EV_SPAWN,          /* a thread (pid == parent_pid) or process created */
    PERF_EV_THREAD_EXIT,    /* a thread ended */
    PERF_EV_LOST,           /* records lost on cpu in [lost_from, lost_to] */
    PERF_EV_NEWTASK,        /* the clone flags of the task pid/tid created (child):
                             * right after its SPAWN, before any record of the
                             * child (the kernel writes it before the child runs) */
    PERF_EV_NOT_NATIVE,     /* an i386 call (nr in i386 numbers, args), or one that
                             * could be (abi_unsure): not followed */
};

/* What perf_pair hands on, in time order. */
struct perf_ev {
    enum perf_ev_kind kind;
    uint64_t time;         /* CLOCK_MONOTONIC ns (a map call's: its exit) */
    pid_t pid, tid;
    uint32_t cpu;
    /* CALL_ENTER, MAP_CALL, MAP_UNFINISHED */
    int nr;
    uint64_t args[6];
    int64_t ret;           /* raw: negative errno on failure */
    uint64_t enter_time;
    const struct perf_stack *stack; /* NULL without -k */
    bool abi_unsure;       /* NOT_NATIVE: perhaps an x86_64 call after all */
    /* COMM, EXEC */
    char comm[PERF_COMM_MAX];
    pid_t former_tid;      /* EXEC: the tid that called execve (0: not seen) */
    /* SPAWN */
    pid_t parent_pid, parent_tid;
    /* NEWTASK */
    pid_t child;
    uint64_t clone_flags;
    /* LOST */
    uint64_t lost;
    uint64_t lost_from, lost_to;
    bool lost_by_counter;  /* counted by the events' lost counters (a ring
                            * found full, or at the end), before or without a
                            * LOST record */
    uint64_t calls_voided; /* map calls voided by it (each had its
                            * MAP_UNFINISHED before this event) */
};

typedef void (*perf_emit_fn)(const struct perf_ev *ev, void *ctx);

struct perf_pair_stats {
    uint64_t duplicates;     /* records dropped as the second copy of one */
    uint64_t unpaired_exits; /* exits with no entry (filtered, or before attach) */
    uint64_t voided;         /* map calls voided by losses (their calls_voided, summed) */
    uint64_t lost;           /* records the kernel reported lost */
    uint64_t not_native;     /* i386 entries dropped (PERF_EV_NOT_NATIVE) */
    uint64_t stray_stacks;   /* PERF_ITEM_STACKs no waiting entry took */
    uint64_t stacks_missing; /* entries that wanted a PERF_ITEM_STACK and were
                              * paired with their exit without one */
};

struct perf_pair;

/* NULL on allocation failure. */
struct perf_pair *perf_pair_new(perf_emit_fn emit, void *ctx);

/* Queues a copy of *item (and takes its stack). 0, or -1 on allocation
 * failure (the stack is freed then too). */
int perf_pair_push(struct perf_pair *p, const struct perf_item *item);

/* Handles, in time order, every queued item with time <= watermark
 * (UINT64_MAX: all of them, at the end). Items pushed later must not be
 * older than the watermark given here (the source's contract). */
void perf_pair_release(struct perf_pair *p, uint64_t watermark);

size_t perf_pair_queued(const struct perf_pair *p);
const struct perf_pair_stats *perf_pair_stats(const struct perf_pair *p);

/* Frees everything, the queued items' stacks included. Accepts NULL. */
void perf_pair_free(struct perf_pair *p);

#endif
