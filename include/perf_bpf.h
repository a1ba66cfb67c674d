/*
 * perf_bpf: the perf source's calls read by small BPF programs on the
 * syscall tracepoints (source layer, used by perf_source only).
 *
 * Why: perf events on raw_syscalls cost every system call of a followed
 * thread a record built and filtered (about 250 ns for getppid here), and
 * the per-call tracepoints cost sixteen events switched in and out at
 * every context switch. A BPF program attached to a tracepoint runs only
 * where that tracepoint fires (the map calls, not getppid), for every
 * process of the machine, from one perf event per tracepoint: it looks the
 * caller's process up in a map of followed processes and, for those only,
 * writes a record into one ring shared by all CPUs (BPF_MAP_TYPE_RINGBUF,
 * read in the order the records were reserved). No event is switched at
 * context switches, and nothing depends on the thread count.
 *
 * What the programs see and write (struct perf_bpf_rec, one per hit):
 *   - the map calls' entries (arguments; mmaps shorter than min_size and
 *     not MAP_FIXED are dropped in the kernel) and exits (result), execve,
 *     execveat and exit_group entries;
 *   - task:task_newtask: a new thread or process of a followed process; a
 *     new process (no CLONE_THREAD) is added to the followed map by the
 *     program itself, before the child can run, so nothing it does is
 *     missed;
 *   - sched:sched_process_exec (new name), sched:sched_process_exit
 *     (thread ended; the whole process when group_dead says so, and its
 *     entry leaves the map), task:task_rename (a thread's new name).
 * The programs are assembled here, at run time, with the field offsets of
 * this kernel's tracepoint formats (tracefs.h): no compiler, no BTF.
 *
 * The syscall tracepoints never fire for i386 calls: a 32-bit program is
 * said (as a PERF_ITEM_ENTER with not_native and nr -1) when it is
 * followed (its ELF class, perf_bpf_runs_32bit) or exec'd: a perf event
 * per CPU on sched:sched_process_exec (the "exec watch") samples the user
 * registers' ABI of every exec on the machine (rare), and a followed
 * process's new image that runs 32-bit is said. int $0x80 in a 64-bit
 * program is not seen.
 *
 * With stacks (-k), the stack watch (perf_stack_watch.h) samples the
 * registers and user stack of exactly the stacked entries the programs
 * wrote (they answer 1 for those, 0 for every other call there), and its
 * samples come out as PERF_ITEM_STACK items after their entries, which
 * are marked wants_stack.
 *
 * Where another BPF program already sits on a stacked entry's tracepoint,
 * the stacks are not gated (it could answer 0 to our calls, and ours 0 to
 * its: a second mmapwatch -k is one): perf_bpf_open refuses with stacks
 * and says why, and the perf source reads -k through raw_syscalls.
 *
 * Limits, each said by perf_bpf_probe's reason: the process ids the
 * programs see are the initial pid namespace's, so mmapwatch must run
 * there; loading programs needs CAP_BPF and CAP_PERFMON (or root).
 * Records the ring had no room for are counted by the programs and come
 * out as PERF_ITEM_LOST; every record carries its thread's drop mark
 * (perf_bpf_prog.h), so perf_pair voids only the calls of threads that
 * lost a record in between, not every call near the loss. A new process
 * the map had no room for is said.
 *
 * Closing the descriptors (perf_bpf_close, or mmapwatch's death) detaches
 * and frees every program and map: nothing stays in the kernel.
 * One thread (the loop's).
 */
#ifndef MMAPWATCH_PERF_BPF_H
#define MMAPWATCH_PERF_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "perf_pair.h"

struct perf_bpf_options {
    uint64_t min_size;   /* mmaps shorter (and not MAP_FIXED) are not written; 0: all */
    uint64_t ring_bytes; /* rounded up to a power of two, at least a page */
    const int *cpus;     /* the online CPUs, for the exec watch (below) */
    unsigned ncpus;
    unsigned followed_max; /* processes followed at once; 0: 16,384 */
    bool stacks;           /* -k: the stack watch on the stacked entries */
    uint32_t stack_bytes;  /* copied per stacked entry, a multiple of 8 */
    unsigned stack_ring_pages; /* the stack watch's data pages per CPU (a power of two) */
    bool probe_only;       /* perf_bpf_probe: every program loaded (the verifier's
                            * say), but one attached, and the exec and stack
                            * watches on one CPU and one tracepoint, so that
                            * closing waits for two RCU grace periods, not one
                            * per tracepoint; stats.fds is what a real open holds */
};

