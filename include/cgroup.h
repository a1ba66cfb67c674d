/*
 * cgroup: the target's memory cgroup, watched for a usage threshold and
 * for OOM kills, so that mmapwatch can report (and dump) before the OOM
 * killer acts.
 *
 * Finding the cgroup: the memory line of /proc/PID/cgroup (a cgroup v1
 * hierarchy with the memory controller, else the cgroup v2 "0::" line)
 * gives its path, relative to our cgroup namespace. Its directory is
 * looked for under our own cgroup mounts (/proc/self/mountinfo), then
 * under the target's (/proc/PID/mountinfo, reached through /proc/PID/root:
 * the sidecar case, where our mounts show only our own container). A
 * candidate directory counts only if its cgroup.procs lists the pid, so a
 * shadowed mount or a namesake cgroup is never taken for the target's.
 *
 * Watching (one thread, blocked in poll()):
 *  - cgroup v1: an eventfd registered through cgroup.event_control at the
 *    threshold on memory.usage_in_bytes, rounded up to a page (the kernel
 *    counts whole pages, and signals it when usage crosses the threshold in
 *    either direction), and one on
 *    memory.oom_control (signalled when the cgroup is out of memory);
 *  - cgroup v2, or v1 where cgroup.event_control cannot be written (a
 *    read-only mount, as containers have): memory.current (v1:
 *    memory.usage_in_bytes) read every CGROUP_POLL_MS, because v2 has no
 *    notification at a usage of our choosing (memory.high would be one,
 *    but setting it throttles the target); memory.events is polled for
 *    POLLPRI, which the kernel raises when a counter such as oom_kill
 *    changes.
 * Crossing upward gives a CGROUP_ABOVE record; only after usage fell back
 * below the threshold (CGROUP_BELOW; with a low mark, below that: marks.h)
 * can the next crossing be reported: the watch re-arms itself. Each new OOM kill counted by the cgroup
 * (oom_kill in memory.oom_control or memory.events) gives a CGROUP_OOM
 * record. Records are queued and the loop is woken through an eventfd its
 * owner gives (cgroup_set.h: one for every watch, in the loop's poll set);
 * it takes them with cgroup_watch_take().
 *
 * Nothing here touches the target: only cgroup files are read (the
 * eventfd registration in v1 is the one write, to cgroup.event_control).
 *
 * Ownership: cgroup_watch_new() allocates, cgroup_watch_free() stops the
 * thread and frees everything (NULL ok). Only the thread that called
 * cgroup_watch_start() may call the other functions.
 */
#ifndef MMAPWATCH_CGROUP_H
#define MMAPWATCH_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>


/* How often usage is read when the kernel cannot notify us (v2). */
#define CGROUP_POLL_MS 100

#define CGROUP_PATH_MAX 4096

/* No memory limit (v2 "max"; v1 shows "unlimited" as the largest
 * page-aligned positive 64-bit number, taken as none like any value of
 * 2^62 bytes or more). */
#define CGROUP_NO_LIMIT UINT64_MAX

enum cgroup_version {
    CGROUP_V1 = 1,
    CGROUP_V2 = 2,
};

/* ---- pure parsers (unit-tested) ---------------------------------------- */

/* One line of /proc/PID/cgroup, "ID:CONTROLLERS:PATH" (the path may hold
 * colons itself); the spans point into the text, not NUL-terminated. */
struct cgroup_proc_line {
    const char *id, *controllers, *path;
    size_t id_len, controllers_len, path_len;
};

/* The next line of /proc/PID/cgroup text at *cursor, which it moves past
 * it; lines without two colons are skipped. false at the end. */
bool cgroup_proc_next(const char **cursor, struct cgroup_proc_line *line);

/* From the text of /proc/PID/cgroup: the path of the memory cgroup and its
 * version (a v1 line whose controller list holds "memory" wins over the v2
 * "0::" line, since a controller bound to v1 is absent from v2). 0, or -1
 * when there is no such line or the path does not fit. */
int cgroup_parse_proc(const char *text, char *path, size_t size, enum cgroup_version *version);

/* One line of a mountinfo file: when it is a mount of the hierarchy of
 * that version (v1: fstype "cgroup" with "memory" among its super options;
 * v2: fstype "cgroup2"), its root within the hierarchy and its mount
 * point, with mountinfo's octal escapes (\040) undone, and true. */
bool cgroup_parse_mountinfo_line(const char *line, enum cgroup_version version, char *root,
                                 size_t root_size, char *point, size_t point_size);

/* Where cgroup path lies under a mount of the hierarchy's root at point:
 * prefix + point + (path less root). 0, or -1 when path is not under root
 * or the result would leave the mount ("..") or not fit. */
int cgroup_dir_under(const char *prefix, const char *root, const char *point, const char *path,
                     char *dir, size_t size);

