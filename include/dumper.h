/*
 * dumper: when each reported region is dumped, and by whom.
 *
 * The tracer thread owns the dumper and is the only caller of every
 * function here. Dumps themselves (dump.h: process_vm_readv, pagemap,
 * sparse files) run on DUMPER_WORKERS worker threads, each with a second
 * copier of its own (dump_copy.h; dumper_worker.c), so the loop keeps
 * serving stops while a large region is written; with --strings one more
 * thread, at a lower priority, writes each finished dump's .strings from
 * its .bin (a "strings" event after the "dump" one). Those threads hand
 * their work back and wake the loop through an eventfd (dumper_done_fd);
 * dump deadlines are a timerfd (dumper_timer_fd). Both are in the loop's
 * poll set: no signal is involved.
 *
 * Rules (docs/mmapwatch.1, DUMPS):
 *  - a new region is dumped --delay after its mmap ("delay"), then every
 *    --redump ("redump") while it is mapped;
 *  - not dumped: a region with nothing readable (a PROT_NONE reservation;
 *    its timed dump waits for a commit, looked for every --delay, at
 *    least every second), and a read-only mapping of a file;
 *  - a region not yet dumped that is about to be unmapped, moved or shrunk,
 *    or whose process exits or execs, is dumped right then ("unmap", "exit",
 *    "exec"); at an unmap a region of up to 1 MiB (dumper.c) is copied
 *    at once and the thread goes on, otherwise the thread doing it is held
 *    until the dump is written; a thread that unmaps a region whose dump
 *    (not a copy) is in flight is held until it is done (so a dump never
 *    mixes two mappings);
 *  - dumps that start together go newest region first, a dump a thread is
 *    held for before any other;
 *  - quotas (--max-dumps, --max-dump-bytes) turn further dumps into "skip"
 *    events; tracing goes on. Without --max-dumps, regions of up to 1 MiB
 *    get 100 dumps in all, then skip events saying how to have more (a
 *    program that maps thousands of small regions is not made to wait
 *    for thousands of files nobody reads); larger regions go on; Each dump's resident size is reserved from
 *    pagemap before it writes anything, so dumps that start together
 *    cannot all pass the byte quota;
 *  - past --exit-dump-timeout, dumps cancelled or not started get "skip"
 *    events naming it, and a strings pass cut short an "error" event;
 *  - a drain (dumper_drain, dumper_flush) waits for the strings passes too.
 *
 * Regions are named by their id (struct region.id, unique for the run);
 * the dumper asks the tracer, through region_extent, where a region is
 * when its dump starts (it may have been trimmed or moved meanwhile).
 */
#ifndef MMAPWATCH_DUMPER_H
#define MMAPWATCH_DUMPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct dumper;

struct dumper_config {
    int dir_fd;                  /* from dump_dir_open(); the dumper closes it */
    const char *dir_path;        /* for the "path" of dump events */
    uint64_t delay_ns;
    uint64_t redump_ns;          /* 0: once */
    bool on_unmap;
    unsigned strings_min;        /* 0: no .strings */
    uint64_t max_bytes;
    uint64_t max_dumps;          /* 0: no limit */
    /* Where region id of process pid is now: its hull [*start, *end) and
     * prot, and a live thread to read it through (*reader: mapper if it
     * still runs; a leader that called pthread_exit has no memory to read
     * through). false when the region is gone. */
    bool (*region_extent)(void *ctx, pid_t pid, uint64_t id, pid_t mapper, uint64_t *start,
                          uint64_t *end, int *prot, pid_t *reader);
    /* A thread held for dumps may go on (called once per hold). */
    void (*release)(void *ctx, pid_t tid);
    /* A dump of region id was written (NULL: not wanted). */
    void (*dumped)(void *ctx, uint64_t id);
    void *ctx;
};

/* What the dumper needs to know of a new region. */
struct dump_target {
    uint64_t id;
    pid_t pid, tid;
    char comm[16];
    uint64_t addr, len;
    int prot, flags;
    struct timespec mapped_at;
    const char *stack_json;  /* -k: JSON array of the mapping call's stack, or NULL;
                                dumper_schedule copies it */
};

/* Starts the worker. NULL after logging why. config->dir_fd is the
 * dumper's from this call on, also when it fails (closed then). */
struct dumper *dumper_new(const struct dumper_config *config);

/* Cancels a dump in flight, stops the worker, frees everything. NULL ok. */
void dumper_free(struct dumper *d);

/* A region was reported: schedule its first dump. */
void dumper_schedule(struct dumper *d, const struct dump_target *target);

/* Regions ids[0..n) of process pid are about to go (reason "unmap",
 * "exit" or "exec"). Dumps the ones not dumped yet at once (unless
 * --no-dump-on-unmap), forgets their later dumps, and returns how many
 * dumps thread tid must wait for: the caller holds it until release() has
 * been called that many times. */
unsigned dumper_before_gone(struct dumper *d, pid_t pid, const uint64_t *ids, size_t n,
                            const char *reason, pid_t tid);

/* The same moment for a source that cannot hold threads (perf), told
 * after the fact: regions not dumped yet are not read (the address may
 * hold another mapping by now) but reported as "skip" events saying why
 * (reason as above), and forgotten. */
void dumper_unheld_gone(struct dumper *d, pid_t pid, const uint64_t *ids, size_t n,
                        const char *reason);

/* Regions targets[0..n) are dumped now, with this reason ("threshold": the
 * memory cgroup nears its limit, and a process the OOM killer ends gets no
 * stop to be dumped at), holding no thread. A region whose dump is running
 * is left to that dump; one waiting for a dump (its first, or a redump)
 * still gets it when due, this one coming in between (the next seq).
 * Quotas apply as to any dump. Returns how many dumps were started; none
 * while shutting down (dumper_flush). */
size_t dumper_dump_now(struct dumper *d, const struct dump_target *targets, size_t n,
                       const char *reason);

/* The fds the loop polls: readable when a dump deadline passed
 * (then dumper_run_due) and when the worker finished dumps (then
 * dumper_collect). */
int dumper_timer_fd(const struct dumper *d);
int dumper_done_fd(const struct dumper *d);

/* Starts the dumps whose time has come (dumper_timer_fd readable). */
void dumper_run_due(struct dumper *d);

/* Takes the finished dumps (dumper_done_fd readable): writes their events,
 * calls release() for held threads, schedules redumps. */
void dumper_collect(struct dumper *d);

/* Shutting down: every pending dump starts now, and regions reported from
 * now on are not scheduled. Returns true when no dump is pending or
 * running any more. */
bool dumper_flush(struct dumper *d);

/* Past the exit bound: the dump in flight is cancelled (no partial file)
 * and pending ones are skipped. */
void dumper_cancel(struct dumper *d);

/* Nothing is traced any more (the targets are gone): waits for the dumps
 * still being written (copies taken before an unmap, dumps.h snapshots)
 * and writes their events, for at most timeout_ns; then cancels the rest
 * (skip events). Blocks the calling (loop) thread. */
void dumper_drain(struct dumper *d, uint64_t timeout_ns);

#endif
