/*
 * --adopt: which /proc/PID/maps lines become existing regions
 * (adopt_wanted), and the model fed synthetic events after adopting them:
 * one "existing" event each, then followed like any reported region (a
 * munmap of part of one reported, one of nothing adopted not), listed by
 * model_mapped (what --dump-on-threshold dumps) and dumped after --delay.
 *
 * --min-size is 1 MiB here, --max-size 64 MiB. Events are fed and the JSON
 * Lines written counted through model_feed.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "adopt.h"
#include "event.h"
#include "maps.h"
#include "model.h"
#include "model_feed.h"
#include "syscalls.h"
#include "unit.h"

#define MIB (1024ULL * 1024)
#define PID 4545
#define X 0x7f0000000000ULL

static struct model *new_model(bool adopt)
{
    struct model_config c = {.min_size = 1 * MIB, .max_size = 64 * MIB, .can_hold = true,
                             .adopt_regions = adopt};
    return feed_start(&c);
}

/* A munmap by the process's only thread, done. */
static void munmap_call(struct model *m, uint64_t addr, uint64_t len)
{
    feed_call(m, PID, PID, SC_MUNMAP, addr, len, 0, 0, 0);
}

/* A process's maps: what is adopted and what is not. */
static struct map_entry maps_of_a_jvm[] = {
    {.start = X, .end = X + 4 * MIB, .prot = "rw-p", .path = (char *)""},           /* arena */
    {.start = X + 4 * MIB, .end = X + 6 * MIB, .prot = "rw-s", .path = (char *)""}, /* shared */
    {.start = X + 8 * MIB, .end = X + 16 * MIB, .prot = "---p", .path = (char *)""}, /* reserved */
    {.start = X + 16 * MIB, .end = X + 16 * MIB + 65536, .prot = "rw-p", .path = (char *)""},
    {.start = X + 32 * MIB, .end = X + 34 * MIB, .prot = "rw-p",
     .path = (char *)"[anon:arena]"},                                                 /* named */
    {.start = X + 40 * MIB, .end = X + 48 * MIB, .prot = "r--p",
     .path = (char *)"/usr/lib/jvm/lib/modules"},                                     /* a file */
    {.start = X + 64 * MIB, .end = X + 192 * MIB, .prot = "rw-p", .path = (char *)""}, /* > max */
    {.start = X + 256 * MIB, .end = X + 264 * MIB, .prot = "rw-p", .path = (char *)"[stack]"},
    {.start = X + 300 * MIB, .end = X + 302 * MIB, .prot = "rw-p", .path = (char *)"[heap]"},
};
#define NMAPS (sizeof maps_of_a_jvm / sizeof maps_of_a_jvm[0])

TEST(which_mappings_are_adopted)
{
    bool want[NMAPS] = {true, true, false, false, true, false, false, false, false};
    for (size_t i = 0; i < NMAPS; i++)
        CHECK(adopt_wanted(&maps_of_a_jvm[i], 1 * MIB, 64 * MIB) == want[i]);
    /* No --max-size: the 128 MiB one too. */
    CHECK(adopt_wanted(&maps_of_a_jvm[6], 1 * MIB, 0));
    /* --min-size 0: the small one too, still not the reservation. */
    CHECK(adopt_wanted(&maps_of_a_jvm[3], 0, 0) && !adopt_wanted(&maps_of_a_jvm[2], 0, 0));
}

TEST(adopted_regions_are_reported_followed_and_listed)
{
    struct model *m = new_model(true);
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    struct maps_list maps = {.entries = maps_of_a_jvm, .count = NMAPS};
    model_adopt_existing(m, PID, &maps, feed_tick_ns());
    CHECK(model_region_count(m, PID, NULL) == 3);
    size_t n = 0;
    struct dump_target *mapped = model_mapped(m, &n);
    CHECK(mapped && n == 3);
    CHECK(mapped[0].addr == X && mapped[0].len == 4 * MIB && mapped[0].pid == PID);
    free(mapped);
    /* Part of the arena unmapped: reported; an unadopted range: not. */
    munmap_call(m, X + 2 * MIB, 2 * MIB);
    munmap_call(m, X + 64 * MIB, MIB);
    CHECK(model_region_count(m, PID, NULL) == 3);
    munmap_call(m, X + 32 * MIB, 2 * MIB);
    CHECK(model_region_count(m, PID, NULL) == 2);
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"existing\"", NULL) == 3);
    CHECK(lines_with(out, "\"event\":\"existing\"",
                     "\"addr\":\"0x7f0000000000\",\"len\":4194304,\"prot\":\"rw-\","
                     "\"shared\":false") == 1);
    CHECK(lines_with(out, "\"event\":\"existing\"", "\"addr\":\"0x7f0000400000\",\"len\":2097152,"
                                                    "\"prot\":\"rw-\",\"shared\":true") == 1);
    CHECK(lines_with(out, "\"event\":\"existing\"", "\"addr\":\"0x7f0002000000\"") == 1);
    CHECK(lines_with(out, "\"event\":\"munmap\"", "\"addr\":\"0x7f0000200000\"") == 1);
    CHECK(lines_with(out, "\"event\":\"munmap\"", "\"addr\":\"0x7f0002000000\"") == 1);
    CHECK(lines_with(out, "\"event\":\"munmap\"", NULL) == 2);
    free(out);
}

UNIT_MAIN(UNIT_CASE(which_mappings_are_adopted),
          UNIT_CASE(adopted_regions_are_reported_followed_and_listed))
