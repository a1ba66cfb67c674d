/*
 * --adopt: which /proc/PID/maps lines become existing regions
 * (adopt_wanted), and the model fed synthetic events after adopting them:
 * one "existing" event each, then followed like any reported region (a
 * munmap of part of one reported, one of nothing adopted not), listed by
 * model_mapped (what --dump-on-threshold dumps) and dumped after --delay.
 *
 * --min-size is 1 MiB here, --max-size 64 MiB. Events are written as JSON
 * Lines to a temporary file, read back and counted.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "adopt.h"
#include "event.h"
#include "maps.h"
#include "model.h"
#include "output.h"
#include "syscalls.h"
#include "unit.h"

#define MIB (1024ULL * 1024)
#define A64 SYSCALL_ARCH_X86_64
#define PID 4545
#define X 0x7f0000000000ULL

static char out_path[] = "/tmp/mmapwatch-adopt-XXXXXX";
static uint64_t clock_ns = 1000;

static struct model *new_model(bool adopt)
{
    int fd = mkstemp(out_path);
    if (fd >= 0)
        close(fd);
    if (output_open(out_path, true) < 0)
        return NULL;
    struct model_config c = {.min_size = 1 * MIB, .max_size = 64 * MIB, .can_hold = true,
                             .adopt_regions = adopt};
    return model_new(&c);
}

static char *finish(struct model *m)
{
    model_free(m);
    output_close();
    char *text = calloc(1, 1 << 20);
    int fd = open(out_path, O_RDONLY);
    if (fd >= 0 && text) {
        ssize_t n = read(fd, text, (1 << 20) - 1);
        (void)n;
        close(fd);
    }
    unlink(out_path);
    memcpy(out_path + strlen(out_path) - 6, "XXXXXX", 6);
    return text;
}

static int lines_with(const char *text, const char *a, const char *b)
{
    int n = 0;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[2048];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        if (strstr(buf, a) && (!b || strstr(buf, b)))
            n++;
        line = end ? end + 1 : NULL;
    }
    return n;
}

static void send(struct model *m, struct event e)
{
    e.time_ns = clock_ns += 1000;
    e.arch = A64;
    e.pid = PID;
    e.tid = PID;
    e.comm = "unit";
    e.stopped = true;
    struct model_reply r;
    model_event(m, &e, &r);
}

static void munmap_call(struct model *m, uint64_t addr, uint64_t len)
{
    struct event e = {.kind = EVENT_CALL_ENTER};
    e.call.nr = (uint64_t)syscall_number(A64, SC_MUNMAP);
    e.call.args[0] = addr;
    e.call.args[1] = len;
    send(m, e);
    struct event d = {.kind = EVENT_CALL_DONE};
    send(m, d);
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
    send(m, (struct event){.kind = EVENT_SPAWN});
    struct maps_list maps = {.entries = maps_of_a_jvm, .count = NMAPS};
    model_adopt_existing(m, PID, &maps, clock_ns += 1000);
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
    char *out = finish(m);
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
