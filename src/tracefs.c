/*
 * tracefs: tracepoint ids and formats. See include/tracefs.h.
 */
#include "tracefs.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procfs.h"

/* A format file is about 1.5 KiB; 8 KiB leaves room for any syscall's. */
#define FORMAT_MAX 8192
/* Where the helper mounts tracefs inside its own mount namespace. */
#define PRIVATE_MOUNT_DIR "/sys/kernel/tracing"

/* ---- the format parser (pure) -------------------------------------------- */

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* "key:NUMBER;" at p (after blanks): the number, p moved past ';'. */
static bool parse_keyed_number(const char **pp, const char *key, unsigned long *out)
{
    const char *p = skip_blanks(*pp);
    size_t klen = strlen(key);
    if (strncmp(p, key, klen) != 0 || p[klen] != ':')
        return false;
    p += klen + 1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(p, &end, 10);
    if (errno || end == p || *end != ';')
        return false;
    *out = v;
    *pp = end + 1;
    return true;
}

/* One "field:DECL; offset:N; size:N; signed:N;" line (p after "field:"). */
static bool parse_field(const char *p, const char *eol, struct tp_field *f)
{
    const char *semi = memchr(p, ';', (size_t)(eol - p));
    if (!semi)
        return false;
    /* The name is the last word of the declaration, without "[N]". */
    const char *end = semi;
    while (end > p && end[-1] == ']') {
        while (end > p && end[-1] != '[')
            end--;
        if (end > p)
            end--;
    }
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    const char *start = end;
    while (start > p && start[-1] != ' ' && start[-1] != '\t' && start[-1] != '*')
        start--;
    size_t nlen = (size_t)(end - start);
    if (nlen == 0 || nlen >= sizeof f->name)
        return false;
    memcpy(f->name, start, nlen);
    f->name[nlen] = '\0';

    const char *q = semi + 1;
    unsigned long offset, size, sign;
    if (!parse_keyed_number(&q, "offset", &offset) || !parse_keyed_number(&q, "size", &size) ||
        !parse_keyed_number(&q, "signed", &sign) || q > eol || offset > UINT16_MAX ||
        size > UINT16_MAX || sign > 1)
        return false;
    f->offset = (uint16_t)offset;
    f->size = (uint16_t)size;
    f->is_signed = sign == 1;
    return true;
}

int tracefs_parse_format(const char *text, struct tp_format *out)
{
    memset(out, 0, sizeof *out);
    bool have_id = false;
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        if (!eol)
            eol = line + strlen(line);
        const char *p = skip_blanks(line);
        if (strncmp(p, "name:", 5) == 0) {
            p = skip_blanks(p + 5);
            size_t n = (size_t)(eol - p);
            if (n == 0 || n >= sizeof out->name)
                return -1;
            memcpy(out->name, p, n);
            out->name[n] = '\0';
        } else if (strncmp(p, "ID:", 3) == 0) {
            char *end;
            errno = 0;
            unsigned long id = strtoul(p + 3, &end, 10);
            if (errno || end == p + 3 || id == 0 || id > UINT32_MAX)
                return -1;
            out->id = (uint32_t)id;
            have_id = true;
        } else if (strncmp(p, "field:", 6) == 0) {
            if (out->nfields == TP_FIELDS_MAX ||
                !parse_field(p + 6, eol, &out->fields[out->nfields]))
                return -1;
            out->nfields++;
        }
        line = *eol ? eol + 1 : eol;
    }
    return have_id && out->nfields > 0 ? 0 : -1;
}

const struct tp_field *tp_format_field(const struct tp_format *fmt, const char *name)
{
    for (size_t i = 0; i < fmt->nfields; i++)
        if (strcmp(fmt->fields[i].name, name) == 0)
            return &fmt->fields[i];
    return NULL;
}

bool tp_field_get(const struct tp_field *field, const void *raw, size_t len, uint64_t *out)
{
    if ((size_t)field->offset + field->size > len)
        return false;
    const unsigned char *p = (const unsigned char *)raw + field->offset;
    switch (field->size) {
    case 1: {
        uint8_t v = p[0];
        *out = field->is_signed ? (uint64_t)(int64_t)(int8_t)v : v;
        return true;
    }
    case 2: {
        uint16_t v;
        memcpy(&v, p, 2);
        *out = field->is_signed ? (uint64_t)(int64_t)(int16_t)v : v;
        return true;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p, 4);
        *out = field->is_signed ? (uint64_t)(int64_t)(int32_t)v : v;
        return true;
    }
    case 8:
        memcpy(out, p, 8);
        return true;
    default:
        return false;
    }
}

/* ---- finding a mount ------------------------------------------------------ */

/* mountinfo escapes blanks and backslashes as \ooo. */
static void unescape_octal(const char *in, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < size; i++) {
        if (in[i] == '\\' && i + 3 < n && in[i + 1] >= '0' && in[i + 1] <= '3') {
            out[o++] = (char)((in[i + 1] - '0') * 64 + (in[i + 2] - '0') * 8 + (in[i + 3] - '0'));
            i += 3;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
}

bool tracefs_find(char *dir, size_t size)
{
    static char buf[1 << 16];
    if (procfs_read_file("/proc/self/mountinfo", buf, sizeof buf) < 0)
        return false;
    for (char *line = buf; *line;) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE ..." */
        char *sep = strstr(line, " - ");
        if (sep && strncmp(sep + 3, "tracefs ", 8) == 0) {
            const char *p = line;
            for (int field = 0; field < 4 && p; field++) {
                p = strchr(p, ' ');
                if (p)
                    p++;
            }
            const char *end = p ? strchr(p, ' ') : NULL;
            if (end && end > p) {
                unescape_octal(p, (size_t)(end - p), dir, size);
                char probe[512];
                snprintf(probe, sizeof probe, "%s/events", dir);
                if (access(probe, X_OK) == 0)
                    return true;
            }
        }
        if (!eol)
            break;
        line = eol + 1;
    }
    return false;
}

