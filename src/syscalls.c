/*
 * syscalls: the table. Numbers from the kernel's
 * arch/x86/entry/syscalls/syscall_64.tbl and syscall_32.tbl.
 * See include/syscalls.h.
 */
#include "syscalls.h"

#include <sys/mman.h>

struct abi {
    uint32_t arch;
    long nr[SC_COUNT];
};

static const struct abi ABIS[] = {
    {SYSCALL_ARCH_X86_64,
     {[SC_NONE] = -1, [SC_MMAP] = 9, [SC_MUNMAP] = 11, [SC_MREMAP] = 25, [SC_MPROTECT] = 10,
      [SC_PKEY_MPROTECT] = 329, [SC_BRK] = 12, [SC_EXECVE] = 59, [SC_EXECVEAT] = 322,
      [SC_EXIT] = 60, [SC_EXIT_GROUP] = 231}},
    /* i386: mmap2 (192), not old_mmap (90), whose arguments are in memory:
     * glibc uses mmap2. */
    {SYSCALL_ARCH_I386,
     {[SC_NONE] = -1, [SC_MMAP] = 192, [SC_MUNMAP] = 91, [SC_MREMAP] = 163, [SC_MPROTECT] = 125,
      [SC_PKEY_MPROTECT] = 380, [SC_BRK] = 45, [SC_EXECVE] = 11, [SC_EXECVEAT] = 358,
      [SC_EXIT] = 1, [SC_EXIT_GROUP] = 252}},
};
#define NABIS (sizeof ABIS / sizeof ABIS[0])

static const struct syscall_desc DESCS[SC_COUNT] = {
    [SC_NONE] = {SC_NONE, "?", {.len_arg = -1, .fixed_arg = -1}},
    [SC_MMAP] = {SC_MMAP, "mmap", {.len_arg = 1, .fixed_arg = 3, .touches = true}},
    [SC_MUNMAP] = {SC_MUNMAP, "munmap", {.len_arg = -1, .fixed_arg = -1, .touches = true}},
    [SC_MREMAP] = {SC_MREMAP, "mremap", {.len_arg = 2, .fixed_arg = -1, .touches = true}},
    [SC_MPROTECT] = {SC_MPROTECT, "mprotect", {.len_arg = -1, .fixed_arg = -1, .touches = true}},
    [SC_PKEY_MPROTECT] = {SC_PKEY_MPROTECT, "pkey_mprotect",
                          {.len_arg = -1, .fixed_arg = -1, .touches = true}},
    [SC_BRK] = {SC_BRK, "brk", {.len_arg = -1, .fixed_arg = -1, .grows = true}},
    [SC_EXECVE] = {SC_EXECVE, "execve", {.len_arg = -1, .fixed_arg = -1, .ends_space = true}},
    [SC_EXECVEAT] = {SC_EXECVEAT, "execveat",
                     {.len_arg = -1, .fixed_arg = -1, .ends_space = true}},
    [SC_EXIT] = {SC_EXIT, "exit", {.len_arg = -1, .fixed_arg = -1}},
    [SC_EXIT_GROUP] = {SC_EXIT_GROUP, "exit_group",
                       {.len_arg = -1, .fixed_arg = -1, .ends_space = true}},
};

size_t syscall_arch_count(void)
{
    return NABIS;
}

uint32_t syscall_arch_at(size_t i)
{
    return i < NABIS ? ABIS[i].arch : 0;
}

static const struct abi *abi_of(uint32_t arch)
{
    for (size_t i = 0; i < NABIS; i++)
        if (ABIS[i].arch == arch)
            return &ABIS[i];
    return NULL;
}

enum syscall_id syscall_lookup(uint32_t arch, uint64_t nr)
{
    const struct abi *abi = abi_of(arch);
    if (!abi)
        return SC_NONE;
    for (int id = SC_NONE + 1; id < SC_COUNT; id++)
        if (abi->nr[id] >= 0 && (uint64_t)abi->nr[id] == nr)
            return (enum syscall_id)id;
    return SC_NONE;
}

long syscall_number(uint32_t arch, enum syscall_id id)
{
    const struct abi *abi = abi_of(arch);
    if (!abi || id <= SC_NONE || id >= SC_COUNT)
        return -1;
    return abi->nr[id];
}

const struct syscall_desc *syscall_desc(enum syscall_id id)
{
    if (id <= SC_NONE || id >= SC_COUNT)
        return &DESCS[SC_NONE];
    return &DESCS[id];
}

enum report_need syscall_report_need(enum syscall_id id, const uint64_t args[6],
                                     uint64_t min_size, uint64_t max_size)
{
    const struct syscall_rule *rule = &syscall_desc(id)->rule;
    if (rule->grows)
        return REPORT_YES;
    if (!rule->touches)
        return REPORT_NEVER;
    if (min_size == 0)
        return REPORT_YES;
    if (rule->len_arg >= 0 && args[rule->len_arg] >= min_size &&
        (max_size == 0 || args[rule->len_arg] <= max_size))
        return REPORT_YES;
    if (rule->fixed_arg >= 0 && !(args[rule->fixed_arg] & MAP_FIXED))
        return REPORT_NEVER; /* a small mmap anywhere the kernel likes */
    return REPORT_IF_TOUCHES;
}
