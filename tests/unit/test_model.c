/*
 * The model fed synthetic event sequences, no kernel tracee: regions
 * created, split and moved by map calls; exec ending them; vfork sharing
 * and fork copying an address space; holds wanted before an unmap of a
 * region not dumped yet; lost events marking what is uncertain; and
 * addresses reused across threads (a late munmap result never ends a
 * region mapped after the munmap began).
 *
 * Events are fed and the JSON Lines written counted through model_feed.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "dumper.h"
#include "event.h"
#include "model.h"
#include "model_feed.h"
#include "syscalls.h"
#include "unit.h"

#define MIB (1024ULL * 1024)
#define PID 4242

static struct model *new_model(bool can_hold)
{
    struct model_config c = {.min_size = 1 * MIB, .can_hold = can_hold};
    return feed_start(&c);
}

static size_t regions(struct model *m, pid_t pid)
{
    return model_region_count(m, pid, NULL);
}

#define X 0x7f0000000000ULL
#define Y 0x7f1000000000ULL

TEST(munmap_mprotect_mremap_split_and_move)
{
    struct model *m = new_model(true);
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_map_at(m, PID, PID, X, 16 * MIB);
    CHECK(regions(m, PID) == 1);
    feed_call(m, PID, PID, SC_MUNMAP, X + 4 * MIB, 4096, 0, 0, 0);
    CHECK(regions(m, PID) == 2); /* split around the hole */
    feed_call(m, PID, PID, SC_MPROTECT, X, 4096, PROT_READ, 0, 0);
    CHECK(regions(m, PID) == 3); /* the first page has its own prot */
    feed_call(m, PID, PID, SC_MREMAP, X + 8 * MIB, 8 * MIB, 8 * MIB, MREMAP_MAYMOVE, (int64_t)Y);
    CHECK(regions(m, PID) == 4); /* the tail moved to Y */
    feed_call(m, PID, PID, SC_MUNMAP, Y, 8 * MIB, 0, 0, 0);
    feed_call(m, PID, PID, SC_MUNMAP, X, 8 * MIB, 0, 0, 0);
    CHECK(regions(m, PID) == 0);
    /* A munmap of memory that was never a region is not reported. */
    feed_call(m, PID, PID, SC_MUNMAP, 0x1000, 4096, 0, 0, 0);
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"mmap\"", NULL) == 1);
    CHECK(lines_with(out, "\"event\":\"munmap\"", NULL) == 3);
    CHECK(lines_with(out, "\"event\":\"mprotect\"", NULL) == 1);
    CHECK(lines_with(out, "\"event\":\"mremap\"", NULL) == 1);
    free(out);
}

TEST(exec_ends_every_region)
{
    struct model *m = new_model(true);
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_map_at(m, PID, PID, X, 16 * MIB);
    feed_map_at(m, PID, PID, Y, 2 * MIB);
    CHECK(regions(m, PID) == 2);
    struct event e = {.kind = EVENT_EXEC, .pid = PID, .tid = PID};
    e.exec.former_tid = PID;
    feed_event(m, e);
    CHECK(regions(m, PID) == 0);
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"exec\"", "\"regions_ended\":2") == 1);
    free(out);
}

TEST(non_leader_exec_takes_the_leaders_tid)
{
    struct model *m = new_model(true);
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_spawn(m, PID, PID + 1, PID, false);
    feed_map_at(m, PID, PID + 1, X, 16 * MIB);
    struct event e = {.kind = EVENT_EXEC, .pid = PID, .tid = PID};
    e.exec.former_tid = PID + 1;
    feed_event(m, e);
    CHECK(regions(m, PID) == 0);
    CHECK(!model_follows(m, PID + 1)); /* the execing thread carries on as PID */
    CHECK(model_follows(m, PID));
    free(feed_finish(m));
}