/* ---- reading the files ---------------------------------------------------- */

/* Appends src to dst[pos..size) without the C library (the helper below
 * runs in the fork child of a possibly multi-threaded process). */
static size_t append(char *dst, size_t pos, size_t size, const char *src)
{
    while (*src && pos + 1 < size)
        dst[pos++] = *src++;
    dst[pos] = '\0';
    return pos;
}

/* dir/events/NAME/format into buf (NUL-terminated): length, or -errno. */
static ssize_t read_format_file(const char *dir, const char *name, char *buf, size_t size)
{
    char path[512];
    size_t p = append(path, 0, sizeof path, dir);
    p = append(path, p, sizeof path, "/events/");
    p = append(path, p, sizeof path, name);
    append(path, p, sizeof path, "/format");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Helper stages, reported as the first word of its answer. */
enum { STAGE_OK, STAGE_UNSHARE, STAGE_PRIVATE, STAGE_MOUNT };

/* The helper child: private mount namespace, tracefs mounted there, each
 * format written to fd as "int32 length (or -errno), bytes". System calls
 * only. The namespace, and the mount in it, end with this process. */
static void __attribute__((noreturn)) helper(int fd, const char *const names[], size_t n)
{
    int32_t status[2] = {STAGE_OK, 0};
    if (unshare(CLONE_NEWNS) != 0)
        status[0] = STAGE_UNSHARE;
    /* Our mounts must not propagate back to the host's namespace. */
    else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        status[0] = STAGE_PRIVATE;
    else if (mount("nodev", PRIVATE_MOUNT_DIR, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   NULL) != 0)
        status[0] = STAGE_MOUNT;
    status[1] = status[0] == STAGE_OK ? 0 : errno;
    if (write_all(fd, status, sizeof status) < 0 || status[0] != STAGE_OK)
        _exit(1);
    static char buf[FORMAT_MAX];
    for (size_t i = 0; i < n; i++) {
        ssize_t len = read_format_file(PRIVATE_MOUNT_DIR, names[i], buf, sizeof buf);
        int32_t word = (int32_t)len;
        if (write_all(fd, &word, sizeof word) < 0 ||
            (len > 0 && write_all(fd, buf, (size_t)len) < 0))
            _exit(1);
    }
    _exit(0);
}

static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int parse_one(const char *name, const char *text, ssize_t len, struct tp_format *out,
                     char *why, size_t why_size)
{
    if (len == -ENOENT) {
        memset(out, 0, sizeof *out); /* this kernel does not have it */
        return 0;
    }
    if (len < 0) {
        snprintf(why, why_size, "cannot read the format of tracepoint '%s': %s", name,
                 strerror((int)-len));
        return -1;
    }
    if ((size_t)len >= FORMAT_MAX - 1 || tracefs_parse_format(text, out) < 0) {
        snprintf(why, why_size, "the format of tracepoint '%s' does not parse", name);
        return -1;
    }
    return 0;
}

static int load_private(const char *const names[], size_t n, struct tp_format *out, char *why,
                        size_t why_size)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(why, why_size, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t child = fork();
    if (child < 0) {
        snprintf(why, why_size, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (child == 0) {
        close(fds[0]);
        helper(fds[1], names, n);
    }
    close(fds[1]);

    static char buf[FORMAT_MAX];
    int32_t status[2];
    int rc = 0;
    if (read_all(fds[0], status, sizeof status) < 0) {
        snprintf(why, why_size, "the tracefs helper process failed");
        rc = -1;
    } else if (status[0] != STAGE_OK) {
        const char *what = status[0] == STAGE_UNSHARE ? "entering a private mount namespace"
                           : status[0] == STAGE_PRIVATE ? "making the mounts private"
                                                         : "mounting tracefs";
        snprintf(why, why_size,
                 "tracefs is not mounted and %s failed (%s)%s", what, strerror(status[1]),
                 status[1] == EPERM ? ": that needs CAP_SYS_ADMIN; run as root, mount tracefs "
                                      "at /sys/kernel/tracing, or use --source ptrace"
                                    : "");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int32_t len;
        if (read_all(fds[0], &len, sizeof len) < 0 || len >= FORMAT_MAX ||
            (len > 0 && read_all(fds[0], buf, (size_t)len) < 0)) {
            snprintf(why, why_size, "the tracefs helper process failed");
            rc = -1;
            break;
        }
        buf[len > 0 ? len : 0] = '\0';
        rc = parse_one(names[i], buf, len, &out[i], why, why_size);
    }
    close(fds[0]);
    int wstatus;
    while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR)
        ;
    return rc;
}

int tracefs_load(const char *const names[], size_t n, struct tp_format *out,
                 bool *mounted_privately, char *why, size_t why_size)
{
    char dir[256];
    *mounted_privately = false;
    if (!tracefs_find(dir, sizeof dir)) {
        *mounted_privately = true;
        return load_private(names, n, out, why, why_size);
    }
    static char buf[FORMAT_MAX];
    for (size_t i = 0; i < n; i++) {
        ssize_t len = read_format_file(dir, names[i], buf, sizeof buf);
        if (len == -EACCES || len == -EPERM) {
            snprintf(why, why_size, "tracefs at '%s' is not readable (%s): run as root, or use --source ptrace", dir,
                     strerror((int)-len));
            return -1;
        }
        if (parse_one(names[i], buf, len, &out[i], why, why_size) < 0)
            return -1;
    }
    return 0;
}
