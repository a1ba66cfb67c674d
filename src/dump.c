/*
 * dump: a region of a running process into a sparse, atomically renamed
 * 0600 file plus its metadata, reading only pages that exist.
 *
 * The order of work matters for the target: pagemap is read first, in
 * bounded chunks, and only runs of present or swapped pages are handed to
 * memread_read(). Reading a page that is not in the target's page tables
 * would fault it in (a shmem or file page becomes resident, an anonymous
 * one gets the zero page mapped) and grow the very RSS the user is
 * chasing. Swapped pages are read (they are the target's data) at the cost
 * of swapping them back in.
 *
 * The order of work matters for readers of the dump dir too: everything is
 * written under a temporary name, and only a complete file is renamed into
 * place, the .json last. A failure removes what was written.
 */
#include "dump.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "memread.h"
#include "xlat.h"

static const struct dump_source memread_source = {
    .read = memread_read,
    .page_flags = memread_page_flags,
};

/* ---- Small pure helpers ------------------------------------------------- */

int dump_file_name(char *buf, size_t size, pid_t pid, uint64_t addr, uint64_t len,
                   unsigned seq, const char *suffix)
{
    int n = snprintf(buf, size, "%d-%" PRIx64 "-%" PRIu64 "-%u%s", (int)pid, addr, len, seq,
                     suffix);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

const char *dump_format_time(const struct timespec *ts, char buf[32])
{
    struct tm tm;
    time_t secs = ts->tv_sec;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, 32, "1970-01-01T00:00:00.000000Z");
        return buf;
    }
    /* Unsigned and reduced modulo the field width: the result always fits
     * 32 bytes, which the compiler can then prove (an out-of-range time is
     * already nonsense; it must not also overflow). */
    snprintf(buf, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%06luZ",
             (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
             (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
             ((unsigned long)ts->tv_nsec / 1000u) % 1000000u);
    return buf;
}

int dump_ranges_add(struct dump_ranges *r, uint64_t start, uint64_t end)
{
    if (end <= start)
        return 0;
    r->bytes += end - start;
    /* Callers append in address order, so merging only ever touches the
     * last range; a run split across pagemap chunks or buffer reads comes
     * back as one range. */
    if (r->n > 0 && r->v[r->n - 1].end == start) {
        r->v[r->n - 1].end = end;
        return 0;
    }
    if (r->n >= DUMP_MAX_RANGES) {
        r->truncated = true;
        return 0;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        if (cap > DUMP_MAX_RANGES)
            cap = DUMP_MAX_RANGES;
        struct dump_range *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            r->bytes -= end - start;
            errno = ENOMEM;
            return -1;
        }
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n].start = start;
    r->v[r->n].end = end;
    r->n++;
    return 0;
}

void dump_ranges_release(struct dump_ranges *r)
{
    if (!r)
        return;
    free(r->v);
    memset(r, 0, sizeof *r);
}

void dump_result_release(struct dump_result *res)
{
    if (!res)
        return;
    dump_ranges_release(&res->holes);
    dump_ranges_release(&res->unreadable);
}

static uint64_t elapsed_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ns = (int64_t)(now.tv_sec - start->tv_sec) * 1000000000LL +
                 (now.tv_nsec - start->tv_nsec);
    return ns > 0 ? (uint64_t)ns : 0;
}

/* ---- Files: temporary, written whole, then published -------------------- */

static int temp_name(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, ".%s.tmp", name);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* O_EXCL: never write through a file someone placed there (or a stale
 * temporary of a crashed run: better one failed dump than a mixed file).
 * O_NOFOLLOW: never through a symlink. fchmod: the umask can only remove
 * bits, but an odd umask (0200) must not leave a dump unreadable to us or,
 * worse, make the mode depend on the environment. */
static int create_temp(int dir_fd, const char *tmp)
{
    int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (fchmod(fd, 0600) < 0) {
        int e = errno;
        close(fd);
        unlinkat(dir_fd, tmp, 0);
        errno = e;
        return -1;
    }
    return fd;
}

