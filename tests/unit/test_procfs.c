/*
 * Unit tests for procfs.c on our own /proc entries: a thread name with
 * newlines of its own comes back whole, and a /proc read still works when
 * every descriptor is taken (the reserve), instead of reading as "gone".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procfs.h"
#include "unit.h"

static pid_t own_tid(void) { return (pid_t)syscall(SYS_gettid); }

static int name_round_trip(const char *name, char got[PROCFS_COMM_MAX])
{
    if (prctl(PR_SET_NAME, name) != 0)
        return -1;
    return procfs_read_comm(getpid(), own_tid(), got);
}

TEST(comm_keeps_its_own_newlines)
{
    char got[PROCFS_COMM_MAX];
    CHECK(name_round_trip("nl\nafter", got) == 0);
    CHECK_STR(got, "nl\nafter");
    CHECK(name_round_trip("ends\n", got) == 0);
    CHECK_STR(got, "ends\n");
    CHECK(name_round_trip("\r\x1b[31m\xff\xfe", got) == 0);
    CHECK_STR(got, "\r\x1b[31m\xff\xfe");
    CHECK(name_round_trip("fifteen-bytes-x", got) == 0);
    CHECK_STR(got, "fifteen-bytes-x");
    CHECK(name_round_trip("test_procfs", got) == 0);
}

TEST(comm_of_a_missing_thread)
{
    char got[PROCFS_COMM_MAX];
    CHECK(procfs_read_comm(getpid(), 0x7ffffff0, got) == -1);
    CHECK_STR(got, "?");
}

TEST(reads_with_every_descriptor_taken)
{
    struct rlimit saved, low;
    CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    low = saved;
    low.rlim_cur = 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    procfs_keep_reserve();
    int fds[64], n = 0;
    while (n < 64 && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
        n++;
    int full = errno == EMFILE;
    char got[PROCFS_COMM_MAX];
    int first = procfs_read_comm(getpid(), own_tid(), got);
    int second = first == 0 ? procfs_read_comm(getpid(), own_tid(), got) : -1;
    while (n > 0)
        close(fds[--n]);
    setrlimit(RLIMIT_NOFILE, &saved);
    CHECK(full);
    CHECK(first == 0);
    CHECK(second == 0);
    CHECK_STR(got, "test_procfs");
}

TEST(stat_state_and_flags)
{
    char state;
    unsigned long flags;
    CHECK(procfs_parse_stat("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 9",
                            &state, &flags) == 0);
    CHECK(state == 'S');
    CHECK_U64(flags, 2129984); /* PF_KTHREAD among them */
    CHECK(procfs_parse_stat("77 (a) b (c)) Z 5 77 77 34816 -1 4194572 0 0", &state, &flags) == 0);
    CHECK(state == 'Z');
    CHECK_U64(flags, 4194572);
    CHECK(procfs_parse_stat("12 (java) S 1 2 3", &state, &flags) < 0);
    CHECK(procfs_parse_stat("12 java S 1 2 3 4 5 6", &state, &flags) < 0);
}

UNIT_MAIN(UNIT_CASE(stat_state_and_flags), UNIT_CASE(comm_keeps_its_own_newlines), UNIT_CASE(comm_of_a_missing_thread),
          UNIT_CASE(reads_with_every_descriptor_taken))
