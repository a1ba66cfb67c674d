/*
 * model: what events mean. Consumes source-neutral events (event.h) in
 * time order and keeps the tasks, their address spaces and the reported
 * regions (task.h, regions.h, with the rules of track.h); decides what is
 * reported (output.h), what is dumped and when (dumper.h), and which
 * threads it wants held before their memory goes (struct model_reply).
 * Knows nothing of ptrace or perf: unit-tested with synthetic events
 * (tests/unit/test_model.c).
 *
 * Holds: before an unmap, exec or exit takes a reported region that is not
 * dumped yet, the model asks the dumper for the dump and replies how many
 * dumps the thread should wait for. A source that can hold the thread
 * does (until the dumper's release); with one that cannot
 * (model_config.can_hold false) the dump races the unmap, and what could
 * not be read is reported by the dump itself (see model_unheld_gone in
 * model.c: the hook for that source).
 *
 * Lost events: the source voids each call whose result a loss may have
 * taken (EVENT_CALL_VOIDED: the call is forgotten, its result never
 * applied), then sends EVENT_LOST with their count; the process's regions
 * are marked uncertain (one may have ended unseen) and a "lost" line says
 * so.
 *
 * Ownership: model_new allocates, model_free frees; the dumper, unwinder
 * and summary are the caller's and outlive the model. Threads: the loop's
 * thread only.
 */
#ifndef MMAPWATCH_MODEL_H
#define MMAPWATCH_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dumper.h"
#include "event.h"
#include "procfs.h"
#include "source.h"

struct dumper;
struct summary;
struct unwinder;

struct model_config {
    uint64_t min_size;
    uint64_t max_size;         /* --max-size; 0: none */
    bool report_failed;
    bool can_hold;             /* the source can hold threads (source_caps) */
    struct unwinder *unwinder; /* -k; NULL without */
    struct summary *summary;   /* -c; NULL without */
    /* At EVENT_ATTACHED, read /proc/PID/maps and adopt the brk heap and the
     * reservations made before (model_adopt_maps). */
    bool adopt_at_attach;
    /* --adopt: then also the anonymous mappings there become reported
     * regions ("existing" events; adopt.h). */
    bool adopt_regions;
    /* The thread's name now, for events whose source gave none ("?" when
     * it cannot be known). NULL: "?". */
    void (*thread_name)(void *ctx, pid_t pid, pid_t tid, char out[PROCFS_COMM_MAX]);
    /* -k: the registers of a thread the source holds stopped, for the
     * capture of its stack (unwind.h); NULL or false: no stack. */
    bool (*capture_regs)(void *ctx, pid_t tid, struct stack_regs *out);
    /* Process pid ran a new program: called after its exec event. NULL:
     * nothing. */
    void (*process_execed)(void *ctx, pid_t pid);
    /* Process pid is gone, with status as wait4 reports it: called before
     * its exit event (a SIGKILL may be an OOM kill, whose event comes
     * first). NULL: nothing. */
    void (*process_gone)(void *ctx, pid_t pid, int status);
    void *ctx;
};

struct model;

/* NULL on ENOMEM. */
struct model *model_new(const struct model_config *config);
void model_free(struct model *m);

/* Dumps on (after model_new: the dumper asks the model where regions are,
 * model_region_extent). NULL: no dumps. */
void model_set_dumper(struct model *m, struct dumper *dumper);

/* The launched command's pid: its exit is an event only once it has
 * exec'd (a failed exec is not an event). */
void model_set_launched(struct model *m, pid_t pid);

/* Applies one event; *reply says what the model wants of the thread. */
void model_event(struct model *m, const struct event *e, struct model_reply *reply);

/* Attach: the brk heap ([heap]) and the reservations (anonymous mappings
 * with PROT_NONE parts, at least --min-size long) of process pid, made
 * before tracing began, become areas watched for growth (growth.h); what
 * they have committed now is their baseline, and glibc arena heaps among
 * them are labelled. Not reported as new mmaps. */
struct maps_list;
void model_adopt_maps(struct model *m, pid_t pid, const struct maps_list *maps);

/* --adopt (adopt.h): the anonymous mappings of maps (process pid's, read
 * at its attach, time_ns CLOCK_MONOTONIC) become reported regions, each
 * with its "existing" event. Called by the model at EVENT_ATTACHED when
 * model_config.adopt_regions is set; public for the unit tests. */
void model_adopt_existing(struct model *m, pid_t pid, const struct maps_list *maps,
                          uint64_t time_ns);

/* Whether process pid (or thread pid) is known. */
bool model_follows(const struct model *m, pid_t pid);

/* The dumper's region_extent (dumper.h), with ctx the model. */
bool model_region_extent(void *ctx, pid_t pid, uint64_t id, pid_t mapper, uint64_t *start,
                         uint64_t *end, int *prot, pid_t *reader);

/* Every reported region still mapped in any followed process, one entry
 * per region (its pieces' hull), largest first, each with the name of the
 * thread that mapped it ("?" if gone). *n entries, malloc'd (free());
 * NULL with *n 0 when there is none or on ENOMEM (said). */
struct dump_target *model_mapped(struct model *m, size_t *n);

/* -c: adds what is still mapped to the summary, once (before a detach
 * forgets it; a process that exited has nothing mapped). */
void model_count_still_mapped(struct model *m);

/* For tests: how many regions process pid has, and how many of them are
 * marked uncertain by lost events. */
size_t model_region_count(const struct model *m, pid_t pid, size_t *uncertain);

#endif
