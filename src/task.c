/*
 * task: the tid -> task hash table and the address spaces tasks share.
 * See include/task.h.
 *
 * A chained hash table that doubles when the load passes 1: a JVM has
 * hundreds of threads and a build can have thousands of short-lived
 * processes, and every stop looks its task up here.
 */
#include "task.h"

#include "growth.h"

#include "unwind.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct task_table {
    struct task **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    struct addr_space *spaces;
};

static size_t bucket_of(const struct task_table *table, pid_t tid)
{
    /* Fibonacci hashing spreads consecutive tids across buckets. */
    return (size_t)(((uint64_t)(uint32_t)tid * 0x9E3779B97F4A7C15ULL) >> 32) &
           (table->nbuckets - 1);
}

struct task_table *task_table_new(void)
{
    struct task_table *table = calloc(1, sizeof *table);
    if (!table)
        return NULL;
    table->nbuckets = 64;
    table->buckets = calloc(table->nbuckets, sizeof *table->buckets);
    if (!table->buckets) {
        free(table);
        return NULL;
    }
    return table;
}

static void addr_space_put(struct task_table *table, struct addr_space *as)
{
    if (!as || --as->refs > 0)
        return;
    for (struct addr_space **p = &table->spaces; *p; p = &(*p)->next) {
        if (*p == as) {
            *p = as->next;
            break;
        }
    }
    region_set_free(as->regions);
    growth_free(as->growth);
    unwind_space_free(as->unwind);
    free(as);
}

void task_table_free(struct task_table *table)
{
    if (!table)
        return;
    for (size_t i = 0; i < table->nbuckets; i++) {
        struct task *t = table->buckets[i];
        while (t) {
            struct task *next = t->hash_next;
            addr_space_put(table, t->as);
            free(t);
            t = next;
        }
    }
    /* Spaces no task ever took (refs 0) are still listed. */
    while (table->spaces) {
        struct addr_space *as = table->spaces;
        table->spaces = as->next;
        region_set_free(as->regions);
        growth_free(as->growth);
        unwind_space_free(as->unwind);
        free(as);
    }
    free(table->buckets);
    free(table);
}

struct task *task_find(const struct task_table *table, pid_t tid)
{
    for (struct task *t = table->buckets[bucket_of(table, tid)]; t; t = t->hash_next)
        if (t->tid == tid)
            return t;
    return NULL;
}

static void grow(struct task_table *table)
{
    size_t old_n = table->nbuckets;
    struct task **old = table->buckets;
    struct task **fresh = calloc(old_n * 2, sizeof *fresh);
    if (!fresh)
        return; /* longer chains, still correct */
    table->buckets = fresh;
    table->nbuckets = old_n * 2;
    for (size_t i = 0; i < old_n; i++) {
        struct task *t = old[i];
        while (t) {
            struct task *next = t->hash_next;
            size_t b = bucket_of(table, t->tid);
            t->hash_next = fresh[b];
            fresh[b] = t;
            t = next;
        }
    }
    free(old);
}

static void link_task(struct task_table *table, struct task *t)
{
    size_t b = bucket_of(table, t->tid);
    t->hash_next = table->buckets[b];
    table->buckets[b] = t;
}

static void unlink_task(struct task_table *table, struct task *task)
{
    for (struct task **p = &table->buckets[bucket_of(table, task->tid)]; *p;
         p = &(*p)->hash_next) {
        if (*p == task) {
            *p = task->hash_next;
            return;
        }
    }
}

struct task *task_add(struct task_table *table, pid_t tid, pid_t pid, struct addr_space *as)
{
    struct task *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->tid = tid;
    t->pid = pid;
    t->as = as;
    as->refs++;
    as->live++;
    link_task(table, t);
    if (++table->count > table->nbuckets)
        grow(table);
    return t;
}

void task_remove(struct task_table *table, struct task *task)
{
    unlink_task(table, task);
    table->count--;
    if (!task->exiting)
        task->as->live--;
    addr_space_put(table, task->as);
    free(task);
}

void task_rekey(struct task_table *table, struct task *task, pid_t new_tid)
{
    unlink_task(table, task);
    task->tid = new_tid;
    link_task(table, task);
}

size_t task_count(const struct task_table *table) { return table->count; }

void task_mark_exiting(struct task *task)
{
    if (task->exiting)
        return;
    task->exiting = true;
    task->as->live--;
}

void task_foreach(struct task_table *table, void (*fn)(struct task *t, void *ctx), void *ctx)
{
    for (size_t i = 0; i < table->nbuckets; i++)
        for (struct task *t = table->buckets[i]; t; t = t->hash_next)
            fn(t, ctx);
}

static struct addr_space *space_with(struct task_table *table, struct region_set *regions,
                                     struct growth *growth, pid_t owner)
{
    struct addr_space *as = regions && growth ? calloc(1, sizeof *as) : NULL;
    if (!as) {
        region_set_free(regions);
        growth_free(growth);
        return NULL;
    }
    as->owner = owner;
    as->rss_start_kb = as->rss_end_kb = -1;
    as->regions = regions;
    as->growth = growth;
    as->next = table->spaces;
    table->spaces = as;
    return as;
}

struct addr_space *addr_space_new(struct task_table *table, pid_t owner)
{
    return space_with(table, region_set_new(), growth_new(), owner);
}

struct addr_space *addr_space_clone(struct task_table *table, const struct addr_space *src,
                                    pid_t owner)
{
    return space_with(table, region_set_clone(src->regions), growth_clone(src->growth), owner);
}

struct addr_space *addr_space_of_process(const struct task_table *table, pid_t pid)
{
    for (struct addr_space *as = table->spaces; as; as = as->next)
        if (as->owner == pid && as->refs > 0)
            return as;
    return NULL;
}

void task_set_addr_space(struct task_table *table, struct task *task, struct addr_space *as)
{
    as->refs++;
    if (!task->exiting) {
        as->live++;
        task->as->live--;
    }
    addr_space_put(table, task->as);
    task->as = as;
}

void addr_space_foreach(struct task_table *table, void (*fn)(struct addr_space *as, void *ctx),
                        void *ctx)
{
    for (struct addr_space *as = table->spaces; as; as = as->next)
        if (as->owner != 0 && as->refs > 0)
            fn(as, ctx);
}
