/*
 * dump_file: names, temporaries and no-replace publication of dump files.
 * See include/dump_file.h.
 */
#include "dump_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int dump_file_name(char *buf, size_t size, pid_t pid, uint64_t addr, uint64_t len,
                   unsigned seq, const char *suffix)
{
    int n = snprintf(buf, size, "%d-%" PRIx64 "-%" PRIu64 "-%u%s", (int)pid, addr, len, seq,
                     suffix);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

bool dump_file_name_free(int dir_fd, const char *name)
{
    struct stat st;
    /* AT_SYMLINK_NOFOLLOW: a dangling link is a taken name too. Any error
     * but ENOENT (EACCES, say) counts as taken: never guess a name free. */
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        errno = EEXIST;
        return false;
    }
    return errno == ENOENT;
}

int dump_file_free_seq(int dir_fd, pid_t pid, uint64_t addr, uint64_t len, unsigned *seq,
                       const char *const *suffixes, size_t n)
{
    for (unsigned s = *seq;; s++) {
        bool free_all = true;
        for (size_t i = 0; i < n && free_all; i++) {
            char name[DUMP_NAME_MAX];
            if (dump_file_name(name, sizeof name, pid, addr, len, s, suffixes[i]) < 0) {
                errno = ENAMETOOLONG;
                return -1;
            }
            free_all = dump_file_name_free(dir_fd, name);
            if (!free_all && errno != EEXIST)
                return -1; /* the directory cannot be looked into: no name is known free */
        }
        if (free_all) {
            *seq = s;
            return 0;
        }
        if (s == UINT32_MAX)
            break;
    }
    errno = EEXIST;
    return -1;
}

/* O_EXCL: never write through a file someone placed there (or a stale
 * temporary of a crashed run). O_NOFOLLOW: never through a symlink.
 * fchmod: the umask can only remove bits, but an odd umask (0200) must
 * not leave a dump unreadable to us or make the mode depend on the
 * environment. */
int dump_file_create_temp(int dir_fd, const char *name, char *tmp, size_t tmp_size)
{
    for (unsigned k = 0; k < 64; k++) {
        int n = k == 0 ? snprintf(tmp, tmp_size, ".%s.tmp", name)
                       : snprintf(tmp, tmp_size, ".%s.%u.tmp", name, k);
        if (n < 0 || (size_t)n >= tmp_size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            if (errno == EEXIST)
                continue; /* not ours: leave it, take another name */
            return -1;
        }
        if (fchmod(fd, 0600) < 0) {
            int e = errno;
            close(fd);
            unlinkat(dir_fd, tmp, 0);
            errno = e;
            return -1;
        }
        return fd;
    }
    errno = EEXIST;
    return -1;
}

/* RENAME_NOREPLACE where the file system has it; else link (which fails
 * on an existing name too, and does not follow a link given as the
 * source) and unlink. */
int dump_file_publish(int dir_fd, const char *tmp, const char *name)
{
    if (renameat2(dir_fd, tmp, dir_fd, name, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (linkat(dir_fd, tmp, dir_fd, name, 0) < 0)
        return -1;
    unlinkat(dir_fd, tmp, 0);
    return 0;
}

int dump_file_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) { /* no progress and no error: treat as a full disk */
            errno = ENOSPC;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* A full disk shows up here at the latest. */
int dump_file_finish_stream(FILE *f, bool sync)
{
    int err = 0;
    if (fflush(f) != 0 || ferror(f))
        err = errno ? errno : EIO;
    if (!err && sync && fsync(fileno(f)) < 0)
        err = errno;
    if (fclose(f) != 0 && !err)
        err = errno ? errno : EIO;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
