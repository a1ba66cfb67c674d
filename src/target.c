/*
 * target: launch a command under the seccomp filter, seized from the start.
 * See include/target.h.
 */
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "escape.h"
#include "log.h"
#include "procfs.h"

static struct rlimit original_nofile;
static bool nofile_raised;

void target_raise_file_limit(void)
{
    procfs_keep_reserve();
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) < 0 || files.rlim_cur >= files.rlim_max)
        return;
    original_nofile = files;
    files.rlim_cur = files.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &files) == 0)
        nofile_raised = true;
}

#define PF_KTHREAD 0x00200000UL

int target_check_attachable(pid_t pid)
{
    char path[64], text[1024], comm[PROCFS_COMM_MAX], state;
    unsigned long flags;
    if (pid == getpid()) {
        log_error("cannot attach to process %d: it is mmapwatch itself; give the pid of the "
                  "process to watch",
                  (int)pid);
        return -1;
    }
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (procfs_read_file(path, text, sizeof text) <= 0 ||
        procfs_parse_stat(text, &state, &flags) < 0)
        return 0; /* gone or unreadable: the attach itself says what */
    procfs_read_comm(pid, pid, comm);
    char shown[4 * PROCFS_COMM_MAX + 1];
    escape_text(comm, strlen(comm), shown, sizeof shown);
    if (flags & PF_KTHREAD) {
        log_error("process %d (%s) is a kernel thread: it has no user memory to trace",
                  (int)pid, shown);
        return -1;
    }
    if (state == 'Z' || state == 'X') {
        log_error("process %d (%s) is a zombie: it has exited and has no memory left to "
                  "trace (its parent has not collected its exit status yet)",
                  (int)pid, shown);
        return -1;
    }
    return 0;
}

/* In the child, between fork and exec: only async-signal-safe calls (the
 * parent has a dump worker thread; an allocator lock may be held). */
static void child_run(char *const argv[], const sigset_t *mask, struct map_filter *filter,
                      int go_fd)
{
    char go;
    ssize_t n;
    do
        n = read(go_fd, &go, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(127); /* the parent failed to follow us and said so */
    close(go_fd);

    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, mask, NULL);
    if (nofile_raised)
        setrlimit(RLIMIT_NOFILE, &original_nofile);

    if (filter && filter_load(filter) < 0) {
        dprintf(STDERR_FILENO, "mmapwatch: cannot load the seccomp filter: %s\n",
                strerror(errno));
        _exit(127);
    }
    execvp(argv[0], argv);
    int err = errno;
    dprintf(STDERR_FILENO, "mmapwatch: cannot run '%s': %s\n", argv[0], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
}

pid_t target_fork_paused(char *const argv[], const sigset_t *child_mask,
                         struct map_filter *filter, int *go)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        log_error("cannot start '%s': pipe: %s", argv[0], strerror(errno));
        return -1;
    }
    fflush(NULL); /* nothing buffered may be written twice */
    pid_t pid = fork();
    if (pid < 0) {
        log_error("cannot start '%s': fork: %s", argv[0], strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[1]);
        child_run(argv, child_mask, filter, fds[0]);
    }
    close(fds[0]);
    *go = fds[1];
    return pid;
}

int target_release(pid_t pid, int go, const char *name)
{
    if (write(go, "g", 1) != 1) {
        log_error("cannot start '%s': %s", name, strerror(errno));
        close(go);
        kill(pid, SIGKILL); /* it never ran a line of the command */
        return -1;
    }
    close(go);
    return 0;
}

void target_abandon(pid_t pid, int go)
{
    close(go); /* the child reads EOF and exits 127 */
    waitpid(pid, NULL, 0);
}

pid_t target_launch(char *const argv[], const sigset_t *child_mask, struct map_filter *filter,
                    unsigned long ptrace_options)
{
    int go;
    pid_t pid = target_fork_paused(argv, child_mask, filter, &go);
    if (pid < 0)
        return -1;
    if (ptrace(PTRACE_SEIZE, pid, 0L, ptrace_options) < 0) {
        log_error("cannot trace '%s' (pid %d): %s; run as root or with CAP_SYS_PTRACE",
                  argv[0], (int)pid, strerror(errno));
        target_abandon(pid, go);
        return -1;
    }
    return target_release(pid, go, argv[0]) < 0 ? -1 : pid;
}
