/*
 * model: events -> tasks, address spaces, regions, reports, holds.
 * See include/model.h; the map call rules are in track.c.
 */
#include "model.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "adopt.h"
#include "decode.h"
#include "dumper.h"
#include "growth.h"
#include "log.h"
#include "maps.h"
#include "memread.h"
#include "options.h"
#include "output.h"
#include "regions.h"
#include "summary.h"
#include "syscalls.h"
#include "task.h"
#include "track.h"
#include "unwind.h"

struct model {
    struct model_config cfg;
    struct task_table *tasks;
    struct track_policy policy;
    struct dumper *dumper;
    pid_t launched_pid;
    bool launched_execed;
    bool mapped_counted;
    int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC at the start */
};

static int64_t ns_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* The wall-clock time of an event (events carry CLOCK_MONOTONIC). */
static struct timespec wall_time(const struct model *m, uint64_t mono_ns)
{
    int64_t ns = (int64_t)mono_ns + m->realtime_offset_ns;
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000LL),
                             .tv_nsec = (long)(ns % 1000000000LL)};
}

static void name_of(const struct model *m, pid_t pid, pid_t tid, char out[PROCFS_COMM_MAX])
{
    /* pid 0: an event about no process (a loss over every ring): no name
     * to look up. */
    if (m->cfg.thread_name && pid > 0)
        m->cfg.thread_name(m->cfg.ctx, pid, tid, out);
    else
        snprintf(out, PROCFS_COMM_MAX, "?");
}

/* Who an event is about, for the output. */
static void origin_of(const struct model *m, const struct event *e, pid_t pid, pid_t tid,
                      struct event_origin *o)
{
    memset(o, 0, sizeof *o);
    o->pid = pid;
    o->tid = tid;
    o->ts = wall_time(m, e->time_ns);
    if (e->comm && e->tid == tid)
        snprintf(o->comm, sizeof o->comm, "%s", e->comm);
    else
        name_of(m, pid, tid, o->comm);
}

struct model *model_new(const struct model_config *config)
{
    struct model *m = calloc(1, sizeof *m);
    if (!m || !(m->tasks = task_table_new())) {
        free(m);
        return NULL;
    }
    m->cfg = *config;
    m->policy = (struct track_policy){
        .min_size = config->min_size,
        .max_size = config->max_size,
        .report_failed = config->report_failed,
        .tasks = m->tasks,
        .unwinder = config->unwinder,
        .summary = config->summary,
        .thread_name = config->thread_name,
        .capture_regs = config->capture_regs,
        .ctx = config->ctx,
    };
    struct timespec real, mono;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    m->realtime_offset_ns = ns_of(&real) - ns_of(&mono);
    return m;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    task_table_free(m->tasks);
    free(m);
}

void model_set_dumper(struct model *m, struct dumper *dumper)
{
    m->dumper = dumper;
    m->policy.dumper = dumper;
}

void model_set_launched(struct model *m, pid_t pid)
{
    m->launched_pid = pid;
}

bool model_follows(const struct model *m, pid_t pid)
{
    return task_find(m->tasks, pid) || addr_space_of_process(m->tasks, pid);
}

/* ---- holds: dumps before regions go ---------------------------------------- */

struct id_list {
    uint64_t *ids;
    size_t n, cap;
    uint64_t start, end; /* only regions overlapping this */
};

static int collect_id(const struct region *r, void *ctx)
{
    struct id_list *list = ctx;
    if (r->end <= list->start || r->start >= list->end)
        return 0;
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        uint64_t *grown = realloc(list->ids, cap * sizeof *grown);
        if (!grown)
            return 1; /* the ones collected still get their dump */
        list->ids = grown;
        list->cap = cap;
    }
    list->ids[list->n++] = r->id;
    return 0;
}

/* The hook for a source that cannot hold threads (perf): it tells of the
 * unmap after the fact, so a region not dumped yet cannot be any more;
 * the dumper says so with a skip event naming the region, so nothing goes
 * unsaid. Returns the holds to reply: none. */
