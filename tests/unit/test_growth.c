/*
 * Growth in place, through the model fed synthetic events: the brk heap
 * reported at each --min-size step (not at each brk), commits into a
 * reservation crossing steps, an mremap that grows a committed area,
 * recommits after an uncommit not counted twice, and adoption at attach
 * (the brk heap and reservations that existed before: their growth since
 * is reported, they are not reported as new mmaps; a glibc arena heap is
 * labelled from its header, read from this very process).
 *
 * --min-size is 1 MiB here. Events are fed and the JSON Lines written
 * counted through model_feed.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "event.h"
#include "maps.h"
#include "model.h"
#include "model_feed.h"
#include "syscalls.h"
#include "unit.h"

#define MIB (1024ULL * 1024)
#define PID 4343
#define X 0x7f0000000000ULL
#define Y 0x7f1000000000ULL
#define HEAP 0x555500000000ULL

static struct model *new_model(void)
{
    struct model_config c = {.min_size = 1 * MIB, .can_hold = true};
    return feed_start(&c);
}

/* A brk's entry, as a source sends it: whether the model wants its
 * result (a second stop in launch mode); then the result, sent only if
 * wanted, as the ptrace source does. */
static bool brk_call(struct model *m, uint64_t arg, uint64_t result)
{
    bool wanted = feed_enter(m, PID, PID, SC_BRK, arg, 0, 0, 0).want_done;
    if (wanted)
        feed_done(m, PID, PID, (int64_t)result);
    return wanted;
}

static const uint64_t RESERVE = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
static const uint64_t RW = PROT_READ | PROT_WRITE;

TEST(brk_heap_reported_at_each_step_not_at_each_brk)
{
    struct model *m = new_model();
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_call(m, PID, PID, SC_BRK, 0, 0, 0, 0, (int64_t)HEAP); /* where the heap starts */
    for (uint64_t k = 1; k <= 16; k++) /* 4 MiB in 256 KiB steps */
        feed_call(m, PID, PID, SC_BRK, HEAP + k * MIB / 4, 0, 0, 0, (int64_t)(HEAP + k * MIB / 4));
    /* Shrunk by 2 MiB and grown back: nothing new at its highest. */
    feed_call(m, PID, PID, SC_BRK, HEAP + 2 * MIB, 0, 0, 0, (int64_t)(HEAP + 2 * MIB));
    feed_call(m, PID, PID, SC_BRK, HEAP + 4 * MIB, 0, 0, 0, (int64_t)(HEAP + 4 * MIB));
    /* A failed brk returns the old end: no growth. */
    feed_call(m, PID, PID, SC_BRK, HEAP + 64 * MIB, 0, 0, 0, (int64_t)(HEAP + 4 * MIB));
    feed_call(m, PID, PID, SC_BRK, HEAP + 5 * MIB, 0, 0, 0, (int64_t)(HEAP + 5 * MIB));
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"growth\"", "\"kind\":\"brk_heap\"") == 5);
    CHECK(lines_with(out, "\"event\":\"growth\"", "\"call\":\"brk\"") == 5);
    CHECK(lines_with(out, "\"gained\":1048576,", "\"new_addr\":\"0x555500000000\"") == 1);
    CHECK(lines_with(out, "\"gained\":4194304,", "\"new_len\":1048576") == 1);
    /* The step after the regrowth: only the megabyte above the old top. */
    CHECK(lines_with(out, "\"gained\":5242880,", "\"new_addr\":\"0x555500400000\"") == 1);
    CHECK(lines_with(out, "\"event\":\"mmap\"", NULL) == 0);
    free(out);
}

/* Launch mode stops twice on a brk only when its result can matter: the
 * heap's start, a shrink below the end last seen, a query, and a call
 * that may pass the next step. The steps come out as if every result had
 * been seen (brk_heap_reported_at_each_step_not_at_each_brk). */
