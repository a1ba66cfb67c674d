/*
 * Unit tests for xlat.c: PROT_/MAP_/MREMAP_ flag names, unknown bits,
 * huge page sizes, truncation to small buffers, errno and signal names.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "unit.h"
#include "xlat.h"

#define HUGE(n) ((unsigned long)(n) << 26) /* MAP_HUGE_SHIFT */

TEST(prot_names)
{
    char buf[64];
    CHECK_STR(xlat_prot(0, buf, sizeof buf), "PROT_NONE");
    CHECK_STR(xlat_prot(PROT_READ, buf, sizeof buf), "PROT_READ");
    CHECK_STR(xlat_prot(PROT_READ | PROT_WRITE, buf, sizeof buf), "PROT_READ|PROT_WRITE");
    CHECK_STR(xlat_prot(PROT_READ | PROT_EXEC, buf, sizeof buf), "PROT_READ|PROT_EXEC");
    CHECK_STR(xlat_prot(7, buf, sizeof buf), "PROT_READ|PROT_WRITE|PROT_EXEC");
    CHECK_STR(xlat_prot(0x8, buf, sizeof buf), "PROT_SEM");
    CHECK_STR(xlat_prot(0x01000001, buf, sizeof buf), "PROT_READ|PROT_GROWSDOWN");
    CHECK_STR(xlat_prot(0x02000000, buf, sizeof buf), "PROT_GROWSUP");
    CHECK_STR(xlat_prot(0x10, buf, sizeof buf), "0x10");
    CHECK_STR(xlat_prot(0x11, buf, sizeof buf), "PROT_READ|0x10");
    CHECK_STR(xlat_prot(0xf0000013UL, buf, sizeof buf), "PROT_READ|PROT_WRITE|0xf0000010");
}

TEST(prot_truncates_safely)
{
    char buf[16];
    memset(buf, 'Z', sizeof buf);
    CHECK_STR(xlat_prot(7, buf, 10), "PROT_READ");
    CHECK(buf[10] == 'Z'); /* nothing written past the given size */
    CHECK_STR(xlat_prot(7, buf, 1), "");
    memset(buf, 'Z', sizeof buf);
    xlat_prot(7, buf, 0);
    CHECK(buf[0] == 'Z');
    /* Every bit set: a bounded, truncated prefix of the full name. The
     * header's 64 bytes hold every realistic value, not this one. */
    char full[128], small[64];
    xlat_prot(~0UL, full, sizeof full);
    CHECK_STR(full, "PROT_READ|PROT_WRITE|PROT_EXEC|PROT_SEM|PROT_GROWSDOWN|"
                    "PROT_GROWSUP|0xfffffffffcfffff0");
    xlat_prot(~0UL, small, sizeof small);
    CHECK(strlen(small) == 63 && strncmp(small, full, 63) == 0);
    xlat_prot(PROT_READ | PROT_WRITE | PROT_EXEC | 0x01000000, small, sizeof small);
    CHECK_STR(small, "PROT_READ|PROT_WRITE|PROT_EXEC|PROT_GROWSDOWN");
}

TEST(prot_short_form)
{
    char buf[4];
    CHECK_STR(xlat_prot_short(0, buf), "---");
    CHECK_STR(xlat_prot_short(PROT_READ, buf), "r--");
    CHECK_STR(xlat_prot_short(PROT_READ | PROT_WRITE, buf), "rw-");
    CHECK_STR(xlat_prot_short(PROT_READ | PROT_EXEC, buf), "r-x");
    CHECK_STR(xlat_prot_short(PROT_EXEC, buf), "--x");
    CHECK_STR(xlat_prot_short(PROT_WRITE, buf), "-w-");
    CHECK_STR(xlat_prot_short(7 | 0x8, buf), "rwx");
}