static unsigned model_unheld_gone(struct model *m, pid_t pid, const uint64_t *ids, size_t n,
                                  const char *reason)
{
    dumper_unheld_gone(m->dumper, pid, ids, n, reason);
    return 0;
}

/* The reported regions of task's space within [start, end) are about to
 * go: have them dumped first. Returns how many dumps the thread should be
 * held for. */
static unsigned hold_for_dumps(struct model *m, struct task *task, uint64_t start, uint64_t end,
                               const char *reason)
{
    if (!m->dumper || !region_set_overlaps(task->as->regions, start, end))
        return 0;
    struct id_list list = {.start = start, .end = end};
    region_set_foreach_in(task->as->regions, start, end, collect_id, &list);
    unsigned holds =
        m->cfg.can_hold
            ? dumper_before_gone(m->dumper, task->as->owner, list.ids, list.n, reason, task->tid)
            : model_unheld_gone(m, task->as->owner, list.ids, list.n, reason);
    free(list.ids);
    return holds;
}

/* ---- a run that reported nothing while the target grew ----------------------- */

static void note_rss(struct addr_space *as, pid_t pid, bool start)
{
    long kb = procfs_status_number(pid, "VmRSS");
    if (kb < 0)
        return;
    if (start)
        as->rss_start_kb = kb;
    else
        as->rss_end_kb = kb;
}

/* At the end of process pid (its exit, or the detach): an empty answer to
 * "what grows" while it grew is the worst answer; said in one line, with
 * what to try. */
static void say_unreported_growth(const struct model *m, const struct addr_space *as, pid_t pid,
                                  const char *comm)
{
    if (as->owner != pid || as->reported || m->cfg.min_size == 0 || as->rss_start_kb < 0 ||
        as->rss_end_kb <= as->rss_start_kb)
        return;
    uint64_t grew = (uint64_t)(as->rss_end_kb - as->rss_start_kb) * 1024;
    if (grew <= m->cfg.min_size)
        return;
    char size[32], min[32];
    format_size(grew, size, sizeof size);
    format_size(m->cfg.min_size, min, sizeof min);
    log_warn("process %d (%s): nothing was reported, but its resident memory grew by %s while "
             "traced: likely pages first touched in memory mapped or committed before, or "
             "mappings under --min-size %s each (glibc's malloc serves large requests from its "
             "heaps once its mmap threshold moved); try `mmapwatch maps --watch -p %d`, a lower "
             "--min-size, or MALLOC_MMAP_THRESHOLD_ (docs/jvm.md)",
             (int)pid, comm, size, min, (int)pid);
}

/* ---- calls ------------------------------------------------------------------ */

