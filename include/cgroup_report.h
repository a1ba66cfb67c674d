/*
 * cgroup_report: --cgroup-threshold's events. Turns the records of the
 * memory cgroup watch (cgroup.h) into threshold and oom events, naming the
 * largest reported regions still mapped and, with --dump-on-threshold,
 * dumping them while the OOM killer has not acted yet.
 *
 * A consumer: what is mapped comes from the loop (a callback over the
 * model), dumps go to the dumper. Threads: the loop's thread only.
 * Ownership: cgroup_report_new allocates, cgroup_report_free frees (NULL
 * ok) with its watch.
 */
#ifndef MMAPWATCH_CGROUP_REPORT_H
#define MMAPWATCH_CGROUP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "dumper.h"
#include "options.h"

struct cgroup_report;

struct cgroup_report_hooks {
    /* Every reported region still mapped, largest first (model_mapped). */
    struct dump_target *(*mapped)(void *ctx, size_t *n);
    /* Where --dump-on-threshold's dumps go; NULL (or while detaching) none. */
    struct dumper *(*dumper)(void *ctx);
    void *ctx;
};

/* NULL without --cgroup-threshold (and then every call is a no-op), or on
 * ENOMEM (*failed set). */
struct cgroup_report *cgroup_report_new(const struct options *opts,
                                        const struct cgroup_report_hooks *hooks, bool *failed);
void cgroup_report_free(struct cgroup_report *r);

/* Before a target is seized: its memory cgroup is found (cgroup_set.h:
 * one watch per cgroup, following restarts). For the first target it
 * must be, and a percentage needs a limit: failing then leaves the target
 * untouched (0, or -1 after logging why); for later ones a failure is
 * said and tracing goes on. */
int cgroup_report_prepare(struct cgroup_report *r, pid_t pid);

/* Once a target is attached: watching its cgroup starts (usage may be
 * above the threshold already: said at once). 0 or -1 (said). */
int cgroup_report_begin(struct cgroup_report *r, pid_t pid);

/* A process exec'd. For the launched command (launched true) or a target
 * already watched, its cgroup is looked up again and watched: the
 * launched command's is found at its exec, since a wrapper may move
 * itself into another cgroup before it. */
void cgroup_report_exec(struct cgroup_report *r, pid_t pid, bool launched);

/* Process pid is gone (or was never seized): its watch names the previous
 * target in that cgroup, or ends when none is left. */
void cgroup_report_gone(struct cgroup_report *r, pid_t pid);

/* The fd the loop polls: readable when some watch has records. -1 without
 * --cgroup-threshold. */
int cgroup_report_fd(const struct cgroup_report *r);

/* Writes the watch's records as events (when cgroup_report_fd is
 * readable). */
void cgroup_report_records(struct cgroup_report *r);

/* A traced process died of SIGKILL, or the last target ended: an OOM kill
 * is reported before the exit it caused. */
void cgroup_report_check_oom(struct cgroup_report *r);

#endif
