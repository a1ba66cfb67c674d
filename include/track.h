/*
 * track: what a finished memory-map syscall does to the region model, and
 * whether it is reported.
 *
 * The rules (README "Which events are reported"): an mmap is reported when
 * its length is at least --min-size, or when it replaces part of a reported
 * region; munmap, mremap and mprotect when they touch a reported region
 * (mremap also when the new length reaches --min-size). With --min-size 0
 * every call is reported. Reported mmaps become regions of the calling
 * task's address space, so their whole life can be followed, and are
 * handed to the dumper.
 */
#ifndef MMAPWATCH_TRACK_H
#define MMAPWATCH_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "task.h"

struct dumper;
struct summary;
struct unwinder;

struct track_policy {
    uint64_t min_size;
    bool report_failed;
    struct dumper *dumper;     /* new regions are scheduled for a dump; NULL: no dumps */
    struct unwinder *unwinder; /* -k: new regions and failed mmaps get a stack; NULL: none */
    struct summary *summary;   /* -c: new regions are counted; NULL: no summary */
};

/* At syscall entry (task->arch, nr, args; result unknown): whether the
 * call could be reported (syscall_report_need, the rule the seccomp filter
 * applies too), i.e. whether its result is worth a stop at syscall exit. A
 * munmap that touches no reported region needs no second stop, with
 * --min-size above 0. */
bool track_may_report(const struct track_policy *policy, const struct task *task);

/* Applies *call, made by task, and writes the event if it is reported.
 * Returns true if an event was written. */
bool track_map_call(const struct track_policy *policy, struct task *task,
                    const struct map_call *call);

#endif
