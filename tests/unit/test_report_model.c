/*
 * Unit tests for report_model.c: a hand-written events file
 * (tests/unit/data/report_events.jsonl) with known totals per call site,
 * thread and time step; then the rules one at a time, and bad input.
 *
 * The file, in seconds after 2026-01-01T00:00:00Z (M = MiB):
 *   0 exec of pid 100          6 dump of the 8M region: 1M resident, "hello" x3
 *   1 w1 maps 16M (alloc_a)    7 mremap moves the 8M region to 12M (+4M)
 *   2 w2 maps 8M (alloc_b);    8 a failed mmap (ENOMEM)
 *     pid 200 maps 2M, no -k   9 pid 100 exits
 *   3 w1 maps 4M (alloc_a)    10 detach from pid 200
 *   4 munmap of the 4M; 5 munmap of the first 4M of the 16M
 */
#include <stdio.h>
#include <stdlib.h>

#include "report_model.h"
#include "unit.h"

#define M (1024ULL * 1024)
#define T0 1767225600000000LL /* 2026-01-01T00:00:00Z in microseconds */

static struct report_model *load(const char *name)
{
    char path[512];
    const char *slash = strrchr(__FILE__, '/');
    snprintf(path, sizeof path, "%.*s/data/%s", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".", name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    struct report_model *m = report_model_new();
    char *line = NULL, err[256];
    size_t cap = 0;
    ssize_t n;
    while (m && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (report_model_add_line(m, line, (size_t)n, err, sizeof err) < 0) {
            printf("  %s: %s\n", name, err);
            report_model_free(m);
            m = NULL;
        }
    }
    free(line);
    fclose(f);
    return m;
}

static const struct report_group *group(const struct report_group *g, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(g[i].name, name) == 0)
            return &g[i];
    return NULL;
}

/* Each of lines[0..n) into m; false (the line said) at the first refused. */
static bool add_lines(struct report_model *m, const char *const lines[], size_t n)
{
    char err[128];
    for (size_t i = 0; i < n; i++) {
        if (report_model_add_line(m, lines[i], strlen(lines[i]), err, sizeof err) < 0) {
            printf("  refused: %s: %s\n", lines[i], err);
            return false;
        }
    }
    return true;
}

TEST(totals_per_site_and_thread)
{
    struct report_model *m = load("report_events.jsonl");
    CHECK(m != NULL);
    const struct report_view *v = report_model_finish(m, 11, 10);
    CHECK(v != NULL);
    CHECK_U64(v->count, 4);
    CHECK_U64(v->ever, 34 * M);
    CHECK_U64(v->held, 26 * M);
    CHECK_U64(v->peak, 30 * M);
    CHECK_U64(v->nsites, 3);
    /* most bytes ever first */
    CHECK_STR(v->sites[0].name, "alloc_a (prog)");
    CHECK_U64(v->sites[0].count, 2);
    CHECK_U64(v->sites[0].ever, 20 * M);
    CHECK_U64(v->sites[0].held, 12 * M); /* the 4M munmap'd, 4M of the 16M too */
    CHECK_U64(v->sites[0].peak, 20 * M);
    const struct report_group *b = group(v->sites, v->nsites, "alloc_b (prog)");
    CHECK(b && b->ever == 12 * M && b->held == 12 * M && b->count == 1);
    const struct report_group *none = group(v->sites, v->nsites, REPORT_NO_STACK);
    CHECK(none && none->ever == 2 * M && none->held == 2 * M);
    CHECK_U64(v->nthreads, 3);
    const struct report_group *w1 = group(v->threads, v->nthreads, "w1");
    CHECK(w1 && w1->ever == 20 * M && w1->held == 12 * M && w1->count == 2);
    const struct report_group *w2 = group(v->threads, v->nthreads, "w2");
    CHECK(w2 && w2->ever == 12 * M && w2->held == 12 * M);
    CHECK(v->have_stacks);
    CHECK_U64(v->events, 12);
    CHECK(v->first_us == T0 && v->last_us == T0 + 10000000);
    report_model_free(m);
}