static void on_call_enter(struct model *m, struct task *task, const struct event *e,
                          struct model_reply *reply)
{
    task->call = (struct in_flight){
        .active = true,
        .arch = e->arch,
        .nr = e->call.nr,
        .entered_ns = e->time_ns,
    };
    memcpy(task->call.args, e->call.args, sizeof task->call.args);
    enum syscall_id id = syscall_lookup(e->arch, e->call.nr);
    struct map_call call;
    if (decode_map_call(e->arch, e->call.nr, e->call.args, 0, false, &call) == MAP_CALL_NONE) {
        task->call.active = false; /* exec, exit_group: nothing to pair */
        if (!syscall_desc(id)->rule.ends_space || task->as->owner != task->pid)
            return; /* a vfork child's exec: the memory is its parent's */
        /* exec, or exit_group, which kills the other threads without
         * letting them stop at their exit: the moment the whole space is
         * known to go, with every thread's memory still there. */
        if (id == SC_EXIT_GROUP)
            note_rss(task->as, task->pid, false);
        reply->holds = hold_for_dumps(m, task, 0, UINT64_MAX,
                                      id == SC_EXIT_GROUP ? "exit" : "exec");
        return;
    }
    /* The second stop (syscall exit) costs the target as much as the
     * first: asked for only if the result can be reported. */
    reply->want_done = track_may_report(&m->policy, task);
    task->call.active = reply->want_done;
    /* The unwinder's caches of code and unwind tables must not outlive
     * the mappings they were read from. */
    unwind_space_note_map_call(task->as->unwind, &call);
    /* A large MAP_FIXED replaces whatever it lands on, as an munmap would
     * (track makes it a region of its own). A small one inside a reported
     * region is a commit of reserved memory (JVMs do this) and stays part
     * of that region: no reason to dump it early. */
    bool replaces = call.kind == MAP_CALL_MMAP && (call.flags & MAP_FIXED) &&
                    call.len >= m->cfg.min_size;
    uint64_t brk_end;
    if (call.kind == MAP_CALL_BRK && call.addr &&
        growth_brk_end(task->as->growth, &brk_end) && call.addr < brk_end && m->cfg.can_hold) {
        /* The heap shrinks: what was reported above its new end goes. */
        reply->holds = hold_for_dumps(m, task, decode_page_align(call.addr),
                                      decode_page_align(brk_end), "unmap");
    } else if ((call.kind == MAP_CALL_MUNMAP || call.kind == MAP_CALL_MREMAP || replaces) &&
               m->cfg.can_hold) {
        uint64_t end = call.addr + decode_page_align(call.len);
        reply->holds = hold_for_dumps(m, task, call.addr, end < call.addr ? UINT64_MAX : end,
                                      "unmap");
    }
    /* A source that cannot hold: see unheld_unmap, after the call. */
}

static int find_id(const struct region *r, void *ctx)
{
    return r->id == *(const uint64_t *)ctx;
}

/* A source that cannot hold tells of an unmap after the fact: the regions
 * of ids the call ended entirely (a piece left, or a region moved by
 * mremap, is still dumped when due) can no longer be dumped, which the
 * dumper says (model_unheld_gone). */
static void unheld_unmap(struct model *m, struct task *task, struct id_list *list)
{
    size_t gone = 0;
    for (size_t i = 0; i < list->n; i++)
        if (!region_set_foreach(task->as->regions, find_id, &list->ids[i]))
            list->ids[gone++] = list->ids[i];
    if (gone)
        model_unheld_gone(m, task->as->owner, list->ids, gone, "unmap");
}

static void on_call_done(struct model *m, struct task *task, const struct event *e)
{
    struct in_flight *c = &task->call;
    if (!c->active)
        return; /* seized inside a syscall, or a result nobody asked for */
    struct map_call call;
    if (decode_map_call(c->arch, c->nr, c->args, e->result.rval, e->result.is_error, &call) !=
        MAP_CALL_NONE) {
        struct track_when when = {
            .ts = wall_time(m, e->time_ns),
            .done_ns = e->time_ns,
            .stopped = e->stopped,
            .comm = e->comm,
            .stack = e->stack,
        };
        struct id_list ended = {0};
        bool unheld = !m->cfg.can_hold && m->dumper && !call.failed &&
                      (call.kind == MAP_CALL_MUNMAP || call.kind == MAP_CALL_MREMAP ||
                       (call.kind == MAP_CALL_MMAP && (call.flags & MAP_FIXED)));
        if (unheld) {
            uint64_t end = call.addr + decode_page_align(call.len);
            ended.start = call.addr;
            ended.end = end < call.addr ? UINT64_MAX : end;
            region_set_foreach_in(task->as->regions, ended.start, ended.end, collect_id, &ended);
        }
        track_map_call(&m->policy, task, &call, &when);
        if (ended.n)
            unheld_unmap(m, task, &ended);
        free(ended.ids);
    }
    *c = (struct in_flight){0};
}

/* ---- tasks come and go ------------------------------------------------------ */

