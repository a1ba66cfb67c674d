/*
 * unwind: the user call stack of a thread, in two steps: capture (the
 * registers, taken by the source, and a copy of the top of the stack) and
 * walk (over that snapshot), then symbolized.
 *
 * libunwind walks the stack (remote unwinding: unw_create_addr_space +
 * unw_init_remote), with every accessor ours instead of libunwind-ptrace's, so
 * that a stack costs a handful of syscalls instead of one ptrace call per
 * word and one ELF re-read per frame:
 *  - registers: from the snapshot (the ptrace source's PTRACE_GETREGS at
 *    the stop; a perf sample's own);
 *  - memory: the top of the stack (up to the end of its mapping) is copied
 *    once per stack, at the capture; pages of read-only file mappings (code, .eh_frame,
 *    .eh_frame_hdr) are read from the mapped file, never through the
 *    target (a read there would fault the page into its memory), and
 *    cached per address space; any other page is read (memread.h) for
 *    this stack only, and only when pagemap says it is in memory;
 *  - unwind tables: each module's .eh_frame_hdr is located once (from the
 *    ELF headers of the mapped file) and searched by libunwind;
 *  - symbols: each ELF file's symbol tables are read once for the run
 *    (shared by every process that maps the file), C++ names demangled.
 * Code without unwind information (JIT code, generated stubs) is stepped
 * over with the frame-pointer chain when that chain is valid (inside the
 * thread's stack, growing upwards), and named from the process's perf map
 * (/proc/PID/root/tmp/perf-NSPID.map) when it has one.
 *
 * Caches: an address space's cache (struct unwind_space) is dropped when a
 * map call unmaps, replaces or re-protects mapped code or read-only file
 * data (unwind_space_note_map_call); a new executable mapping only marks
 * the module list stale. An exec gives the process a new address space,
 * hence an empty cache. An address found in no known module makes the
 * module list be read again, once per stack.
 *
 * Threads: the loop's thread only.
 *
 * Ownership: the unwinder owns the per-file symbol cache; each
 * struct addr_space owns its struct unwind_space (task.c frees it with
 * unwind_space_free). A struct stack (stack.h) owns its strings until
 * stack_release().
 */
#ifndef MMAPWATCH_UNWIND_H
#define MMAPWATCH_UNWIND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "decode.h"
#include "event.h"
#include "stack.h"

struct unwinder;
struct unwind_space;

/* NULL after logging why (out of memory). max_depth >= 1. */
struct unwinder *unwinder_new(unsigned max_depth);
void unwinder_free(struct unwinder *u);

/* Capture, the first step: the stack bytes above regs->sp (up to 32 KiB,
 * never past the end of the stack's mapping: what lies beyond may not be
 * in memory) of thread tid of process pid, whose registers the caller took
 * at a stop (the ptrace source). *space (the cache of its address space)
 * is created on first use. out->bytes points into the unwinder, valid
 * until the next capture. 0, or -1 on ENOMEM (out then has no bytes). */
int unwind_capture(struct unwinder *u, struct unwind_space **space, pid_t pid, pid_t tid,
                   const struct stack_regs *regs, struct stack_snapshot *out);

/* Walk, the second step: the stack of a snapshot (from unwind_capture, or
 * a perf sample's registers and stack copy), by libunwind over the copy,
 * the mapped files, and other memory of process pid read through thread
 * tid (pagemap first: only pages in memory). Never reads a live thread's
 * registers. arch is the AUDIT_ARCH of the syscall it was taken at: only
 * x86_64 code is unwound. 0, or -1 when nothing could be walked (a 32-bit
 * process, ENOMEM); *out is valid (maybe empty) either way and must be
 * released (stack_release). */
int unwind_walk(struct unwinder *u, struct unwind_space **space, pid_t pid, pid_t tid,
                uint32_t arch, const struct stack_snapshot *snap, struct stack *out);

/* A map call is about to run in this address space (its entry): drops
 * what it may make stale. NULL space ok. */
void unwind_space_note_map_call(struct unwind_space *space, const struct map_call *call);

void unwind_space_free(struct unwind_space *space);

/* Counters for -v: stacks unwound, frames, symbol files loaded, cache
 * drops, and the time spent in unwind_stack (capture, walk, symbols). */
struct unwind_stats {
    unsigned long stacks, frames, fp_steps, files_loaded, cache_drops, maps_reads;
    unsigned long long ns;
};
void unwinder_stats(const struct unwinder *u, struct unwind_stats *out);

#endif
