/*
 * The -c summary with growth in place: rows sorted by memory gained, then
 * resident, not by address space; growth of malloc's heaps counted apart;
 * and the --min-size advice about mmap sizes given only when those mmaps,
 * not growth in place, brought the most memory (it must not contradict
 * the table above it).
 */
#include <stdbool.h>
#include <string.h>

#include "summary.h"
#include "unit.h"

#define MIB (1024ULL * 1024)

TEST(rows_by_gained_then_resident)
{
    struct summary *s = summary_new();
    CHECK(s);
    summary_add_region(s, 1, 128 * MIB, false, "reserver", NULL); /* PROT_NONE: gains nothing */
    summary_add_region(s, 2, 16 * MIB, true, "mapper", NULL);
    summary_add_growth(s, 3, 32 * MIB, true, "grower", NULL);
    summary_add_region(s, 4, 8 * MIB, true, "toucher", NULL);
    summary_add_region(s, 5, 8 * MIB, true, "idler", NULL);
    summary_add_resident(s, 4, 8 * MIB);
    summary_add_resident(s, 5, 4096);
    const struct summary_view *v = summary_view(s);
    CHECK(v->nrows == 5);
    CHECK(strcmp(v->rows[0].comm, "grower") == 0 && v->rows[0].growths == 1);
    CHECK(strcmp(v->rows[1].comm, "mapper") == 0);
    CHECK(strcmp(v->rows[2].comm, "toucher") == 0); /* same gain, more resident */
    CHECK(strcmp(v->rows[3].comm, "idler") == 0);
    CHECK(strcmp(v->rows[4].comm, "reserver") == 0);
    CHECK(v->gained == 64 * MIB && v->resident == 8 * MIB + 4096);
    CHECK(v->malloc_growth == 32 * MIB && v->other_growth == 0 && v->growths == 1);
    summary_free(s);
}

TEST(no_size_advice_when_growth_brought_more)
{
    struct summary *s = summary_new();
    CHECK(s);
    summary_add_region(s, 1, 4 * MIB, true, "a", NULL);
    summary_add_region(s, 2, 4 * MIB, true, "a", NULL);
    const struct summary_view *v = summary_view(s);
    CHECK(v->suggested_min_size == 4 * MIB); /* mmaps alone: advice */
    summary_add_growth(s, 3, 16 * MIB, false, "b", NULL);
    v = summary_view(s);
    CHECK(v->suggested_min_size == 0 && v->other_growth == 16 * MIB);
    summary_free(s);
}

UNIT_MAIN(UNIT_CASE(rows_by_gained_then_resident), UNIT_CASE(no_size_advice_when_growth_brought_more))
