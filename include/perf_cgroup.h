/*
 * perf_cgroup: the cgroup a target's perf events can be scoped to
 * (source layer; reads /proc and the cgroup filesystem, opens nothing
 * that lasts but the directory descriptor perf_cgroup_open returns).
 *
 * perf_event_open with PERF_FLAG_PID_CGROUP takes a directory of the
 * hierarchy the perf_event controller is bound to: a cgroup v1 hierarchy
 * mounted with it, or else the cgroup v2 one (where it is always
 * available). The events then see every process of that cgroup and of the
 * cgroups below it, on the CPU they are opened for.
 *
 * The root cgroup is refused: events scoped to it would read every
 * process of the machine.
 *
 * Threads: any; no state.
 */
#ifndef MMAPWATCH_PERF_CGROUP_H
#define MMAPWATCH_PERF_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct perf_cgroup {
    int version;              /* 1 or 2 */
    char name[PATH_MAX];      /* as /proc/PID/cgroup says, e.g. /docker/abc */
    char dir[PATH_MAX];       /* its directory here */
};

/* The perf_event cgroup of process pid. 0, or -1 with a one-line reason
 * (the root cgroup, the v1 hierarchy not mounted here, the process gone). */
int perf_cgroup_of(pid_t pid, struct perf_cgroup *out, char *why, size_t why_size);

/* An O_RDONLY directory descriptor for perf_event_open; -1 with errno. */
int perf_cgroup_open(const struct perf_cgroup *cg);

/* Whether process pid is in cg or a cgroup below it: 1, 0 (it moved out),
 * -1 (gone or unreadable). */
int perf_cgroup_holds(const struct perf_cgroup *cg, pid_t pid);

/* Whether pid is the only process in cg itself (cgroup.procs). */
bool perf_cgroup_alone(const struct perf_cgroup *cg, pid_t pid);

#endif
