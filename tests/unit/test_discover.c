/*
 * Unit tests for discover.c: the /proc/PID/stat and cmdline parsers, then
 * scans of the real /proc with a forked child under a unique name (what is
 * offered, by which selector; ourselves never; skip and ignore honoured;
 * kernel threads never).
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "discover.h"
#include "unit.h"

TEST(stat_plain)
{
    struct discover_stat st;
    const char *text = "1234 (java) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 "
                       "18 0 987654 1000000 200 18446744073709551615\n";
    CHECK(discover_parse_stat(text, &st) == 0);
    CHECK_STR(st.comm, "java");
    CHECK(st.state == 'S');
    CHECK(st.ppid == 1);
    CHECK_U64(st.flags, 4194560);
    CHECK_U64(st.start_time, 987654);
}

TEST(stat_name_with_spaces_and_parens)
{
    struct discover_stat st;
    /* A name is any 15 bytes: the last ')' ends it. */
    const char *text = "77 (a) b (c)) R 5 77 77 34816 -1 2097216 0 0 0 0 0 0 0 0 20 0 1 0 "
                       "42 0 0\n";
    CHECK(discover_parse_stat(text, &st) == 0);
    CHECK_STR(st.comm, "a) b (c)");
    CHECK(st.state == 'R');
    CHECK(st.ppid == 5);
    CHECK_U64(st.flags, 2097216); /* PF_KTHREAD */
    CHECK_U64(st.start_time, 42);
}

TEST(stat_malformed)
{
    struct discover_stat st;
    CHECK(discover_parse_stat("", &st) < 0);
    CHECK(discover_parse_stat("12 java S 1", &st) < 0);
    CHECK(discover_parse_stat("12 (java) S 1 2 3", &st) < 0); /* cut before starttime */
    CHECK(discover_parse_stat("12 (java)S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19",
                              &st) < 0);
    CHECK(discover_parse_stat("12 (java) S x 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19",
                              &st) < 0);
}

TEST(cmdline_join)
{
    char buf[64];
    memcpy(buf, "java\0-jar\0app.jar\0", 18);
    CHECK(discover_join_cmdline(buf, 18) == 17);
    CHECK_STR(buf, "java -jar app.jar");
    memcpy(buf, "x\0\0\0", 4); /* setproctitle leaves padding */
    CHECK(discover_join_cmdline(buf, 4) == 1);
    CHECK_STR(buf, "x");
    CHECK(discover_join_cmdline(buf, 0) == 0);
    CHECK_STR(buf, "");
}

/* ---- live scans ------------------------------------------------------------- */

struct seen {
    pid_t pids[256];
    const char *by[256];
    unsigned n;
    struct discover *d;
    bool ignore;  /* discover_ignore() each one offered */
    pid_t reject; /* skip() says yes for this one */
    unsigned skipped_self;
};

static bool skip_cb(pid_t pid, void *ctx)
{
    struct seen *s = ctx;
    if (pid == getpid() || pid == getppid())
        s->skipped_self++; /* must never even be asked */
    return pid == s->reject;
}

static void found_cb(const struct discover_match *m, void *ctx)
{
    struct seen *s = ctx;
    if (s->n < 256) {
        s->pids[s->n] = m->pid;
        s->by[s->n] = m->matched;
        s->n++;
    }
    if (s->ignore)
        discover_ignore(s->d, m);
}

static int index_of(const struct seen *s, pid_t pid)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->pids[i] == pid)
            return (int)i;
    return -1;
}

/* A child named name that waits until the pipe closes. */
static pid_t start_child(const char *name, int *hold)
{
    int go[2], ready[2];
    if (pipe(go) < 0 || pipe(ready) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        close(ready[0]);
        prctl(PR_SET_NAME, name);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        char c;
        while (read(go[0], &c, 1) > 0)
            ;
        _exit(0);
    }
    close(go[0]);
    close(ready[1]);
    char c;
    if (pid < 0 || read(ready[0], &c, 1) != 1) {
        close(ready[0]);
        close(go[1]);
        return -1;
    }
    close(ready[0]);
    *hold = go[1];
    return pid;
}

static void stop_child(pid_t pid, int hold)
{
    close(hold);
    waitpid(pid, NULL, 0);
}

