/*
 * output_internal: what output.c and its text renderer (output_text.c)
 * share, and nobody else: the one description of an event both renderers
 * read. Not for other modules: they call output.h.
 *
 * Threads: the loop's only, as output.h.
 */
#ifndef MMAPWATCH_OUTPUT_INTERNAL_H
#define MMAPWATCH_OUTPUT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output.h"
#include "options.h"

/* ---- the events ------------------------------------------------------------ */

enum out_kind {
    OUT_MAP_CALL, OUT_GROWTH, OUT_ATTACH, OUT_EXEC, OUT_EXIT, OUT_DETACH, OUT_LOST, OUT_TARGET,
    OUT_DUMP, OUT_STRINGS, OUT_SKIP, OUT_DUMP_ERROR, OUT_SUMMARY, OUT_THRESHOLD, OUT_OOM, OUT_EXISTING, OUT_MARK,
    OUT_SCHEMA, /* JSON only: the first line, saying which schema the rest follows */
};

/* One event, as both renderers see it. Pointers are borrowed from the
 * caller for the duration of the output_*() call. */
struct out_event {
    enum out_kind kind;
    const char *name; /* the JSON "event" */
    const struct event_origin *o;
    union {
        struct {
            const struct map_call *call;
            const struct stack *stack; /* NULL without -k */
            const char *stack_json;
            const char *path;          /* file-backed mmap: its file; NULL: none or unknown */
            bool file_backed;
        } map;
        unsigned threads;
        struct {
            const struct growth_view *g;
            const struct stack *stack; /* NULL without -k */
            const char *stack_json;
        } growth;
        unsigned long regions_ended;
        struct {
            uint64_t count, window_ns;
            size_t calls_voided, regions_uncertain;
        } lost;
        struct {
            int code;            /* exit status, or 128 + signal */
            const char *signal;  /* NULL: exited */
            bool core;
        } exit;
        struct {
            const char *cmdline, *matched, *cgroup; /* cgroup: NULL when none */
        } target;
        struct {                 /* dump, strings, skip, dump error */
            uint64_t addr, len;
            const char *path;    /* NULL for skip; the .strings for strings */
            uint64_t bytes, resident;
            const char *reason;  /* dump: why made; skip: why not; error: what failed */
            const struct top_string *top; /* strings */
            size_t ntop;
        } dump;
        const struct summary_view *summary;
        const struct cgroup_event *cgroup;
        const struct existing_view *existing;
        const struct mark_event *mark;
    } u;
};

/* output.c: writes one whole line and flushes it (a failure is kept for
 * output_failed). */
void output_emit(const char *line);

/* output.c: -t, -tt or -ttt. */
enum options_time_format output_time_format(void);

/* output_text.c: e as text, through output_emit. */
void output_render_text(const struct out_event *e);

/* output_text.c: frees the renderer's line buffer (output_close). */
void output_text_release(void);

/* The end of a histogram bucket that starts at low (its sizes double). */
static inline uint64_t output_bucket_end(uint64_t low)
{
    return low > UINT64_MAX / 2 ? UINT64_MAX : low * 2;
}

#endif
