/*
 * loop: the one event loop, and the wiring of sources, model and
 * consumers.
 *
 * One epoll set serves everything: the event source's fds (source.h; the
 * ptrace source's signalfd for SIGCHLD); a signalfd for the user's SIGINT,
 * SIGTERM and SIGHUP; the dump worker's eventfd and the dump deadline
 * timerfd (dumper.h); the --wait rescan timerfd (targets.h); the memory
 * cgroup watch's eventfd (cgroup_report.h); the --duration timerfd. No
 * signal is used as an internal wake-up. A ptrace stop is the hot path:
 * per wake-up the loop adds one epoll_wait to what the source itself
 * needs (its signalfd read, wait4, the ptrace calls).
 *
 * Wiring: the source's events go to the model (model.h), whose decisions
 * go back to the source (holds) and on to the consumers (output, dumper,
 * unwind, summary, cgroup report); the dumper's releases go to the source.
 *
 * Life: loop_new() (blocks the signals it serves), then loop_attach() for
 * each -p PID and loop_attach_targets() for --comm/--match, or
 * loop_launch() for a command, then loop_run() until every tracee has
 * exited or been detached, then loop_free().
 *
 * --attach-above (above.h): loop_attach() only watches the target's
 * memory cgroup (the above module's epoll fd joins the poll set); the
 * source is opened at the first attach of a tracing session, when usage
 * reaches the mark, and closed with all its fds when the session ends (a
 * fall below the lower mark, --duration, or no tracee left), and the loop
 * goes on watching until a signal or until no target is left.
 *
 * Threads: all of it runs on the thread that called loop_new().
 */
#ifndef MMAPWATCH_LOOP_H
#define MMAPWATCH_LOOP_H

#include <sys/types.h>

#include "options.h"

struct loop;

/* NULL after logging why. opts must outlive the loop. dump_dir_fd is the
 * dump directory (dump_dir_open) or -1 with --no-dump; the loop owns it
 * from this call on (closed on failure too). */
struct loop *loop_new(const struct options *opts, int dump_dir_fd);
void loop_free(struct loop *l);

/* Seizes every thread of process pid and reports an "attach" event (with
 * --attach-above: watches its cgroup, and attaches when usage reaches the
 * mark). 0, or -1 after logging one line that names the pid and what to
 * do. */
int loop_attach(struct loop *l, pid_t pid);

/* --comm/--match: attaches to every process selected now (targets.h,
 * targets_attach for the result). 0 without them. */
int loop_attach_targets(struct loop *l);

/* Starts opts->command under the seccomp filter, traced from its first
 * instruction. 0, or -1 after logging why. */
int loop_launch(struct loop *l);

/* Asks every tracee to stop so it can be detached (safe at any time;
 * after pending dumps, within --exit-dump-timeout), and ends the run
 * (--attach-above: no session after this one). Not in launch mode: a
 * filtered tree is never let go. */
void loop_request_detach(struct loop *l);

/* Serves events until no tracee is left (with --wait: until told to stop,
 * by a signal or --duration). Returns the process exit status: attach
 * mode 0 (1 if events could not be written), launch mode the command's
 * status (128+N when killed by signal N; 1 if events could not be
 * written). */
int loop_run(struct loop *l);

#endif