/* Renames without ever replacing an existing file. RENAME_NOREPLACE where
 * the file system has it; else link (which fails on an existing name too)
 * and unlink. */
static int publish(int dir_fd, const char *tmp, const char *name)
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

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
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

/* Flushes, optionally syncs and closes a stdio stream over a temporary
 * file; -1 with errno if anything written was lost (a full disk shows up
 * here, at the latest). Always closes. */
static int finish_stream(FILE *f, bool sync)
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

/* ---- Metadata ----------------------------------------------------------- */

/* Writes s as a JSON string (quoted) or null. The escape buffer is sized
 * for the worst case (6 bytes per input byte), so nothing is cut. */
static int put_json_str(FILE *f, const char *s, size_t len)
{
    if (!s)
        return fputs("null", f) < 0 ? -1 : 0;
    size_t size = len * 6 + 1;
    char *esc = malloc(size);
    if (!esc)
        return -1;
    size_t n = json_escape(s, len, esc, size);
    int rc = (n == (size_t)-1 || fprintf(f, "\"%s\"", esc) < 0) ? -1 : 0;
    free(esc);
    return rc;
}

static void put_ranges(FILE *f, const char *key, const struct dump_ranges *r)
{
    fprintf(f, ",\"%s\":[", key);
    for (size_t i = 0; i < r->n; i++)
        fprintf(f, "%s[%" PRIu64 ",%" PRIu64 "]", i ? "," : "", r->v[i].start, r->v[i].end);
    fprintf(f, "],\"%s_truncated\":%s", key, r->truncated ? "true" : "false");
}

/*
 * The metadata is written with stdio straight into its temporary file
 * rather than with json.h's line writer: the hole list of a large sparse
 * region can be far longer than JSON_LINE_MAX, and a metadata file must
 * never be dropped or cut for size. json_escape() still does the escaping
 * (comm is any bytes) so the file is valid UTF-8 JSON. Lists are bounded
 * by DUMP_MAX_RANGES, so the file is too.
 */
static int write_meta(FILE *f, const struct dump_request *req, const struct dump_result *res)
{
    char prot[4], flags[256], ts[32];
    size_t comm_len = strnlen(req->comm, sizeof req->comm);

    fprintf(f, "{\"file\":\"%s\",\"pid\":%d,\"tid\":%d,\"comm\":", res->name, (int)req->pid,
            (int)req->tid);
    if (put_json_str(f, req->comm, comm_len) < 0)
        return -1;
    fprintf(f, ",\"addr\":\"0x%" PRIx64 "\",\"len\":%" PRIu64 ",\"prot\":\"%s\",\"flags\":\"%s\"",
            req->addr, req->len, xlat_prot_short((unsigned long)(unsigned)req->prot, prot),
            xlat_map_flags((unsigned long)(unsigned)req->flags, flags, sizeof flags));
    fprintf(f, ",\"seq\":%u,\"mapped_at\":", req->seq);
    if (req->mapped_at.tv_sec == 0 && req->mapped_at.tv_nsec == 0)
        fputs("null", f);
    else
        fprintf(f, "\"%s\"", dump_format_time(&req->mapped_at, ts));
    fprintf(f, ",\"dumped_at\":\"%s\",\"reason\":", dump_format_time(&res->dumped_at, ts));
    if (put_json_str(f, req->reason, req->reason ? strlen(req->reason) : 0) < 0)
        return -1;
    fprintf(f,
            ",\"page_size\":%u,\"bytes_read\":%" PRIu64 ",\"resident_bytes\":%" PRIu64
            ",\"hole_bytes\":%" PRIu64 ",\"unreadable_bytes\":%" PRIu64,
            DUMP_PAGE_SIZE, res->bytes_read, res->resident_bytes, res->holes.bytes,
            res->unreadable.bytes);
    put_ranges(f, "holes", &res->holes);
    put_ranges(f, "unreadable", &res->unreadable);
    fprintf(f, ",\"stack\":%s}\n", req->stack_json ? req->stack_json : "null");
    return ferror(f) ? -1 : 0;
}

/* ---- dump_region -------------------------------------------------------- */