TEST(vfork_shares_fork_copies)
{
    struct model *m = new_model(true);
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_map_at(m, PID, PID, X, 16 * MIB);
    /* vfork: the child's mappings are the parent's */
    feed_spawn(m, PID + 10, PID + 10, PID, true);
    feed_map_at(m, PID + 10, PID + 10, Y, 16 * MIB);
    CHECK(regions(m, PID) == 2);
    /* ... until it execs: a new space, the parent keeps both */
    struct event e = {.kind = EVENT_EXEC, .pid = PID + 10, .tid = PID + 10};
    e.exec.former_tid = PID + 10;
    feed_event(m, e);
    CHECK(regions(m, PID) == 2);
    CHECK(regions(m, PID + 10) == 0);
    /* fork: a copy; the child's munmap leaves the parent's region alone */
    feed_spawn(m, PID + 20, PID + 20, PID, false);
    CHECK(regions(m, PID + 20) == 2);
    feed_call(m, PID + 20, PID + 20, SC_MUNMAP, X, 16 * MIB, 0, 0, 0);
    CHECK(regions(m, PID + 20) == 1);
    CHECK(regions(m, PID) == 2);
    free(feed_finish(m));
}

/* A dumper whose worker dumps into a scratch directory (of our own
 * process's memory: nothing is mapped at the fake addresses, so those
 * dumps fail, which is not what is tested here). */
static struct model *dump_model;

static bool extent(void *ctx, pid_t pid, uint64_t id, pid_t mapper, uint64_t *start,
                   uint64_t *end, int *prot, pid_t *reader)
{
    (void)ctx;
    return model_region_extent(dump_model, pid, id, mapper, start, end, prot, reader);
}

static void release(void *ctx, pid_t tid)
{
    (void)ctx;
    (void)tid;
}

static struct dumper *scratch_dumper(char *dir)
{
    if (!mkdtemp(dir))
        return NULL;
    int fd;
    if (dump_dir_open(dir, &fd) < 0)
        return NULL;
    struct dumper_config c = {.dir_fd = fd, .dir_path = dir, .delay_ns = 3600ULL * 1000000000ULL,
                              .on_unmap = true, .max_bytes = UINT64_MAX,
                              .region_extent = extent, .release = release};
    return dumper_new(&c);
}

static void remove_dir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return;
}

static unsigned holds_for_unmap(bool can_hold, unsigned *unrelated)
{
    char dir[] = "/tmp/mmapwatch-model-dumps-XXXXXX";
    struct model *m = new_model(can_hold);
    dump_model = m;
    struct dumper *d = m ? scratch_dumper(dir) : NULL;
    if (!d) {
        free(feed_finish(m));
        return 99;
    }
    model_set_dumper(m, d);
    feed_spawn(m, getpid(), getpid(), 0, false);
    feed_map_at(m, getpid(), getpid(), X, 16 * MIB);
    *unrelated = feed_enter(m, getpid(), getpid(), SC_MUNMAP, Y, 4096, 0, 0).holds;
    feed_done(m, getpid(), getpid(), 0);
    unsigned holds = feed_enter(m, getpid(), getpid(), SC_MUNMAP, X, 16 * MIB, 0, 0).holds;
    feed_done(m, getpid(), getpid(), 0);
    dumper_cancel(d);
    while (!dumper_flush(d))
        dumper_collect(d);
    dumper_free(d);
    free(feed_finish(m));
    remove_dir(dir);
    return holds;
}

TEST(holds_wanted_before_an_unmap_of_an_undumped_region)
{
    unsigned unrelated = 7;
    CHECK(holds_for_unmap(true, &unrelated) == 1);
    CHECK(unrelated == 0);
    /* A source that cannot hold gets no hold (the dump races the unmap). */
    CHECK(holds_for_unmap(false, &unrelated) == 0);
}

/* The source lost count records over window_ns, voiding calls_voided calls. */
static void feed_lost(struct model *m, uint64_t count, uint64_t window_ns, uint64_t calls_voided)
{
    struct event e = {.kind = EVENT_LOST, .pid = PID, .tid = PID};
    e.lost.count = count;
    e.lost.from_ns = feed_now_ns();
    e.lost.to_ns = e.lost.from_ns + window_ns;
    e.lost.calls_voided = calls_voided;
    feed_event(m, e);
}