TEST(time_steps)
{
    struct report_model *m = load("report_events.jsonl");
    CHECK(m != NULL);
    const struct report_view *v = report_model_finish(m, 11, 10);
    CHECK(v != NULL);
    CHECK_U64(v->npoints, 11);
    static const uint64_t mapped[11] = {0, 16, 26, 30, 26, 22, 22, 26, 26, 2, 2};
    static const uint64_t resident[11] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0};
    for (size_t p = 0; p < 11; p++) {
        CHECK(v->times[p] == T0 + (int64_t)p * 1000000);
        CHECK_U64(v->total_mapped[p], mapped[p] * M);
        CHECK_U64(v->total_resident[p], resident[p] * M);
    }
    /* bands by site add up to the total; alloc_a's band at each step */
    static const uint64_t alloc_a[11] = {0, 16, 16, 20, 16, 12, 12, 12, 12, 0, 0};
    CHECK_STR(v->by_site[0].name, "alloc_a (prog)");
    for (size_t p = 0; p < 11; p++) {
        uint64_t sum = 0;
        for (size_t s = 0; s < v->nby_site; s++)
            sum += v->by_site[s].mapped[p];
        CHECK_U64(sum, v->total_mapped[p]);
        CHECK_U64(v->by_site[0].mapped[p], alloc_a[p] * M);
    }
    report_model_free(m);
}

TEST(top_bands_and_other)
{
    struct report_model *m = load("report_events.jsonl");
    CHECK(m != NULL);
    const struct report_view *v = report_model_finish(m, 11, 1);
    CHECK(v != NULL);
    CHECK_U64(v->nby_site, 2);
    CHECK_STR(v->by_site[1].name, "other");
    CHECK_U64(v->by_site[1].mapped[3], 10 * M); /* alloc_b 8M + no stack 2M */
    report_model_free(m);
}

TEST(regions_dumps_and_ends)
{
    struct report_model *m = load("report_events.jsonl");
    CHECK(m != NULL);
    static const char meta[] = "{\"file\":\"100-20000000-8388608-1.bin\",\"pid\":100,"
                               "\"addr\":\"0x20000000\",\"resident_bytes\":1048576}";
    char err[128];
    CHECK(report_model_add_dump_meta(m, meta, sizeof meta - 1, err, sizeof err) == 0);
    const struct report_view *v = report_model_finish(m, 11, 10);
    CHECK(v != NULL);
    CHECK_U64(v->nregions, 4);
    const struct report_region *r = &v->regions[0]; /* the 16M, largest */
    CHECK_U64(r->addr, 0x10000000);
    CHECK_U64(r->ever, 16 * M);
    CHECK_U64(r->held, 12 * M);
    CHECK_STR(r->end, "exit");
    CHECK_STR(v->sites[r->site].name, "alloc_a (prog)");
    r = &v->regions[1]; /* the moved one */
    CHECK_U64(r->addr, 0x40000000);
    CHECK_U64(r->len, 12 * M);
    CHECK_U64(r->ever, 12 * M);
    CHECK(r->resident == (int64_t)M && r->dumps == 1);
    CHECK_STR(r->dump_path, "d/100-20000000-8388608-1.bin");
    CHECK_STR(r->dump_file, "100-20000000-8388608-1.bin");
    CHECK(r->nstrings == 1 && r->strings[0].count == 3);
    CHECK_STR(r->strings[0].text, "hello");
    CHECK_STR(r->comm, "w2");
    r = &v->regions[2]; /* the 4M, unmapped at 4 s */
    CHECK_U64(r->ever, 4 * M);
    CHECK_U64(r->held, 0);
    CHECK_STR(r->end, "munmap");
    CHECK(r->ended_us == T0 + 4000000);
    r = &v->regions[3]; /* pid 200's, held at the detach */
    CHECK_U64(r->held, 2 * M);
    CHECK_STR(r->end, "detach");
    CHECK_U64(v->nmarkers, 3);
    CHECK_STR(v->markers[0].kind, "exec");
    CHECK_STR(v->markers[1].kind, "exit");
    CHECK_STR(v->markers[2].kind, "detach");
    CHECK_U64(v->nnotes, 1); /* the failed mmap */
    CHECK(strstr(v->notes[0].text, "failed") != NULL && v->notes[0].count == 1);
    report_model_free(m);
}