/* The address space of a new task (see event.h spawn). */
static struct addr_space *space_for(struct model *m, const struct event *e)
{
    struct task *parent = e->spawn.parent ? task_find(m->tasks, e->spawn.parent) : NULL;
    if (parent && parent->pid == e->pid)
        return parent->as;
    struct addr_space *as = addr_space_of_process(m->tasks, e->pid);
    if (as)
        return as;
    struct addr_space *parent_as =
        parent ? parent->as
               : e->spawn.parent ? addr_space_of_process(m->tasks, e->spawn.parent) : NULL;
    if (!parent_as)
        return addr_space_new(m->tasks, e->pid);
    /* vfork (and clone with CLONE_VM) shares the parent's mm until exec. */
    if (e->spawn.shares_vm)
        return parent_as;
    return addr_space_clone(m->tasks, parent_as, e->pid);
}

static void on_spawn(struct model *m, const struct event *e)
{
    if (task_find(m->tasks, e->tid))
        return;
    struct addr_space *as = space_for(m, e);
    if (!as || !task_add(m->tasks, e->tid, e->pid, as))
        log_error("out of memory tracking thread %d", (int)e->tid);
}

static void on_exec(struct model *m, struct task *task, const struct event *e)
{
    pid_t former = e->exec.former_tid;
    if (former && former != task->tid) {
        /* The old leader is gone without an exit report; the execing
         * thread, with its state, carries on under the leader's tid. */
        struct task *execing = task_find(m->tasks, former);
        if (execing) {
            pid_t tid = task->tid;
            task_remove(m->tasks, task);
            task_rekey(m->tasks, execing, tid);
            task = execing;
        }
    }
    task->call = (struct in_flight){0};
    struct addr_space *old = task->as;
    /* A holding source caught this at the exec's entry; one that cannot
     * hold sees no entry (it tells only that the program changed): the
     * regions not dumped yet are said to be lost here. */
    if (!m->cfg.can_hold && old->owner == task->pid)
        hold_for_dumps(m, task, 0, UINT64_MAX, "exec");
    unsigned long ended = old->owner == task->pid ? region_set_count(old->regions) : 0;
    struct addr_space *fresh = addr_space_new(m->tasks, task->pid);
    if (fresh) {
        if (old->owner == task->pid)
            old->owner = 0; /* dying threads may still point here until reaped */
        task_set_addr_space(m->tasks, task, fresh);
    }
    if (task->pid == m->launched_pid)
        m->launched_execed = true;
    note_rss(task->as, task->pid, true);
    struct event_origin origin;
    origin_of(m, e, task->pid, task->tid, &origin); /* the new program's name */
    output_exec(&origin, ended);
    if (m->cfg.process_execed)
        m->cfg.process_execed(m->cfg.ctx, task->pid);
}

/* EVENT_THREAD_EXIT: the last moment the thread's memory is there. Its
 * process ends with it when it is the last live thread, or when it dies
 * of a signal: a fatal signal takes the whole group, and the other
 * threads, killed, never get to tell. (exit_group was caught at its
 * entry already.) */
static void on_thread_exit(struct model *m, struct task *task, const struct event *e,
                           struct model_reply *reply)
{
    if (task->tid == task->pid && e->comm)
        snprintf(task->leader_comm, sizeof task->leader_comm, "%s", e->comm);
    task_mark_exiting(task);
    if (task->as->owner == task->pid && (task->as->live == 0 || e->exit.killed)) {
        if (task->as->live == 0)
            note_rss(task->as, task->pid, false);
        reply->holds = hold_for_dumps(m, task, 0, UINT64_MAX, "exit");
    }
}

static void on_gone(struct model *m, struct task *task, const struct event *e)
{
    if (task->tid == task->pid) {
        /* A leader's death is reported after all its threads': the process
         * is gone. */
        int status = e->gone.status;
        if (m->cfg.process_gone)
            m->cfg.process_gone(m->cfg.ctx, task->pid, status);
        struct event_origin origin = {.pid = task->pid, .tid = task->tid,
                                      .ts = wall_time(m, e->time_ns)};
        snprintf(origin.comm, sizeof origin.comm, "%s",
                 task->leader_comm[0] ? task->leader_comm : "?");
        if (task->tid != m->launched_pid || m->launched_execed)
            output_exit(&origin, status);
        say_unreported_growth(m, task->as, task->pid, origin.comm);
    }
    task_remove(m->tasks, task);
}