struct dump_ctx {
    const struct dump_request *req;
    const struct dump_options *opt;
    const struct dump_source *src;
    struct dump_result *res;
    pid_t rpid;     /* the pid we read through */
    int fd;         /* the .bin temporary */
    char *buf;
    size_t buf_size;
};

static bool cancelled(const struct dump_ctx *c)
{
    return c->opt && c->opt->cancel && atomic_load(c->opt->cancel);
}

static int fail(struct dump_ctx *c, const char *op, int err)
{
    c->res->error = err ? err : EIO;
    c->res->error_op = op;
    return -1;
}

/* Reads region offsets [s, e), all pages that pagemap listed as existing,
 * and writes them at the same offsets. What cannot be read (the page was
 * unmapped or protected after pagemap was read) is recorded, never
 * retried: the target is running and a retry would not be the same
 * memory anyway. */
static int copy_run(struct dump_ctx *c, uint64_t s, uint64_t e)
{
    struct dump_result *res = c->res;
    uint64_t off = s;
    while (off < e) {
        if (cancelled(c))
            return fail(c, "dump cancelled", ECANCELED);
        size_t want = (e - off < c->buf_size) ? (size_t)(e - off) : c->buf_size;
        ssize_t got = c->src->read(c->rpid, c->req->addr + off, c->buf, want);
        /* A vanished process ends the dump: what follows would be a list of
         * unreadable pages, not a dump. So does a refusal before anything
         * was read (no permission at all); after that, a refused page is
         * one that only /proc/PID/mem could have read (PROT_NONE). */
        if (got < 0 && (errno == ESRCH ||
                        ((errno == EPERM || errno == EACCES) && res->bytes_read == 0)))
            return fail(c, "read memory", errno);
        if (got <= 0) {
            /* Skip to the end of the page holding off. */
            uint64_t a = c->req->addr + off;
            uint64_t next = (a | (DUMP_PAGE_SIZE - 1)) + 1 - c->req->addr;
            if (next > e)
                next = e;
            if (dump_ranges_add(&res->unreadable, off, next) < 0)
                return fail(c, "record unreadable range", ENOMEM);
            off = next;
            continue;
        }
        if ((size_t)got > want)
            got = (ssize_t)want; /* a broken source must not make us overrun */
        if (pwrite_all(c->fd, c->buf, (size_t)got, off) < 0)
            return fail(c, "write", errno);
        res->bytes_read += (uint64_t)got;
        off += (uint64_t)got;
    }
    return 0;
}

/* Walks the region's pages in pagemap chunks, copying runs of existing
 * pages and recording the rest as holes. */
static int copy_region(struct dump_ctx *c, uint64_t *flags)
{
    const struct dump_request *req = c->req;
    struct dump_result *res = c->res;
    uint64_t first = req->addr & ~(uint64_t)(DUMP_PAGE_SIZE - 1);
    uint64_t end = req->addr + req->len;
    uint64_t npages_total = (end - first + DUMP_PAGE_SIZE - 1) / DUMP_PAGE_SIZE;

    for (uint64_t done = 0; done < npages_total;) {
        if (cancelled(c))
            return fail(c, "dump cancelled", ECANCELED);
        uint64_t page = first + done * DUMP_PAGE_SIZE;
        size_t n = (npages_total - done < DUMP_PAGEMAP_CHUNK) ? (size_t)(npages_total - done)
                                                              : DUMP_PAGEMAP_CHUNK;
        if (c->src->page_flags(c->rpid, page, n, flags) < 0) {
            /* A leader that exited while its threads live has no mm behind
             * /proc/PID any more; the mapping thread's tid still has it. */
            pid_t via = req->read_via > 0 ? req->read_via : req->tid;
            if (done == 0 && c->rpid == req->pid && via > 0 && via != req->pid) {
                c->rpid = via;
                continue;
            }
            int e = (errno == ENOENT) ? ESRCH : errno;
            return fail(c, "read pagemap", e);
        }
        for (size_t i = 0; i < n;) {
            bool exists = flags[i] & (MEMREAD_PAGE_PRESENT | MEMREAD_PAGE_SWAPPED);
            size_t j = i + 1;
            while (j < n && !!(flags[j] & (MEMREAD_PAGE_PRESENT | MEMREAD_PAGE_SWAPPED)) == exists)
                j++;
            /* Offsets relative to addr, clipped to the region (addr and
             * len need not be page aligned). */
            uint64_t a = page + i * (uint64_t)DUMP_PAGE_SIZE;
            uint64_t b = page + j * (uint64_t)DUMP_PAGE_SIZE;
            uint64_t s = (a < req->addr ? req->addr : a) - req->addr;
            uint64_t e = (b > end ? end : b) - req->addr;
            if (!exists) {
                if (dump_ranges_add(&res->holes, s, e) < 0)
                    return fail(c, "record hole", ENOMEM);
            } else {
                res->resident_bytes += e - s;
                if (copy_run(c, s, e) < 0)
                    return -1;
            }
            i = j;
        }
        done += n;
    }
    return 0;
}

