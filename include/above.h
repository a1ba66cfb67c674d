/*
 * above: --attach-above. Trace nothing until it matters: each target's
 * memory cgroup is watched (cgroup.h, v1 or v2: only cgroup files are
 * read, the target is not touched), and the loop is told to attach when
 * usage reaches the attach mark, and to detach when it falls below the
 * detach mark (--detach-below; MARKS_LOW_PERCENT of the attach mark by
 * default: the hysteresis of marks.h), or when --duration is over. Then
 * the watch goes on, and the next crossing attaches again, until the
 * target is gone (a pidfd, polled: no signal, no wait4, no ptrace).
 *
 * Each transition is a "mark" event (output.h), written here: the attach
 * one before the loop's "attach", the detach one before its "detach".
 *
 * Sources detach everything at once, so one tracing session covers every
 * target above its mark: the loop detaches when no attached target wants
 * tracing any more (above_wants_tracing).
 *
 * A consumer, like cgroup_report: the loop acts on what it says. Threads:
 * the loop's only (each cgroup watch has its own thread, cgroup.h).
 * Ownership: above_new allocates, above_free frees (NULL ok).
 */
#ifndef MMAPWATCH_ABOVE_H
#define MMAPWATCH_ABOVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "options.h"

struct above;

/* NULL without --attach-above (every call below is then a no-op), or on
 * failure (*failed set, said). */
struct above *above_new(const struct options *opts, bool *failed);
void above_free(struct above *a);

/* Watches target pid's memory cgroup (usage already at the attach mark:
 * the loop is told at once). required: a failure is an error (-1 after
 * the error line: the first -p target), else said and 0. */
int above_add(struct above *a, pid_t pid, bool required);

/* Whether pid is a target watched. */
bool above_has(const struct above *a, pid_t pid);

/* Targets watched now (those gone are dropped by above_process). */
size_t above_count(const struct above *a);

/* The fd the loop polls: readable when a watch has records or a target
 * is gone. -1 for NULL. */
int above_fd(const struct above *a);

/* Takes the records (when above_fd is readable): rising targets want
 * tracing, falling ones no longer (their "mark" event if attached);
 * targets gone are dropped. */
void above_process(struct above *a);

/* The next target that wants tracing and is not attached: its pid
 * (marked attached now, and its "mark" event written), or 0. */
pid_t above_next_to_attach(struct above *a);

/* The attach of pid failed: it waits for the next crossing. */
void above_attach_failed(struct above *a, pid_t pid);

/* Whether some attached target still wants tracing. */
bool above_wants_tracing(const struct above *a);

/* --duration is over: every attached target's "mark" event (reason
 * "duration"); none wants tracing until its next crossing. */
void above_duration_over(struct above *a);

/* The session ended (everything detached, or gone): the pids that were
 * attached, up to max into pids; how many. None is attached after. */
size_t above_session_ended(struct above *a, pid_t *pids, size_t max);

#endif