TEST(stacks_root_first)
{
    struct report_model *m = load("report_events.jsonl");
    CHECK(m != NULL);
    const struct report_view *v = report_model_finish(m, 11, 10);
    CHECK(v != NULL);
    CHECK_U64(v->nstacks, 3);
    const struct report_stack *a = NULL;
    for (size_t i = 0; i < v->nstacks; i++)
        if (v->stacks[i].depth == 3 && strcmp(v->stacks[i].frames[1], "alloc_a (prog)") == 0)
            a = &v->stacks[i];
    CHECK(a != NULL);
    CHECK_STR(a->frames[0], "main (prog)");
    CHECK_STR(a->frames[2], "__mmap (libc.so.6)");
    CHECK(a->count == 2 && a->ever == 20 * M && a->held == 12 * M);
    report_model_free(m);
}

/* exec releases: nothing the old program mapped is held. */
TEST(exec_releases)
{
    struct report_model *m = report_model_new();
    CHECK(m != NULL);
    static const char *const lines[] = {
        "{\"event\":\"mmap\",\"ts\":\"2026-01-01T00:00:01Z\",\"pid\":5,\"tid\":5,\"comm\":\"a\","
        "\"addr\":\"0x1000\",\"len\":5000}",
        "{\"event\":\"exec\",\"ts\":\"2026-01-01T00:00:02.5Z\",\"pid\":5,\"tid\":5,\"comm\":\"b\"}",
    };
    CHECK(add_lines(m, lines, sizeof lines / sizeof lines[0]));
    const struct report_view *v = report_model_finish(m, 2, 5);
    CHECK(v != NULL);
    CHECK_U64(v->ever, 8192); /* rounded up to pages */
    CHECK_U64(v->held, 0);
    CHECK_STR(v->regions[0].end, "exec");
    CHECK(v->last_us - v->first_us == 1500000);
    report_model_free(m);
}

/* threshold and oom events are marks with their figures; unknown kinds,
 * skipped dumps and lost events are said, not dropped. */
TEST(marks_and_notes)
{
    struct report_model *m = report_model_new();
    CHECK(m != NULL);
    static const char *const lines[] = {
        "{\"event\":\"threshold\",\"ts\":\"2026-01-01T00:00:03Z\",\"pid\":5,\"tid\":5,"
        "\"comm\":\"a\",\"cgroup\":\"/pod\",\"state\":\"above\",\"usage\":943718400,"
        "\"limit\":1073741824,\"threshold\":838860800,\"regions\":[]}",
        "{\"event\":\"oom\",\"ts\":\"2026-01-01T00:00:02Z\",\"pid\":5,\"tid\":5,\"comm\":\"a\","
        "\"cgroup\":\"/pod\",\"oom_kill\":1,\"new_kills\":1,\"usage\":1073741824,\"limit\":null}",
        "{\"event\":\"grow\",\"ts\":\"2026-01-01T00:00:04Z\",\"pid\":5,\"tid\":5,\"comm\":\"a\"}",
        "{\"event\":\"skip\",\"ts\":\"2026-01-01T00:00:04Z\",\"pid\":5,\"tid\":5,\"comm\":\"a\","
        "\"addr\":\"0x1000\",\"len\":4096,\"reason\":\"--max-dumps reached\"}",
        "{\"event\":\"skip\",\"ts\":\"2026-01-01T00:00:05Z\",\"pid\":5,\"tid\":5,\"comm\":\"a\","
        "\"addr\":\"0x2000\",\"len\":4096,\"reason\":\"--max-dumps reached\"}",
    };
    CHECK(add_lines(m, lines, sizeof lines / sizeof lines[0]));
    const struct report_view *v = report_model_finish(m, 2, 5);
    CHECK(v != NULL);
    CHECK_U64(v->nmarkers, 2);
    CHECK_STR(v->markers[0].kind, "oom"); /* in time order */
    CHECK_STR(v->markers[0].text, "OOM kill (1 new) in /pod: 1.0 GiB used, no limit");
    CHECK_STR(v->markers[1].text, "above threshold 800.0 MiB in /pod: 900.0 MiB used, 1.0 GiB limit");
    CHECK_U64(v->nnotes, 2);
    CHECK_STR(v->notes[0].text, "events of a kind this report does not show: grow");
    CHECK_STR(v->notes[1].text, "dumps skipped: --max-dumps reached");
    CHECK_U64(v->notes[1].count, 2);
    report_model_free(m);
}