static void on_detached(struct model *m, struct task *task, const struct event *e)
{
    if (task->tid == task->pid) {
        struct event_origin origin;
        origin_of(m, e, task->pid, task->pid, &origin);
        if (strcmp(origin.comm, "?") == 0 && task->leader_comm[0])
            memcpy(origin.comm, task->leader_comm, sizeof origin.comm);
        output_detach(&origin);
        note_rss(task->as, task->pid, false); /* it lives on */
        say_unreported_growth(m, task->as, task->pid, origin.comm);
    }
    task_remove(m->tasks, task);
}

/* ---- adoption: what was there before the attach ------------------------------ */

/* The reservations among maps[from..to) (contiguous anonymous mappings):
 * a run of accessible pieces then PROT_NONE ones is one reservation, as
 * glibc's heaps and the JVM's reserved ranges look; an accessible piece
 * at a 64 MiB boundary begins one, and a full 64 MiB arena heap ends its
 * own. Those with a PROT_NONE part and at least --min-size
 * long are adopted. */
static size_t adopt_run(struct model *m, pid_t pid, struct growth *g,
                        const struct map_entry *e, size_t n)
{
    size_t adopted = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        bool none = adopt_prot(&e[i]) == PROT_NONE;
        while (j < n) {
            bool next_none = adopt_prot(&e[j]) == PROT_NONE;
            if (none && !next_none)
                break; /* accessible after reserved: the next one begins */
            if (!next_none && e[j].start % (64ULL << 20) == 0)
                break; /* where a glibc heap would begin (a thread's stack may
                          lie just below one) */
            if (e[j].start - e[i].start >= (64ULL << 20) && e[i].start % (64ULL << 20) == 0)
                break; /* glibc heaps are 64 MiB, aligned */
            none = none || next_none;
            j++;
        }
        uint64_t len = e[j - 1].end - e[i].start;
        if (none && len >= m->cfg.min_size && (m->cfg.max_size == 0 || len <= m->cfg.max_size)) {
            bool ok = true;
            for (size_t k = i; k < j && ok; k++)
                ok = growth_adopt_piece(g, e[k].start, e[k].end, adopt_prot(&e[k]), k == i,
                                        m->cfg.min_size) == 0;
            if (!ok)
                log_warn("out of memory adopting the reservations of process %d", (int)pid);
            adopted += ok;
        }
        i = j;
    }
    return adopted;
}

struct label_scan {
    const struct growth_area *todo[256];
    size_t n;
};

static void collect_area(const struct growth_area *a, void *ctx)
{
    struct label_scan *s = ctx;
    if (s->n < sizeof s->todo / sizeof s->todo[0])
        s->todo[s->n++] = a;
}

void model_adopt_maps(struct model *m, pid_t pid, const struct maps_list *maps)
{
    struct addr_space *as = addr_space_of_process(m->tasks, pid);
    if (!as)
        return;
    size_t i = 0, reservations = 0;
    bool heap = false;
    while (i < maps->count) {
        const struct map_entry *e = &maps->entries[i];
        if (strcmp(e->path, "[heap]") == 0) {
            growth_adopt_heap(as->growth, e->start, e->end, m->cfg.min_size);
            heap = true;
            i++;
            continue;
        }
        if (!adopt_anonymous(e) || e->prot[3] == 's') {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < maps->count && adopt_anonymous(&maps->entries[j]) &&
               maps->entries[j].prot[3] != 's' && maps->entries[j].start == maps->entries[j - 1].end)
            j++;
        reservations += adopt_run(m, pid, as->growth, e, j - i);
        i = j;
    }
    struct label_scan scan = {0};
    growth_foreach(as->growth, collect_area, &scan);
    /* Labelling changes no area's place: the pointers stay valid. */
    size_t malloc_heaps = 0;
    for (size_t k = 0; k < scan.n; k++)
        malloc_heaps += track_label_area(pid, as->growth, scan.todo[k]);
    log_info("process %d: following %s and %zu reservation%s made before the attach "
             "(%zu malloc heap%s) for growth",
             (int)pid, heap ? "the brk heap" : "no brk heap yet", reservations,
             reservations == 1 ? "" : "s", malloc_heaps, malloc_heaps == 1 ? "" : "s");
}