TEST(voided_call_is_not_applied_and_a_loss_marks_regions)
{
    struct model *m = new_model(true);
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_map_at(m, PID, PID, X, 16 * MIB);
    feed_map_at(m, PID, PID, Y, 16 * MIB);
    feed_enter(m, PID, PID, SC_MUNMAP, X, 16 * MIB, 0, 0);
    /* The source voided the munmap (its pairing may be wrong): its result,
     * should one come, is not applied. */
    feed_event(m, (struct event){.kind = EVENT_CALL_VOIDED, .pid = PID, .tid = PID});
    feed_lost(m, 12, 5000000, 1);
    feed_done(m, PID, PID, 0);
    size_t uncertain = 0;
    CHECK(model_region_count(m, PID, &uncertain) == 2);
    CHECK(uncertain == 2);
    /* A region mapped after the loss is certain. */
    feed_map_at(m, PID, PID, Y + 64 * MIB, 16 * MIB);
    CHECK(model_region_count(m, PID, &uncertain) == 3);
    CHECK(uncertain == 2);
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"lost\"", "\"count\":12") == 1);
    CHECK(lines_with(out, "\"calls_voided\":1", "\"regions_uncertain\":2") == 1);
    CHECK(lines_with(out, "\"event\":\"munmap\"", NULL) == 0);
    free(out);
}

/* A long window can take several calls of one thread; the source counts
 * them all, and that count is said. A call in flight that the source did
 * not void (its records carry marks that say no record of its thread was
 * lost) is paired across the loss. */
TEST(lost_event_says_every_call_the_source_voided)
{
    struct model *m = new_model(true);
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_enter(m, PID, PID, SC_MMAP, 0, 16 * MIB, 0, 0);
    feed_lost(m, 30, 5000000, 40);
    feed_done(m, PID, PID, X);
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"lost\"", "\"calls_voided\":40") == 1);
    CHECK(lines_with(out, "\"event\":\"mmap\"", "\"len\":16777216") == 1);
    free(out);
}

/* Thread A unmaps X; thread B's mmap gets X; B's result comes before A's. */
TEST(address_reused_across_threads_munmap)
{
    struct model *m = new_model(true);
    CHECK(m);
    const pid_t a = PID + 1, b = PID + 2;
    feed_spawn(m, PID, PID, 0, false);
    feed_spawn(m, PID, a, PID, false);
    feed_spawn(m, PID, b, PID, false);
    feed_map_at(m, PID, a, X, 16 * MIB);
    feed_enter(m, PID, a, SC_MUNMAP, X, 16 * MIB, 0, 0);
    feed_map_at(m, PID, b, X, 16 * MIB);
    CHECK(regions(m, PID) == 1);
    feed_done(m, PID, a, 0); /* late: must not end B's region */
    CHECK(regions(m, PID) == 1);
    feed_call(m, PID, b, SC_MUNMAP, X, 16 * MIB, 0, 0, 0);
    CHECK(regions(m, PID) == 0);
    char *out = feed_finish(m);
    /* Each munmap reported once, by the thread that made it. */
    CHECK(lines_with(out, "\"event\":\"munmap\"", "\"tid\":4243,") == 1);
    CHECK(lines_with(out, "\"event\":\"munmap\"", "\"tid\":4244,") == 1);
    CHECK(lines_with(out, "\"event\":\"mmap\"", NULL) == 2);
    free(out);
}

/* The same with the old region moved away by an mremap in flight. */
TEST(address_reused_across_threads_mremap)
{
    struct model *m = new_model(true);
    CHECK(m);
    const pid_t a = PID + 1, b = PID + 2;
    feed_spawn(m, PID, PID, 0, false);
    feed_spawn(m, PID, a, PID, false);
    feed_spawn(m, PID, b, PID, false);
    feed_map_at(m, PID, a, X, 16 * MIB);
    feed_enter(m, PID, a, SC_MREMAP, X, 16 * MIB, 32 * MIB, MREMAP_MAYMOVE);
    feed_map_at(m, PID, b, X, 16 * MIB);
    feed_done(m, PID, a, (int64_t)Y);
    CHECK(regions(m, PID) == 2); /* B's at X, A's moved to Y */
    feed_call(m, PID, a, SC_MUNMAP, Y, 32 * MIB, 0, 0, 0);
    feed_call(m, PID, b, SC_MUNMAP, X, 16 * MIB, 0, 0, 0);
    CHECK(regions(m, PID) == 0);
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"mremap\"", "\"tid\":4243,") == 1);
    CHECK(lines_with(out, "\"event\":\"munmap\"", NULL) == 2);
    free(out);
}