struct perf_bpf_stats {
    unsigned tracepoints; /* programs attached */
    unsigned fds;         /* descriptors held: maps, programs, an event per
                           * tracepoint, the exec watch's (one per CPU), the
                           * stack watch's (CPUs x stacked entries) */
    uint64_t ring_bytes;
    bool tracefs_private; /* the formats were read through a private mount */
    uint64_t records;     /* read from the ring */
    uint64_t bad_records; /* of a size or kind not written by our programs */
    uint64_t dropped;     /* records the ring had no room for (the programs' count) */
    uint64_t unfollowed;  /* new processes the followed map had no room for */
    uint64_t execs_lost;  /* exec samples lost (an exec watch's ring was full) */
    bool stacks;          /* the stack watch is open */
    uint64_t stack_samples; /* read from the stack watch */
    uint64_t stacks_lost;   /* stack samples its rings had no room for */
};

struct perf_bpf;

/* Whether the programs, the exec watch on cpus and, with stacks, the
 * stack watch can be opened here (all of them, opened and closed). 0 with
 * the descriptors they hold in *fds, or -1 with a one-line reason in why. */
int perf_bpf_probe(const int *cpus, unsigned ncpus, bool stacks, unsigned *fds, char *why,
                   size_t why_size);

/* Loads the maps and programs and attaches them. NULL with a reason. */
struct perf_bpf *perf_bpf_open(const struct perf_bpf_options *options, char *why,
                               size_t why_size);

/* Follows process tgid (and every process it creates from now on). 0, or
 * -1 with a reason (the map is full). */
int perf_bpf_follow(struct perf_bpf *b, pid_t tgid, char *why, size_t why_size);

/* The descriptors to poll for reading, *n of them: the ring's, readable
 * when records wait (the programs wake it once the ring is half full;
 * drain on a timer too), then the stack watch's rings, if any. Owned by b. */
const int *perf_bpf_poll_fds(const struct perf_bpf *b, size_t *n);

/* Reads every record in the ring, decoded into items handed to push in
 * ring order, then a PERF_ITEM_LOST for what the programs dropped since
 * the last read (its window: from that read's look at the drop count to
 * now, so that it comes before every record written after the drop).
 * The stack samples come first, each before or in the same read as its
 * entry (written before it), and never before its time stamp's order. */
typedef void (*perf_bpf_push_fn)(const struct perf_item *item, void *ctx);
void perf_bpf_read(struct perf_bpf *b, perf_bpf_push_fn push, void *ctx);

/* Whether process pid runs a 32-bit program (/proc/PID/exe is ELFCLASS32):
 * its calls are i386 ones, which the syscall tracepoints never report.
 * Asked at each attach, so that the caller says it (an i386 call made by
 * int $0x80 from a 64-bit program is not seen at all; --perf-calls raw and
 * --source ptrace see those). */
bool perf_bpf_runs_32bit(pid_t pid);

/* The programs' drop count as perf_bpf_read last saw it. */
struct perf_bpf_drops {
    uint64_t seen;    /* drops already reported */
    uint64_t read_at; /* CLOCK_MONOTONIC ns just before the count was last read */
};
/* The count read again between the clock readings before and after:
 * true with the PERF_ITEM_LOST to push in *out when it grew. The loss's
 * window runs from just before the count was read the time before (a drop
 * counted now came after that) to after: not from the last record read,
 * since records written after a drop, while the ring was being read, are
 * read before the count. */
bool perf_bpf_drops_item(struct perf_bpf_drops *d, uint64_t count, uint64_t before,
                         uint64_t after, struct perf_item *out);

/* The BPF programs attached to the tracepoint of perf event event_fd (any
 * tracepoint event; anyone's programs): how many, and their names,
 * comma-separated, into names ("?" for one whose name cannot be read). 0
 * when there are none or the kernel will not say. A program that answers
 * 0 there makes the kernel drop the perf samples of every event on that
 * tracepoint. */
unsigned perf_bpf_programs_on(int event_fd, char *names, size_t size);

const struct perf_bpf_stats *perf_bpf_stats(const struct perf_bpf *b);

/* Detaches and frees everything. Accepts NULL. */
void perf_bpf_close(struct perf_bpf *b);

#endif
