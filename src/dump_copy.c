/*
 * dump_copy: pagemap-guided copy of a region into a sparse file, by one
 * thread or, with a dump_copier, by two. See include/dump_copy.h.
 */
#include "dump_copy.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "dump_file.h"
#include "memread.h"

/* The second copier (see "two copiers" below): a run is split into chunks
 * of buf_size that the worker and the copier's thread take in turn, each
 * reading a chunk into its own buffer and writing it itself. */
struct dump_copier {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t opened;  /* the thread waits for a run to share, or stop */
    pthread_cond_t closed;  /* the worker waits for the thread to stop copying */
    char *bufs[2];          /* [0] the worker's, [1] the thread's */
    size_t buf_size;
    bool stop;
    struct dump_copy *copy; /* the dump whose run is open */
    bool open, helping;     /* a run is open; the thread takes chunks of it */
    uint64_t next, end;     /* chunks are taken from next up to end */
    struct dump_ranges unreadable[2]; /* per copier, each in order */
    uint64_t bytes;         /* read and written by both */
    int err;                /* the first failure (errno), its op below */
    const char *op;
};

static bool cancelled(const struct dump_copy *c)
{
    return c->cancel && atomic_load(c->cancel);
}

static int fail(struct dump_copy *c, const char *op, int err)
{
    c->res->error = err ? err : EIO;
    c->res->error_op = op;
    return -1;
}

#define EXISTS_BITS (MEMREAD_PAGE_PRESENT | MEMREAD_PAGE_SWAPPED)
#define EXISTS EXISTS_BITS

static ssize_t read_piece(struct dump_copy *c, char *buf, uint64_t off, uint64_t end, size_t want,
                          bool nothing_read, uint64_t *next);

/* ---- two copiers ------------------------------------------------------ */

/* A large run is copied by the worker and the copier's thread together,
 * each reading a chunk into its own buffer and writing it itself (the
 * bytes need no order). Why not one reading and one writing: pwrite of a
 * buffer just filled on the other CPU costs about a third more than of
 * one in its own cache, and the writer was the slower of the two; this
 * way the reads hide behind the other copier's write (buffered writes to
 * one file take turns on its inode) and a 256 MiB dump runs at the speed
 * of pwrite alone (docs/performance.md). */

static void split_fail(struct dump_copier *p, const char *op, int err)
{
    pthread_mutex_lock(&p->lock);
    if (!p->err) {
        p->err = err ? err : EIO;
        p->op = op;
    }
    p->end = p->next; /* no one takes another chunk */
    pthread_mutex_unlock(&p->lock);
}

/* Copier `who` (0: the worker, 1: the copier's thread) takes chunks until
 * none is left. */
static void split_copy(struct dump_copier *p, int who)
{
    struct dump_copy *c = p->copy;
    char *buf = p->bufs[who];
    struct dump_ranges *unreadable = &p->unreadable[who];
    for (;;) {
        pthread_mutex_lock(&p->lock);
        uint64_t off = p->next, end = p->end;
        if (off < end) {
            end = end - off < p->buf_size ? end : off + p->buf_size;
            p->next = end;
        }
        bool nothing_yet = p->bytes == 0 && c->res->bytes_read == 0;
        pthread_mutex_unlock(&p->lock);
        if (off >= end)
            return;
        if (cancelled(c)) {
            split_fail(p, "dump cancelled", ECANCELED);
            return;
        }
        uint64_t copied = 0;
        while (off < end) {
            uint64_t next;
            ssize_t got = read_piece(c, buf, off, end, (size_t)(end - off), nothing_yet && !copied,
                                     &next);
            if (got < 0) {
                split_fail(p, "read memory", errno);
                return;
            }
            if (got == 0) {
                if (dump_ranges_add(unreadable, off, next) < 0) {
                    split_fail(p, "record unreadable range", ENOMEM);
                    return;
                }
                off = next;
                continue;
            }
            if (dump_file_pwrite_all(c->fd, buf, (size_t)got, off) < 0) {
                split_fail(p, "write", errno);
                return;
            }
            copied += (uint64_t)got;
            off += (uint64_t)got;
        }
        pthread_mutex_lock(&p->lock);
        p->bytes += copied;
        pthread_mutex_unlock(&p->lock);
    }
}