/* *created tells the caller whether tmp is ours to remove: never a file
 * that was there before (EEXIST). */
static int write_meta_file(struct dump_ctx *c, int dir_fd, const char *tmp, bool *created)
{
    int fd = create_temp(dir_fd, tmp);
    if (fd < 0)
        return fail(c, "create metadata", errno);
    *created = true;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        return fail(c, "create metadata", e);
    }
    errno = 0;
    int rc = write_meta(f, c->req, c->res);
    long size = ftell(f);
    int e = errno;
    if (finish_stream(f, c->opt && c->opt->sync) < 0)
        return fail(c, "write metadata", errno);
    if (rc < 0)
        return fail(c, "write metadata", e);
    c->res->meta_bytes = size > 0 ? (uint64_t)size : 0;
    return 0;
}

int dump_region(int dir_fd, const struct dump_request *req, const struct dump_options *opt,
                struct dump_result *res)
{
    struct timespec start;
    char bin_tmp[DUMP_NAME_MAX + 8], meta_tmp[DUMP_NAME_MAX + 8];
    uint64_t *flags = NULL;
    bool bin_created = false, meta_created = false, bin_published = false;
    int rc = -1;

    memset(res, 0, sizeof *res);
    clock_gettime(CLOCK_REALTIME, &res->dumped_at);
    clock_gettime(CLOCK_MONOTONIC, &start);

    struct dump_ctx c = {
        .req = req,
        .opt = opt,
        .src = (opt && opt->source) ? opt->source : &memread_source,
        .res = res,
        .rpid = req ? req->pid : 0,
        .fd = -1,
    };

    if (!req || req->pid <= 0 || req->len == 0 || req->addr + req->len < req->addr ||
        (opt && opt->buf && opt->buf_size < DUMP_PAGE_SIZE)) {
        fail(&c, "invalid dump request", EINVAL);
        goto out;
    }
    if (dump_file_name(res->name, sizeof res->name, req->pid, req->addr, req->len, req->seq,
                       ".bin") < 0 ||
        dump_file_name(res->meta_name, sizeof res->meta_name, req->pid, req->addr, req->len,
                       req->seq, ".json") < 0 ||
        temp_name(bin_tmp, sizeof bin_tmp, res->name) < 0 ||
        temp_name(meta_tmp, sizeof meta_tmp, res->meta_name) < 0) {
        fail(&c, "name dump file", ENAMETOOLONG);
        goto out;
    }

    if (opt && opt->buf) {
        c.buf = opt->buf;
        /* Whole pages only, so a read never straddles more pages than it
         * must and a failing page is found at the first short count. */
        c.buf_size = opt->buf_size & ~(size_t)(DUMP_PAGE_SIZE - 1);
    } else {
        c.buf_size = (opt && opt->buf_size >= DUMP_PAGE_SIZE)
                         ? opt->buf_size & ~(size_t)(DUMP_PAGE_SIZE - 1)
                         : DUMP_BUF_DEFAULT;
        c.buf = malloc(c.buf_size);
    }
    flags = malloc(DUMP_PAGEMAP_CHUNK * sizeof *flags);
    if (!c.buf || !flags) {
        fail(&c, "allocate dump buffer", ENOMEM);
        goto out;
    }

