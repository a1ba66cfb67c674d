/*
 * cgroup_match: choosing processes by the cgroup they are in, for a
 * node-wide mmapwatch (a DaemonSet, `kubectl debug node/...`), where --comm
 * java would take every JVM of the node.
 *
 * Three selectors, each checked against every line of /proc/PID/cgroup
 * (the cgroup v2 "0::" line and each v1 hierarchy's), so that any driver
 * and either version works:
 *  - --cgroup PATH: the process's cgroup is PATH or below it (a child
 *    cgroup; whole components: /a/b does not take /a/bc);
 *  - --container ID: a component of the path names the container: its
 *    64 hex digits alone (cgroupfs drivers: /docker/ID, .../pod.../ID) or
 *    after a runtime's prefix, with or without .scope (systemd drivers:
 *    docker-ID.scope, cri-containerd-ID.scope, crio-ID.scope,
 *    libpod-ID.scope). ID may be a prefix of 12 or more digits, and may
 *    carry the runtime scheme Kubernetes shows (containerd://ID). The
 *    monitor CRI-O and Podman run beside a container (crio-conmon-ID.scope)
 *    is not the container and is not taken;
 *  - --pod UID: a component is pod<UID> (the kubelet's cgroupfs driver:
 *    /kubepods/burstable/pod<UID>) or ends in -pod<UID>[.slice] (its
 *    systemd driver, which writes the UID's dashes as underscores:
 *    kubepods-burstable-pod<UID_>.slice). Dashes, underscores or none, and
 *    upper or lower case, are the same UID; a static pod's UID is 32 hex
 *    digits without dashes.
 *
 * Paths are compared as /proc/PID/cgroup shows them to mmapwatch, that is
 * relative to its cgroup namespace: from inside a container with a
 * cgroup namespace of its own, other containers' paths start with "/..";
 * their components still name the container and the pod.
 *
 * Pure: no I/O, no allocation. A struct cgroup_sel points into the text it
 * was parsed from (argv), which must outlive it.
 */
#ifndef MMAPWATCH_CGROUP_MATCH_H
#define MMAPWATCH_CGROUP_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#define CGROUP_ID_DIGITS 64     /* a container id */
#define CGROUP_ID_MIN_DIGITS 12 /* the shortest prefix taken (docker ps shows 12) */
#define CGROUP_UID_DIGITS 32    /* a pod UID without its dashes */

enum cgroup_sel_kind {
    CGROUP_SEL_PATH,      /* --cgroup */
    CGROUP_SEL_CONTAINER, /* --container */
    CGROUP_SEL_POD,       /* --pod */
};

struct cgroup_sel {
    enum cgroup_sel_kind kind;
    const char *text;  /* as given (for messages) */
    const char *path;  /* PATH: into text, without trailing slashes */
    size_t path_len;
    /* CONTAINER: lower-case hex digits (a prefix when fewer than 64);
     * POD: the UID's 32 lower-case hex digits. NUL-terminated. */
    char digits[CGROUP_ID_DIGITS + 1];
    size_t ndigits;
};

/* The option name of a kind: "cgroup", "container" or "pod". */
const char *cgroup_sel_name(enum cgroup_sel_kind kind);

/* Parses text for the option of that kind into *sel. true, or false with
 * a one-sentence reason in why (what is wrong and what is expected; the
 * caller adds the option and the text). */
bool cgroup_sel_parse(enum cgroup_sel_kind kind, const char *text, struct cgroup_sel *sel,
                      char *why, size_t why_size);

/* Whether the cgroup path (one line's, without the "ID:CONTROLLERS:"
 * part) of length len is selected by sel. For a container, *id (when not
 * NULL, CGROUP_ID_DIGITS + 1 bytes) gets the full id of the component
 * that matched. */
bool cgroup_sel_match_path(const struct cgroup_sel *sel, const char *path, size_t len,
                           char *id);

/* The same over a whole /proc/PID/cgroup text: true when any line's path
 * matches; then *line_path (when not NULL) is that path, cut to fit
 * line_path_size, and *id as above. */
bool cgroup_sel_match_proc(const struct cgroup_sel *sel, const char *text, char *line_path,
                           size_t line_path_size, char *id);

#endif