/* Appends the two copiers' unreadable ranges to to, in address order
 * (ranges a copier could not list still count in to's bytes). */
static int merge_unreadable(struct dump_ranges from[2], struct dump_ranges *to)
{
    size_t i = 0, j = 0;
    uint64_t listed = 0;
    while (i < from[0].n || j < from[1].n) {
        bool first = j >= from[1].n || (i < from[0].n && from[0].v[i].start < from[1].v[j].start);
        const struct dump_range *r = first ? &from[0].v[i++] : &from[1].v[j++];
        if (dump_ranges_add(to, r->start, r->end) < 0)
            return -1;
        listed += r->end - r->start;
    }
    to->bytes += from[0].bytes + from[1].bytes - listed;
    if (from[0].truncated || from[1].truncated)
        to->truncated = true;
    return 0;
}

/* Copies region offsets [s, e) with both copiers; 0, or -1 with the
 * dump's error set. */
static int copy_run_split(struct dump_copy *c, uint64_t s, uint64_t e)
{
    struct dump_copier *p = c->copier;
    pthread_mutex_lock(&p->lock);
    p->copy = c;
    p->next = s;
    p->end = e;
    p->bytes = 0;
    p->err = 0;
    p->op = NULL;
    p->open = true;
    pthread_cond_signal(&p->opened);
    pthread_mutex_unlock(&p->lock);

    split_copy(p, 0);

    pthread_mutex_lock(&p->lock);
    while (p->open && p->helping)
        pthread_cond_wait(&p->closed, &p->lock);
    p->open = false; /* taken by no one: the worker did it all */
    p->copy = NULL;
    int err = p->err;
    const char *op = p->op;
    c->res->bytes_read += p->bytes;
    pthread_mutex_unlock(&p->lock);

    int merged = merge_unreadable(p->unreadable, &c->res->unreadable);
    for (int i = 0; i < 2; i++) {
        dump_ranges_release(&p->unreadable[i]);
        p->unreadable[i] = (struct dump_ranges){0};
    }
    if (err)
        return fail(c, op, err);
    if (merged < 0)
        return fail(c, "record unreadable range", ENOMEM);
    return 0;
}

static void *copier_main(void *arg)
{
    struct dump_copier *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!(p->open && !p->helping) && !p->stop)
            pthread_cond_wait(&p->opened, &p->lock);
        if (p->stop)
            break;
        p->helping = true;
        pthread_mutex_unlock(&p->lock);
        split_copy(p, 1);
        pthread_mutex_lock(&p->lock);
        p->open = false;
        p->helping = false;
        pthread_cond_signal(&p->closed);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void copier_release(struct dump_copier *p)
{
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->opened);
    pthread_cond_destroy(&p->closed);
    free(p->bufs[0]);
    free(p->bufs[1]);
    free(p);
}

struct dump_copier *dump_copier_new(size_t buf_size)
{
    buf_size &= ~(size_t)(DUMP_PAGE_SIZE - 1);
    if (buf_size == 0) {
        errno = EINVAL;
        return NULL;
    }
    struct dump_copier *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->buf_size = buf_size;
    p->bufs[0] = memread_buf_new(buf_size);
    p->bufs[1] = memread_buf_new(buf_size);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->opened, NULL);
    pthread_cond_init(&p->closed, NULL);
    if (!p->bufs[0] || !p->bufs[1]) {
        copier_release(p);
        errno = ENOMEM;
        return NULL;
    }
    int rc = pthread_create(&p->thread, NULL, copier_main, p);
    if (rc != 0) {
        copier_release(p);
        errno = rc;
        return NULL;
    }
    return p;
}

void dump_copier_free(struct dump_copier *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->opened);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    copier_release(p);
}

