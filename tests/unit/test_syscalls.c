/* The syscall table against the C library's numbers, and the one rule for
 * what could be reported. */
#include <sys/mman.h>
#include <sys/syscall.h>

#include "syscalls.h"
#include "unit.h"

TEST(x86_64_numbers_match_the_c_library)
{
    const uint32_t a = SYSCALL_ARCH_X86_64;
    CHECK(syscall_number(a, SC_MMAP) == SYS_mmap);
    CHECK(syscall_number(a, SC_MUNMAP) == SYS_munmap);
    CHECK(syscall_number(a, SC_MREMAP) == SYS_mremap);
    CHECK(syscall_number(a, SC_MPROTECT) == SYS_mprotect);
    CHECK(syscall_number(a, SC_PKEY_MPROTECT) == SYS_pkey_mprotect);
    CHECK(syscall_number(a, SC_BRK) == SYS_brk);
    CHECK(syscall_number(a, SC_EXECVE) == SYS_execve);
    CHECK(syscall_number(a, SC_EXECVEAT) == SYS_execveat);
    CHECK(syscall_number(a, SC_EXIT) == SYS_exit);
    CHECK(syscall_number(a, SC_EXIT_GROUP) == SYS_exit_group);
}

TEST(i386_numbers)
{
    const uint32_t a = SYSCALL_ARCH_I386;
    CHECK(syscall_number(a, SC_MMAP) == 192); /* mmap2 */
    CHECK(syscall_number(a, SC_MUNMAP) == 91);
    CHECK(syscall_number(a, SC_EXECVE) == 11);
    CHECK(syscall_number(a, SC_EXIT_GROUP) == 252);
    CHECK(syscall_lookup(a, 90) == SC_NONE); /* old_mmap: arguments in memory */
}

TEST(lookup_inverts_number)
{
    for (size_t i = 0; i < syscall_arch_count(); i++) {
        uint32_t a = syscall_arch_at(i);
        for (int id = SC_NONE + 1; id < SC_COUNT; id++) {
            long nr = syscall_number(a, (enum syscall_id)id);
            CHECK(nr >= 0);
            CHECK(syscall_lookup(a, (uint64_t)nr) == (enum syscall_id)id);
        }
    }
    CHECK(syscall_lookup(0x1234, 9) == SC_NONE);
    CHECK(syscall_lookup(SYSCALL_ARCH_X86_64, 39) == SC_NONE); /* getpid */
}

TEST(report_need_follows_the_rules)
{
    uint64_t big[6] = {0, 16 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0};
    uint64_t small[6] = {0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0};
    uint64_t fixed[6] = {0x100000, 4096, PROT_READ, MAP_PRIVATE | MAP_FIXED, (uint64_t)-1, 0};
    uint64_t unmap[6] = {0x100000, 4096};
    uint64_t grow[6] = {0x100000, 4096, 16 << 20, 1};
    CHECK(syscall_report_need(SC_MMAP, big, 16 << 20, 0) == REPORT_YES);
    CHECK(syscall_report_need(SC_MMAP, small, 16 << 20, 0) == REPORT_NEVER);
    CHECK(syscall_report_need(SC_MMAP, fixed, 16 << 20, 0) == REPORT_IF_TOUCHES);
    CHECK(syscall_report_need(SC_MMAP, small, 0, 0) == REPORT_YES);
    CHECK(syscall_report_need(SC_MUNMAP, unmap, 16 << 20, 0) == REPORT_IF_TOUCHES);
    CHECK(syscall_report_need(SC_MREMAP, grow, 16 << 20, 0) == REPORT_YES);
    CHECK(syscall_report_need(SC_MREMAP, unmap, 16 << 20, 0) == REPORT_IF_TOUCHES);
    CHECK(syscall_report_need(SC_MPROTECT, unmap, 16 << 20, 0) == REPORT_IF_TOUCHES);
    CHECK(syscall_report_need(SC_BRK, unmap, 0, 0) == REPORT_YES); /* its result: the heap's end */
    CHECK(syscall_report_need(SC_BRK, unmap, 16 << 20, 0) == REPORT_YES);
    CHECK(syscall_report_need(SC_EXECVE, unmap, 0, 0) == REPORT_NEVER);
    /* --max-size: a larger mmap is not reported unless fixed. */
    CHECK(syscall_report_need(SC_MMAP, big, 16 << 20, 32 << 20) == REPORT_YES);
    CHECK(syscall_report_need(SC_MMAP, big, 4 << 20, 8 << 20) == REPORT_NEVER);
    CHECK(syscall_report_need(SC_MMAP, fixed, 16 << 20, 16 << 20) == REPORT_IF_TOUCHES);
    CHECK(syscall_desc(SC_EXIT_GROUP)->rule.ends_space);
    CHECK(syscall_desc(SC_EXECVEAT)->rule.ends_space);
    CHECK(!syscall_desc(SC_EXIT)->rule.ends_space);
}

UNIT_MAIN(UNIT_CASE(x86_64_numbers_match_the_c_library), UNIT_CASE(i386_numbers),
          UNIT_CASE(lookup_inverts_number), UNIT_CASE(report_need_follows_the_rules))