    c.fd = create_temp(dir_fd, bin_tmp);
    if (c.fd < 0) {
        fail(&c, "create dump file", errno);
        goto out;
    }
    bin_created = true;

    if (copy_region(&c, flags) < 0)
        goto out;
    /* Sets the size so trailing holes exist; on most file systems
     * extending a file allocates nothing. */
    if (ftruncate(c.fd, (off_t)req->len) < 0) {
        fail(&c, "write", errno);
        goto out;
    }
    if (opt && opt->sync && fsync(c.fd) < 0) {
        fail(&c, "write", errno);
        goto out;
    }
    int fd = c.fd;
    c.fd = -1;
    if (close(fd) < 0) { /* NFS and friends report write errors here */
        fail(&c, "write", errno);
        goto out;
    }

    if (write_meta_file(&c, dir_fd, meta_tmp, &meta_created) < 0)
        goto out;

    if (publish(dir_fd, bin_tmp, res->name) < 0) {
        fail(&c, "rename dump file", errno);
        goto out;
    }
    bin_published = true;
    if (publish(dir_fd, meta_tmp, res->meta_name) < 0) {
        fail(&c, "rename metadata", errno);
        goto out;
    }
    rc = 0;

out:
    if (c.fd >= 0)
        close(c.fd);
    if (rc < 0) {
        /* One cleanup path: whatever exists of this dump goes. A .bin
         * already renamed is removed too, since without its .json nobody
         * can tell what it is. ENOENT from names never created is fine. */
        int e = errno;
        if (bin_created)
            unlinkat(dir_fd, bin_tmp, 0);
        if (bin_published)
            unlinkat(dir_fd, res->name, 0);
        if (meta_created)
            unlinkat(dir_fd, meta_tmp, 0);
        errno = e;
    }
    if (!(opt && opt->buf))
        free(c.buf);
    free(flags);
    res->elapsed_ns = elapsed_since(&start);
    if (rc < 0)
        errno = res->error;
    return rc;
}

/* ---- Dump directory ----------------------------------------------------- */

int dump_dir_open(const char *path, int *dir_fd)
{
    char p[4096];
    size_t len = path ? strlen(path) : 0;

    *dir_fd = -1;
    if (len == 0) {
        log_error("the dump directory path is empty; give --dump-dir a directory");
        return -1;
    }
    if (len >= sizeof p) {
        log_error("dump directory path \"%.64s...\" is too long; choose a shorter --dump-dir",
                  path);
        return -1;
    }
    memcpy(p, path, len + 1);
    /* "dumps/" would make open() follow a symlink named dumps despite
     * O_NOFOLLOW: the trailing slash asks for the directory behind it. */
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';

    bool created = false;
    if (mkdir(p, 0700) == 0) {
        created = true;
        /* Before opening: with an odd umask (0700 bits masked) the new
         * directory would not even be openable by a non-root owner. Does
         * not follow a symlink swapped in meanwhile (that fails here or at
         * the O_NOFOLLOW open below). */
        fchmodat(AT_FDCWD, p, 0700, AT_SYMLINK_NOFOLLOW);
    } else if (errno != EEXIST) {
        log_error("cannot create dump directory \"%s\": %s; create it or choose another "
                  "--dump-dir",
                  path, strerror(errno));
        return -1;
    }

    int fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* With O_DIRECTORY a symlink fails as ENOTDIR rather than ELOOP:
         * tell the two apart for the message. */
        struct stat lst;
        if ((errno == ENOTDIR || errno == ELOOP) && lstat(p, &lst) == 0 && S_ISLNK(lst.st_mode))
            errno = ELOOP;
        if (errno == ELOOP)
            log_error("dump directory \"%s\" is a symbolic link, refused (dumps hold secrets "
                      "and must not be redirected); give the real directory's path",
                      path);
        else if (errno == ENOTDIR)
            log_error("dump directory \"%s\" exists and is not a directory; choose another "
                      "--dump-dir",
                      path);
        else
            log_error("cannot open dump directory \"%s\": %s; fix its permissions or choose "
                      "another --dump-dir",
                      path, strerror(errno));
        return -1;
    }
    /* mkdir's mode went through the umask; the directory we create is
     * private whatever the environment. An existing one is the user's:
     * left as it is (the files in it are 0600 anyway). */
    if (created && fchmod(fd, 0700) < 0) {
        log_error("cannot make dump directory \"%s\" private (mode 0700): %s; create it "
                  "yourself with mode 0700",
                  path, strerror(errno));
        close(fd);
        return -1;
    }

    /* Writability is proven by doing it: access(W_OK) would ignore a
     * read-only mount, ACLs evaluated differently, and what root may do. */
    int err = 0;
    for (unsigned i = 0; i < 16; i++) {
        char probe[64];
        snprintf(probe, sizeof probe, ".mmapwatch-probe-%d-%u", (int)getpid(), i);
        int pfd = openat(fd, probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (pfd >= 0) {
            close(pfd);
            unlinkat(fd, probe, 0);
            err = 0;
            break;
        }
        err = errno;
        if (err != EEXIST)
            break;
    }
    if (err) {
        log_error("cannot write in dump directory \"%s\": %s; make it writable for this "
                  "user or choose another --dump-dir",
                  path, strerror(err));
        close(fd);
        return -1;
    }
    *dir_fd = fd;
    return 0;
}