/* An mprotect that entered before a region existed does not touch it. */
TEST(mprotect_applies_to_regions_older_than_its_entry)
{
    struct model *m = new_model(true);
    CHECK(m);
    const pid_t a = PID + 1, b = PID + 2;
    feed_spawn(m, PID, PID, 0, false);
    feed_spawn(m, PID, a, PID, false);
    feed_spawn(m, PID, b, PID, false);
    feed_map_at(m, PID, a, X, 16 * MIB);
    feed_call(m, PID, a, SC_MUNMAP, X, 16 * MIB, 0, 0, 0);
    feed_map_at(m, PID, a, X, 32 * MIB); /* A's old region gone; a new one over it */
    feed_enter(m, PID, b, SC_MPROTECT, X + 16 * MIB, 4096, PROT_READ, 0);
    feed_enter(m, PID, a, SC_MUNMAP, X, 32 * MIB, 0, 0);
    feed_map_at(m, PID, PID, X, 32 * MIB);  /* the leader gets the address */
    feed_done(m, PID, b, 0);                /* late: the leader's region is newer */
    feed_done(m, PID, a, 0);
    CHECK(regions(m, PID) == 1);       /* unsplit by B's mprotect */
    char *out = feed_finish(m);
    CHECK(lines_with(out, "\"event\":\"munmap\"", NULL) == 2);
    free(out);
}

/* A reused address with no unmap in flight: the old region ends where
 * the new one begins (said on stderr), its first half stays. */
TEST(reuse_without_a_call_in_flight_ends_the_region)
{
    struct model *m = new_model(true);
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_map_at(m, PID, PID, X, 16 * MIB);
    feed_map_at(m, PID, PID, X + 8 * MIB, 16 * MIB);
    CHECK(regions(m, PID) == 2);
    feed_call(m, PID, PID, SC_MUNMAP, X, 8 * MIB, 0, 0, 0);
    CHECK(regions(m, PID) == 1);
    free(feed_finish(m));
}

/* Runs feed_map_at with stderr in a file; returns whether it said "not seen". */
static bool map_says_not_seen(struct model *m, pid_t tid, uint64_t addr, uint64_t len)
{
    char path[] = "/tmp/mmapwatch-model-err-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    fflush(stderr);
    dup2(fd, 2);
    feed_map_at(m, PID, tid, addr, len);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[4096] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return strstr(buf, "not seen") != NULL;
}

/* After lost records the regions then mapped are uncertain: their unmap
 * may have been lost. An mmap over one ends it without a second warning
 * (the lost event said so); over a certain region it still warns. */
TEST(reuse_of_an_uncertain_region_is_not_warned_twice)
{
    struct model *m = new_model(false);
    CHECK(m);
    feed_spawn(m, PID, PID, 0, false);
    feed_map_at(m, PID, PID, X, 16 * MIB);
    feed_lost(m, 3, 1000, 0);
    feed_map_at(m, PID, PID, Y, 16 * MIB); /* after the loss: certain */
    CHECK(!map_says_not_seen(m, PID, X, 16 * MIB));
    CHECK(map_says_not_seen(m, PID, Y, 16 * MIB));
    CHECK(regions(m, PID) == 2);
    free(feed_finish(m));
}

UNIT_MAIN(UNIT_CASE(munmap_mprotect_mremap_split_and_move), UNIT_CASE(exec_ends_every_region),
          UNIT_CASE(non_leader_exec_takes_the_leaders_tid), UNIT_CASE(vfork_shares_fork_copies),
          UNIT_CASE(holds_wanted_before_an_unmap_of_an_undumped_region),
          UNIT_CASE(voided_call_is_not_applied_and_a_loss_marks_regions),
          UNIT_CASE(lost_event_says_every_call_the_source_voided),
          UNIT_CASE(address_reused_across_threads_munmap),
          UNIT_CASE(address_reused_across_threads_mremap),
          UNIT_CASE(mprotect_applies_to_regions_older_than_its_entry),
          UNIT_CASE(reuse_without_a_call_in_flight_ends_the_region),
          UNIT_CASE(reuse_of_an_uncertain_region_is_not_warned_twice))
