/*
 * targets: processes to trace chosen by name (--comm, --match) or cgroup
 * (--container, --pod, --cgroup), and with --wait the rescans of /proc
 * that find them later (new processes in a selected container too).
 *
 * The rescans run on a timerfd the loop polls (targets_fd): every 250 ms
 * while nothing is traced, every second while something is (each scan
 * reads /proc/PID/stat of every process, and /proc/PID/cgroup with cgroup
 * selectors, on the thread the tracees' stops wait for), never inside a
 * batch of stops.
 *
 * Threads: the loop's thread only. Ownership: targets_new allocates,
 * targets_free frees (NULL ok).
 */
#ifndef MMAPWATCH_TARGETS_H
#define MMAPWATCH_TARGETS_H

#include <stdbool.h>
#include <sys/types.h>

#include "options.h"

struct targets;

struct targets_hooks {
    /* Whether pid is traced already (or about to be). */
    bool (*ours)(void *ctx, pid_t pid);
    /* Attaches to pid: 0, or -1 after saying why. */
    int (*attach)(void *ctx, pid_t pid);
    void *ctx;
};

/* NULL without any of those selectors (*failed false), or after logging
 * why (*failed true). */
struct targets *targets_new(const struct options *opts, const struct targets_hooks *hooks,
                            bool *failed);
void targets_free(struct targets *t);

/* Attaches to every process selected now, with a "target" event before
 * each "attach". Returns how many were attached (0 is fine with --wait),
 * or -1 after logging one line: /proc unreadable, or without --wait an
 * attach that failed (all or nothing, as with -p), no process found, or a
 * container id prefix that names two containers. 0 for NULL. */
int targets_attach(struct targets *t);

/* --wait: the rescan timer's fd (-1 without --wait or for NULL). */
int targets_fd(const struct targets *t);

/* Sets the rescan period: busy (something is traced) or idle. */
void targets_set_busy(struct targets *t, bool busy);

/* The timer fired: rescan. Returns targets_attach's result (-1: /proc is
 * gone, waiting cannot work; said why). */
int targets_rescan(struct targets *t);

#endif