TEST(brk_result_wanted_only_where_it_can_matter)
{
    struct model *m = new_model();
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    CHECK(brk_call(m, 0, HEAP));                       /* where the heap starts */
    CHECK(!brk_call(m, HEAP + MIB / 4, HEAP + MIB / 4)); /* under the 1 MiB step */
    CHECK(!brk_call(m, HEAP + MIB / 2 + 1, HEAP + MIB / 2 + 1));
    CHECK(brk_call(m, HEAP + MIB + 1, HEAP + MIB + 1)); /* its page passes 1 MiB */
    /* Refused: the old end comes back, nothing reported, and still wanted
     * next time. */
    CHECK(brk_call(m, HEAP + 3 * MIB, HEAP + MIB + 1));
    CHECK(brk_call(m, HEAP + 3 * MIB, HEAP + 3 * MIB)); /* 2 and 3 MiB at once: one step */
    /* Down to 2 MiB: below the end last seen, wanted (the part reported at
     * 3 MiB goes); below the highest it reached, regrowth is not. */
    CHECK(brk_call(m, HEAP + 2 * MIB, HEAP + 2 * MIB));
    CHECK(!brk_call(m, HEAP + 5 * MIB / 2, HEAP + 5 * MIB / 2));
    CHECK(!brk_call(m, HEAP + 3 * MIB, HEAP + 3 * MIB));
    CHECK(brk_call(m, 0, HEAP + 3 * MIB)); /* a query */
    /* Short of 4 MiB by a few bytes: the heap's mapping ends on the page
     * at 4 MiB, a step. */
    CHECK(brk_call(m, HEAP + 4 * MIB - 100, HEAP + 4 * MIB - 100));
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"growth\"", "\"kind\":\"brk_heap\"") == 3);
    CHECK(lines_with(out, "\"committed\":1052672,\"gained\":1052672,", "\"new_addr\":\"0x555500000000\",\"new_len\":1052672") == 1);
    CHECK(lines_with(out, "\"committed\":3145728,\"gained\":3145728,", "\"new_addr\":\"0x555500101000\",\"new_len\":2093056") == 1);
    /* After the shrink and the regrowth: new only above the old top. */
    CHECK(lines_with(out, "\"committed\":4194304,\"gained\":4194304,", "\"new_addr\":\"0x555500300000\",\"new_len\":1048576") == 1);
    free(out);
}

/* --min-size 0 (the default) reports every new highest end of the heap:
 * every call that may reach above it is wanted, regrowth below it not. */
TEST(brk_result_wanted_above_the_highest_with_min_size_0)
{
    struct model_config c = {.min_size = 0, .can_hold = true};
    struct model *m = feed_start(&c);
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    CHECK(brk_call(m, 0, HEAP));
    CHECK(brk_call(m, HEAP + 4096, HEAP + 4096));
    CHECK(brk_call(m, HEAP + 8192, HEAP + 8192));
    CHECK(!brk_call(m, HEAP + 8000, HEAP + 8000)); /* the same page */
    CHECK(brk_call(m, HEAP + 4096, HEAP + 4096));  /* a shrink */
    CHECK(!brk_call(m, HEAP + 8192, HEAP + 8192)); /* back to the highest */
    CHECK(brk_call(m, HEAP + 8193, HEAP + 8193));
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"growth\"", NULL) == 3);
    free(out);
}

TEST(commits_into_a_reservation_cross_steps)
{
    struct model *m = new_model();
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_call(m, PID, PID, SC_MMAP, 0, 64 * MIB, PROT_NONE, RESERVE, (int64_t)X);
    for (uint64_t k = 0; k < 4; k++) /* 2 MiB in 512 KiB commits */
        feed_call(m, PID, PID, SC_MPROTECT, X + k * MIB / 2, MIB / 2, RW, 0, 0);
    /* Uncommitted and committed again: not new growth. */
    feed_call(m, PID, PID, SC_MPROTECT, X, 2 * MIB, PROT_NONE, 0, 0);
    feed_call(m, PID, PID, SC_MPROTECT, X, 2 * MIB, RW, 0, 0);
    /* A MAP_FIXED commit (the JVM's way) crosses the third step. */
    feed_call(m, PID, PID, SC_MMAP, X + 2 * MIB, MIB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
         (int64_t)(X + 2 * MIB));
    /* An mprotect outside any reservation is no growth. */
    feed_call(m, PID, PID, SC_MPROTECT, Y, 4 * MIB, RW, 0, 0);
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"growth\"", "\"kind\":\"reservation\"") == 3);
    CHECK(lines_with(out, "\"call\":\"mprotect\"", "\"gained\":1048576,") == 1);
    CHECK(lines_with(out, "\"call\":\"mprotect\"", "\"gained\":2097152,") == 1);
    CHECK(lines_with(out, "\"call\":\"mmap\"", "\"gained\":3145728,") == 1);
    CHECK(lines_with(out, "\"event\":\"growth\"", "\"reserved\":67108864") == 3);
    CHECK(lines_with(out, "\"event\":\"growth\"", "\"new_addr\":\"0x7f0000100000\",\"new_len\":1048576") == 1);
    free(out);
}