TEST(map_flags_common)
{
    char buf[256];
    CHECK_STR(xlat_map_flags(MAP_PRIVATE | MAP_ANONYMOUS, buf, sizeof buf),
              "MAP_PRIVATE|MAP_ANONYMOUS");
    CHECK_STR(xlat_map_flags(MAP_SHARED, buf, sizeof buf), "MAP_SHARED");
    CHECK_STR(xlat_map_flags(MAP_SHARED_VALIDATE | MAP_SYNC, buf, sizeof buf),
              "MAP_SHARED_VALIDATE|MAP_SYNC");
    /* The sharing type comes first whatever the bit order. */
    CHECK_STR(xlat_map_flags(MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE, buf,
                             sizeof buf),
              "MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS|MAP_NORESERVE");
    CHECK_STR(xlat_map_flags(MAP_PRIVATE | MAP_DENYWRITE | MAP_EXECUTABLE, buf, sizeof buf),
              "MAP_PRIVATE|MAP_DENYWRITE|MAP_EXECUTABLE");
    CHECK_STR(xlat_map_flags(MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_GROWSDOWN, buf,
                             sizeof buf),
              "MAP_PRIVATE|MAP_ANONYMOUS|MAP_GROWSDOWN|MAP_STACK");
    CHECK_STR(xlat_map_flags(MAP_SHARED | MAP_LOCKED | MAP_POPULATE | MAP_NONBLOCK, buf,
                             sizeof buf),
              "MAP_SHARED|MAP_LOCKED|MAP_POPULATE|MAP_NONBLOCK");
    CHECK_STR(xlat_map_flags(MAP_PRIVATE | MAP_FIXED_NOREPLACE, buf, sizeof buf),
              "MAP_PRIVATE|MAP_FIXED_NOREPLACE");
    CHECK_STR(xlat_map_flags(MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, buf, sizeof buf),
              "MAP_PRIVATE|MAP_ANONYMOUS|MAP_32BIT");
    CHECK_STR(xlat_map_flags(MAP_PRIVATE | MAP_ANONYMOUS | 0x4000000, buf, sizeof buf),
              "MAP_PRIVATE|MAP_ANONYMOUS|MAP_UNINITIALIZED");
}

TEST(map_flags_odd)
{
    char buf[256];
    CHECK_STR(xlat_map_flags(0, buf, sizeof buf), "0");
    CHECK_STR(xlat_map_flags(MAP_ANONYMOUS, buf, sizeof buf), "MAP_ANONYMOUS");
    CHECK_STR(xlat_map_flags(MAP_PRIVATE | 0x8000000, buf, sizeof buf), "MAP_PRIVATE|0x8000000");
    CHECK_STR(xlat_map_flags(0x0f, buf, sizeof buf), "0xf"); /* no such sharing type */
    CHECK_STR(xlat_map_flags(0x0f | 0x8000000 | MAP_ANONYMOUS, buf, sizeof buf),
              "MAP_ANONYMOUS|0x800000f");
    CHECK_STR(xlat_map_flags(MAP_PRIVATE | (1UL << 40), buf, sizeof buf),
              "MAP_PRIVATE|0x10000000000");
}

TEST(map_flags_huge_pages)
{
    char buf[256];
    unsigned long base = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
    CHECK_STR(xlat_map_flags(base, buf, sizeof buf), "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB");
    CHECK_STR(xlat_map_flags(base | HUGE(21), buf, sizeof buf),
              "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_2MB");
    CHECK_STR(xlat_map_flags(base | HUGE(30), buf, sizeof buf),
              "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_1GB");
    CHECK_STR(xlat_map_flags(base | HUGE(16), buf, sizeof buf),
              "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_64KB");
    /* 1 in the size field is MAP_UNINITIALIZED's bit, but with
     * MAP_HUGETLB it is a (nonsense) page size of 2 bytes. */
    CHECK_STR(xlat_map_flags(base | HUGE(1), buf, sizeof buf),
              "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|1<<MAP_HUGE_SHIFT");
    CHECK_STR(xlat_map_flags(base | HUGE(22), buf, sizeof buf),
              "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|22<<MAP_HUGE_SHIFT");
    CHECK_STR(xlat_map_flags(base | HUGE(21) | (1UL << 33), buf, sizeof buf),
              "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_2MB|0x200000000");
}

