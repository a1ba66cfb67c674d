/*
 * perf_rawsys: what a raw_syscalls:sys_enter/sys_exit record means (source
 * layer, used by perf_source only; pure: no system calls, unit-tested).
 *
 * The perf source reads the map calls through the two raw syscall
 * tracepoints, each with a kernel filter on the syscall number, instead of
 * one sys_enter_X/sys_exit_X pair per call: three events per thread (or
 * per CPU) instead of sixteen, each one scheduled in and out by the kernel
 * at every context switch of the traced threads. What that costs:
 *
 *   - the raw records carry the number and the six argument registers,
 *     nothing else: --min-size cannot be a kernel filter (ftrace filters
 *     cannot index args[]), so it is applied here, before the records
 *     reach perf_pair (perf_rawsys_wanted);
 *   - raw_syscalls fires for i386 system calls too (a 32-bit program, or
 *     int $0x80 in a 64-bit one), with i386 numbers (i386 9 is link, 10
 *     unlink, 11 execve): such a call must never be read as the x86_64 call
 *     of the same number. The per-call tracepoints never fire for them.
 *     perf_rawsys_abi tells them apart from the registers the kernel
 *     samples with the record (PERF_SAMPLE_REGS_USER): a 32-bit program's
 *     samples say PERF_SAMPLE_REGS_ABI_32; an int $0x80 in a 64-bit program
 *     reads its arguments from other registers (ebx, ecx, edx, esi, edi,
 *     ebp) than a native call (rdi, rsi, rdx, r10, r8, r9), and the record's
 *     args[] say which. When both fit (the registers hold the same values
 *     both ways), the call is RAWSYS_UNSURE: dropped and reported like an
 *     i386 one, never guessed. x32 calls carry bit 30 in their number and
 *     never pass the filter.
 *
 * Any thread may call.
 */
#ifndef MMAPWATCH_PERF_RAWSYS_H
#define MMAPWATCH_PERF_RAWSYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "syscalls.h"

/* Which calls an event's filter lets through. */
enum rawsys_set {
    RAWSYS_ENTER_ALL,     /* every entry read (without -k) */
    RAWSYS_ENTER_STACKED, /* entries whose report can carry a stack (-k) */
    RAWSYS_ENTER_PLAIN,   /* the other entries (-k): munmap, exec, exit_group */
    RAWSYS_EXIT,          /* exits: the map calls only */
};

/* Writes the ftrace filter of set ("id == 9 || (id >= 10 && id <= 12) ...")
 * into out. The entry sets also let through the i386 numbers of the map
 * calls (x86_64's rarely used chmod, fchmod, acct, capget, lgetxattr), so
 * that an i386 mmap2, munmap, mremap or mprotect is seen and reported as
 * not followed. 0, or -1 when out is too small. */
int perf_rawsys_filter(enum rawsys_set set, char *out, size_t size);

/* Whether a raw call number belongs to set: the exit side's check (an
 * i386 exit is left to perf_pair: its entry was dropped). */
bool perf_rawsys_in_set(enum rawsys_set set, long nr);

enum rawsys_abi {
    RAWSYS_NATIVE, /* an x86_64 call: nr and args are x86_64's */
    RAWSYS_I386,   /* an i386 call: a 32-bit program or int $0x80 */
    RAWSYS_UNSURE, /* either: the registers fit both */
};

/* What an entry is, from the sampled registers' ABI word (0: none were
 * sampled), the registers in enum perf_stack_reg order (perf_pair.h;
 * nregs of them) and the record's args. */
enum rawsys_abi perf_rawsys_abi(uint64_t regs_abi, const uint64_t *regs, unsigned nregs,
                                const uint64_t args[6]);

/* Whether a native entry goes on to perf_pair: one of the map calls, exec
 * calls or exit_group (not one of the i386 look-alikes the filter lets
 * through), and for mmap, a length of at least min_size or MAP_FIXED (which
 * may replace part of a reported region), as the per-call layout's kernel
 * filter was. *id is set to what it is. */
bool perf_rawsys_wanted(long nr, const uint64_t args[6], uint64_t min_size,
                        enum syscall_id *id);

#endif
