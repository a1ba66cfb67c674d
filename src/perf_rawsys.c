/*
 * perf_rawsys: the raw syscall tracepoints' filters and what their records
 * mean. See include/perf_rawsys.h.
 */
#include "perf_rawsys.h"

#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "perf_pair.h"

/* The x86_64 calls each set reads. */
static const enum syscall_id STACKED[] = {SC_MMAP, SC_MREMAP, SC_MPROTECT, SC_PKEY_MPROTECT,
                                          SC_BRK};
static const enum syscall_id PLAIN[] = {SC_MUNMAP, SC_EXECVE, SC_EXECVEAT, SC_EXIT_GROUP};
static const enum syscall_id EXITS[] = {SC_MMAP, SC_MUNMAP, SC_MREMAP, SC_MPROTECT,
                                        SC_PKEY_MPROTECT, SC_BRK};
/* The i386 map calls let through to be reported as not followed. Not brk
 * (i386 45 is x86_64's recvfrom, which a server makes at every request:
 * each one would be a sample), nor exec and exit (i386 1 is write). */
static const enum syscall_id I386_SEEN[] = {SC_MMAP, SC_MUNMAP, SC_MREMAP, SC_MPROTECT,
                                            SC_PKEY_MPROTECT};

#define MAX_NRS 32
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static size_t add_numbers(long *nrs, size_t n, uint32_t arch, const enum syscall_id *ids,
                          size_t nids)
{
    for (size_t i = 0; i < nids && n < MAX_NRS; i++) {
        long nr = syscall_number(arch, ids[i]);
        if (nr >= 0)
            nrs[n++] = nr;
    }
    return n;
}

/* The numbers of set, sorted, without repeats. */
static size_t numbers_of(enum rawsys_set set, long nrs[MAX_NRS])
{
    size_t n = 0;
    bool entry = set != RAWSYS_EXIT;
    if (set == RAWSYS_ENTER_ALL || set == RAWSYS_ENTER_STACKED)
        n = add_numbers(nrs, n, SYSCALL_ARCH_X86_64, STACKED, COUNT(STACKED));
    if (set == RAWSYS_ENTER_ALL || set == RAWSYS_ENTER_PLAIN)
        n = add_numbers(nrs, n, SYSCALL_ARCH_X86_64, PLAIN, COUNT(PLAIN));
    if (set == RAWSYS_EXIT)
        n = add_numbers(nrs, n, SYSCALL_ARCH_X86_64, EXITS, COUNT(EXITS));
    /* The i386 look-alikes with the entries that carry no stack: they are
     * dropped, a copied stack would be wasted. */
    if (entry && set != RAWSYS_ENTER_STACKED)
        n = add_numbers(nrs, n, SYSCALL_ARCH_I386, I386_SEEN, COUNT(I386_SEEN));
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && nrs[j - 1] > nrs[j]; j--) {
            long t = nrs[j];
            nrs[j] = nrs[j - 1];
            nrs[j - 1] = t;
        }
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || nrs[u - 1] != nrs[i])
            nrs[u++] = nrs[i];
    return u;
}

int perf_rawsys_filter(enum rawsys_set set, char *out, size_t size)
{
    long nrs[MAX_NRS];
    size_t n = numbers_of(set, nrs), used = 0;
    if (size == 0)
        return -1;
    out[0] = '\0';
    /* Runs of consecutive numbers as one range: fewer terms to evaluate
     * at every system call of a traced thread. */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && nrs[j + 1] == nrs[j] + 1)
            j++;
        int w = j == i ? snprintf(out + used, size - used, "%sid == %ld", i ? " || " : "", nrs[i])
                       : snprintf(out + used, size - used, "%s(id >= %ld && id <= %ld)",
                                  i ? " || " : "", nrs[i], nrs[j]);
        if (w < 0 || (size_t)w >= size - used)
            return -1;
        used += (size_t)w;
        i = j + 1;
    }
    return n ? 0 : -1;
}

bool perf_rawsys_in_set(enum rawsys_set set, long nr)
{
    long nrs[MAX_NRS];
    size_t n = numbers_of(set, nrs);
    for (size_t i = 0; i < n; i++)
        if (nrs[i] == nr)
            return true;
    return false;
}

enum rawsys_abi perf_rawsys_abi(uint64_t regs_abi, const uint64_t *regs, unsigned nregs,
                                const uint64_t args[6])
{
    if (regs_abi != PERF_SAMPLE_REGS_ABI_64)
        return regs_abi == PERF_SAMPLE_REGS_ABI_32 ? RAWSYS_I386 : RAWSYS_UNSURE;
    if (!regs || nregs < PERF_STACK_NREGS)
        return RAWSYS_UNSURE;
    /* The kernel read args[] from the registers of the ABI the call was
     * made with (syscall_get_arguments): which set they match says which. */
    static const enum perf_stack_reg NATIVE[6] = {PERF_STACK_DI, PERF_STACK_SI, PERF_STACK_DX,
                                                  PERF_STACK_R10, PERF_STACK_R8, PERF_STACK_R9};
    static const enum perf_stack_reg I386[6] = {PERF_STACK_BX, PERF_STACK_CX, PERF_STACK_DX,
                                                PERF_STACK_SI, PERF_STACK_DI, PERF_STACK_BP};
    bool native = true, i386 = true;
    for (unsigned i = 0; i < 6; i++) {
        native = native && args[i] == regs[NATIVE[i]];
        i386 = i386 && args[i] == regs[I386[i]];
    }
    if (native && !i386)
        return RAWSYS_NATIVE;
    return i386 && !native ? RAWSYS_I386 : RAWSYS_UNSURE;
}

bool perf_rawsys_wanted(long nr, const uint64_t args[6], uint64_t min_size, enum syscall_id *id)
{
    *id = nr < 0 ? SC_NONE : syscall_lookup(SYSCALL_ARCH_X86_64, (uint64_t)nr);
    if (*id == SC_NONE || !perf_rawsys_in_set(RAWSYS_ENTER_ALL, nr))
        return false;
    const struct syscall_rule *rule = &syscall_desc(*id)->rule;
    if (*id != SC_MMAP || !min_size || rule->len_arg < 0)
        return true;
    /* The per-call layout's kernel filter, "len >= MIN || flags & MAP_FIXED". */
    return args[rule->len_arg] >= min_size ||
           (rule->fixed_arg >= 0 && (args[rule->fixed_arg] & MAP_FIXED));
}
