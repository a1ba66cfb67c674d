/*
 * unwind: the user call stack of a stopped thread, symbolized.
 *
 * libunwind walks the stack (remote unwinding: unw_create_addr_space +
 * unw_init_remote), with every accessor ours instead of libunwind-ptrace's, so
 * that a stack costs a handful of syscalls instead of one ptrace call per
 * word and one ELF re-read per frame:
 *  - registers: one PTRACE_GETREGS per stack;
 *  - memory: the top of the stack (up to the end of its mapping) is read
 *    once per stack; pages of read-only file mappings (code, .eh_frame,
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
 * Threads: the tracer thread only (ptrace is per tracer thread).
 *
 * Ownership: the unwinder owns the per-file symbol cache; each
 * struct addr_space owns its struct unwind_space (task.c frees it with
 * unwind_space_free). A struct stack owns its strings until
 * stack_release().
 */
#ifndef MMAPWATCH_UNWIND_H
#define MMAPWATCH_UNWIND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "decode.h"

struct unwinder;
struct unwind_space;

struct stack_frame {
    uint64_t ip;
    char *symbol; /* "name+0x1a" (demangled), or NULL when unknown */
    char *module; /* path of the file mapped at ip, or NULL (anonymous memory) */
};

struct stack {
    struct stack_frame *frames; /* innermost first */
    unsigned depth;
    bool truncated;             /* stopped at the depth limit with more frames beyond */
};

/* NULL after logging why (out of memory). max_depth >= 1. */
struct unwinder *unwinder_new(unsigned max_depth);
void unwinder_free(struct unwinder *u);

/* The stack of thread tid (process pid), which must be in a ptrace stop,
 * with space the cache of its address space (*space is created on first
 * use). arch is the AUDIT_ARCH of its last syscall: only x86_64 code is
 * unwound. 0, or -1 when no frame could be read (the thread is gone, or a
 * 32-bit process); *out is valid (maybe empty) either way and must be
 * released. */
int unwind_stack(struct unwinder *u, struct unwind_space **space, pid_t pid, pid_t tid,
                 uint32_t arch, struct stack *out);

void stack_release(struct stack *s);

/* The JSON array of a stack ([{"ip":..,"symbol":..,"module":..}, ...]),
 * malloc'd; at most max_bytes long: outer frames that do not fit are left
 * out (*complete = false). NULL on ENOMEM. */
char *stack_to_json(const struct stack *s, size_t max_bytes, bool *complete);

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
