/*
 * syscalls: the one table of the system calls mmapwatch cares about, per
 * syscall ABI (x86_64, and i386 for 32-bit programs and int $0x80), and
 * the one rule for whether a call of them could be reported.
 *
 * Everything that knows a syscall number asks here: decode (number ->
 * kind of map call), the seccomp filter (which calls stop, built from the
 * same rules the model applies), the event sources and the model (exec,
 * exit_group). No other file holds a literal syscall number.
 *
 * Pure: constant tables, no system calls; any thread may call.
 */
#ifndef MMAPWATCH_SYSCALLS_H
#define MMAPWATCH_SYSCALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The syscall ABIs, as the kernel's AUDIT_ARCH_* values that
 * PTRACE_GET_SYSCALL_INFO (and perf's regs) report. */
#define SYSCALL_ARCH_X86_64 0xc000003eU
#define SYSCALL_ARCH_I386 0x40000003U

enum syscall_id {
    SC_NONE,
    SC_MMAP,          /* x86_64 mmap, i386 mmap2 (length is the 2nd argument) */
    SC_MUNMAP,
    SC_MREMAP,
    SC_MPROTECT,
    SC_PKEY_MPROTECT,
    SC_BRK,
    SC_EXECVE,
    SC_EXECVEAT,
    SC_EXIT,
    SC_EXIT_GROUP,
    SC_COUNT
};

/* When a call could be reported (README "Which events are reported"),
 * from its arguments alone; "touches" means it overlaps a reported
 * region, which only the model knows (the seccomp filter must assume it
 * may). */
struct syscall_rule {
    int len_arg;        /* argument that reports it when >= --min-size; -1: none */
    int fixed_arg;      /* argument whose MAP_FIXED bit makes it one that may touch; -1 */
    bool touches;       /* reported when it touches a reported region */
    bool ends_space;    /* exec, exit_group: the address space goes (dump first) */
    bool grows;         /* brk: moves the heap's end; its result is always
                           wanted (growth is counted in the model, growth.h) */
};

struct syscall_desc {
    enum syscall_id id;
    const char *name;
    struct syscall_rule rule;
};

/* The ABIs known, in a fixed order (x86_64 first). */
size_t syscall_arch_count(void);
uint32_t syscall_arch_at(size_t i);

/* id of number nr in arch; SC_NONE when not one of ours (or unknown arch). */
enum syscall_id syscall_lookup(uint32_t arch, uint64_t nr);

/* The number of id in arch, or -1. */
long syscall_number(uint32_t arch, enum syscall_id id);

/* The table entry of id (same rules for every arch; names per id). */
const struct syscall_desc *syscall_desc(enum syscall_id id);

/* Whether a call of id could be reported: REPORT_NEVER, REPORT_YES (from
 * its arguments: whatever the model knows), or REPORT_IF_TOUCHES (only if
 * [addr, addr + len) overlaps a reported region or an area the model
 * watches for growth: a reservation, the brk heap). With min_size 0 every
 * map call is reported. max_size (--max-size, 0: none): a length above
 * it is not reported (nor watched), unless MAP_FIXED may touch. brk is always REPORT_YES: only the
 * heap's end says what it does, which arguments alone cannot tell (the model, which knows the end
 * last seen, wants the result only when it may matter: growth_brk_want_result). The model decides
 * on this at entry; the seccomp filter stops on every call that is not REPORT_NEVER by its
 * arguments. */
enum report_need { REPORT_NEVER, REPORT_YES, REPORT_IF_TOUCHES };
enum report_need syscall_report_need(enum syscall_id id, const uint64_t args[6],
                                     uint64_t min_size, uint64_t max_size);

#endif
