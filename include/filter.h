/*
 * filter: the seccomp-bpf program of launch mode, built with libseccomp.
 *
 * Only memory-map syscalls return SECCOMP_RET_TRACE (a stop for the
 * tracer); everything else runs at full speed in every thread, since the
 * filter is inherited by every thread and child. mmap is compared with
 * --min-size in the kernel, so small mmaps cost nothing either; MAP_FIXED
 * ones still stop, since they may replace part of a reported region.
 *
 * brk and mprotect (and pkey_mprotect) stop at their entry whatever their
 * size. A small mprotect may change a reported region (a reservation of
 * at least --min-size is one, and commits into it come in small pieces),
 * and which regions are reported only the model knows; what a brk does
 * depends on where the heap ends now, which no filter knows either. A
 * filter is fixed once loaded: narrowing it as the heap grows would mean
 * stacking another one, which only the traced process can load (it would
 * have to be made to call seccomp(2) on a program written into its
 * memory); every later call that some filter checks by its arguments
 * (brk, mmap, munmap...) would run every filter stacked so far, for good
 * (docs/performance.md), and filters outlive exec, where the next
 * program's heap may lie in a range an old filter lets through unseen.
 * So the saving is made
 * at the exit instead: the model says at the entry stop whether it needs
 * the result (track_may_report), and a brk that can neither shrink the
 * heap nor take it past its next step costs one stop, not two.
 *
 * A filter that returns SECCOMP_RET_TRACE with no tracer attached makes the
 * syscall fail with ENOSYS: a filtered process tree must never be detached,
 * and a filter is never put into a process we attached to.
 */
#ifndef MMAPWATCH_FILTER_H
#define MMAPWATCH_FILTER_H

#include <stdbool.h>
#include <stdint.h>

struct map_filter;

/* Builds the filter. max_size (--max-size, 0: none) is not applied here:
 * libseccomp cannot bound one argument on both sides in a rule (see
 * filter.c), so the model leaves larger mmaps out. trap_exec: execve, execveat and exit_group stop too
 * (regions are dumped before an exec or the process's end takes them). NULL after logging why. */
struct map_filter *filter_build(uint64_t min_size, uint64_t max_size, bool trap_exec);

/* Loads it into the calling process (the launched child, between fork and
 * exec). 0, or -1 with errno. Makes system calls only (no allocation), so
 * it is safe in the fork child of a multi-threaded parent. */
int filter_load(struct map_filter *filter);

void filter_free(struct map_filter *filter);

#endif
