/*
 * adopt: the anonymous mappings there before the attach, as regions. See
 * include/adopt.h.
 */
#include "adopt.h"

#include <string.h>
#include <sys/mman.h>

#include "log.h"

bool adopt_anonymous(const struct map_entry *e)
{
    return e->path[0] == '\0' || strncmp(e->path, "[anon:", 6) == 0;
}

int adopt_prot(const struct map_entry *e)
{
    return (e->prot[0] == 'r' ? PROT_READ : 0) | (e->prot[1] == 'w' ? PROT_WRITE : 0) |
           (e->prot[2] == 'x' ? PROT_EXEC : 0);
}

bool adopt_wanted(const struct map_entry *e, uint64_t min_size, uint64_t max_size)
{
    uint64_t len = e->end - e->start;
    return adopt_anonymous(e) && adopt_prot(e) != PROT_NONE && len >= min_size &&
           (max_size == 0 || len <= max_size);
}

size_t adopt_existing(const struct track_policy *policy, struct task *leader,
                      const struct maps_list *maps, const struct track_when *when)
{
    size_t adopted = 0, failed = 0;
    for (size_t i = 0; i < maps->count; i++) {
        const struct map_entry *e = &maps->entries[i];
        if (!adopt_wanted(e, policy->min_size, policy->max_size))
            continue;
        if (track_adopt_region(policy, leader, e->start, e->end, adopt_prot(e),
                               e->prot[3] == 's', when))
            adopted++;
        else
            failed++;
    }
    log_info("process %d: %zu mapping%s made before the attach adopted as existing regions",
             (int)leader->pid, adopted, adopted == 1 ? "" : "s");
    if (failed)
        log_warn("out of memory: %zu mapping(s) of process %d made before the attach are not "
                 "followed", failed, (int)leader->pid);
    return adopted;
}