TEST(grown_parts_become_regions_to_dump)
{
    struct model *m = new_model();
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_call(m, PID, PID, SC_BRK, 0, 0, 0, 0, (int64_t)HEAP);
    feed_call(m, PID, PID, SC_BRK, HEAP + 3 * MIB, 0, 0, 0, (int64_t)(HEAP + 3 * MIB));
    CHECK(model_region_count(m, PID, NULL) == 1); /* one report, one part */
    feed_call(m, PID, PID, SC_BRK, HEAP + 4 * MIB, 0, 0, 0, (int64_t)(HEAP + 4 * MIB));
    CHECK(model_region_count(m, PID, NULL) == 2);
    /* The heap shrinks below both: they are gone. */
    feed_call(m, PID, PID, SC_BRK, HEAP + MIB / 2, 0, 0, 0, (int64_t)(HEAP + MIB / 2));
    CHECK(model_region_count(m, PID, NULL) == 1);
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"growth\"", NULL) == 2);
    free(out);
}

TEST(mremap_growth_of_a_committed_area)
{
    struct model *m = new_model();
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_call(m, PID, PID, SC_MMAP, 0, 2 * MIB, PROT_NONE, RESERVE, (int64_t)X);
    feed_call(m, PID, PID, SC_MPROTECT, X, 2 * MIB, RW, 0, 0); /* two steps at once: one event */
    feed_call(m, PID, PID, SC_MREMAP, X, 2 * MIB, 5 * MIB, MREMAP_MAYMOVE, (int64_t)Y);
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"growth\"", NULL) == 2);
    CHECK(lines_with(out, "\"call\":\"mprotect\"", "\"gained\":2097152,") == 1);
    CHECK(lines_with(out, "\"call\":\"mremap\"", "\"gained\":5242880,") == 1);
    CHECK(lines_with(out, "\"call\":\"mremap\"", "\"new_addr\":\"0x7f1000200000\",\"new_len\":3145728") == 1);
    free(out);
}

TEST(adopted_areas_grow_without_being_new_mmaps)
{
    struct model *m = new_model();
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    struct map_entry e[] = {
        {.start = HEAP, .end = HEAP + MIB, .prot = "rw-p", .path = (char *)"[heap]"},
        {.start = X, .end = X + MIB, .prot = "rw-p", .path = (char *)""},
        {.start = X + MIB, .end = X + 8 * MIB, .prot = "---p", .path = (char *)""},
        /* A thread stack's guard and stack: no reservation. */
        {.start = Y, .end = Y + 4096, .prot = "---p", .path = (char *)""},
        {.start = Y + 4096, .end = Y + 8 * MIB, .prot = "rw-p", .path = (char *)""},
    };
    struct maps_list maps = {.entries = e, .count = 5};
    model_adopt_maps(m, PID, &maps);
    /* What was committed at the attach is the baseline. */
    feed_call(m, PID, PID, SC_BRK, HEAP + 3 * MIB / 2, 0, 0, 0, (int64_t)(HEAP + 3 * MIB / 2));
    feed_call(m, PID, PID, SC_BRK, HEAP + 2 * MIB, 0, 0, 0, (int64_t)(HEAP + 2 * MIB));
    feed_call(m, PID, PID, SC_MPROTECT, X + MIB, MIB, RW, 0, 0);
    feed_call(m, PID, PID, SC_MPROTECT, Y, 4096, RW, 0, 0); /* not a reservation: nothing */
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"growth\"", NULL) == 2);
    CHECK(lines_with(out, "\"kind\":\"brk_heap\"", "\"new_addr\":\"0x555500100000\",\"new_len\":1048576") == 1);
    CHECK(lines_with(out, "\"kind\":\"reservation\"", "\"committed\":2097152,\"gained\":1048576,") == 1);
    CHECK(lines_with(out, "\"event\":\"mmap\"", NULL) == 0);
    CHECK(lines_with(out, "\"event\":\"mprotect\"", NULL) == 0);
    free(out);
}

/* A thread's stack right below an arena heap is not part of it: the
 * heap, 64 MiB aligned, begins its own reservation. */
TEST(adopted_heap_begins_at_its_64_mib_boundary)
{
    struct model *m = new_model();
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    struct map_entry e[] = {
        {.start = X - 8 * MIB, .end = X, .prot = "rw-p", .path = (char *)""},
        {.start = X, .end = X + MIB, .prot = "rw-p", .path = (char *)""},
        {.start = X + MIB, .end = X + 64 * MIB, .prot = "---p", .path = (char *)""},
    };
    struct maps_list maps = {.entries = e, .count = 3};
    model_adopt_maps(m, PID, &maps);
    feed_call(m, PID, PID, SC_MPROTECT, X + MIB, MIB, RW, 0, 0);
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"addr\":\"0x7f0000000000\",\"reserved\":67108864,\"committed\":2097152,", NULL) == 1);
    free(out);
}

