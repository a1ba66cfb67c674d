/*
 * procfs: bounded readers for /proc. See include/procfs.h.
 */
#include "procfs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

/* One descriptor held in reserve (on /dev/null) for the moment the
 * process has no other: then it is given up for the /proc read at hand,
 * so that a read never fails for want of a descriptor, where a failure
 * would read as "the thread is gone" (a thread taken for a process of its
 * own, an exit that never happened). Taken again when one is free. */
static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static int reserve_fd = -1;
static bool shortage_said;

void procfs_keep_reserve(void)
{
    pthread_mutex_lock(&reserve_lock);
    if (reserve_fd < 0)
        reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_unlock(&reserve_lock);
}

static void say_shortage(int err)
{
    if (shortage_said)
        return;
    shortage_said = true;
    struct rlimit files = {0};
    getrlimit(RLIMIT_NOFILE, &files);
    log_warn("out of file descriptors (%s; limit %llu): a thread name or /proc fact that "
             "cannot be read is shown as \"?\"; raise the limit (ulimit -n, prlimit --nofile)",
             err == ENFILE ? "the system's table is full" : "ours are all in use",
             (unsigned long long)files.rlim_cur);
}

int procfs_open(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd >= 0 || (errno != EMFILE && errno != ENFILE))
        return fd;
    int err = errno;
    pthread_mutex_lock(&reserve_lock);
    if (reserve_fd >= 0) {
        close(reserve_fd);
        reserve_fd = -1;
        fd = open(path, flags | O_CLOEXEC);
        err = errno;
    }
    if (fd < 0)
        say_shortage(err);
    pthread_mutex_unlock(&reserve_lock);
    errno = err;
    return fd;
}

void procfs_close(int fd)
{
    if (fd >= 0)
        close(fd);
    if (__atomic_load_n(&reserve_fd, __ATOMIC_RELAXED) < 0)
        procfs_keep_reserve();
}

ssize_t procfs_read_file(const char *path, char *buf, size_t size)
{
    if (size == 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = procfs_open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            procfs_close(fd);
            errno = saved;
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    procfs_close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

int procfs_read_comm(pid_t pid, pid_t tid, char comm[PROCFS_COMM_MAX])
{
    char path[64], text[PROCFS_COMM_MAX + 2];
    snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, (int)tid);
    ssize_t n = procfs_read_file(path, text, sizeof text);
    if (n <= 0) {
        strcpy(comm, "?");
        return -1;
    }
    /* At most 15 bytes and the newline the kernel adds: only that last
     * newline goes. A name may hold newlines of its own (PR_SET_NAME takes
     * any bytes but NUL), and those are part of it. */
    if (text[n - 1] == '\n')
        text[--n] = '\0';
    if (n > PROCFS_COMM_MAX - 1)
        n = PROCFS_COMM_MAX - 1;
    memcpy(comm, text, (size_t)n);
    comm[n] = '\0';
    return 0;
}

int procfs_parse_stat(const char *text, char *state, unsigned long *flags)
{
    /* The name is any bytes, ")" included: the fields start after the
     * last one. pid (comm) state ppid pgrp session tty_nr tpgid flags */
    const char *p = strrchr(text, ')');
    if (!p || p[1] != ' ' || !p[2])
        return -1;
    *state = p[2];
    p += 3;
    for (int field = 3; field < 9; field++) { /* from state to flags */
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    char *end;
    errno = 0;
    *flags = strtoul(p, &end, 10);
    return errno || end == p ? -1 : 0;
}

long procfs_parse_status_number(const char *status, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = status; line && *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            const char *p = line + klen + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            long value = 0;
            while (isdigit((unsigned char)*p)) {
                if (value > (1L << 40)) /* no pid or count is near this */
                    return -1;
                value = value * 10 + (*p++ - '0');
            }
            return value;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1;
}

static int read_status(pid_t tid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
    return procfs_read_file(path, buf, size) < 0 ? -1 : 0;
}

long procfs_status_number(pid_t tid, const char *key)
{
    char buf[4096];
    if (read_status(tid, buf, sizeof buf) < 0)
        return -1;
    return procfs_parse_status_number(buf, key);
}

pid_t procfs_namespace_pid(pid_t pid)
{
    char buf[4096];
    if (read_status(pid, buf, sizeof buf) < 0)
        return pid;
    const char *line = strstr(buf, "\nNSpid:");
    if (!line)
        return pid;
    /* One number per nested namespace, ours first, its own last. */
    pid_t last = pid;
    for (const char *p = line + strlen("\nNSpid:"); *p && *p != '\n';) {
        char *end;
        long n = strtol(p, &end, 10);
        if (end == p)
            break;
        if (n > 0 && n <= INT32_MAX)
            last = (pid_t)n;
        p = end;
    }
    return last;
}

char procfs_state(pid_t tid)
{
    char buf[4096];
    if (read_status(tid, buf, sizeof buf) < 0)
        return 0;
    const char *p = strstr(buf, "\nState:");
    if (!p)
        return 0;
    p += strlen("\nState:");
    while (*p == ' ' || *p == '\t')
        p++;
    return *p;
}

int procfs_foreach_task(pid_t pid, int (*fn)(pid_t tid, void *ctx), void *ctx)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    int fd = procfs_open(path, O_RDONLY | O_DIRECTORY);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        int err = errno;
        procfs_close(fd);
        errno = err;
        return -1;
    }
    int count = 0, rc = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        char *end;
        errno = 0;
        long tid = strtol(de->d_name, &end, 10);
        if (errno || *end || end == de->d_name || tid <= 0)
            continue; /* "." and ".." */
        count++;
        if (fn((pid_t)tid, ctx) != 0) {
            rc = -1;
            break;
        }
    }
    closedir(dir);
    procfs_close(-1); /* take the reserve again if it was used */
    return rc < 0 ? -1 : count;
}

int procfs_ptrace_scope(void)
{
    char buf[32];
    if (procfs_read_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof buf) <= 0)
        return -1;
    return isdigit((unsigned char)buf[0]) ? buf[0] - '0' : -1;
}
