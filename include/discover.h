/*
 * discover: finding the processes to trace by name (--comm) or by command
 * line (--match), for a sidecar that cannot know the pid in advance, and
 * by the cgroup they are in (--cgroup, --container, --pod: cgroup_match.h),
 * for a node-wide mmapwatch that must not take every JVM of the node.
 *
 * A scan lists /proc and reads, per process, /proc/PID/stat (name, state,
 * kernel-thread flag and start time in one read); /proc/PID/cgroup only
 * with cgroup selectors, and only for a process whose name matched when
 * names are given too (then both must match); /proc/PID/cmdline is read
 * only for a process whose name did not match and only with --match, and
 * for every match (the event shows it). Never offered: mmapwatch itself and
 * its ancestors (a shell that started us carries the regex in its own
 * command line), kernel threads, zombies, processes the caller's skip()
 * rejects (those it traces already), and processes the caller gave up on
 * with discover_ignore() (identified by pid and start time, so a reused pid
 * is a new process).
 *
 * A container id given as a prefix (fewer than 64 digits) must name one
 * container: the first scan that sees processes of exactly one container
 * with that prefix binds it to that container's full id, and from then on
 * only that container is selected (another one with the prefix is named
 * in one warning). A scan that sees two before the prefix is bound offers
 * neither and says so (discover_scan returns -2).
 *
 * Scans are cheap enough to repeat every few hundred milliseconds: no
 * allocation per process, one read per process whose name does not match
 * (two with cgroup selectors).
 *
 * Ownership: struct discover owns its compiled regex, its buffers, its
 * copy of the cgroup selectors and its ignore list; the names, the regex
 * text and the selectors' text are the caller's (argv) and must outlive
 * it. A struct discover_match is valid during the callback only.
 */
#ifndef MMAPWATCH_DISCOVER_H
#define MMAPWATCH_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cgroup_match.h"
#include "procfs.h"

/* Command lines are matched up to this many bytes (a JVM's class path can
 * be long); events show at most DISCOVER_CMDLINE_SHOWN. */
#define DISCOVER_CMDLINE_MAX (128 * 1024)
#define DISCOVER_CMDLINE_SHOWN 1024
/* A /proc/PID/cgroup text is read up to this many bytes (a v1 machine has
 * a dozen lines); the cgroup shown in an event up to DISCOVER_CGROUP_SHOWN. */
#define DISCOVER_CGROUP_TEXT_MAX (16 * 1024)
#define DISCOVER_CGROUP_SHOWN 1024

struct discover;

struct discover_match {
    pid_t pid;
    unsigned long long start_time;         /* clock ticks after boot (stat field 22) */
    char comm[PROCFS_COMM_MAX];
    char cmdline[DISCOVER_CMDLINE_SHOWN + 4]; /* arguments joined by spaces; "..." when cut */
    /* Which selector found it: "comm" or "match" when names were given,
     * else "cgroup", "container" or "pod". */
    const char *matched;
    /* With cgroup selectors, the cgroup path (as /proc/PID/cgroup shows
     * it) that one of them matched; "" without. */
    char cgroup[DISCOVER_CGROUP_SHOWN];
};

/* names[0..nnames) compared with /proc/PID/comm; regex (POSIX extended,
 * may be NULL) with the command line; sels[0..nsels) (copied) with
 * /proc/PID/cgroup. A process is selected when (no names nor regex, or
 * its name or command line matches) and (no selectors, or one of them
 * matches). NULL after logging why. */
struct discover *discover_new(const char *const *names, unsigned nnames, const char *regex,
                              const struct cgroup_sel *sels, unsigned nsels);
void discover_free(struct discover *d);

/* One pass over /proc. For each matching process, skip(pid, ctx) first
 * (true: not offered), then found(match, ctx), which may attach to it.
 * Returns the number of processes offered to found(), -1 with errno when
 * /proc cannot be listed, or -2 when a container id prefix named two
 * containers (said once per selector; their processes were not offered). */
int discover_scan(struct discover *d, bool (*skip)(pid_t pid, void *ctx),
                  void (*found)(const struct discover_match *m, void *ctx), void *ctx);

/* Never offer this process again (it could not be attached). Forgotten
 * once a scan no longer sees it. */
void discover_ignore(struct discover *d, const struct discover_match *m);

/* Logs the one line for "nothing matches now" (without --wait). */
void discover_log_none(const struct discover *d);

/* ---- pure parts, unit-tested ---------------------------------------------- */

struct discover_stat {
    char comm[PROCFS_COMM_MAX];
    char state;
    pid_t ppid;
    unsigned long flags;
    unsigned long long start_time;
};

/* Parses a /proc/PID/stat text (the name is between the first '(' and the
 * last ')': it may hold spaces and parentheses). 0, or -1 if malformed. */
int discover_parse_stat(const char *text, struct discover_stat *st);

/* /proc/PID/cmdline bytes buf[0..len) -> a C string in place: the NULs
 * between arguments become spaces, trailing NULs go. Returns the length. */
size_t discover_join_cmdline(char *buf, size_t len);

#endif
