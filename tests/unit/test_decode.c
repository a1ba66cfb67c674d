/* Unit tests for decode (syscall registers -> map_call) and the pure
 * /proc parsers. */
#include <sys/mman.h>
#include <sys/syscall.h>

#include "decode.h"
#include "procfs.h"
#include "unit.h"

TEST(mmap_success_fields)
{
    uint64_t args[6] = {0, 16781312, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        0xffffffffULL /* fd -1 as the kernel sees an int */, 0};
    struct map_call c;
    CHECK(decode_map_call(DECODE_ARCH_X86_64, SYS_mmap, args, 0x7fbee2fff000LL, false, &c) == MAP_CALL_MMAP);
    CHECK(!c.failed);
    CHECK_U64(c.result, 0x7fbee2fff000ULL);
    CHECK_U64(c.len, 16781312);
    CHECK(c.fd == -1);
    CHECK_U64(c.prot, PROT_READ | PROT_WRITE);
    CHECK_U64(c.flags, MAP_PRIVATE | MAP_ANONYMOUS);
}

TEST(mmap_failure_has_errno)
{
    uint64_t args[6] = {0, 1ULL << 46, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 0xffffffffULL, 0};
    struct map_call c;
    CHECK(decode_map_call(DECODE_ARCH_X86_64, SYS_mmap, args, -12 /* ENOMEM */, true, &c) ==
          MAP_CALL_MMAP);
    CHECK(c.kind == MAP_CALL_MMAP);
    CHECK(c.failed);
    CHECK(c.error == 12);
}

TEST(mremap_arguments)
{
    uint64_t args[6] = {0x1000, 8192, 16384, MREMAP_MAYMOVE | MREMAP_FIXED, 0x40000000, 0};
    struct map_call c;
    CHECK(decode_map_call(DECODE_ARCH_X86_64, SYS_mremap, args, 0x40000000, false, &c) == MAP_CALL_MREMAP);
    CHECK_U64(c.addr, 0x1000);
    CHECK_U64(c.len, 8192);
    CHECK_U64(c.new_len, 16384);
    CHECK_U64(c.new_addr_arg, 0x40000000);
    CHECK_U64(c.result, 0x40000000);
}

TEST(munmap_mprotect_and_others)
{
    uint64_t args[6] = {0x2000, 4096, PROT_READ, 0, 0, 0};
    struct map_call c;
    CHECK(decode_map_call(DECODE_ARCH_X86_64, SYS_munmap, args, 0, false, &c) == MAP_CALL_MUNMAP);
    CHECK(decode_map_call(DECODE_ARCH_X86_64, SYS_mprotect, args, 0, false, &c) == MAP_CALL_MPROTECT);
    CHECK_U64(c.prot, PROT_READ);
    CHECK(decode_map_call(DECODE_ARCH_X86_64, SYS_pkey_mprotect, args, 0, false, &c) == MAP_CALL_MPROTECT);
    CHECK(decode_map_call(DECODE_ARCH_X86_64, SYS_getppid, args, 1, false, &c) == MAP_CALL_NONE);
    CHECK(decode_is_map_syscall(DECODE_ARCH_X86_64, SYS_brk)); /* growth of the heap */
    CHECK(decode_is_map_syscall(DECODE_ARCH_X86_64, SYS_mmap));
}

TEST(i386_mmap2_offset_in_pages)
{
    uint64_t args[6] = {0, 8192, PROT_READ, MAP_SHARED, 3, 5};
    struct map_call c;
    CHECK(decode_map_call(DECODE_ARCH_I386, 192, args, 0xf7e27000, false, &c) == MAP_CALL_MMAP);
    CHECK_U64(c.offset, 5 * 4096);
    CHECK_U64(c.result, 0xf7e27000);
    /* 10 is x86_64's mprotect but i386's unlink: the arch decides. */
    CHECK(decode_map_call(DECODE_ARCH_I386, 10, args, 0, false, &c) == MAP_CALL_NONE);
    CHECK(decode_is_map_syscall(DECODE_ARCH_I386, 91));
    CHECK(!decode_is_map_syscall(DECODE_ARCH_I386, SYS_mmap)); /* 9 is i386 link */
    CHECK(!decode_is_map_syscall(0x12345678U, SYS_mmap));
}

TEST(page_align)
{
    CHECK_U64(decode_page_align(0), 0);
    CHECK_U64(decode_page_align(1), 4096);
    CHECK_U64(decode_page_align(4096), 4096);
    CHECK_U64(decode_page_align(16781312), 16781312);
    CHECK_U64(decode_page_align(41491), 45056);
    CHECK_U64(decode_page_align(UINT64_MAX), UINT64_MAX & ~4095ULL);
}

TEST(status_parser)
{
    const char *status = "Name:\tjava\nState:\tS (sleeping)\nTgid:\t1234\nPid:\t1240\n"
                         "PPid:\t1\nTracerPid:\t0\n";
    CHECK(procfs_parse_status_number(status, "Tgid") == 1234);
    CHECK(procfs_parse_status_number(status, "Pid") == 1240);
    CHECK(procfs_parse_status_number(status, "PPid") == 1);
    CHECK(procfs_parse_status_number(status, "TracerPid") == 0);
    CHECK(procfs_parse_status_number(status, "Name") == -1); /* not a number */
    CHECK(procfs_parse_status_number(status, "Missing") == -1);
    CHECK(procfs_parse_status_number("Tgid:\t99999999999999999999\n", "Tgid") == -1);
    CHECK(procfs_parse_status_number("", "Tgid") == -1);
}

UNIT_MAIN(UNIT_CASE(mmap_success_fields), UNIT_CASE(mmap_failure_has_errno),
          UNIT_CASE(mremap_arguments), UNIT_CASE(munmap_mprotect_and_others),
          UNIT_CASE(i386_mmap2_offset_in_pages), UNIT_CASE(page_align), UNIT_CASE(status_parser))
