/*
 * dump: one region of a running process, copied to disk without disturbing
 * it.
 *
 * dump_region() asks /proc/PID/pagemap which pages of the region exist
 * (present in RAM or swapped out) and reads only those (memread.h), so a
 * dump never faults a page in: the target's RSS, the number the user is
 * chasing, does not grow because we looked. Pages never touched become
 * holes of a sparse file, so a 1 GiB reservation with 16 MiB touched costs
 * 16 MiB of disk and of reading.
 *
 * Files, in the directory given as dir_fd (see dump_dir_open()):
 *   <pid>-<addr hex, no 0x>-<len>-<seq>.bin   the region, byte offset =
 *                                             address - addr, length len
 *   <pid>-<addr hex>-<len>-<seq>.json         metadata (one JSON object)
 *   <pid>-<addr hex>-<len>-<seq>.strings      --strings: dump_strings(), run
 *                                             on the finished .bin afterwards
 * Each is written under a hidden temporary name (dump_file.h: O_EXCL|
 * O_NOFOLLOW, mode 0600: dumps hold tokens, keys and user data) and
 * renamed into place only when complete, the .json last: a log collector
 * that sees a .json can trust the files beside it. On any failure no file
 * and no temporary file is left behind. Names never clobber and a taken
 * name never fails a dump: the dump takes the next seq whose names
 * (.bin, .json and .strings) are all free.
 *
 * Reading and writing: dump_copy.h (pagemap first, then the reads; with a
 * dump_copier a second thread reads and writes beside the caller).
 *
 * Threads: no global state; dump_region() and dump_strings() may run on a
 * worker thread while the tracer loop runs. They never log (the caller
 * turns res->error into an "error" event); only dump_dir_open(), called
 * once at start, logs.
 */
#ifndef MMAPWATCH_DUMP_H
#define MMAPWATCH_DUMP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "dump_file.h"

/* The pagemap granule: memread_page_flags() reports 4096-byte pages. */
#define DUMP_PAGE_SIZE 4096u

/* Default read buffer: 1 MiB reads run at memcpy-like speed with
 * process_vm_readv (DESIGN.md 7) while keeping our own footprint small. */
#define DUMP_BUF_DEFAULT (1u << 20)

/* Pages asked of pagemap per call: 32 KiB of flags covers 16 MiB. */
#define DUMP_PAGEMAP_CHUNK 4096u

/* Ranges listed per list (holes, unreadable) in a result and its .json.
 * A region whose pages alternate present/absent has one range per two
 * pages; past this many the list is cut (res->*.truncated, "holes_truncated"
 * in the .json) while the byte totals stay exact. 64 Ki ranges = 1 MiB of
 * memory and about 1.5 MiB of JSON at worst. */
#define DUMP_MAX_RANGES 65536u

struct dump_snapshot;

/* What to dump. The caller owns every pointer; dump_region() copies what it
 * keeps. */
struct dump_request {
    pid_t pid;                 /* process (tgid): names the file, read through */
    pid_t tid;                 /* thread that mapped it; read through it if pid is gone
                                  (an exited leader with live threads) */
    char comm[16];             /* that thread's name, NUL-terminated (any bytes) */
    uint64_t addr, len;        /* the region as mapped; len need not be page aligned */
    int prot, flags;           /* mmap prot and flags, for the metadata */
    struct timespec mapped_at; /* CLOCK_REALTIME of the mmap; {0,0} = unknown (null) */
    const char *reason;        /* "delay", "unmap", "exit", "exec", "redump"...; NULL = null */
    unsigned seq;              /* distinguishes successive dumps of one region */
    const char *stack_json;    /* raw JSON (an array of frames) or NULL for null;
                                  must be valid JSON: it is written as is */
    pid_t read_via;            /* thread to read through when pid has no memory
                                  (0: tid); the tracer knows which one still runs */
    const struct dump_snapshot *snapshot; /* non-NULL: the region's pages as copied
                                  earlier (dump_snapshot_take); nothing is read from
                                  the process. addr and len must be the snapshot's */
};

/* [start, end) byte offsets from the region's start. */
struct dump_range {
    uint64_t start, end;
};

/* A sorted list of disjoint, non-adjacent ranges (adjacent ones are merged
 * on append). Owned by its result; v is malloc'd. */
struct dump_ranges {
    struct dump_range *v;
    size_t n, cap;
    uint64_t bytes;  /* total length of every range appended, listed or not */
    bool truncated;  /* some ranges were not listed (DUMP_MAX_RANGES) */
};

/* Reading seam: memread by default; tests put a fake process here. Both
 * follow memread.h's contract exactly. */
struct dump_source {
    ssize_t (*read)(pid_t pid, uint64_t addr, void *buf, size_t len);
    int (*page_flags)(pid_t pid, uint64_t addr, size_t npages, uint64_t *flags);
};

struct dump_copier;
struct dump_snapshot;