size_t dump_copier_buf_size(const struct dump_copier *p) { return p->buf_size; }

/* ---- snapshots ---------------------------------------------------------- */

struct dump_snapshot {
    uint64_t first;   /* page-aligned start */
    size_t npages;
    uint64_t *flags;  /* pagemap entry of each page, as read */
    uint8_t *bad;     /* 1: existed but could not be read */
    char *data;       /* npages pages; only existing ones written */
    bool borrowed;    /* data is the caller's buffer (not freed here) */
};

void dump_snapshot_free(struct dump_snapshot *snap)
{
    if (!snap)
        return;
    free(snap->flags);
    free(snap->bad);
    if (!snap->borrowed)
        free(snap->data);
    free(snap);
}

struct dump_snapshot *dump_snapshot_take(const struct dump_request *req,
                                         const struct dump_source *src, void *buf,
                                         size_t buf_size)
{
    static const struct dump_source memread_source = {.read = memread_read,
                                                      .page_flags = memread_page_flags};
    if (!src)
        src = &memread_source;
    if (!req || req->len == 0 || req->addr + req->len < req->addr) {
        errno = EINVAL;
        return NULL;
    }
    struct dump_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap)
        return NULL;
    snap->first = req->addr & ~(uint64_t)(DUMP_PAGE_SIZE - 1);
    uint64_t end = req->addr + req->len;
    snap->npages = (size_t)((end - snap->first + DUMP_PAGE_SIZE - 1) / DUMP_PAGE_SIZE);
    snap->flags = malloc(snap->npages * sizeof *snap->flags);
    snap->bad = calloc(snap->npages, 1);
    snap->borrowed = buf && buf_size / DUMP_PAGE_SIZE >= snap->npages;
    snap->data = snap->borrowed ? buf : memread_buf_new(snap->npages * DUMP_PAGE_SIZE);
    if (!snap->flags || !snap->bad || !snap->data) {
        dump_snapshot_free(snap);
        errno = ENOMEM;
        return NULL;
    }
    pid_t rpid = req->pid;
    if (src->page_flags(rpid, snap->first, snap->npages, snap->flags) < 0) {
        pid_t via = req->read_via > 0 ? req->read_via : req->tid;
        if (via <= 0 || via == rpid ||
            src->page_flags(rpid = via, snap->first, snap->npages, snap->flags) < 0) {
            int e = errno == ENOENT ? ESRCH : errno;
            dump_snapshot_free(snap);
            errno = e;
            return NULL;
        }
    }
    for (size_t i = 0; i < snap->npages;) {
        if (!(snap->flags[i] & EXISTS_BITS)) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < snap->npages && (snap->flags[j] & EXISTS_BITS))
            j++;
        /* Whole pages of a run; a page that cannot be read is marked and
         * skipped, as the dump itself would. */
        for (size_t k = i; k < j;) {
            uint64_t a = snap->first + k * (uint64_t)DUMP_PAGE_SIZE;
            size_t want = (j - k) * DUMP_PAGE_SIZE;
            ssize_t got = src->read(rpid, a, snap->data + k * DUMP_PAGE_SIZE, want);
            if (got < 0 && errno == ESRCH) {
                dump_snapshot_free(snap);
                errno = ESRCH;
                return NULL;
            }
            size_t pages = got > 0 ? (size_t)got / DUMP_PAGE_SIZE : 0;
            if (pages == 0) {
                snap->bad[k] = 1;
                pages = 1;
            }
            k += pages;
        }
        i = j;
    }
    return snap;
}

/* As a process_vm_readv of the snapshot: up to the first page that could
 * not be read; -1 (EFAULT) when that is the first. */