TEST(map_flags_bounded)
{
    char buf[300];
    memset(buf, 'Z', sizeof buf);
    xlat_map_flags(~0UL, buf, 256);
    CHECK(strlen(buf) < 256);
    CHECK(buf[256] == 'Z');
    /* The header promises 256 is enough: nothing may be cut off. */
    CHECK_STR(buf, "MAP_FIXED|MAP_ANONYMOUS|MAP_GROWSDOWN|MAP_DENYWRITE|MAP_EXECUTABLE|"
                   "MAP_LOCKED|MAP_NORESERVE|MAP_POPULATE|MAP_NONBLOCK|MAP_STACK|"
                   "MAP_HUGETLB|MAP_SYNC|MAP_FIXED_NOREPLACE|MAP_32BIT|63<<MAP_HUGE_SHIFT|"
                   "0xffffffff03e0068f");
    xlat_map_flags(~0UL & ~(unsigned long)MAP_HUGETLB, buf, 256);
    CHECK_STR(buf, "MAP_FIXED|MAP_ANONYMOUS|MAP_GROWSDOWN|MAP_DENYWRITE|MAP_EXECUTABLE|"
                   "MAP_LOCKED|MAP_NORESERVE|MAP_POPULATE|MAP_NONBLOCK|MAP_STACK|"
                   "MAP_SYNC|MAP_FIXED_NOREPLACE|MAP_UNINITIALIZED|MAP_32BIT|"
                   "0xfffffffffbe0068f");

    memset(buf, 'Z', sizeof buf);
    CHECK_STR(xlat_map_flags(MAP_PRIVATE | MAP_ANONYMOUS, buf, 12), "MAP_PRIVATE");
    CHECK(buf[12] == 'Z');
    CHECK_STR(xlat_map_flags(MAP_PRIVATE | MAP_ANONYMOUS, buf, 14), "MAP_PRIVATE|M");
}

TEST(mremap_flags)
{
    char buf[256];
    CHECK_STR(xlat_mremap_flags(0, buf, sizeof buf), "0");
    CHECK_STR(xlat_mremap_flags(1, buf, sizeof buf), "MREMAP_MAYMOVE");
    CHECK_STR(xlat_mremap_flags(3, buf, sizeof buf), "MREMAP_MAYMOVE|MREMAP_FIXED");
    CHECK_STR(xlat_mremap_flags(5, buf, sizeof buf), "MREMAP_MAYMOVE|MREMAP_DONTUNMAP");
    CHECK_STR(xlat_mremap_flags(8, buf, sizeof buf), "0x8");
    CHECK_STR(xlat_mremap_flags(9, buf, sizeof buf), "MREMAP_MAYMOVE|0x8");
}