/* ---- --strings ---------------------------------------------------------- */

struct dc_entry {
    uint64_t hash;
    uint64_t count; /* 0 = empty slot */
    uint32_t off;   /* into the arena */
    uint16_t len;
};

struct dump_counter {
    struct dc_entry *slots;
    size_t nslots; /* a power of two */
    size_t used;
    char *arena;
    size_t arena_len, arena_cap;
    uint64_t dropped;
};

#define DC_INITIAL_SLOTS 1024u

/* FNV-1a: short keys, good enough spread for linear probing, no state. */
static uint64_t dc_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

struct dump_counter *dump_counter_new(void)
{
    struct dump_counter *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->slots = calloc(DC_INITIAL_SLOTS, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    c->nslots = DC_INITIAL_SLOTS;
    return c;
}

void dump_counter_free(struct dump_counter *c)
{
    if (!c)
        return;
    free(c->slots);
    free(c->arena);
    free(c);
}

uint64_t dump_counter_dropped(const struct dump_counter *c) { return c->dropped; }

static int dc_grow(struct dump_counter *c)
{
    size_t n = c->nslots * 2;
    struct dc_entry *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < c->nslots; i++) {
        if (!c->slots[i].count)
            continue;
        size_t k = c->slots[i].hash & (n - 1);
        while (s[k].count)
            k = (k + 1) & (n - 1);
        s[k] = c->slots[i];
    }
    free(c->slots);
    c->slots = s;
    c->nslots = n;
    return 0;
}

void dump_counter_add(struct dump_counter *c, const char *s, size_t len)
{
    if (len == 0 || len > DUMP_STRINGS_KEY_MAX)
        return;
    uint64_t h = dc_hash(s, len);
    size_t k = h & (c->nslots - 1);
    for (; c->slots[k].count; k = (k + 1) & (c->nslots - 1)) {
        struct dc_entry *e = &c->slots[k];
        if (e->hash == h && e->len == len && memcmp(c->arena + e->off, s, len) == 0) {
            e->count++;
            return;
        }
    }
    if (c->used >= DUMP_STRINGS_DISTINCT_MAX || c->arena_len + len > DUMP_STRINGS_ARENA_MAX) {
        c->dropped++;
        return;
    }
    if (c->arena_len + len > c->arena_cap) {
        size_t cap = c->arena_cap ? c->arena_cap * 2 : 64 * 1024;
        while (cap < c->arena_len + len)
            cap *= 2;
        if (cap > DUMP_STRINGS_ARENA_MAX)
            cap = DUMP_STRINGS_ARENA_MAX;
        char *a = realloc(c->arena, cap);
        if (!a) {
            c->dropped++;
            return;
        }
        c->arena = a;
        c->arena_cap = cap;
    }
    /* Keep the load at most one half so probes stay short; grow before
     * inserting, then find the free slot again in the new table. */
    if ((c->used + 1) * 2 > c->nslots) {
        if (dc_grow(c) < 0) {
            c->dropped++;
            return;
        }
        k = h & (c->nslots - 1);
        while (c->slots[k].count)
            k = (k + 1) & (c->nslots - 1);
    }
    memcpy(c->arena + c->arena_len, s, len);
    c->slots[k] = (struct dc_entry){
        .hash = h, .count = 1, .off = (uint32_t)c->arena_len, .len = (uint16_t)len};
    c->arena_len += len;
    c->used++;
}