void model_adopt_existing(struct model *m, pid_t pid, const struct maps_list *maps,
                          uint64_t time_ns)
{
    struct task *leader = task_find(m->tasks, pid);
    struct track_when when = {.ts = wall_time(m, time_ns), .done_ns = time_ns};
    if (leader)
        adopt_existing(&m->policy, leader, maps, &when);
}

static void adopt_at_attach(struct model *m, pid_t pid, const struct event *e)
{
    struct maps_list maps = {0};
    if (maps_read(pid, false, &maps) < 0) {
        log_warn("cannot read the mappings of process %d (%s): its brk heap and the reservations "
                 "made before the attach are not followed for growth%s", (int)pid,
                 strerror(errno), m->cfg.adopt_regions ? ", nor any mapping adopted" : "");
        return;
    }
    model_adopt_maps(m, pid, &maps);
    if (m->cfg.adopt_regions)
        model_adopt_existing(m, pid, &maps, e->time_ns);
    maps_release(&maps);
}

/* ---- lost events ------------------------------------------------------------- */

struct uncertain_scan {
    pid_t pid;
    size_t regions;
};

static void mark_space(struct addr_space *as, void *ctx)
{
    struct uncertain_scan *s = ctx;
    if (s->pid && as->owner != s->pid)
        return;
    s->regions += region_set_mark_uncertain(as->regions);
}

/* Events were dropped: a region may have ended unseen, which is said with
 * the source's count of the calls the loss voided (each came as an
 * EVENT_CALL_VOIDED before it, several of one thread when a long window
 * took more than one of its calls). */
static void on_lost(struct model *m, const struct event *e)
{
    struct uncertain_scan us = {.pid = e->pid};
    addr_space_foreach(m->tasks, mark_space, &us);
    summary_add_lost(m->cfg.summary, e->lost.count);
    struct event_origin origin;
    origin_of(m, e, e->pid, e->tid, &origin);
    output_lost(&origin, e->lost.count, e->lost.to_ns - e->lost.from_ns, e->lost.calls_voided,
                us.regions);
}

/* ---- the one entry point ------------------------------------------------------ */

void model_event(struct model *m, const struct event *e, struct model_reply *reply)
{
    *reply = (struct model_reply){0};
    if (e->kind == EVENT_SPAWN) {
        on_spawn(m, e);
        return;
    }
    if (e->kind == EVENT_LOST) {
        on_lost(m, e);
        return;
    }
    if (e->kind == EVENT_ATTACHED) {
        struct event_origin origin;
        origin_of(m, e, e->pid, e->pid, &origin);
        struct addr_space *as = addr_space_of_process(m->tasks, e->pid);
        if (as)
            note_rss(as, e->pid, true);
        output_attach(&origin, e->attached.threads ? e->attached.threads : 1);
        if (m->cfg.adopt_at_attach) /* after the attach event: "existing" ones follow it */
            adopt_at_attach(m, e->pid, e);
        return;
    }
    struct task *task = task_find(m->tasks, e->tid);
    if (!task)
        return; /* a source sends EVENT_SPAWN first; nothing to attach this to */
    switch (e->kind) {
    case EVENT_CALL_ENTER:
        on_call_enter(m, task, e, reply);
        break;
    case EVENT_CALL_DONE:
        on_call_done(m, task, e);
        break;
    case EVENT_CALL_VOIDED:
        task->call.active = false; /* its result is not known: not applied */
        break;
    case EVENT_EXEC:
        on_exec(m, task, e);
        break;
    case EVENT_THREAD_EXIT:
        on_thread_exit(m, task, e, reply);
        break;
    case EVENT_GONE:
        on_gone(m, task, e);
        break;
    case EVENT_DETACHED:
        on_detached(m, task, e);
        break;
    case EVENT_SPAWN:
    case EVENT_LOST:
    case EVENT_ATTACHED:
        break;
    }
}

