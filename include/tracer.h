/*
 * tracer: the one event loop. Seizes processes, waits for their stops,
 * tells the kinds of stop apart, restarts every tracee with exactly the
 * signal it must get, and detaches. It is the only module that resumes
 * tracees, and the only thread that makes ptrace calls (ptrace is per
 * tracer thread).
 *
 * Life: tracer_new() (blocks the signals it serves through a signalfd),
 * then tracer_attach() for each -p PID and tracer_attach_targets() for
 * --comm/--match, or tracer_launch() for a command,
 * then tracer_run() until every tracee has exited or been detached, then
 * tracer_free().
 */
#ifndef MMAPWATCH_TRACER_H
#define MMAPWATCH_TRACER_H

#include <sys/types.h>

#include "options.h"

struct tracer;

/* NULL after logging why. opts must outlive the tracer. dump_dir_fd is
 * the dump directory (dump_dir_open) or -1 with --no-dump; the tracer
 * owns and closes it. */
struct tracer *tracer_new(const struct options *opts, int dump_dir_fd);
void tracer_free(struct tracer *tracer);

/* Seizes every thread of process pid (rescanning /proc/PID/task until no
 * new thread appears) and reports an "attach" event. 0, or -1 after
 * logging one line that names the pid and what to do. */
int tracer_attach(struct tracer *tracer, pid_t pid);

/* Targets by name: attaches to every process that --comm or --match
 * selects now, reporting a "target" event before each "attach". Returns
 * how many were attached (0 is fine with --wait: tracer_run waits for
 * one), or -1 after logging one line: /proc unreadable, or without --wait
 * an attach that failed (all or nothing, as with -p) or no process found.
 * 0 without --comm/--match. With --wait, tracer_run rescans /proc every
 * 250 ms while nothing is traced, every second while something is, and
 * keeps running when every tracee has exited. */
int tracer_attach_targets(struct tracer *tracer);

/* Starts opts->command under the seccomp filter, traced from its first
 * instruction. 0, or -1 after logging why. */
int tracer_launch(struct tracer *tracer);

/* Asks every tracee to stop so it can be detached (safe at any time). */
void tracer_request_detach(struct tracer *tracer);

/* Serves stops until no tracee is left (with --wait: until told to stop,
 * by a signal or --duration). Returns the process exit status:
 * attach mode 0 (1 if events could not be written), launch mode the
 * command's status (128+N when killed by signal N). */
int tracer_run(struct tracer *tracer);

#endif