/* Most frequent first; equal counts in byte order so output is stable. */
static int dc_before(uint64_t ca, const char *a, size_t la, uint64_t cb, const char *b, size_t lb)
{
    if (ca != cb)
        return ca > cb;
    size_t n = la < lb ? la : lb;
    int m = memcmp(a, b, n);
    return m != 0 ? m < 0 : la < lb;
}

size_t dump_counter_top(const struct dump_counter *c, struct string_count top[DUMP_STRINGS_TOP])
{
    size_t n = 0;
    for (size_t i = 0; i < c->nslots; i++) {
        const struct dc_entry *e = &c->slots[i];
        if (!e->count)
            continue;
        const char *s = c->arena + e->off;
        /* Insertion into a sorted array of ten: cheaper than sorting the
         * whole table, and the table may hold 100k entries. */
        size_t pos = n;
        while (pos > 0 && dc_before(e->count, s, e->len, top[pos - 1].count, top[pos - 1].text,
                                    top[pos - 1].len))
            pos--;
        if (pos >= DUMP_STRINGS_TOP)
            continue;
        size_t last = n < DUMP_STRINGS_TOP ? n : DUMP_STRINGS_TOP - 1;
        memmove(&top[pos + 1], &top[pos], (last - pos) * sizeof *top);
        memcpy(top[pos].text, s, e->len);
        top[pos].text[e->len] = '\0';
        top[pos].len = e->len;
        top[pos].count = e->count;
        if (n < DUMP_STRINGS_TOP)
            n++;
    }
    return n;
}

static bool printable(unsigned char ch) { return (ch >= 0x20 && ch <= 0x7e) || ch == '\t'; }

void dump_scanner_init(struct dump_scanner *s, unsigned min, FILE *out,
                       struct dump_counter *counter)
{
    memset(s, 0, sizeof *s);
    s->min = min;
    s->out = out;
    s->counter = counter;
}

void dump_scanner_break(struct dump_scanner *s)
{
    if (s->run_len == 0)
        return;
    if (s->flushed) {
        if (s->out)
            fputc('\n', s->out);
    } else if (s->run_len >= s->min) {
        if (s->out) {
            fwrite(s->head, 1, (size_t)s->run_len, s->out);
            fputc('\n', s->out);
        }
        if (s->counter)
            dump_counter_add(s->counter, s->head, (size_t)s->run_len);
    }
    s->run_len = 0;
    s->flushed = false;
}

void dump_scanner_finish(struct dump_scanner *s) { dump_scanner_break(s); }

/* A span of printable bytes continuing the current run. Runs that fit the
 * head are held until they end (their length decides whether they print);
 * a longer run is already past min (min <= DUMP_STRINGS_KEY_MAX), so it is
 * streamed out and not counted. */
static void scanner_span(struct dump_scanner *s, const unsigned char *p, size_t n)
{
    if (!s->flushed && s->run_len + n <= DUMP_STRINGS_KEY_MAX) {
        memcpy(s->head + s->run_len, p, n);
        s->run_len += n;
        return;
    }
    if (!s->flushed) {
        if (s->out)
            fwrite(s->head, 1, (size_t)s->run_len, s->out);
        s->flushed = true;
    }
    if (s->out)
        fwrite(p, 1, n, s->out);
    s->run_len += n;
}