/* ---- what the dumper, the cgroup report and the summary ask ---------------------- */

struct extent {
    uint64_t id, start, end;
    int prot;
    bool found;
};

static int add_to_hull(const struct region *r, void *ctx)
{
    struct extent *e = ctx;
    if (r->id != e->id)
        return 0;
    if (!e->found) {
        e->start = r->start;
        e->found = true;
    }
    e->prot |= r->prot; /* readable if any piece is: a committed part of a reservation */
    e->end = r->end;    /* regions come in address order */
    return 0;
}

/* The pieces of a split region share its id: a dump covers their hull,
 * and the unmapped middle becomes holes. */
struct live_search {
    struct addr_space *as;
    pid_t found;   /* a thread not exiting */
    pid_t exiting; /* a non-leader at its exit: its mm is still there */
};

static void find_live(struct task *task, void *ctx)
{
    struct live_search *search = ctx;
    if (task->as != search->as)
        return;
    if (!task->exiting && !search->found)
        search->found = task->tid;
    else if (task->exiting && task->tid != task->pid && !search->exiting)
        search->exiting = task->tid;
}

bool model_region_extent(void *ctx, pid_t pid, uint64_t id, pid_t mapper, uint64_t *start,
                         uint64_t *end, int *prot, pid_t *reader)
{
    struct model *m = ctx;
    struct addr_space *as = addr_space_of_process(m->tasks, pid);
    if (!as)
        return false;
    /* A thread still in the process reads its memory; at the very end
     * (all exiting) the one holding for the dump does, mm still there. */
    struct task *t = task_find(m->tasks, mapper);
    struct task *leader = task_find(m->tasks, pid);
    if (t && t->as == as && !t->exiting) {
        *reader = mapper;
    } else if (leader && leader->as == as && !leader->exiting) {
        *reader = pid;
    } else {
        struct live_search search = {.as = as};
        task_foreach(m->tasks, find_live, &search);
        *reader = search.found ? search.found : search.exiting ? search.exiting : pid;
    }
    struct extent e = {.id = id};
    region_set_foreach(as->regions, add_to_hull, &e);
    if (!e.found)
        return false;
    *start = e.start;
    *end = e.end;
    *prot = e.prot;
    return true;
}

/* A reported region still mapped, and how many bytes of it are (the
 * pieces of a split region share its id). */
struct mapped {
    struct dump_target target;
    uint64_t bytes;
};

struct mapped_list {
    pid_t owner;
    struct mapped *v;
    size_t n, cap;
    bool short_of_memory;
};

static int add_mapped(const struct region *r, void *ctx)
{
    struct mapped_list *list = ctx;
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        struct mapped *grown = realloc(list->v, cap * sizeof *grown);
        if (!grown) {
            list->short_of_memory = true;
            return 1;
        }
        list->v = grown;
        list->cap = cap;
    }
    list->v[list->n++] = (struct mapped){
        .target = {.id = r->id, .pid = list->owner, .tid = r->tid, .addr = r->start,
                   .len = r->end - r->start, .prot = r->prot, .flags = r->flags,
                   .mapped_at = r->mapped_at},
        .bytes = r->end - r->start,
    };
    return 0;
}

static void add_space(struct addr_space *as, void *ctx)
{
    struct mapped_list *list = ctx;
    list->owner = as->owner;
    if (!list->short_of_memory)
        region_set_foreach(as->regions, add_mapped, list);
}

