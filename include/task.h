/*
 * task: the model's per-thread state, and the per-address-space state
 * that threads share. Nothing here knows how events are obtained (the
 * sources keep their own per-thread state).
 *
 * An addr_space is the model of one mm: every thread of a process (and a
 * vfork child until it execs) points to the same one, fork gives the child
 * a copy, exec gives the execing process a new empty one. It is reference
 * counted by the tasks that use it; the last task_remove() frees it.
 *
 * Ownership: the task_table owns every struct task and, through them, every
 * addr_space. Pointers to tasks stay valid until task_remove() of that task;
 * task_table_free() frees everything left.
 */
#ifndef MMAPWATCH_TASK_H
#define MMAPWATCH_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "procfs.h"
#include "regions.h"

struct growth;
struct unwind_space;

struct addr_space {
    unsigned refs;              /* tasks pointing here */
    unsigned live;              /* of those, the ones not exiting yet */
    pid_t owner;                /* tgid of the process whose mm this is */
    struct region_set *regions; /* reported regions still mapped */
    struct growth *growth;      /* areas watched for growth in place (growth.h) */
    unsigned long reported;     /* events reported about this process's memory */
    long rss_start_kb, rss_end_kb; /* VmRSS when tracing began and at its end; -1 unknown */
    struct unwind_space *unwind; /* -k: the unwinder's cache for this mm (unwind.h); NULL until used */
    struct addr_space *next;    /* the table's list of address spaces */
};

/* The memory-map (or exec) syscall a thread is inside, from its
 * EVENT_CALL_ENTER to its EVENT_CALL_DONE. */
struct in_flight {
    bool active;
    uint32_t arch;              /* SYSCALL_ARCH_* */
    uint64_t nr;
    uint64_t args[6];
    uint64_t entered_ns;        /* CLOCK_MONOTONIC of the entry: the call applies
                                   only to regions that existed then */
    unsigned ended_early;       /* regions it removed that a reused address
                                   proved gone before its result came */
    bool has_moved;             /* mremap: the region it moves, taken out early */
    struct region moved;
};

struct task {
    pid_t tid;
    pid_t pid;                  /* thread group id */
    struct addr_space *as;
    struct in_flight call;
    bool exiting;               /* reached its exit (see task_mark_exiting) */
    char leader_comm[PROCFS_COMM_MAX]; /* leaders: name kept for the exit event */
    struct task *hash_next;
};

struct task_table;

struct task_table *task_table_new(void);
void task_table_free(struct task_table *table);

struct task *task_find(const struct task_table *table, pid_t tid);

/* Adds a task that uses address space as (a reference is taken). NULL on
 * ENOMEM. The tid must not be in the table. */
struct task *task_add(struct task_table *table, pid_t tid, pid_t pid, struct addr_space *as);

/* Removes and frees a task, dropping its address-space reference. */
void task_remove(struct task_table *table, struct task *task);

/* Re-keys a task under a new tid (a non-leader exec takes the leader's tid). */
void task_rekey(struct task_table *table, struct task *task, pid_t new_tid);

size_t task_count(const struct task_table *table);

/* The task is exiting (EVENT_THREAD_EXIT): it no longer counts as live in
 * its address space. When as->live drops to 0, the mm is about to go. */
void task_mark_exiting(struct task *task);

/* Calls fn for every task; fn may not add or remove tasks. */
void task_foreach(struct task_table *table, void (*fn)(struct task *t, void *ctx), void *ctx);

/* A new empty address space owned by process owner (refs 0 until a task
 * uses it). NULL on ENOMEM. */
struct addr_space *addr_space_new(struct task_table *table, pid_t owner);

/* A copy of src for a forked child (refs 0). NULL on ENOMEM. */
struct addr_space *addr_space_clone(struct task_table *table, const struct addr_space *src,
                                    pid_t owner);

/* The address space owned by process pid, or NULL. */
struct addr_space *addr_space_of_process(const struct task_table *table, pid_t pid);

/* Calls fn for every address space still owned by a process (not one
 * left behind by an exec, nor one no task uses); fn may not add or remove
 * tasks or spaces. */
void addr_space_foreach(struct task_table *table, void (*fn)(struct addr_space *as, void *ctx),
                        void *ctx);

/* Moves task to another address space (exec), dropping the old reference. */
void task_set_addr_space(struct task_table *table, struct task *task, struct addr_space *as);

#endif