/* Schema 3: a region's top strings come in a strings event after its
 * dump (the dump has none); a strings event for a region not in the file
 * is said. */
TEST(strings_event)
{
    struct report_model *m = report_model_new();
    CHECK(m != NULL);
    static const char *const lines[] = {
        "{\"event\":\"mmap\",\"ts\":\"2026-01-01T00:00:01Z\",\"pid\":5,\"tid\":5,\"comm\":\"a\","
        "\"addr\":\"0x1000\",\"len\":8192}",
        "{\"event\":\"dump\",\"ts\":\"2026-01-01T00:00:02Z\",\"pid\":5,\"tid\":5,\"comm\":\"a\","
        "\"addr\":\"0x1000\",\"len\":8192,\"path\":\"d/5-1000-8192-1.bin\",\"bytes_read\":4096,"
        "\"resident_bytes\":4096,\"reason\":\"delay\"}",
        "{\"event\":\"strings\",\"ts\":\"2026-01-01T00:00:03Z\",\"pid\":5,\"tid\":5,"
        "\"comm\":\"a\",\"addr\":\"0x1000\",\"len\":8192,\"path\":\"d/5-1000-8192-1.strings\","
        "\"strings\":[{\"text\":\"token=abc\",\"count\":7},{\"text\":\"GET /\",\"count\":2}]}",
        "{\"event\":\"strings\",\"ts\":\"2026-01-01T00:00:03Z\",\"pid\":6,\"tid\":6,"
        "\"comm\":\"b\",\"addr\":\"0x9000\",\"len\":4096,\"path\":\"d/6-9000-4096-1.strings\","
        "\"strings\":[]}",
    };
    CHECK(add_lines(m, lines, sizeof lines / sizeof lines[0]));
    const struct report_view *v = report_model_finish(m, 2, 5);
    CHECK(v != NULL);
    const struct report_region *r = &v->regions[0];
    CHECK(r->dumps == 1 && r->nstrings == 2);
    CHECK_STR(r->strings[0].text, "token=abc");
    CHECK_U64(r->strings[0].count, 7);
    CHECK_STR(r->strings[1].text, "GET /");
    CHECK_U64(v->nnotes, 1);
    CHECK_STR(v->notes[0].text, "strings of regions not in the file");
    report_model_free(m);
}

TEST(bad_lines)
{
    static const char *const bad[] = {
        "{\"event\":\"mmap\"",                                   /* cut short */
        "[1,2]",                                                 /* no event */
        "{\"event\":\"mmap\",\"ts\":\"yesterday\",\"pid\":1}",     /* bad ts */
        "{\"event\":\"mmap\",\"ts\":\"2026-01-01T00:00:01Z\",\"pid\":1,\"len\":1}", /* no addr */
        "{\"event\":\"munmap\",\"ts\":\"2026-01-01T00:00:01Z\",\"pid\":1,\"addr\":\"12\",\"len\":1}",
        "{\"event\":\"exit\",\"ts\":\"2026-01-01T00:00:01Z\",\"pid\":-4}",
        "not json at all",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct report_model *m = report_model_new();
        char err[128] = "";
        CHECK(m != NULL);
        int rc = report_model_add_line(m, bad[i], strlen(bad[i]), err, sizeof err);
        report_model_free(m);
        if (rc != -1 || err[0] == '\0')
            printf("  accepted: %s\n", bad[i]);
        CHECK(rc == -1 && err[0] != '\0');
    }
}

UNIT_MAIN(UNIT_CASE(totals_per_site_and_thread), UNIT_CASE(time_steps),
          UNIT_CASE(top_bands_and_other), UNIT_CASE(regions_dumps_and_ends),
          UNIT_CASE(stacks_root_first), UNIT_CASE(exec_releases), UNIT_CASE(marks_and_notes),
          UNIT_CASE(strings_event), UNIT_CASE(bad_lines))
