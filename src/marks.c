/*
 * marks: high and low marks with hysteresis. See include/marks.h.
 */
#include "marks.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "units.h"

bool mark_parse(const char *text, const char *option, struct mark *out)
{
    size_t len = strlen(text);
    *out = (struct mark){0};
    if (len > 1 && text[len - 1] == '%') {
        uint64_t pct = 0;
        bool ok = len - 1 <= 3;
        for (size_t i = 0; ok && i < len - 1; i++) {
            ok = text[i] >= '0' && text[i] <= '9';
            pct = pct * 10 + (uint64_t)(text[i] - '0');
        }
        if (!ok || pct == 0 || pct > 100) {
            log_error("invalid percentage '%s' for %s: use 1%% to 100%% of the cgroup's "
                      "limit, or a SIZE such as 2G", text, option);
            return false;
        }
        out->pct = (unsigned)pct;
        return true;
    }
    if (units_size(text, &out->bytes) != UNITS_OK || out->bytes == 0) {
        log_error("invalid size '%s' for %s: use a positive SIZE such as 2G, or PCT%%", text,
                  option);
        return false;
    }
    return true;
}

uint64_t mark_percent_of(uint64_t limit, unsigned pct)
{
    return limit / 100 * pct + limit % 100 * pct / 100;
}

bool mark_resolve(const struct mark *m, uint64_t limit, uint64_t *bytes)
{
    if (!m->pct) {
        *bytes = m->bytes;
        return m->bytes > 0;
    }
    if (limit == UINT64_MAX)
        return false;
    *bytes = mark_percent_of(limit, m->pct);
    return *bytes > 0;
}

enum mark_change marks_step(bool *above, uint64_t usage, uint64_t high, uint64_t low,
                            bool recrossed)
{
    if (!*above) {
        if (usage < high)
            return MARK_SAME;
        *above = true;
        return MARK_ROSE;
    }
    if (usage < low) {
        *above = false;
        return MARK_FELL;
    }
    /* Above and signalled twice or more: it went below and came back
     * between two looks, a new crossing all the same. */
    return recrossed && usage >= high && low == high ? MARK_ROSE : MARK_SAME;
}