static ssize_t snapshot_read(const struct dump_snapshot *snap, uint64_t addr, char *buf,
                             size_t len)
{
    size_t done = 0;
    while (done < len) {
        uint64_t a = addr + done;
        if (a < snap->first)
            break;
        size_t page = (size_t)((a - snap->first) / DUMP_PAGE_SIZE);
        if (page >= snap->npages || snap->bad[page] || !(snap->flags[page] & EXISTS_BITS))
            break;
        size_t in_page = (size_t)((a - snap->first) % DUMP_PAGE_SIZE);
        size_t n = DUMP_PAGE_SIZE - in_page;
        if (n > len - done)
            n = len - done;
        memcpy(buf + done, snap->data + page * DUMP_PAGE_SIZE + in_page, n);
        done += n;
    }
    if (done == 0) {
        errno = EFAULT;
        return -1;
    }
    return (ssize_t)done;
}

/* ---- the copy ---------------------------------------------------------- */

/* One read of region offsets [off, off + want) into buf, for a run that
 * ends at end. Returns the bytes read (at most want); 0 when the page at
 * off cannot be read, with *next where the rest of the run goes on
 * ([off, *next) is unreadable); -1 with errno when the dump must end.
 * nothing_read: no byte of this dump has been read yet. */
static ssize_t read_piece(struct dump_copy *c, char *buf, uint64_t off, uint64_t end, size_t want,
                          bool nothing_read, uint64_t *next)
{
    ssize_t got = c->req->snapshot
                      ? snapshot_read(c->req->snapshot, c->req->addr + off, buf, want)
                      : c->src->read(c->rpid, c->req->addr + off, buf, want);
    /* A vanished process ends the dump: what follows would be a list of
     * unreadable pages, not a dump. So does a refusal before anything
     * was read (no permission at all); after that, a refused page is
     * one that only /proc/PID/mem could have read (PROT_NONE). */
    if (got < 0 && (errno == ESRCH || ((errno == EPERM || errno == EACCES) && nothing_read)))
        return -1;
    if (got <= 0) {
        /* Skip to the end of the page holding off. */
        uint64_t a = c->req->addr + off;
        *next = (a | (DUMP_PAGE_SIZE - 1)) + 1 - c->req->addr;
        if (*next > end)
            *next = end;
        return 0;
    }
    /* A broken source must not make us overrun. */
    return (size_t)got > want ? (ssize_t)want : got;
}

/* Reads region offsets [s, e), all pages that pagemap listed as existing,
 * and has them written at the same offsets. What cannot be read (the page
 * was unmapped or protected after pagemap was read) is recorded, never
 * retried: the target is running and a retry would not be the same
 * memory anyway. */
static int copy_run(struct dump_copy *c, uint64_t s, uint64_t e)
{
    struct dump_result *res = c->res;
    if (c->copier && !c->req->snapshot)
        return copy_run_split(c, s, e);
    uint64_t off = s;
    while (off < e) {
        if (cancelled(c))
            return fail(c, "dump cancelled", ECANCELED);
        size_t want = (e - off < c->buf_size) ? (size_t)(e - off) : c->buf_size;
        uint64_t next;
        ssize_t got = read_piece(c, c->buf, off, e, want, res->bytes_read == 0, &next);
        if (got < 0)
            return fail(c, "read memory", errno);
        if (got == 0) {
            if (dump_ranges_add(&res->unreadable, off, next) < 0)
                return fail(c, "record unreadable range", ENOMEM);
            off = next;
            continue;
        }
        if (dump_file_pwrite_all(c->fd, c->buf, (size_t)got, off) < 0)
            return fail(c, "write", errno);
        res->bytes_read += (uint64_t)got;
        off += (uint64_t)got;
    }
    return 0;
}

/* pagemap flags of n pages from page; on the first chunk, a leader that
 * exited while its threads live has no mm behind /proc/PID any more: the
 * thread named by read_via (or the mapper) still has it. */
