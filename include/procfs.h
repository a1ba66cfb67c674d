/*
 * procfs: bounded readers for the /proc files the tracer needs.
 *
 * Everything under /proc is untrusted input that can change or vanish
 * between two reads (threads exit, processes exec). Readers use fixed
 * buffers, check every length, and report a vanished file as -1 with errno
 * ENOENT or ESRCH rather than failing loudly; callers decide whether that
 * matters. The parsers that work on a buffer are pure and unit-tested.
 */
#ifndef MMAPWATCH_PROCFS_H
#define MMAPWATCH_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROCFS_COMM_MAX 16 /* TASK_COMM_LEN, NUL included */

/* Thread name from /proc/PID/task/TID/comm, without the newline the
 * kernel adds (newlines of the name itself are kept). On failure (thread
 * gone, or no descriptor to read it with) writes "?" and returns -1. */
int procfs_read_comm(pid_t pid, pid_t tid, char comm[PROCFS_COMM_MAX]);

/* Out of file descriptors, a /proc read must not look like a thread that
 * is gone. procfs keeps one descriptor in reserve, given up for a read
 * that finds none, and says once on stderr when even that is not enough.
 * procfs_keep_reserve() takes it (call once at start; any thread).
 * procfs_open() is open(2) with that fallback (O_CLOEXEC added);
 * procfs_close() closes and takes the reserve again if it was used. */
void procfs_keep_reserve(void);
int procfs_open(const char *path, int flags);
void procfs_close(int fd);

/* Reads a whole small /proc file (up to size-1 bytes), NUL-terminated.
 * Returns the length, or -1 with errno set. */
ssize_t procfs_read_file(const char *path, char *buf, size_t size);

/* State letter and flags (PF_*) from a /proc/PID/stat text; 0, or -1 if
 * malformed. Pure. */
int procfs_parse_stat(const char *text, char *state, unsigned long *flags);

/* The numeric value of "Key:" in a /proc/PID/status text; -1 if absent or
 * not a number. Pure. */
long procfs_parse_status_number(const char *status, const char *key);

/* Numeric fields of /proc/TID/status ("Tgid", "PPid", "TracerPid"); -1 if
 * the task is gone or the field is missing. */
long procfs_status_number(pid_t tid, const char *key);

/* The state letter of /proc/TID/status ("State:\tS (sleeping)"); 0 if gone. */
char procfs_state(pid_t tid);

/* The pid process pid has in its own (innermost) pid namespace, from the
 * NSpid line of its status: what it calls itself, as in the name of a perf
 * map it writes. pid itself when that cannot be read. */
pid_t procfs_namespace_pid(pid_t pid);

/* Calls fn(tid, ctx) for each entry of /proc/PID/task. Returns the number
 * of entries, or -1 with errno (ENOENT: no such process). Stops early and
 * returns -1 if fn returns non-zero. */
int procfs_foreach_task(pid_t pid, int (*fn)(pid_t tid, void *ctx), void *ctx);

/* kernel.yama.ptrace_scope, or -1 when Yama is not there. */
int procfs_ptrace_scope(void);

#endif
