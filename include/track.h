/*
 * track: what a finished memory-map syscall does to the region model, and
 * whether it is reported. Part of the model (model.h calls it); knows
 * nothing of how events are obtained.
 *
 * The rules (README "Which events are reported"): an mmap is reported when
 * its length is at least --min-size, or when it replaces part of a reported
 * region; munmap, mremap and mprotect when they touch a reported region
 * (mremap also when the new length reaches --min-size). With --min-size 0
 * every call is reported; --max-size leaves longer mmaps out. Growth in
 * place (brk, commits into reservations, mremap of one: growth.h) is
 * reported as "growth" events at each --min-size step of an area's
 * committed size; the part committed since the area's last report becomes
 * a reported region (dumped, counted in the summary). Reported mmaps become regions of the calling
 * task's address space, so their whole life can be followed, and are
 * handed to the dumper.
 *
 * Address reuse across threads: a munmap, mremap or mprotect applies only
 * to the regions that existed when it entered (region.born_ns <= the
 * call's entered_ns): a region another thread mapped at the same address
 * after the kernel freed it is not touched by the late result. And a
 * successful mmap without MAP_FIXED that returns an address overlapping a
 * region proves that region gone already (the kernel never hands out a
 * mapped address): it is ended there, on behalf of the thread whose
 * munmap or mremap over it is still in flight, which reports it with its
 * own result.
 */
#ifndef MMAPWATCH_TRACK_H
#define MMAPWATCH_TRACK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "decode.h"
#include "event.h"
#include "procfs.h"
#include "task.h"

struct dumper;
struct summary;
struct unwinder;

struct track_policy {
    uint64_t min_size;
    uint64_t max_size;         /* --max-size; 0: none */
    bool report_failed;
    struct task_table *tasks;  /* every task: who else has a call in flight */
    struct dumper *dumper;     /* new regions are scheduled for a dump; NULL: no dumps */
    struct unwinder *unwinder; /* -k: new regions and failed mmaps get a stack; NULL: none */
    struct summary *summary;   /* -c: new regions are counted; NULL: no summary */
    /* The thread's name now ("?" when unknown); from the event source. */
    void (*thread_name)(void *ctx, pid_t pid, pid_t tid, char out[PROCFS_COMM_MAX]);
    /* -k: the registers of a thread the source holds stopped (the first
     * half of a stack's capture); false when they cannot be had. */
    bool (*capture_regs)(void *ctx, pid_t tid, struct stack_regs *out);
    void *ctx;
};

/* When the result being applied happened. */
struct track_when {
    struct timespec ts;  /* CLOCK_REALTIME, for the event's time */
    uint64_t done_ns;    /* CLOCK_MONOTONIC: new regions are born then */
    bool stopped;        /* the thread is stopped: its stack can be captured */
    const char *comm;    /* the thread's name from the source, or NULL */
    const struct stack_snapshot *stack; /* the source's own snapshot, or NULL */
};

/* At syscall entry (task->call: arch, nr, args; result unknown): whether
 * the call could be reported (syscall_report_need, the rule the seccomp
 * filter applies too), i.e. whether its result is worth a stop at syscall
 * exit. A munmap that touches no reported region needs no second stop,
 * with --min-size above 0; nor does a brk that can neither shrink the
 * heap below its end last seen nor take it past its next step
 * (growth_brk_want_result). */
bool track_may_report(const struct track_policy *policy, const struct task *task);

/* Whether area a (of process pid's growth set g) is a glibc arena heap:
 * decided once its header can be read without faulting a page in, and
 * labelled so (growth_label). */
struct growth;
struct growth_area;
bool track_label_area(pid_t pid, struct growth *g, const struct growth_area *a);

/* --adopt: [start, end) of the leader's process, an anonymous mapping
 * there before the attach, becomes a reported region (a new id; its
 * mapper unknown: the leader stands for it): an "existing" event, its
 * summary row and its dump, as for a new mmap. false on ENOMEM. */
bool track_adopt_region(const struct track_policy *policy, struct task *leader, uint64_t start,
                        uint64_t end, int prot, bool shared, const struct track_when *when);

/* Applies *call, made by task (whose task->call is the call in flight), and
 * writes the event if it is reported. Returns true if an event was
 * written. */
bool track_map_call(const struct track_policy *policy, struct task *task,
                    const struct map_call *call, const struct track_when *when);

#endif
