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

#include "dump_copy.h"
#include "json.h"
#include "log.h"
#include "memread.h"
#include "xlat.h"

static const struct dump_source memread_source = {
    .read = memread_read,
    .page_flags = memread_page_flags,
};

/* ---- Small pure helpers ------------------------------------------------- */

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
    fprintf(f, ",\"seq\":%u,\"mapped_at\":", res->seq);
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

static int fail(struct dump_result *res, const char *op, int err)
{
    res->error = err ? err : EIO;
    res->error_op = op;
    return -1;
}

/* The .json into a new temporary; *tmp names it. */
static int write_meta_file(int dir_fd, const struct dump_request *req, struct dump_result *res,
                           bool sync, char *tmp, size_t tmp_size)
{
    int fd = dump_file_create_temp(dir_fd, res->meta_name, tmp, tmp_size);
    if (fd < 0)
        return fail(res, "create metadata", errno);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlinkat(dir_fd, tmp, 0);
        return fail(res, "create metadata", e);
    }
    errno = 0;
    int rc = write_meta(f, req, res);
    long size = ftell(f);
    int e = errno;
    if (dump_file_finish_stream(f, sync) < 0 || rc < 0) {
        e = rc < 0 ? (e ? e : EIO) : errno;
        unlinkat(dir_fd, tmp, 0);
        return fail(res, "write metadata", e);
    }
    res->meta_bytes = size > 0 ? (uint64_t)size : 0;
    return 0;
}

static int set_names(const struct dump_request *req, struct dump_result *res, unsigned seq,
                     bool strings)
{
    res->seq = seq;
    res->strings_name[0] = '\0';
    if (dump_file_name(res->name, sizeof res->name, req->pid, req->addr, req->len, seq,
                       ".bin") < 0 ||
        dump_file_name(res->meta_name, sizeof res->meta_name, req->pid, req->addr, req->len,
                       seq, ".json") < 0 ||
        (strings && dump_file_name(res->strings_name, sizeof res->strings_name, req->pid,
                                   req->addr, req->len, seq, ".strings") < 0))
        return fail(res, "name dump file", ENAMETOOLONG);
    return 0;
}

/* Puts the .bin's temporary in place under the first seq from req->seq
 * whose names (.bin, .json, .strings) are all free, then the .json
 * (written here, since it names the .bin); with strings, the .strings
 * name is left for dump_strings(). A name taken meanwhile (someone else
 * writes in the directory) moves the .bin back and tries the next seq. On
 * failure the temporary is still there for the caller to remove, and
 * nothing is published. */
