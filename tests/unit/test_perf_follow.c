/*
 * Unit tests for perf_follow.c with synthetic events in time order: a
 * target's records pass and a stranger's do not; children of a followed
 * process (and theirs) are followed, a stranger's children are not; a pid
 * reused by a stranger's fork stops being followed; losses always pass.
 */
#include "perf_follow.h"
#include "unit.h"

static struct perf_ev ev_of(enum perf_ev_kind kind, pid_t pid, pid_t tid)
{
    return (struct perf_ev){.kind = kind, .pid = pid, .tid = tid};
}

static struct perf_ev spawn(pid_t parent, pid_t child_pid, pid_t child_tid)
{
    struct perf_ev e = ev_of(PERF_EV_SPAWN, child_pid, child_tid);
    e.parent_pid = parent;
    e.parent_tid = parent;
    return e;
}

TEST(targets_pass_strangers_do_not)
{
    struct perf_follow *f = perf_follow_new();
    CHECK(f && perf_follow_add(f, 100) == 0 && perf_follow_add(f, 50) == 0);
    CHECK(perf_follow_add(f, 100) == 0); /* twice is once */
    size_t n;
    const pid_t *pids = perf_follow_pids(f, &n);
    CHECK(n == 2 && pids[0] == 50 && pids[1] == 100);
    struct perf_ev e = ev_of(PERF_EV_MAP_CALL, 100, 101); /* a thread of the target */
    CHECK(perf_follow_pass(f, &e));
    e = ev_of(PERF_EV_MAP_CALL, 200, 200);
    CHECK(!perf_follow_pass(f, &e));
    e = ev_of(PERF_EV_EXEC, 100, 100);
    CHECK(perf_follow_pass(f, &e));
    e = ev_of(PERF_EV_COMM, 200, 201);
    CHECK(!perf_follow_pass(f, &e));
    e = ev_of(PERF_EV_LOST, 0, 0);
    CHECK(perf_follow_pass(f, &e));
    /* a thread created in the target, and one in a stranger */
    e = spawn(100, 100, 102);
    CHECK(perf_follow_pass(f, &e));
    e = spawn(200, 200, 202);
    CHECK(!perf_follow_pass(f, &e));
    perf_follow_free(f);
}

TEST(descendants_are_followed)
{
    struct perf_follow *f = perf_follow_new();
    CHECK(f && perf_follow_add(f, 100) == 0);
    struct perf_ev e = spawn(100, 300, 300);
    CHECK(perf_follow_pass(f, &e) && perf_follow_has(f, 300));
    e = spawn(300, 301, 301); /* a grandchild */
    CHECK(perf_follow_pass(f, &e) && perf_follow_has(f, 301));
    e = ev_of(PERF_EV_MAP_CALL, 301, 301);
    CHECK(perf_follow_pass(f, &e));
    e = spawn(200, 400, 400); /* a stranger's child */
    CHECK(!perf_follow_pass(f, &e) && !perf_follow_has(f, 400));
    e = ev_of(PERF_EV_MAP_CALL, 400, 400);
    CHECK(!perf_follow_pass(f, &e));
    perf_follow_free(f);
}

TEST(pid_reused_by_a_stranger_is_forgotten)
{
    struct perf_follow *f = perf_follow_new();
    CHECK(f && perf_follow_add(f, 100) == 0);
    struct perf_ev e = spawn(100, 300, 300);
    CHECK(perf_follow_pass(f, &e));
    e = ev_of(PERF_EV_THREAD_EXIT, 300, 300);
    CHECK(perf_follow_pass(f, &e)); /* its last records still pass */
    e = spawn(200, 300, 300);       /* pid 300 again, a stranger's child */
    CHECK(!perf_follow_pass(f, &e) && !perf_follow_has(f, 300));
    e = ev_of(PERF_EV_MAP_CALL, 300, 300);
    CHECK(!perf_follow_pass(f, &e));
    CHECK(perf_follow_has(f, 100));
    perf_follow_free(f);
    perf_follow_free(NULL);
}

UNIT_MAIN(UNIT_CASE(targets_pass_strangers_do_not), UNIT_CASE(descendants_are_followed),
          UNIT_CASE(pid_reused_by_a_stranger_is_forgotten))
