/*
 * decode: one finished memory-map syscall (number, arguments, result) ->
 * a struct map_call that says what happened to the address space.
 *
 * Pure: no system calls. The tracer fills the inputs from
 * PTRACE_GET_SYSCALL_INFO (arguments at entry or at the seccomp stop, the
 * result at exit) and hands the decoded call to track.
 */
#ifndef MMAPWATCH_DECODE_H
#define MMAPWATCH_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "syscalls.h"

enum map_call_kind {
    MAP_CALL_NONE,     /* not a memory-map syscall */
    MAP_CALL_MMAP,
    MAP_CALL_MUNMAP,
    MAP_CALL_MREMAP,
    MAP_CALL_MPROTECT, /* mprotect and pkey_mprotect */
    MAP_CALL_BRK,      /* addr: the end asked for (0: a query); result: the end now */
};

struct map_call {
    enum map_call_kind kind;
    bool failed;          /* the syscall returned an error */
    int error;            /* errno when failed */
    uint64_t addr;        /* mmap: hint; munmap/mprotect: start; mremap: old address */
    uint64_t len;         /* mmap/munmap/mprotect: length; mremap: old length */
    uint64_t prot;        /* mmap, mprotect */
    uint64_t flags;       /* mmap: MAP_*; mremap: MREMAP_* */
    int64_t fd;           /* mmap */
    uint64_t offset;      /* mmap */
    uint64_t new_len;     /* mremap */
    uint64_t new_addr_arg;/* mremap: the fifth argument (with MREMAP_FIXED) */
    uint64_t result;      /* mmap/mremap: the address returned */
};

/* The syscall ABIs decoded: x86_64, and i386 (32-bit programs, and int
 * $0x80 from 64-bit ones), whose numbers differ. Values are the kernel's
 * AUDIT_ARCH_* constants, as PTRACE_GET_SYSCALL_INFO reports them. */
#define DECODE_ARCH_X86_64 SYSCALL_ARCH_X86_64
#define DECODE_ARCH_I386 SYSCALL_ARCH_I386

/* Whether nr of arch is one of the syscalls decode understands. */
bool decode_is_map_syscall(uint32_t arch, uint64_t nr);

/* Fills *call. rval is the raw return value (negative errno when
 * is_error). Returns call->kind (MAP_CALL_NONE for other syscalls and
 * arches). i386's old_mmap (90), whose arguments are in memory, is not
 * decoded: glibc uses mmap2. */
enum map_call_kind decode_map_call(uint32_t arch, uint64_t nr, const uint64_t args[6],
                                   int64_t rval, bool is_error, struct map_call *call);

/* Rounds a length up to whole pages, as the kernel does; saturates. */
uint64_t decode_page_align(uint64_t len);

#endif