static int page_flags(struct dump_copy *c, uint64_t page, size_t n, bool first)
{
    const struct dump_request *req = c->req;
    const struct dump_snapshot *snap = req->snapshot;
    if (snap) {
        size_t at = (size_t)((page - snap->first) / DUMP_PAGE_SIZE);
        if (page < snap->first || at + n > snap->npages)
            return fail(c, "read snapshot", EINVAL);
        memcpy(c->flags, snap->flags + at, n * sizeof *c->flags);
        return 0;
    }
    for (;;) {
        if (c->src->page_flags(c->rpid, page, n, c->flags) == 0)
            return 0;
        pid_t via = req->read_via > 0 ? req->read_via : req->tid;
        if (first && c->rpid == req->pid && via > 0 && via != req->pid) {
            c->rpid = via;
            continue;
        }
        return fail(c, "read pagemap", errno == ENOENT ? ESRCH : errno);
    }
}


/* Walks the region's pages in pagemap chunks; calls run() for each run of
 * pages that exist or not, with offsets clipped to the region (addr and
 * len need not be page aligned). */
static int walk(struct dump_copy *c, int (*run)(struct dump_copy *, bool, uint64_t, uint64_t))
{
    const struct dump_request *req = c->req;
    uint64_t first = req->addr & ~(uint64_t)(DUMP_PAGE_SIZE - 1);
    uint64_t end = req->addr + req->len;
    uint64_t npages_total = (end - first + DUMP_PAGE_SIZE - 1) / DUMP_PAGE_SIZE;

    for (uint64_t done = 0; done < npages_total;) {
        if (cancelled(c))
            return fail(c, "dump cancelled", ECANCELED);
        uint64_t page = first + done * DUMP_PAGE_SIZE;
        size_t n = (npages_total - done < DUMP_PAGEMAP_CHUNK) ? (size_t)(npages_total - done)
                                                              : DUMP_PAGEMAP_CHUNK;
        if (page_flags(c, page, n, done == 0) < 0)
            return -1;
        for (size_t i = 0; i < n;) {
            bool exists = c->flags[i] & EXISTS;
            size_t j = i + 1;
            while (j < n && !!(c->flags[j] & EXISTS) == exists)
                j++;
            uint64_t a = page + i * (uint64_t)DUMP_PAGE_SIZE;
            uint64_t b = page + j * (uint64_t)DUMP_PAGE_SIZE;
            uint64_t s = (a < req->addr ? req->addr : a) - req->addr;
            uint64_t e = (b > end ? end : b) - req->addr;
            if (run(c, exists, s, e) < 0)
                return -1;
            i = j;
        }
        done += n;
    }
    return 0;
}

static int count_run(struct dump_copy *c, bool exists, uint64_t s, uint64_t e)
{
    if (!exists)
        return 0;
    c->counted += e - s;
    if (c->runs && dump_ranges_add(c->runs, s, e) < 0)
        return fail(c, "record run", ENOMEM);
    return 0;
}

int dump_copy_count(struct dump_copy *c, uint64_t *resident)
{
    c->counted = 0;
    int rc = walk(c, count_run);
    *resident = c->counted;
    return rc;
}

static int copy_or_hole(struct dump_copy *c, bool exists, uint64_t s, uint64_t e)
{
    if (!exists) {
        if (dump_ranges_add(&c->res->holes, s, e) < 0)
            return fail(c, "record hole", ENOMEM);
        return 0;
    }
    c->res->resident_bytes += e - s;
    return copy_run(c, s, e);
}

int dump_copy_region(struct dump_copy *c)
{
    int rc;
    if (c->runs && !c->runs->truncated) {
        /* The runs counted: what lies between them is holes. */
        uint64_t at = 0;
        rc = 0;
        for (size_t i = 0; i < c->runs->n && rc == 0; i++) {
            const struct dump_range *r = &c->runs->v[i];
            if (cancelled(c))
                rc = fail(c, "dump cancelled", ECANCELED);
            else if ((rc = copy_or_hole(c, false, at, r->start)) == 0)
                rc = copy_or_hole(c, true, r->start, r->end);
            at = r->end;
        }
        if (rc == 0)
            rc = copy_or_hole(c, false, at, c->req->len);
    } else {
        rc = walk(c, copy_or_hole);
    }
    return rc;
}