struct dump_options {
    void *buf;         /* optional read buffer of buf_size bytes, reused across dumps
                          by a worker; NULL = dump_region() allocates and frees one */
    size_t buf_size;   /* 0 = DUMP_BUF_DEFAULT; at least DUMP_PAGE_SIZE when buf is given */
    bool sync;         /* fsync each file before its rename: survives a crash of the
                          machine, costs a disk flush per dump; off by default since
                          atomic visibility (rename) is what readers need */
    const atomic_bool *cancel; /* polled between reads: true = give up, ECANCELED,
                                  no file left (--exit-dump-timeout). NULL = never */
    const struct dump_source *source; /* NULL = memread */
    /* Quota: called once the bytes that exist (pagemap) are known, before any
     * file is created. false = no dump: -1 with error EDQUOT, error_op
     * "quota" and the reason (written into why) in res->refused. NULL = none. */
    bool (*reserve)(void *ctx, uint64_t resident, char *why, size_t why_size);
    void *reserve_ctx;
    /* --strings: the dump's seq is one whose ".strings" name is free too,
     * and res->strings_name names it, for dump_strings() to write from the
     * finished .bin afterwards. The scan is not part of the dump: the
     * target's bytes are read as fast without it (docs/performance.md). */
    bool strings;
    /* dump_copy.h: a second copier thread; NULL = this thread alone. Used
     * for regions with more resident bytes than its buffer holds. */
    struct dump_copier *copier;
};

struct dump_result {
    char name[DUMP_NAME_MAX];      /* "<...>.bin", relative to the dump dir; set even on
                                      failure, so an error event can name it */
    char meta_name[DUMP_NAME_MAX]; /* "<...>.json" */
    char strings_name[DUMP_NAME_MAX]; /* opt->strings: "<...>.strings", not written yet;
                                         "" without */
    unsigned seq;                  /* the seq of the names: req->seq or the next free one */
    uint64_t resident_bytes; /* bytes of the region pagemap said present or swapped */
    uint64_t bytes_read;     /* bytes copied and written: the .bin's data on disk
                                (resident_bytes minus unreadable.bytes) */
    uint64_t meta_bytes;     /* size of the .json */
    struct dump_ranges holes;      /* never touched (or unmapped): not read */
    struct dump_ranges unreadable; /* existed per pagemap but could not be read (unmapped
                                      or protected meanwhile): zeros/holes in the .bin */
    struct timespec dumped_at;     /* CLOCK_REALTIME when reading started */
    uint64_t elapsed_ns;           /* wall time of the whole dump */
    int error;                     /* 0, or the errno of the failure */
    const char *error_op;          /* static text: what failed ("write", "read
                                      pagemap", ...); NULL on success */
    char refused[160];             /* EDQUOT: why opt->reserve refused the dump */
};

/*
 * Opens (creating it mode 0700 if missing, whatever the umask) the dump
 * directory. Refuses a symbolic link and a directory this process cannot
 * create files in (probed by creating and removing a file). On success
 * *dir_fd is an O_DIRECTORY|O_CLOEXEC fd the caller closes. On failure
 * logs one line naming the path and what to do, returns -1 (the caller
 * exits 2 before attaching).
 */
int dump_dir_open(const char *path, int *dir_fd);

/*
 * Dumps req's region into dir_fd (see the top of this file). opt may be
 * NULL for the defaults. *res needs no initialization: dump_region() fills
 * it, and the caller must call dump_result_release(res) afterwards, on
 * success and on failure alike.
 *
 * Returns 0 when the .bin and .json are in place. Pages that vanished or
 * could not be read are not a failure: they are listed in res->unreadable.
 * Returns -1 with res->error/res->error_op set and nothing left on disk
 * when: the request is invalid (EINVAL), the process is gone before its
 * pages could be listed (ESRCH), permission is denied (EPERM/EACCES),
 * the disk is full or a write fails (ENOSPC, EIO, ...), opt->reserve
 * refused it (EDQUOT), or opt->cancel was set (ECANCELED).
 */
int dump_region(int dir_fd, const struct dump_request *req, const struct dump_options *opt,
                struct dump_result *res);

/* Frees res's range lists; safe on a zeroed result and twice. */
void dump_result_release(struct dump_result *res);

/*
 * A small region's existing pages copied into our memory now (pagemap,
 * then the reads, as a dump makes them), so that the thread about to
 * unmap it can go on at once and the files are written later, by a
 * worker, from the copy (req->snapshot). Costs about len bytes of our
 * memory (untouched pages of the buffer are never written, so they cost
 * nothing) and the time to read what exists: tens of microseconds for
 * 64 KiB. NULL with errno when the process is gone or out of memory (then
 * dump the usual way). src NULL = memread. Any thread; free with
 * dump_snapshot_free() (NULL ok).
 *
 * buf (NULL: none) is a buffer of buf_size bytes to copy into when it is
 * large enough for the region's pages: the snapshot borrows it, and the
 * caller gets it back after dump_snapshot_free(). Why: each page of a new
 * buffer faults in as the copy writes it, and in a VM that was most of
 * the held thread's wait; a buffer already used costs none.
 */
struct dump_snapshot *dump_snapshot_take(const struct dump_request *req,
                                         const struct dump_source *src, void *buf,
                                         size_t buf_size);
void dump_snapshot_free(struct dump_snapshot *snap);

/* ---- Pure parts, exposed for unit tests ---------------------------------- */

/* Appends [start, end) (start >= the last range's end), merging with the
 * last range when adjacent. -1 with ENOMEM only when allocation fails. */
int dump_ranges_add(struct dump_ranges *r, uint64_t start, uint64_t end);
void dump_ranges_release(struct dump_ranges *r);

/* RFC 3339 UTC with microseconds, "2024-05-01T12:34:56.123456Z". */
const char *dump_format_time(const struct timespec *ts, char buf[32]);

#endif
