/*
 * perf_follow: which processes' records the perf source hands on when its
 * events are scoped to a cgroup (source layer; pure: no system calls,
 * unit-tested with synthetic events).
 *
 * Events opened per CPU for a cgroup see every process of that cgroup:
 * the targets, their descendants, and strangers (a sidecar, a shell, the
 * container's init). The followed set starts with the targets
 * (perf_follow_add) and learns from the events themselves, in kernel
 * time order (perf_follow_pass, called on each event perf_pair emits):
 *
 *   - a process created by a followed process is followed (a child forked
 *     or vforked after the attach, like inheritance in the per-thread
 *     layout; children that existed before the attach are not, as there);
 *   - a process created by anyone else under a followed pid is a reuse of
 *     that pid by a stranger: the pid stops being followed;
 *   - every other event passes when its process (pid, the thread group) is
 *     followed; losses always pass.
 *
 * A followed pid stays followed after its process ends (its last records
 * may still be on their way), until a stranger's fork reuses it.
 *
 * Ownership: the caller's. Not thread-safe (the loop's thread only).
 */
#ifndef MMAPWATCH_PERF_FOLLOW_H
#define MMAPWATCH_PERF_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "perf_pair.h"

struct perf_follow;

/* NULL on allocation failure. */
struct perf_follow *perf_follow_new(void);

/* Follows process pid (a target). 0, or -1 on allocation failure. */
int perf_follow_add(struct perf_follow *f, pid_t pid);

bool perf_follow_has(const struct perf_follow *f, pid_t pid);

/* Whether ev belongs to a followed process; learns new processes and
 * reused pids from SPAWN events. Call in time order, for every event. */
bool perf_follow_pass(struct perf_follow *f, const struct perf_ev *ev);

/* The followed pids, sorted: *n set to their number. Valid until the
 * next call that changes the set. */
const pid_t *perf_follow_pids(const struct perf_follow *f, size_t *n);

/* Accepts NULL. */
void perf_follow_free(struct perf_follow *f);

#endif
