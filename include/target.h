/*
 * target: how the processes to trace come to be traced.
 *
 * Launch: fork; the child waits on a pipe until the parent has seized it
 * (so not one instruction of the command runs untraced), restores the
 * signal mask and dispositions it would have had, loads the seccomp filter
 * and execs the command. Attaching to running processes is the tracer's
 * job (tracer_attach), since it must add every thread to the task table as
 * it seizes it.
 */
#ifndef MMAPWATCH_TARGET_H
#define MMAPWATCH_TARGET_H

#include <signal.h>
#include <sys/types.h>

#include "filter.h"

/* Raises our own open-file soft limit to the hard one (a traced JVM has
 * thousands of threads and each dump, unwinder cache and /proc read takes
 * a descriptor), remembering the original so that a launched command gets
 * the limits it would have had, and takes procfs's reserve descriptor
 * (procfs.h). Call once, before target_launch(). */
void target_raise_file_limit(void);

/* Whether pid is something ptrace could ever trace: not ourselves, not a
 * kernel thread (PF_KTHREAD in /proc/PID/stat, whatever its pid), not a
 * zombie. 0, or -1 after saying what the pid is (the kernel would only
 * say EPERM, which reads as "run as root"). A pid that is gone passes:
 * the attach reports it. */
int target_check_attachable(pid_t pid);

/* Forks the child that will run argv[0] (searched in PATH), paused before
 * anything of the command runs, so that the caller can follow it from its
 * first instruction. Released, it takes child_mask as its signal mask,
 * SIGPIPE's default action and the open-file limits mmapwatch was started
 * with (what the command would have had without us), loads filter (NULL:
 * none) and execs. Returns its pid and *go, the pipe end that releases it,
 * or -1 after logging why. Then exactly one of: */
pid_t target_fork_paused(char *const argv[], const sigset_t *child_mask,
                         struct map_filter *filter, int *go);
/* lets it run: 0, or -1 after logging why (it is killed: it never ran) */
int target_release(pid_t pid, int go, const char *name);
/* gives up: it exits 127 without running the command, and is reaped */
void target_abandon(pid_t pid, int go);

/* Starts argv[0] (searched in PATH) seized with ptrace_options. The child
 * gets child_mask as its signal mask. Returns the child's pid, or -1 after
 * logging why (no child is left behind). If the command cannot be executed
 * the child says so on stderr and exits 127 (126 when found but not
 * executable), like a shell. */
pid_t target_launch(char *const argv[], const sigset_t *child_mask, struct map_filter *filter,
                    unsigned long ptrace_options);

#endif
