"""What launch mode may let through with fewer stops, and what it must not
lose. A brk that can neither shrink the heap nor take it past its next
--min-size step costs one stop (the filter's, at entry) instead of two
(growth.h growth_brk_enter); the step is seen at the result of the call
that crosses it. The fixture (brk_steps) grows the brk heap in hundreds of
small sbrk calls from two threads taking turns, shrinks it below a
reported part, has growth refused by RLIMIT_DATA, and writes every call
with its thread and the heap's end after it: the test works out from that
truth, by the growth rule, which call crosses each step, and compares.
Commits into a reported reservation by small mprotects must each still be
reported (the filter cannot tell a reported region from any other), with
the reservation's growth steps."""
import os
import re

import harness
from harness import events_of, fixture, hexaddr, read_truth, tmpdir, truth_of

MIB = 1 << 20
PAGE = 4096


def page_up(a):
    return (a + PAGE - 1) & ~(PAGE - 1)


def expected_heap_steps(truth, start, step):
    """The heap's growth steps by the rule of growth.h, from the fixture's
    calls: [(tid, committed)] for each call whose result passes a multiple
    of step (with step 0: each new highest end). The heap grew before the
    fixture's first call (malloc, for the thread): that is the start."""
    (begin,) = truth_of(truth, "begin")
    peak = page_up(hexaddr(begin["end"])) - start
    reached = peak // step if step else peak
    steps = []
    for r in truth_of(truth, "brk"):
        if not r["ok"]:
            continue
        peak = max(peak, page_up(hexaddr(r["end"])) - start)
        now = peak // step if step else peak
        if now > reached:
            steps.append((r["tid"], peak))
            reached = now
    return steps, page_up(hexaddr(begin["end"])) - start


def stops_of(stderr):
    """mmapwatch -v's count of stops: (syscall exits, seccomp entries)."""
    m = re.search(r"stops: \d+ total \(syscall (\d+), seccomp (\d+),", stderr)
    assert m, stderr
    return int(m.group(1)), int(m.group(2))


def run_brk(*opts):
    truth = os.path.join(tmpdir(), "truth")
    rc, events, err = harness.run_launch([fixture("brk_steps"), "brk", truth], "-v", *opts)
    assert rc == 0, f"mmapwatch exited {rc}; stderr={err!r}"
    truth = read_truth(truth)
    heap = [g for g in events_of(events, "growth") if g["kind"] == "brk_heap"]
    assert heap, events_of(events, "growth")
    start = hexaddr(heap[0]["addr"])
    return truth, events, err, heap, start


def test_brk_small_steps_reported_at_each_step_with_one_stop_each():
    dumps = os.path.join(tmpdir(), "dumps")
    truth, events, err, heap, start = run_brk("--min-size", "16M", "-k", "--delay", "1h",
                                              "--dump-dir", dumps)
    want, _ = expected_heap_steps(truth, start, 16 * MIB)
    assert len(want) == 4, want  # 16, 32 (before the shrink), 48, 64 MiB
    assert [(g["tid"], g["committed"]) for g in heap] == want, (heap, want)
    for g in heap:
        assert g["comm"] in ("brk_steps", "brk-up-2"), g
        assert any("grow_step" in (f.get("symbol") or "") for f in g["stack"]), g["stack"]
        # The part reported ends where the crossing call left the heap.
        assert hexaddr(g["new_addr"]) + g["new_len"] == start + g["committed"], g
    # The part of the 32 MiB step lies above the shrink to 20 MiB: dumped
    # before the shrink took it, the others at the exit.
    second = heap[1]
    reasons = {d["reason"] for d in events_of(events, "dump", addr=hexaddr(second["new_addr"]))}
    assert reasons == {"unmap"}, (reasons, second)
    for g in (heap[0], heap[2], heap[3]):
        reasons = [d["reason"] for d in events_of(events, "dump", addr=hexaddr(g["new_addr"]))]
        assert reasons == ["exit"], (reasons, g)
    # Every brk stops at its entry (the filter's stop); only the few whose
    # result matters (the heap's start, the crossings, the shrink, the
    # refused crossing) stop again at their exit.
    exits, entries = stops_of(err)
    calls = len(truth_of(truth, "brk"))
    assert entries >= calls, (entries, calls)
    assert exits <= len(want) + 10, (exits, calls, err)


def test_brk_every_gain_with_min_size_0():
    """The defaults: every new highest end of the heap is reported, by the
    thread whose call reached it; regrowth below it (after the shrink) and
    refused growth are not."""
    truth, events, err, heap, start = run_brk("--no-dump")
    want, begin = expected_heap_steps(truth, start, 0)
    got = [(g["tid"], g["committed"]) for g in heap if g["committed"] > begin]
    assert len(want) > 300 and got == want, (len(got), len(want))


def test_small_commits_into_a_reported_reservation_each_reported():
    truth_path = os.path.join(tmpdir(), "truth")
    rc, events, err = harness.run_launch([fixture("brk_steps"), "commit", truth_path],
                                         "--min-size", "16M", "-k", "--no-dump")
    assert rc == 0, f"mmapwatch exited {rc}; stderr={err!r}"
    truth = read_truth(truth_path)
    commits = truth_of(truth, "commit")
    assert len(commits) == 512, len(commits)
    got = [(e["tid"], hexaddr(e["addr"]), e["len"], e["prot"])
           for e in events_of(events, "mprotect")]
    want = [(c["tid"], hexaddr(c["addr"]), c["len"], "rw-") for c in commits]
    assert got == want, (got[:3], want[:3], len(got))
    (reservation,) = truth_of(truth, "reservation")
    growth = events_of(events, "growth")
    assert [(g["tid"], g["committed"]) for g in growth] == \
        [(commits[0]["tid"], 16 * MIB), (commits[0]["tid"], 32 * MIB)], growth
    for g in growth:
        assert g["addr"] == reservation["addr"] and g["comm"] == "commit-2", g
        assert any("commit_step" in (f.get("symbol") or "") for f in g["stack"]), g["stack"]
    (outside,) = truth_of(truth, "outside")
    assert not events_of(events, "mprotect", addr=hexaddr(outside["addr"])), outside


def test_small_commits_each_reported_with_min_size_0():
    """The defaults: every commit is an mprotect event and a growth event of
    the reservation, by the thread that made it."""
    truth_path = os.path.join(tmpdir(), "truth")
    rc, events, err = harness.run_launch([fixture("brk_steps"), "commit", truth_path],
                                         "--no-dump")
    assert rc == 0, f"mmapwatch exited {rc}; stderr={err!r}"
    truth = read_truth(truth_path)
    commits = truth_of(truth, "commit")
    (reservation,) = truth_of(truth, "reservation")
    start = hexaddr(reservation["addr"])
    inside = [e for e in events_of(events, "mprotect")
              if start <= hexaddr(e["addr"]) < start + reservation["len"]]
    assert [(e["tid"], hexaddr(e["addr"])) for e in inside] == \
        [(c["tid"], hexaddr(c["addr"])) for c in commits], len(inside)
    growth = [g for g in events_of(events, "growth") if g["addr"] == reservation["addr"]]
    assert [(g["tid"], g["committed"]) for g in growth] == \
        [(c["tid"], (k + 1) * c["len"]) for k, c in enumerate(commits)], len(growth)