static int publish_dump(int dir_fd, const struct dump_request *req, struct dump_result *res,
                        const char *bin_tmp, bool strings, bool sync)
{
    static const char *const suffixes[] = {".bin", ".json", ".strings"};
    unsigned seq = req->seq;
    for (unsigned attempt = 0; attempt < 64; attempt++, seq++) {
        if (dump_file_free_seq(dir_fd, req->pid, req->addr, req->len, &seq, suffixes, 3) < 0)
            return fail(res, "name dump file", errno);
        if (set_names(req, res, seq, strings) < 0)
            return -1;
        if (dump_file_publish(dir_fd, bin_tmp, res->name) < 0) {
            if (errno == EEXIST)
                continue;
            return fail(res, "rename dump file", errno);
        }
        int e = 0;
        const char *op = NULL;
        char meta_tmp[DUMP_NAME_MAX + 16];
        if (write_meta_file(dir_fd, req, res, sync, meta_tmp, sizeof meta_tmp) < 0)
            e = res->error, op = res->error_op;
        else if (dump_file_publish(dir_fd, meta_tmp, res->meta_name) < 0) {
            e = errno;
            op = "rename metadata";
            unlinkat(dir_fd, meta_tmp, 0);
        }
        if (!op)
            return 0;
        /* Back to the temporary: without its .json nothing is published. */
        if (renameat2(dir_fd, res->name, dir_fd, bin_tmp, RENAME_NOREPLACE) < 0)
            unlinkat(dir_fd, res->name, 0); /* ours: never left without its .json */
        if (e != EEXIST)
            return fail(res, op, e);
        res->error = 0;
        res->error_op = NULL;
        if (faccessat(dir_fd, bin_tmp, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
            return fail(res, "rename dump file", EEXIST);
    }
    return fail(res, "name dump file", EEXIST);
}

int dump_region(int dir_fd, const struct dump_request *req, const struct dump_options *opt,
                struct dump_result *res)
{
    struct timespec start;
    char bin_tmp[DUMP_NAME_MAX + 16] = "";
    struct dump_ranges runs = {0};
    int rc = -1;

    memset(res, 0, sizeof *res);
    clock_gettime(CLOCK_REALTIME, &res->dumped_at);
    clock_gettime(CLOCK_MONOTONIC, &start);

    struct dump_copy c = {
        .req = req,
        .src = (opt && opt->source) ? opt->source : &memread_source,
        .cancel = opt ? opt->cancel : NULL,
        .res = res,
        .rpid = req ? req->pid : 0,
        .fd = -1,
    };

    if (!req || req->pid <= 0 || req->len == 0 || req->addr + req->len < req->addr ||
        (opt && opt->buf && opt->buf_size < DUMP_PAGE_SIZE)) {
        fail(res, "invalid dump request", EINVAL);
        goto out;
    }
    bool strings = opt && opt->strings;
    if (set_names(req, res, req->seq, strings) < 0)
        goto out;

    if (opt && opt->buf) {
        c.buf = opt->buf;
        /* Whole pages only, so a read never straddles more pages than it
         * must and a failing page is found at the first short count. */
        c.buf_size = opt->buf_size & ~(size_t)(DUMP_PAGE_SIZE - 1);
    } else {
        c.buf_size = (opt && opt->buf_size >= DUMP_PAGE_SIZE)
                         ? opt->buf_size & ~(size_t)(DUMP_PAGE_SIZE - 1)
                         : DUMP_BUF_DEFAULT;
        c.buf = memread_buf_new(c.buf_size);
    }
    c.flags = malloc(DUMP_PAGEMAP_CHUNK * sizeof *c.flags);
    if (!c.buf || !c.flags) {
        fail(res, "allocate dump buffer", ENOMEM);
        goto out;
    }

    /* What exists decides the quota and whether the second copier is worth
     * its hand-offs (a small region is read and written at once). */
    uint64_t resident = 0;
    c.runs = &runs;
    if (dump_copy_count(&c, &resident) < 0)
        goto out;
    if (opt && opt->reserve &&
        !opt->reserve(opt->reserve_ctx, resident, res->refused, sizeof res->refused)) {
        res->resident_bytes = resident;
        fail(res, "quota", EDQUOT);
        goto out;
    }
    if (opt && opt->copier && resident > dump_copier_buf_size(opt->copier))
        c.copier = opt->copier;

    c.fd = dump_file_create_temp(dir_fd, res->name, bin_tmp, sizeof bin_tmp);
    if (c.fd < 0) {
        bin_tmp[0] = '\0';
        fail(res, "create dump file", errno);
        goto out;
    }
    if (dump_copy_region(&c) < 0)
        goto out;
    /* Sets the size so trailing holes exist; on most file systems
     * extending a file allocates nothing. */
    if (ftruncate(c.fd, (off_t)req->len) < 0) {
        fail(res, "write", errno);
        goto out;
    }
    if (opt && opt->sync && fsync(c.fd) < 0) {
        fail(res, "write", errno);
        goto out;
    }
    int fd = c.fd;
    c.fd = -1;
    if (close(fd) < 0) { /* NFS and friends report write errors here */
        fail(res, "write", errno);
        goto out;
    }
    if (publish_dump(dir_fd, req, res, bin_tmp, strings, opt && opt->sync) < 0)
        goto out;
    rc = 0;

out:
    if (c.fd >= 0)
        close(c.fd);
    if (rc < 0) {
        /* One cleanup path: whatever temporary of this dump exists goes
         * (publish_dump leaves nothing published on failure). */
        int e = errno;
        if (bin_tmp[0])
            unlinkat(dir_fd, bin_tmp, 0);
        res->strings_name[0] = '\0';
        errno = e;
    }
    if (!(opt && opt->buf))
        free(c.buf);
    free(c.flags);
    dump_ranges_release(&runs);
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