/* Steps are multiples of --min-size of the committed size: an area
 * adopted at 1.5 MiB is reported when it reaches 2 MiB, half a MiB later
 * ("gained" says how much since the attach), then a whole step later. */
TEST(adopted_area_reported_at_the_next_multiple)
{
    struct model *m = new_model();
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    struct map_entry e[] = {
        {.start = HEAP, .end = HEAP + 3 * MIB / 2, .prot = "rw-p", .path = (char *)"[heap]"},
        {.start = X, .end = X + 3 * MIB / 2, .prot = "rw-p", .path = (char *)""},
        {.start = X + 3 * MIB / 2, .end = X + 8 * MIB, .prot = "---p", .path = (char *)""},
    };
    struct maps_list maps = {.entries = e, .count = 3};
    model_adopt_maps(m, PID, &maps);
    feed_call(m, PID, PID, SC_MPROTECT, X + 3 * MIB / 2, MIB / 4, RW, 0, 0); /* 1.75 MiB: no step */
    feed_call(m, PID, PID, SC_MPROTECT, X + 7 * MIB / 4, MIB / 4, RW, 0, 0); /* 2 MiB */
    feed_call(m, PID, PID, SC_BRK, HEAP + 7 * MIB / 4, 0, 0, 0, (int64_t)(HEAP + 7 * MIB / 4));
    feed_call(m, PID, PID, SC_BRK, HEAP + 2 * MIB, 0, 0, 0, (int64_t)(HEAP + 2 * MIB));
    feed_call(m, PID, PID, SC_BRK, HEAP + 5 * MIB / 2, 0, 0, 0, (int64_t)(HEAP + 5 * MIB / 2));
    feed_call(m, PID, PID, SC_BRK, HEAP + 3 * MIB, 0, 0, 0, (int64_t)(HEAP + 3 * MIB));
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"growth\"", NULL) == 3);
    CHECK(lines_with(out, "\"kind\":\"reservation\"", "\"committed\":2097152,\"gained\":524288,") == 1);
    CHECK(lines_with(out, "\"kind\":\"brk_heap\"", "\"committed\":2097152,\"gained\":524288,") == 1);
    CHECK(lines_with(out, "\"committed\":3145728,\"gained\":1572864,", NULL) == 1);
    free(out);
}

/* A glibc arena heap in this process: 64 MiB aligned, its first page a
 * heap_info (arena, prev, size, mprotect_size). */
TEST(adopted_arena_heap_labelled_from_its_header)
{
    uint64_t heap_max = 64 * MIB;
    uint8_t *raw = mmap(NULL, 2 * heap_max, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                        -1, 0);
    CHECK(raw != MAP_FAILED);
    uint64_t base = ((uint64_t)raw + heap_max - 1) & ~(heap_max - 1);
    /* glibc keeps the aligned 64 MiB only. */
    if (base > (uint64_t)raw)
        CHECK(munmap(raw, base - (uint64_t)raw) == 0);
    CHECK(munmap((void *)(base + heap_max), (uint64_t)raw + heap_max - base) == 0);
    CHECK(mprotect((void *)base, MIB, PROT_READ | PROT_WRITE) == 0);
    uint64_t *h = (uint64_t *)base;
    h[0] = base + 32; /* the arena follows the header */
    h[1] = 0;
    h[2] = MIB;
    h[3] = MIB;
    struct model *m = new_model();
    CHECK(m);
    pid_t self = getpid();
    feed_spawn(m, self, self, 0, false);
    struct maps_list maps = {0};
    CHECK(maps_read(self, false, &maps) == 0);
    model_adopt_maps(m, self, &maps);
    maps_release(&maps);
    feed_call(m, self, self, SC_MPROTECT, base + MIB, 2 * MIB, RW, 0, 0);
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"kind\":\"malloc_heap\"", "\"gained\":2097152,") == 1);
    free(out);
    munmap((void *)base, heap_max);
}

UNIT_MAIN(UNIT_CASE(brk_heap_reported_at_each_step_not_at_each_brk),
          UNIT_CASE(brk_result_wanted_only_where_it_can_matter),
          UNIT_CASE(brk_result_wanted_above_the_highest_with_min_size_0),
          UNIT_CASE(commits_into_a_reservation_cross_steps),
          UNIT_CASE(grown_parts_become_regions_to_dump),
          UNIT_CASE(mremap_growth_of_a_committed_area),
          UNIT_CASE(adopted_areas_grow_without_being_new_mmaps),
          UNIT_CASE(adopted_area_reported_at_the_next_multiple),
          UNIT_CASE(adopted_heap_begins_at_its_64_mib_boundary),
          UNIT_CASE(adopted_arena_heap_labelled_from_its_header))
