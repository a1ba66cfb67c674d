/*
 * report_model_impl: the report model's state, shared by its two halves
 * only: report_model.c (reading events into regions and a change log) and
 * report_view.c (the totals, the timeline and the view at the end). Not
 * for other modules: they use report_model.h.
 */
#ifndef MMAPWATCH_REPORT_MODEL_IMPL_H
#define MMAPWATCH_REPORT_MODEL_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jsonread.h"
#include "regions.h"
#include "report_index.h"
#include "report_model.h"

struct region_rec {
    struct report_region pub;
    size_t thread;        /* index into threads */
    uint64_t live;        /* bytes mapped now */
    int64_t resident_now; /* counted in the timeline now */
    bool ended;
};

struct change {            /* one entry of the replay log */
    int64_t us;
    size_t seq;
    size_t region;
    int64_t mapped, resident;
};

struct space {
    pid_t pid;
    struct region_set *set;
};

struct note_rec {
    size_t text;          /* index into texts */
    uint64_t count;
};

struct report_model {
    struct jsonread_doc doc;
    struct rindex_strings texts;   /* every string the view points to */
    struct rindex_strings sites, threads, stacks, files;
    struct rindex_strings raw_stacks; /* a stack's JSON text -> raw_class */
    struct raw_class {
        size_t site, stack;
    } *raw_class;
    size_t raw_class_cap;
    char *key;             /* scratch for a raw_stacks key */
    size_t key_cap;
    struct report_group *site_g, *thread_g, *stack_g;
    size_t site_cap, thread_cap, stack_cap;
    size_t *file_region;   /* files index -> region index */
    size_t file_cap;
    struct region_rec *regions;
    size_t nregions, regions_cap;
    struct change *log;
    size_t nlog, log_cap;
    struct space *spaces;
    size_t nspaces, spaces_cap;
    struct rindex_pairs starts; /* (pid, addr) -> latest region born there */
    struct report_marker *markers;
    size_t nmarkers, markers_cap;
    const char **targets, **run_info;
    size_t ntargets, targets_cap, nrun_info, run_info_cap;
    struct note_rec *notes;
    size_t nnotes, notes_cap;
    struct report_stack *stack_v; /* built at finish */
    struct report_view view;
    int64_t first_us, last_us;
    uint64_t lines, events;
    bool have_stacks, finished;
    bool failed;           /* ENOMEM somewhere */
};

/* Frees n bands of a timeline (NULL ok). */
void report_series_free(struct report_series *s, size_t n);

#endif