static int by_process_and_id(const void *a, const void *b)
{
    const struct dump_target *x = &((const struct mapped *)a)->target;
    const struct dump_target *y = &((const struct mapped *)b)->target;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int largest_first(const void *a, const void *b)
{
    const struct mapped *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return x->target.id < y->target.id ? -1 : x->target.id > y->target.id;
}

struct dump_target *model_mapped(struct model *m, size_t *n)
{
    struct mapped_list list = {0};
    *n = 0;
    addr_space_foreach(m->tasks, add_space, &list);
    if (list.short_of_memory)
        log_warn("out of memory listing the regions still mapped: some are left out");
    if (list.n == 0) {
        free(list.v);
        return NULL;
    }
    qsort(list.v, list.n, sizeof *list.v, by_process_and_id);
    size_t out = 0;
    for (size_t i = 0; i < list.n; i++) {
        struct mapped *cur = &list.v[i];
        struct mapped *last = out ? &list.v[out - 1] : NULL;
        if (last && last->target.pid == cur->target.pid && last->target.id == cur->target.id) {
            uint64_t end = cur->target.addr + cur->target.len;
            last->target.len = end - last->target.addr; /* addresses ascend */
            last->bytes += cur->bytes;
            continue;
        }
        list.v[out++] = *cur;
    }
    qsort(list.v, out, sizeof *list.v, largest_first);
    struct dump_target *targets = malloc(out * sizeof *targets);
    if (!targets) {
        log_warn("out of memory listing the regions still mapped");
        free(list.v);
        return NULL;
    }
    for (size_t i = 0; i < out; i++) {
        targets[i] = list.v[i].target;
        struct task *mapper = task_find(m->tasks, targets[i].tid);
        if (mapper && mapper->pid == targets[i].pid)
            name_of(m, mapper->pid, mapper->tid, targets[i].comm);
        else
            snprintf(targets[i].comm, sizeof targets[i].comm, "?");
    }
    free(list.v);
    *n = out;
    return targets;
}

struct count_ctx {
    struct summary *summary;
    pid_t pid;
};

/* Resident bytes of [start, end) of process pid, from its pagemap (no
 * page is read, none faulted in); 0 when it cannot be read. */
static uint64_t resident_bytes(pid_t pid, uint64_t start, uint64_t end)
{
    uint64_t flags[512], bytes = 0;
    for (uint64_t at = start; at < end;) {
        size_t n = (size_t)((end - at) / 4096 < 512 ? (end - at) / 4096 : 512);
        if (n == 0 || memread_page_flags(pid, at, n, flags) < 0)
            break;
        for (size_t i = 0; i < n; i++)
            bytes += (flags[i] & MEMREAD_PAGE_PRESENT) ? 4096 : 0;
        at += n * 4096;
    }
    return bytes;
}

static int count_mapped_region(const struct region *r, void *ctx)
{
    struct count_ctx *c = ctx;
    summary_add_mapped(c->summary, r->id, r->end - r->start);
    summary_add_resident(c->summary, r->id, resident_bytes(c->pid, r->start, r->end));
    return 0;
}

static void count_mapped_space(struct addr_space *as, void *ctx)
{
    struct count_ctx c = {.summary = ctx, .pid = as->owner};
    region_set_foreach(as->regions, count_mapped_region, &c);
}

void model_count_still_mapped(struct model *m)
{
    if (!m->cfg.summary || m->mapped_counted)
        return;
    m->mapped_counted = true;
    addr_space_foreach(m->tasks, count_mapped_space, m->cfg.summary);
}

struct region_count {
    size_t n, uncertain;
};

static int count_region(const struct region *r, void *ctx)
{
    struct region_count *c = ctx;
    c->n++;
    c->uncertain += r->uncertain;
    return 0;
}

size_t model_region_count(const struct model *m, pid_t pid, size_t *uncertain)
{
    struct region_count c = {0};
    struct addr_space *as = addr_space_of_process(m->tasks, pid);
    if (as)
        region_set_foreach(as->regions, count_region, &c);
    if (uncertain)
        *uncertain = c.uncertain;
    return c.n;
}