TEST(errno_names)
{
    CHECK_STR(xlat_errno_name(EPERM), "EPERM");
    CHECK_STR(xlat_errno_name(ENOMEM), "ENOMEM");
    CHECK_STR(xlat_errno_name(EINVAL), "EINVAL");
    CHECK_STR(xlat_errno_name(EAGAIN), "EAGAIN"); /* not EWOULDBLOCK */
    CHECK_STR(xlat_errno_name(EDEADLK), "EDEADLK");
    CHECK_STR(xlat_errno_name(EOPNOTSUPP), "EOPNOTSUPP");
    CHECK_STR(xlat_errno_name(ERANGE), "ERANGE");
    CHECK_STR(xlat_errno_name(EBADF), "EBADF");
    CHECK_STR(xlat_errno_name(EACCES), "EACCES");
    CHECK_STR(xlat_errno_name(EEXIST), "EEXIST");
    CHECK_STR(xlat_errno_name(ENODEV), "ENODEV");
    CHECK_STR(xlat_errno_name(ENXIO), "ENXIO");
    CHECK_STR(xlat_errno_name(EOVERFLOW), "EOVERFLOW");
    CHECK_STR(xlat_errno_name(ETXTBSY), "ETXTBSY");
    CHECK_STR(xlat_errno_name(EFAULT), "EFAULT");
    CHECK_STR(xlat_errno_name(ENOSYS), "ENOSYS");
    CHECK_STR(xlat_errno_name(EINTR), "EINTR");
    CHECK_STR(xlat_errno_name(ESRCH), "ESRCH");
    CHECK_STR(xlat_errno_name(EBUSY), "EBUSY");
    CHECK_STR(xlat_errno_name(ENOSPC), "ENOSPC");
    CHECK_STR(xlat_errno_name(EHWPOISON), "EHWPOISON");
    CHECK_STR(xlat_errno_name(512), "ERESTARTSYS");
    CHECK_STR(xlat_errno_name(516), "ERESTART_RESTARTBLOCK");
    CHECK(xlat_errno_name(0) == NULL);
    CHECK(xlat_errno_name(-ENOMEM) == NULL);
    CHECK(xlat_errno_name(41) == NULL); /* a hole in Linux's numbering */
    CHECK(xlat_errno_name(EHWPOISON + 1) == NULL);
    CHECK(xlat_errno_name(520) == NULL);
    CHECK(xlat_errno_name(4095) == NULL);
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
/* A second, independent table: glibc's own names for every errno. */
TEST(errno_names_match_glibc)
{
    for (int e = 1; e <= EHWPOISON; e++) {
        const char *want = strerrorname_np(e);
        const char *got = xlat_errno_name(e);
        if (want == NULL) {
            CHECK(got == NULL);
            continue;
        }
        CHECK_STR(got, want);
    }
}
#endif

TEST(signal_names)
{
    CHECK_STR(xlat_signal_name(1), "SIGHUP");
    CHECK_STR(xlat_signal_name(6), "SIGABRT");
    CHECK_STR(xlat_signal_name(9), "SIGKILL");
    CHECK_STR(xlat_signal_name(11), "SIGSEGV");
    CHECK_STR(xlat_signal_name(15), "SIGTERM");
    CHECK_STR(xlat_signal_name(16), "SIGSTKFLT");
    CHECK_STR(xlat_signal_name(17), "SIGCHLD");
    CHECK_STR(xlat_signal_name(19), "SIGSTOP");
    CHECK_STR(xlat_signal_name(29), "SIGIO");
    CHECK_STR(xlat_signal_name(31), "SIGSYS");
    CHECK_STR(xlat_signal_name(32), "SIGRTMIN");
    CHECK_STR(xlat_signal_name(33), "SIGRTMIN+1");
    CHECK_STR(xlat_signal_name(34), "SIGRTMIN+2"); /* glibc's SIGRTMIN */
    CHECK_STR(xlat_signal_name(45), "SIGRTMIN+13");
    CHECK_STR(xlat_signal_name(64), "SIGRTMIN+32");
    CHECK(xlat_signal_name(0) == NULL);
    CHECK(xlat_signal_name(-9) == NULL);
    CHECK(xlat_signal_name(65) == NULL);
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
TEST(signal_names_match_glibc)
{
    for (int s = 1; s < 32; s++) {
        if (s == 29)
            continue; /* glibc says POLL; we say SIGIO, as strace does */
        const char *got = xlat_signal_name(s);
        CHECK(got != NULL && strncmp(got, "SIG", 3) == 0);
        CHECK_STR(got + 3, sigabbrev_np(s));
    }
}
#define GLIBC_CASES UNIT_CASE(errno_names_match_glibc), UNIT_CASE(signal_names_match_glibc),
#else
#define GLIBC_CASES
#endif

UNIT_MAIN(UNIT_CASE(prot_names), UNIT_CASE(prot_truncates_safely), UNIT_CASE(prot_short_form),
          UNIT_CASE(map_flags_common), UNIT_CASE(map_flags_odd),
          UNIT_CASE(map_flags_huge_pages), UNIT_CASE(map_flags_bounded),
          UNIT_CASE(mremap_flags), UNIT_CASE(errno_names), GLIBC_CASES
          UNIT_CASE(signal_names))