void dump_scanner_feed(struct dump_scanner *s, const unsigned char *buf, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && printable(buf[j]))
            j++;
        if (j > i)
            scanner_span(s, buf + i, j - i);
        if (j < len) {
            dump_scanner_break(s);
            j++;
        }
        i = j;
    }
}

/* "<base>.strings" for "<base>.bin" (any other name: name + ".strings"). */
static int strings_name(char *buf, size_t size, const char *bin_name)
{
    size_t len = strlen(bin_name);
    if (len > 4 && strcmp(bin_name + len - 4, ".bin") == 0)
        len -= 4;
    int n = snprintf(buf, size, "%.*s.strings", (int)len, bin_name);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* Feeds the scanner the file's data segments; holes are runs of zeros, so
 * skipping them with SEEK_DATA/SEEK_HOLE changes nothing but the time (a
 * 1 GiB reservation with 16 MiB touched reads 16 MiB). */
static int scan_file(int in, uint64_t size, struct dump_scanner *sc, unsigned char *buf,
                     size_t buf_size)
{
    uint64_t off = 0;
    while (off < size) {
        off_t data = lseek(in, (off_t)off, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO)
                break; /* only a hole is left */
            if (errno != EINVAL)
                return -1;
            data = (off_t)off; /* no SEEK_DATA here: everything is data */
        }
        if ((uint64_t)data > off) {
            dump_scanner_break(sc);
            off = (uint64_t)data;
        }
        off_t hole = lseek(in, (off_t)off, SEEK_HOLE);
        uint64_t stop = (hole < 0 || (uint64_t)hole > size) ? size : (uint64_t)hole;
        if (stop <= off)
            stop = size; /* defensive: always make progress */
        while (off < stop) {
            size_t want = (stop - off < buf_size) ? (size_t)(stop - off) : buf_size;
            ssize_t n = pread(in, buf, want, (off_t)off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            if (n == 0)
                return 0; /* the file shrank under us: scan what was there */
            dump_scanner_feed(sc, buf, (size_t)n);
            off += (uint64_t)n;
        }
    }
    return 0;
}

int dump_strings(int dir_fd, const char *bin_name, unsigned min,
                 struct string_count top[DUMP_STRINGS_TOP], size_t *ntop)
{
    char name[DUMP_NAME_MAX], tmp[DUMP_NAME_MAX + 8];
    int in = -1, err = 0;
    bool tmp_created = false;
    FILE *out = NULL;
    struct dump_counter *counter = NULL;
    unsigned char *buf = NULL;

    *ntop = 0;
    if (min == 0 || min > DUMP_STRINGS_KEY_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (strings_name(name, sizeof name, bin_name) < 0 || temp_name(tmp, sizeof tmp, name) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }

    in = openat(dir_fd, bin_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0) {
        err = errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = EINVAL;
        goto out;
    }
    counter = dump_counter_new();
    buf = malloc(DUMP_BUF_DEFAULT);
    if (!counter || !buf) {
        err = ENOMEM;
        goto out;
    }
    int ofd = create_temp(dir_fd, tmp);
    if (ofd < 0) {
        err = errno;
        goto out;
    }
    tmp_created = true;
    out = fdopen(ofd, "w");
    if (!out) {
        err = errno;
        close(ofd);
        goto out;
    }

    struct dump_scanner sc;
    dump_scanner_init(&sc, min, out, counter);
    if (scan_file(in, (uint64_t)st.st_size, &sc, buf, DUMP_BUF_DEFAULT) < 0) {
        err = errno;
        goto out;
    }
    dump_scanner_finish(&sc);
    FILE *f = out;
    out = NULL;
    if (finish_stream(f, false) < 0 || publish(dir_fd, tmp, name) < 0) {
        err = errno;
        goto out;
    }
    tmp_created = false;
    *ntop = dump_counter_top(counter, top);

out:
    if (out)
        fclose(out);
    if (tmp_created)
        unlinkat(dir_fd, tmp, 0);
    if (in >= 0)
        close(in);
    dump_counter_free(counter);
    free(buf);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
