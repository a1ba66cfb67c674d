/*
 * report_model: what `mmapwatch report` shows, computed from the lines of
 * an events file (JSON Lines, as `mmapwatch --json` writes them) and the
 * dumps' metadata files. Pure: no I/O, no globals; the caller reads the
 * files and hands over their text. One thread.
 *
 * The rules (each one unit-tested in tests/unit/test_report_model.c):
 *  - A region is born at an mmap event (a failed one, with "error", is
 *    counted and ignored), or at an mremap of a range no known region
 *    holds. Its bytes are [addr, addr + len) with the end rounded up to a
 *    page, per process (pid): one address space each.
 *  - munmap removes its range from whatever regions it overlaps (trim,
 *    split or end); mremap moves a region and changes its size (growth
 *    counts as mapped by the region's call site); mprotect changes nothing
 *    here. A MAP_FIXED mmap over a region replaces the overlapped part.
 *  - exec ends every region of its pid (the address space is gone: they
 *    are released). exit ends them too but they count as held: nothing
 *    unmapped them before the process ended. Regions live at detach or at
 *    the end of the file are held as well.
 *  - "ever" bytes of a call site, thread or stack: bytes its regions were
 *    ever mapped with (births and growth). "held": bytes still mapped when
 *    the region stopped being watched (exit, detach, end of file).
 *  - Resident bytes are only known from dumps: a region's resident bytes
 *    are those of its latest dump event (or its metadata file), from that
 *    dump's time until the region ends.
 *  - A dump event is matched to the latest region of its pid that started
 *    at its addr; a metadata file to its dump event by file name, else by
 *    pid and addr.
 *  - The call site is the -c summary's (summary_call_site): the first frame
 *    outside the C library and the allocators; without a stack (no -k) the
 *    call site is "(no stack: run with -k)", with -k but no stack captured
 *    (the unwinder failed, see stack_truncated) "(stack not captured)".
 *
 * Ownership: report_model_new() allocates, report_model_free() frees (NULL
 * ok). The view returned by report_model_finish() and every string in it
 * belong to the model.
 */
#ifndef MMAPWATCH_REPORT_MODEL_H
#define MMAPWATCH_REPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REPORT_NO_STACK "(no stack: run with -k)"
#define REPORT_NO_CAPTURE "(stack not captured)"
#define REPORT_MAX_STRINGS 10

struct report_model;

struct report_group {         /* a call site, a thread name or a stack */
    const char *name;
    uint64_t count;           /* regions born */
    uint64_t ever, held;      /* bytes, see above */
    uint64_t peak;            /* most bytes mapped at any one time */
};

struct report_string {
    const char *text;
    uint64_t count;
};

struct report_region {
    pid_t pid, tid;
    const char *comm;
    size_t site;              /* index into view sites */
    size_t stack;             /* index into view stacks */
    uint64_t addr, len;       /* at birth */
    uint64_t ever, held;      /* bytes, as for groups */
    int64_t born_us, ended_us;/* microseconds since the epoch; ended_us -1: never ended */
    const char *end;          /* "munmap", "exec", "exit", "detach" or NULL (end of file) */
    int64_t resident;         /* at the latest dump, -1 unknown */
    unsigned dumps;
    const char *dump_path;    /* latest dump's .bin as the event names it, or NULL */
    const char *dump_file;    /* its metadata's "file" (a base name), or NULL */
    struct report_string strings[REPORT_MAX_STRINGS];
    size_t nstrings;
};

struct report_stack {
    const char **frames;      /* root (outermost) first */
    size_t depth;
    uint64_t count, ever, held;
};

struct report_marker {
    int64_t us;
    const char *kind;         /* "threshold", "oom", "exec", "exit", "detach", "attach" */
    const char *text;         /* one line for a person */
};

struct report_series {        /* one band of the timeline */
    const char *name;         /* a call site or thread name; "other" for the rest */
    uint64_t *mapped;         /* [npoints] */
    uint64_t *resident;       /* [npoints] */
};

struct report_note {          /* something lost, skipped or not understood */
    const char *text;
    uint64_t count;
};

struct report_view {
    /* the run */
    int64_t first_us, last_us;
    uint64_t lines, events;
    const char **targets;     /* one line per target/attach/exec, in order */
    size_t ntargets;
    const char **run_info;    /* "key: value" from a header event, if the file has one */
    size_t nrun_info;
    struct report_note *notes;
    size_t nnotes;
    bool have_stacks;
    /* totals */
    uint64_t count, ever, held, peak;
    /* groups, most bytes ever first */
    struct report_group *sites, *threads;
    size_t nsites, nthreads;
    struct report_stack *stacks;
    size_t nstacks;
    struct report_region *regions;   /* largest first */
    size_t nregions;
    struct report_marker *markers;   /* in time order */
    size_t nmarkers;
    /* timeline: npoints samples at times[i] of the bytes mapped (and
     * resident) at that moment, in bands */
    size_t npoints;
    int64_t *times;
    uint64_t *total_mapped, *total_resident;
    struct report_series *by_site, *by_thread;
    size_t nby_site, nby_thread;
};

/* NULL on ENOMEM. */
struct report_model *report_model_new(void);
void report_model_free(struct report_model *m);

/* One line of the events file, without its newline. 0, or -1 with a reason
 * in err ("not JSON: expected ':' at byte 12", "mmap event without
 * \"addr\"") when the line is not an event mmapwatch writes. Lines may not
 * be fed after report_model_finish(). */
int report_model_add_line(struct report_model *m, const char *line, size_t len, char *err,
                          size_t err_size);

/* One dump metadata file's text (the .json next to a .bin). 0, or -1 with a
 * reason in err. */
int report_model_add_dump_meta(struct report_model *m, const char *text, size_t len, char *err,
                               size_t err_size);

/* Adds a note (count times text), e.g. the reader's "last line cut short".
 * 0 or -1 (ENOMEM). */
int report_model_note(struct report_model *m, const char *text, uint64_t count);

/* Ends the input and computes the view: npoints >= 2 samples of the
 * timeline, at most top bands per grouping (the rest summed as "other").
 * NULL on ENOMEM. */
const struct report_view *report_model_finish(struct report_model *m, size_t npoints,
                                              size_t top);

#endif