TEST(scan_by_comm)
{
    char self_name[16], child_name[16], saved[16] = "";
    snprintf(self_name, sizeof self_name, "mwdA%d", (int)getpid() % 100000);
    snprintf(child_name, sizeof child_name, "mwdB%d", (int)getpid() % 100000);
    prctl(PR_GET_NAME, saved);
    prctl(PR_SET_NAME, self_name);
    int hold;
    pid_t child = start_child(child_name, &hold);
    CHECK(child > 0);
    const char *names[] = {self_name, child_name};
    struct seen s = {0};
    struct discover *d = discover_new(names, 2, NULL, NULL, 0);
    s.d = d;
    int n = d ? discover_scan(d, skip_cb, found_cb, &s) : -1;
    /* skip, then ignore: offered neither time */
    struct seen s2 = {.d = d, .reject = child};
    int n2 = d ? discover_scan(d, skip_cb, found_cb, &s2) : -1;
    struct seen s3 = {.d = d, .ignore = true};
    int n3 = d ? discover_scan(d, skip_cb, found_cb, &s3) : -1;
    struct seen s4 = {.d = d};
    int n4 = d ? discover_scan(d, skip_cb, found_cb, &s4) : -1;
    discover_free(d);
    stop_child(child, hold);
    prctl(PR_SET_NAME, saved);
    CHECK(n == 1 && s.n == 1);
    CHECK(s.pids[0] == child);
    CHECK_STR(s.by[0], "comm");
    CHECK(s.skipped_self == 0);
    CHECK(n2 == 0 && s2.n == 0);
    CHECK(n3 == 1 && s3.n == 1);
    CHECK(n4 == 0 && s4.n == 0);
}

static char self_exe_base[256];
static void find_exe_base(void);

TEST(scan_by_match)
{
    find_exe_base();
    CHECK(self_exe_base[0]);
    /* The child's command line is ours (forked, not exec'd): the regex
     * matches both, and only the child is offered. */
    char child_name[16];
    snprintf(child_name, sizeof child_name, "mwdC%d", (int)getpid() % 100000);
    int hold;
    pid_t child = start_child(child_name, &hold);
    CHECK(child > 0);
    struct discover *d = discover_new(NULL, 0, self_exe_base, NULL, 0);
    struct seen s = {.d = d};
    int n = d ? discover_scan(d, skip_cb, found_cb, &s) : -1;
    discover_free(d);
    stop_child(child, hold);
    CHECK(n >= 1);
    int i = index_of(&s, child);
    CHECK(i >= 0);
    CHECK_STR(s.by[i], "match");
    CHECK(index_of(&s, getpid()) < 0);
    CHECK(s.skipped_self == 0);
}

/* A kernel thread whose name no user process has, found by its PF_KTHREAD
 * flag (not by assuming pid 2 is kthreadd: in a pid namespace it is not).
 * 0 when none is visible. */
static bool is_kernel_thread(long pid, struct discover_stat *st)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    return procfs_read_file(path, text, sizeof text) > 0 && discover_parse_stat(text, st) == 0 &&
           (st->flags & 0x00200000UL /* PF_KTHREAD */);
}

static pid_t find_kernel_thread(char name[PROCFS_COMM_MAX])
{
    pid_t found = 0;
    struct dirent *de;
    DIR *dir = opendir("/proc");
    while (dir && !found && (de = readdir(dir)) != NULL) {
        struct discover_stat st;
        long pid = strtol(de->d_name, NULL, 10);
        if (pid > 0 && is_kernel_thread(pid, &st)) {
            found = (pid_t)pid;
            memcpy(name, st.comm, PROCFS_COMM_MAX);
        }
    }
    if (dir)
        rewinddir(dir);
    /* A user process of that name would be offered, rightly. */
    while (dir && found && (de = readdir(dir)) != NULL) {
        struct discover_stat st;
        long pid = strtol(de->d_name, NULL, 10);
        if (pid > 0 && !is_kernel_thread(pid, &st) && strcmp(st.comm, name) == 0)
            found = 0;
    }
    if (dir)
        closedir(dir);
    return found;
}

TEST(scan_skips_kernel_threads)
{
    char name[PROCFS_COMM_MAX];
    pid_t kthread = find_kernel_thread(name);
    if (!kthread) {
        printf("note: scan_skips_kernel_threads: no kernel thread visible in this pid "
               "namespace, nothing to check\n");
        return;
    }
    const char *names[] = {name};
    struct discover *d = discover_new(names, 1, NULL, NULL, 0);
    struct seen s = {.d = d};
    int n = d ? discover_scan(d, NULL, found_cb, &s) : -1;
    discover_free(d);
    CHECK(d != NULL);
    CHECK(n == 0);
    CHECK(index_of(&s, kthread) < 0);
}

static void find_exe_base(void)
{
    char path[256];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return;
    path[n] = '\0';
    const char *slash = strrchr(path, '/');
    snprintf(self_exe_base, sizeof self_exe_base, "%s", slash ? slash + 1 : path);
}

UNIT_MAIN(UNIT_CASE(stat_plain), UNIT_CASE(stat_name_with_spaces_and_parens),
          UNIT_CASE(stat_malformed), UNIT_CASE(cmdline_join), UNIT_CASE(scan_by_comm),
          UNIT_CASE(scan_by_match), UNIT_CASE(scan_skips_kernel_threads))
