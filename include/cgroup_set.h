/*
 * cgroup_set: the memory cgroups of every target, each watched (cgroup.h),
 * for --cgroup-threshold. A sidecar with --wait sees its target restart,
 * and each restart of a container gets a new cgroup (often at the same
 * path): the watch follows the targets, it does not stay on the first.
 *
 * Each target added is looked up: a cgroup already watched (the same
 * directory, not only the same path) gets the target as the one its
 * events name from then on; another gets a watch of its own, with the
 * threshold worked out from its own limit. A target that moves (launch
 * mode: a wrapper that moves itself into a cgroup, then execs) is looked
 * up again when it execs (cgroup_set_add() again). A watch whose last
 * target is gone stops; a watch whose cgroup is removed while its target
 * runs says so (cgroup_watch_take()).
 *
 * Ownership: cgroup_set_new() allocates, cgroup_set_free() stops every
 * watch and frees everything (NULL ok). Only the loop's thread may call
 * these.
 */
#ifndef MMAPWATCH_CGROUP_SET_H
#define MMAPWATCH_CGROUP_SET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"

struct cgroup_set;

/* threshold bytes, or pct (1..100) percent of each cgroup's limit. */
struct cgroup_set *cgroup_set_new(uint64_t threshold, unsigned pct);
void cgroup_set_free(struct cgroup_set *s);

/* Finds the memory cgroup of target pid and watches it (not started yet:
 * cgroup_set_start()). required: a failure is an error (-1, after the
 * error line), as for the first target of -p, which is then left
 * untouched; otherwise it is said and tracing goes on (0). */
int cgroup_set_add(struct cgroup_set *s, pid_t pid, bool required);

/* Starts the watches added since the last call. 0, or -1 after logging. */
int cgroup_set_start(struct cgroup_set *s);

/* Process pid is gone: the watch naming it names the previous target in
 * its cgroup, or stops when none is left (records queued stay to be
 * taken). */
void cgroup_set_remove(struct cgroup_set *s, pid_t pid);

/* Whether pid is a target of a watch. */
bool cgroup_set_has(const struct cgroup_set *s, pid_t pid);

/* Readable when some watch has queued records (the loop polls it, then
 * takes them); valid from cgroup_set_new() to cgroup_set_free(). -1 for
 * NULL. */
int cgroup_set_fd(const struct cgroup_set *s);

/* cgroup_watch_check_oom() on every running watch. */
void cgroup_set_check_oom(struct cgroup_set *s);

/* The oldest record of some watch: true, with *from the watch it came
 * from (its path, threshold, percentage), valid until the next call.
 * Watches that have ended and been drained are freed here. */
bool cgroup_set_take(struct cgroup_set *s, struct cgroup_record *record,
                     const struct cgroup_watch **from);

#endif