/* A limit file (v1 memory.limit_in_bytes: a number; v2 memory.max: a
 * number or "max"). CGROUP_NO_LIMIT for none. 0, or -1 if malformed. */
int cgroup_parse_limit(const char *text, uint64_t *limit);

/* A decimal number alone on the first line (memory.current). 0 or -1. */
int cgroup_parse_number(const char *text, uint64_t *value);

/* The value of "key N" in a flat keyed file (memory.events, memory.oom_control).
 * 0, or -1 when absent or malformed. */
int cgroup_parse_key(const char *text, const char *key, uint64_t *value);

/* ---- the watch ---------------------------------------------------------- */

enum cgroup_record_kind {
    CGROUP_ABOVE, /* usage crossed the threshold upward */
    CGROUP_BELOW, /* usage fell back below it: re-armed */
    CGROUP_OOM,   /* the cgroup counted new OOM kills */
};

#define CGROUP_COMM_MAX 16

struct cgroup_record {
    enum cgroup_record_kind kind;
    pid_t pid;                  /* the target the watch named when it was queued */
    char comm[CGROUP_COMM_MAX]; /* its name then (it may be gone when taken) */
    struct timespec ts;  /* CLOCK_REALTIME when it was seen */
    uint64_t usage;      /* bytes, read at that moment */
    uint64_t limit;      /* bytes, read then; CGROUP_NO_LIMIT for none */
    uint64_t oom_kills;  /* CGROUP_OOM: the cgroup's oom_kill counter */
    uint64_t new_kills;  /* CGROUP_OOM: kills since the previous record (or the start) */
};

struct cgroup_watch;

/* Finds the memory cgroup of process pid, reads its limit and works out
 * the threshold: threshold bytes, or pct (1..100, then threshold is
 * ignored) percent of the limit. NULL after logging one line that says
 * what to do (no memory cgroup found, no limit for a percentage). */
struct cgroup_watch *cgroup_watch_new(pid_t pid, uint64_t threshold, unsigned pct);

/* The same with two marks (marks.h): CGROUP_ABOVE when usage reaches
 * high, CGROUP_BELOW only once it falls below low (NULL: low_pct percent
 * of high; 100 for high itself), resolved against this cgroup's limit.
 * option names the option in errors ("--attach-above"). */
struct mark;
struct cgroup_watch *cgroup_watch_new_marks(pid_t pid, const struct mark *high,
                                            const struct mark *low, unsigned low_pct,
                                            const char *option);

/* Registers for the notifications and starts the watching thread, which
 * writes 1 to wake_fd (an eventfd the caller owns and outlives the watch)
 * when it queues records. Usage already above the threshold gives a
 * CGROUP_ABOVE record at once. 0, or -1 after logging why. */
int cgroup_watch_start(struct cgroup_watch *w, int wake_fd);

void cgroup_watch_free(struct cgroup_watch *w);

/* The cgroup's path as /proc/PID/cgroup shows it to us, the threshold in
 * bytes, and its percentage of the limit (0 for a SIZE). */
const char *cgroup_watch_path(const struct cgroup_watch *w);
uint64_t cgroup_watch_threshold(const struct cgroup_watch *w);
unsigned cgroup_watch_pct(const struct cgroup_watch *w);
/* The low mark in bytes (the threshold itself without one). */
uint64_t cgroup_watch_low(const struct cgroup_watch *w);

/* Reads the OOM kill counter now (from the caller's thread) and queues a
 * CGROUP_OOM record if it grew: a traced process just died of SIGKILL,
 * and its event should follow the OOM kill that caused it, not race with
 * the watching thread. */
void cgroup_watch_check_oom(struct cgroup_watch *w);

/* Takes the oldest queued record: true, or false when none is left. Also
 * writes the watching thread's diagnostics (records dropped, the watch
 * ended because the cgroup is gone: a warning while the target it names
 * runs, only a -v line once that target is gone, since a container's
 * cgroup is removed when its last process ends). */
bool cgroup_watch_take(struct cgroup_watch *w, struct cgroup_record *record);

/* The target that records name from now on (the newest attached of those
 * in the cgroup); its name is read now. Records queued before keep theirs. */
void cgroup_watch_set_target(struct cgroup_watch *w, pid_t pid);

/* Whether process pid is in this very cgroup now: the same path in
 * /proc/PID/cgroup, and the directory there is still the one watched (a
 * container restarted under the same name gets a new cgroup at the same
 * path). */
bool cgroup_watch_holds(const struct cgroup_watch *w, pid_t pid);

/* Stops the watching thread (records already queued stay to be taken).
 * Idempotent. */
void cgroup_watch_stop(struct cgroup_watch *w);

/* Whether the watch has ended (stopped, or its thread gave up) and every
 * record and diagnostic of it has been taken. */
bool cgroup_watch_done(struct cgroup_watch *w);

#endif
