/*
 * adopt: --adopt (implied by --attach-above). At an attach, the anonymous
 * mappings already there become reported regions of the model, each
 * reported once as an "existing" event, then followed (munmap, mremap,
 * mprotect reported), dumped after --delay and at --dump-on-threshold
 * like the regions mapped while traced. Without it, a late attach knows
 * nothing of the arenas mapped before it, and a threshold dump right
 * after it holds none of them.
 *
 * Which mappings (adopt_wanted, pure): anonymous (no file; the kernel's
 * [anon:NAME] counts; [heap], [stack] and the like do not), accessible
 * (a PROT_NONE reservation holds nothing yet: growth.h follows those),
 * from --min-size to --max-size long. One /proc/PID/maps line is one
 * region: the kernel merges neighbouring mappings alike into one line,
 * so two arenas mapped side by side are one existing region.
 *
 * Part of the model (model.c calls it at EVENT_ATTACHED). Threads: the
 * loop's only.
 */
#ifndef MMAPWATCH_ADOPT_H
#define MMAPWATCH_ADOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maps.h"
#include "track.h"

/* Whether maps line e is adopted with these bounds (max 0: none). */
bool adopt_wanted(const struct map_entry *e, uint64_t min_size, uint64_t max_size);

/* Adopts every wanted line of maps into leader's process (leader: the
 * thread-group leader's task, already in the model); when: the attach.
 * Returns how many were adopted; one that could not be (ENOMEM) is
 * said. */
size_t adopt_existing(const struct track_policy *policy, struct task *leader,
                      const struct maps_list *maps, const struct track_when *when);

/* The helpers the model's growth adoption shares. */
bool adopt_anonymous(const struct map_entry *e);
int adopt_prot(const struct map_entry *e);

#endif
