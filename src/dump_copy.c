/*
 * dump_copy: pagemap-guided copy of a region into a sparse file, read and
 * written in turn or, with a dump_pipe, at the same time. See
 * include/dump_copy.h.
 */
#include "dump_copy.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dump.h"
#include "dump_file.h"
#include "dump_strings.h"
#include "memread.h"

/* Buffers in the ring: enough that a slow write (or, with --strings, a
 * slow scan) does not stall reading at once, few enough to keep our
 * footprint at a few MiB. */
#define PIPE_SLOTS 6

struct slot {
    char *buf;
    uint64_t off; /* region offset of buf[0] */
    size_t len;
};

/* The ring: slot k % PIPE_SLOTS holds the k-th buffer read. The reader
 * fills, the writer writes, and with --strings the scanner scans after
 * the writer; a slot is free again once the last of them is done with it.
 * Counts only grow (64 bits do not wrap). */
struct dump_pipe {
    pthread_t thread, scan_thread;
    bool scan_started;
    pthread_mutex_t lock;
    pthread_cond_t filled;  /* the writer waits for a buffer */
    pthread_cond_t written; /* the scanner waits for a written buffer */
    pthread_cond_t emptied; /* the reader waits for a free slot or the end */
    struct slot slots[PIPE_SLOTS];
    size_t buf_size;
    uint64_t nfilled, nwritten, nscanned;
    bool scanning;          /* this dump has a scanner: slots wait for it */
    bool stop;
    struct dump_copy *copy; /* the dump being written (set while idle) */
    int err;                /* first write error of this dump */
    /* A run shared by the two copiers (see "two copiers"): chunks are
     * taken from split_next up to split_end; the writer thread says when
     * it has stopped taking them. */
    bool split_open, split_helping;
    uint64_t split_next, split_end;
    struct dump_ranges split_unreadable[2]; /* per copier, each in order */
    uint64_t split_bytes;   /* read and written by both */
    int split_err;          /* the first failure (errno), its op below */
    const char *split_op;
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

/* Bytes at region offset off, through the scanner (a gap since the last
 * bytes is a hole or an unreadable page: it ends a run, as a zero byte
 * would). */
static void scan(struct dump_copy *c, uint64_t off, const char *data, size_t n)
{
    if (off != c->scanned_to)
        dump_scanner_break(c->scanner);
    dump_scanner_feed(c->scanner, (const unsigned char *)data, n);
    c->scanned_to = off + n;
}

/* Without a pipe, one thread does it all: bytes at region offset off go
 * into the .bin, then through the scanner when there is one. */
static int sink(struct dump_copy *c, uint64_t off, const char *data, size_t n)
{
    if (dump_file_pwrite_all(c->fd, data, n, off) < 0)
        return -1;
    if (c->scanner)
        scan(c, off, data, n);
    return 0;
}

#define EXISTS_BITS (MEMREAD_PAGE_PRESENT | MEMREAD_PAGE_SWAPPED)
#define EXISTS EXISTS_BITS

/* ---- the pipe ---------------------------------------------------------- */

static uint64_t released(const struct dump_pipe *p)
{
    return p->scanning ? p->nscanned : p->nwritten;
}

static ssize_t read_piece(struct dump_copy *c, char *buf, uint64_t off, uint64_t end, size_t want,
                          bool nothing_read, uint64_t *next);

/* ---- two copiers ------------------------------------------------------ */

/* Without --strings the bytes need no order, so a run is copied by the
 * worker and the pipe's writer thread together, each reading a chunk into
 * its own buffer and writing it itself. Why not one reading and one
 * writing: pwrite of a buffer just filled on the other CPU costs about a
 * third more than of one in its own cache, and the writer was the slower
 * of the two; this way the reads hide behind the other copier's write
 * (buffered writes to one file take turns on its inode) and a 256 MiB
 * dump runs at the speed of pwrite alone (docs/performance.md). */

static void split_fail(struct dump_pipe *p, const char *op, int err)
{
    pthread_mutex_lock(&p->lock);
    if (!p->split_err) {
        p->split_err = err ? err : EIO;
        p->split_op = op;
    }
    p->split_end = p->split_next; /* no one takes another chunk */
    pthread_mutex_unlock(&p->lock);
}

/* Copier `who` (0: the worker, 1: the writer thread) takes chunks until
 * none is left: the loop of copy_run for each. */
static void split_copy(struct dump_pipe *p, int who)
{
    struct dump_copy *c = p->copy;
    char *buf = p->slots[who].buf;
    struct dump_ranges *unreadable = &p->split_unreadable[who];
    for (;;) {
        pthread_mutex_lock(&p->lock);
        uint64_t off = p->split_next, end = p->split_end;
        if (off < end) {
            end = end - off < p->buf_size ? end : off + p->buf_size;
            p->split_next = end;
        }
        bool nothing_yet = p->split_bytes == 0 && c->res->bytes_read == 0;
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
        p->split_bytes += copied;
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
    struct dump_pipe *p = c->pipe;
    pthread_mutex_lock(&p->lock);
    p->split_next = s;
    p->split_end = e;
    p->split_bytes = 0;
    p->split_err = 0;
    p->split_op = NULL;
    p->split_open = true;
    pthread_cond_signal(&p->filled);
    pthread_mutex_unlock(&p->lock);

    split_copy(p, 0);

    pthread_mutex_lock(&p->lock);
    while (p->split_open && p->split_helping)
        pthread_cond_wait(&p->emptied, &p->lock);
    p->split_open = false; /* taken by no one: the worker did it all */
    int err = p->split_err;
    const char *op = p->split_op;
    c->res->bytes_read += p->split_bytes;
    pthread_mutex_unlock(&p->lock);

    int merged = merge_unreadable(p->split_unreadable, &c->res->unreadable);
    for (int i = 0; i < 2; i++) {
        dump_ranges_release(&p->split_unreadable[i]);
        p->split_unreadable[i] = (struct dump_ranges){0};
    }
    if (err)
        return fail(c, op, err);
    if (merged < 0)
        return fail(c, "record unreadable range", ENOMEM);
    return 0;
}

static void *writer_main(void *arg)
{
    struct dump_pipe *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->nwritten == p->nfilled && !p->split_open && !p->stop)
            pthread_cond_wait(&p->filled, &p->lock);
        if (p->split_open && !p->split_helping) {
            p->split_helping = true;
            pthread_mutex_unlock(&p->lock);
            split_copy(p, 1);
            pthread_mutex_lock(&p->lock);
            p->split_open = false;
            p->split_helping = false;
            pthread_cond_signal(&p->emptied);
            continue;
        }
        if (p->nwritten == p->nfilled)
            break;
        struct slot *s = &p->slots[p->nwritten % PIPE_SLOTS];
        struct dump_copy *c = p->copy;
        bool skip = p->err != 0; /* after an error, drain without writing */
        pthread_mutex_unlock(&p->lock);
        int err = 0;
        if (!skip && dump_file_pwrite_all(c->fd, s->buf, s->len, s->off) < 0)
            err = errno ? errno : EIO;
        pthread_mutex_lock(&p->lock);
        if (err && !p->err)
            p->err = err;
        p->nwritten++;
        if (p->scanning)
            pthread_cond_signal(&p->written);
        else
            pthread_cond_signal(&p->emptied);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* --strings: the scan runs on a thread of its own, behind the writer, so
 * that neither the reads of the target nor the writes of the .bin wait
 * for it (they do only when it falls a whole ring behind). */
static void *scanner_main(void *arg)
{
    struct dump_pipe *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while ((!p->scanning || p->nscanned == p->nwritten) && !p->stop)
            pthread_cond_wait(&p->written, &p->lock);
        if (!p->scanning || p->nscanned == p->nwritten)
            break; /* stop, nothing left */
        struct slot *s = &p->slots[p->nscanned % PIPE_SLOTS];
        struct dump_copy *c = p->copy;
        bool skip = p->err != 0; /* the dump fails: its .strings goes too */
        pthread_mutex_unlock(&p->lock);
        if (!skip)
            scan(c, s->off, s->buf, s->len);
        pthread_mutex_lock(&p->lock);
        p->nscanned++;
        pthread_cond_signal(&p->emptied);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void pipe_release(struct dump_pipe *p)
{
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->filled);
    pthread_cond_destroy(&p->written);
    pthread_cond_destroy(&p->emptied);
    for (unsigned i = 0; i < PIPE_SLOTS; i++)
        free(p->slots[i].buf);
    free(p);
}

struct dump_pipe *dump_pipe_new(size_t buf_size)
{
    buf_size &= ~(size_t)(DUMP_PAGE_SIZE - 1);
    if (buf_size == 0) {
        errno = EINVAL;
        return NULL;
    }
    struct dump_pipe *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->buf_size = buf_size;
    for (unsigned i = 0; i < PIPE_SLOTS; i++) {
        if (!(p->slots[i].buf = malloc(buf_size))) {
            for (unsigned j = 0; j < i; j++)
                free(p->slots[j].buf);
            free(p);
            errno = ENOMEM;
            return NULL;
        }
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->filled, NULL);
    pthread_cond_init(&p->written, NULL);
    pthread_cond_init(&p->emptied, NULL);
    int rc = pthread_create(&p->thread, NULL, writer_main, p);
    if (rc != 0) {
        pipe_release(p);
        errno = rc;
        return NULL;
    }
    if ((rc = pthread_create(&p->scan_thread, NULL, scanner_main, p)) != 0) {
        dump_pipe_free(p);
        errno = rc;
        return NULL;
    }
    p->scan_started = true;
    return p;
}

void dump_pipe_free(struct dump_pipe *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->filled);
    pthread_cond_signal(&p->written);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    if (p->scan_started)
        pthread_join(p->scan_thread, NULL);
    pipe_release(p);
}

size_t dump_pipe_buf_size(const struct dump_pipe *p) { return p->buf_size; }

/* A free slot to read into (waits for the writer and the scanner), or
 * NULL after a write error (then *err is it). */
static struct slot *pipe_acquire(struct dump_pipe *p, int *err)
{
    pthread_mutex_lock(&p->lock);
    while (p->nfilled - released(p) == PIPE_SLOTS && !p->err)
        pthread_cond_wait(&p->emptied, &p->lock);
    *err = p->err;
    struct slot *s = *err ? NULL : &p->slots[p->nfilled % PIPE_SLOTS];
    pthread_mutex_unlock(&p->lock);
    return s;
}

static void pipe_submit(struct dump_pipe *p, uint64_t off, size_t len)
{
    pthread_mutex_lock(&p->lock);
    struct slot *s = &p->slots[p->nfilled % PIPE_SLOTS];
    s->off = off;
    s->len = len;
    p->nfilled++;
    pthread_cond_signal(&p->filled);
    pthread_mutex_unlock(&p->lock);
}

/* Starts a dump on the pipe: slots wait for the scanner when it has one. */
static void pipe_begin(struct dump_pipe *p, struct dump_copy *c)
{
    pthread_mutex_lock(&p->lock);
    p->copy = c;
    p->err = 0;
    p->scanning = c->scanner != NULL;
    p->nscanned = p->nwritten; /* the last dump is drained: nothing to scan before */
    pthread_mutex_unlock(&p->lock);
}

/* Waits until everything submitted is written (and scanned); the dump's
 * write error. */
static int pipe_drain(struct dump_pipe *p)
{
    pthread_mutex_lock(&p->lock);
    while (released(p) != p->nfilled)
        pthread_cond_wait(&p->emptied, &p->lock);
    int err = p->err;
    p->err = 0;
    p->copy = NULL;
    p->scanning = false;
    pthread_mutex_unlock(&p->lock);
    return err;
}

/* ---- snapshots ---------------------------------------------------------- */

struct dump_snapshot {
    uint64_t first;   /* page-aligned start */
    size_t npages;
    uint64_t *flags;  /* pagemap entry of each page, as read */
    uint8_t *bad;     /* 1: existed but could not be read */
    char *data;       /* npages pages; only existing ones written */
};

void dump_snapshot_free(struct dump_snapshot *snap)
{
    if (!snap)
        return;
    free(snap->flags);
    free(snap->bad);
    free(snap->data);
    free(snap);
}

struct dump_snapshot *dump_snapshot_take(const struct dump_request *req,
                                         const struct dump_source *src)
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
    snap->data = malloc(snap->npages * DUMP_PAGE_SIZE);
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
    if (c->pipe && !c->scanner && !c->req->snapshot)
        return copy_run_split(c, s, e);
    uint64_t off = s;
    while (off < e) {
        if (cancelled(c))
            return fail(c, "dump cancelled", ECANCELED);
        char *buf = c->buf;
        size_t size = c->buf_size;
        if (c->pipe) {
            int err;
            struct slot *slot = pipe_acquire(c->pipe, &err);
            if (!slot)
                return fail(c, "write", err);
            buf = slot->buf;
            size = c->pipe->buf_size;
        }
        size_t want = (e - off < size) ? (size_t)(e - off) : size;
        uint64_t next;
        ssize_t got = read_piece(c, buf, off, e, want, res->bytes_read == 0, &next);
        if (got < 0)
            return fail(c, "read memory", errno);
        if (got == 0) {
            if (dump_ranges_add(&res->unreadable, off, next) < 0)
                return fail(c, "record unreadable range", ENOMEM);
            off = next;
            continue;
        }
        if (c->pipe)
            pipe_submit(c->pipe, off, (size_t)got);
        else if (sink(c, off, buf, (size_t)got) < 0)
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
    if (c->pipe)
        pipe_begin(c->pipe, c);
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
    if (c->pipe) {
        /* Even after a failure: the writer must be done with our fd and
         * buffers before dump_region() closes and frees them. */
        int err = pipe_drain(c->pipe);
        if (err && rc == 0)
            rc = fail(c, "write", err);
    }
    return rc;
}
