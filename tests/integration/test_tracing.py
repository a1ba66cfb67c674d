"""What mmapwatch reports about a traced program, checked against the truth
the fixture writes itself (tests/fixtures/trace_*.c).

Most tests run twice: launch mode (mmapwatch --json -o FILE -- fixture) and
attach mode (mmapwatch --json -o - -p PID on a fixture that printed
"ready PID" and waits for a byte on stdin, written only after mmapwatch
reported "attach"). Sets are compared exactly: each truth record must appear
once with the same pid/tid/address/length, and where the fixture is the
only source of such events (distinct lengths, or attach mode after the
handshake) nothing else may appear.
"""
import collections
import json
import os
import shutil
import subprocess

import harness
from harness import (run_mmapwatch, events_of, fixture, hexaddr, read_events, read_truth, run_launch,
                     send_go, start_fixture, tmpdir, truth_of, wait_fixture)

MIB = 1024 * 1024


# --------------------------------------------------------------------------
# helpers


def truth_path():
    return os.path.join(tmpdir(), "truth")


def launch(name, *args, opts=(), expect_rc=0):
    """Runs fixture NAME (args after the truth file) in launch mode;
    returns (events, truth records)."""
    truth = truth_path()
    rc, events, err = run_launch([fixture(name), truth, *args], *opts)
    assert rc == expect_rc, f"mmapwatch exited {rc}, expected {expect_rc}; stderr={err!r}"
    harness.check_event_fields(events)
    return events, read_truth(truth)


def launch_args(name, before, after, opts=(), expect_rc=0):
    """Like launch(), for fixtures taking flags BEFORE the truth file."""
    truth = truth_path()
    rc, events, err = run_launch([fixture(name), *before, truth, *after], *opts)
    assert rc == expect_rc, f"mmapwatch exited {rc}, expected {expect_rc}; stderr={err!r}"
    harness.check_event_fields(events)
    return events, read_truth(truth)


def attach_args(name, before, after, opts=(), expect_fixture_rc=0):
    """Like attach(), for fixtures taking flags BEFORE the truth file."""
    return attach(name, *after, opts=opts, expect_fixture_rc=expect_fixture_rc,
                  flags=before)


def attach(name, *args, opts=(), expect_fixture_rc=0, flags=(), with_stderr=False):
    """Runs fixture NAME -w in attach mode; returns (events, truth, attach
    event), and mmapwatch's stderr after them with with_stderr. Events are
    those mmapwatch wrote from its start to its end."""
    truth = truth_path()
    p, pid = start_fixture([fixture(name), "-w", *flags, truth, *args])
    # (start_attach_many: events may follow "attach" at once, e.g. from
    # trace_relay's threads, and must not be lost in a pipe buffer)
    w = harness.start_attach_many([pid], *opts)
    attach_ev = [e for e in w.events if e["event"] == "attach"]
    assert len(attach_ev) == 1 and attach_ev[0]["pid"] == pid, w.events
    send_go(p)
    wait_fixture(p, expect_fixture_rc)
    rc, events, err = harness.finish_attach_many(w)
    assert rc == 0, f"attach mode: mmapwatch exited {rc} after its target ended; stderr={err!r}"
    harness.check_event_fields(events)
    if with_stderr:
        return events, read_truth(truth), attach_ev[0], err
    return events, read_truth(truth), attach_ev[0]


def key_of(kind, rec):
    """Comparable identity of a truth record or a JSON event of one kind."""
    if kind == "mmap":
        return (rec["pid"], rec["tid"], hexaddr(rec["addr"]), rec["len"])
    if kind == "munmap":
        return (rec["pid"], rec["tid"], hexaddr(rec["addr"]), rec["len"])
    if kind == "mprotect":
        return (rec["pid"], rec["tid"], hexaddr(rec["addr"]), rec["len"], rec["prot"])
    if kind == "mremap":
        return (rec["pid"], rec["tid"], hexaddr(rec["old_addr"]), rec["old_len"],
                hexaddr(rec["addr"]), rec["len"], frozenset(rec["flags"].split("|")))
    raise ValueError(kind)


def assert_each_once(events, truth, kind, what=""):
    """Every truth record of KIND appears as exactly one event of KIND."""
    have = collections.Counter(key_of(kind, e) for e in events_of(events, kind))
    for rec in truth:
        k = key_of(kind, rec)
        assert have[k] == 1, (
            f"{what}{kind} {rec} reported {have[k]} times, expected once; "
            f"{kind} events: {events_of(events, kind)}")


def assert_exact(events, truth, kind, what=""):
    """The events of KIND are exactly the truth records of KIND."""
    want = collections.Counter(key_of(kind, r) for r in truth)
    have = collections.Counter(key_of(kind, e) for e in events_of(events, kind))
    assert have == want, (f"{what}{kind} events differ from the truth: "
                          f"missing {sorted(want - have)}, unexpected {sorted(have - want)}")


def find_mmap(events, rec):
    k = key_of("mmap", rec)
    found = [e for e in events_of(events, "mmap") if key_of("mmap", e) == k]
    assert len(found) == 1, f"mmap {rec} reported {len(found)} times: {events_of(events, 'mmap')}"
    return found[0]


def exits_by_pid(events):
    result = collections.defaultdict(list)
    for e in events_of(events, "exit"):
        result[e["pid"]].append(e)
    return result


def assert_exit(events, pid, status, signal=None):
    ex = exits_by_pid(events)[pid]
    assert len(ex) == 1, f"expected one exit event for pid {pid}, got {ex}"
    assert ex[0]["status"] == status, f"pid {pid}: exit status {ex[0]}, expected {status}"
    if signal is None:
        assert "signal" not in ex[0], f"pid {pid} exited normally, but {ex[0]}"
    else:
        assert ex[0].get("signal") == signal, f"pid {pid}: expected signal {signal}: {ex[0]}"


def index_of(events, ev):
    return next(i for i, e in enumerate(events) if e is ev)


# --------------------------------------------------------------------------
# threads and fork


def check_threads(events, truth):
    maps = truth_of(truth, "mmap")
    assert len(maps) == 7, f"fixture wrote {len(maps)} maps: {truth}"
    # Exactly the truth among the mmaps of those (distinct, odd) lengths.
    lens = {r["len"] for r in maps}
    assert len(lens) == 7
    assert_exact([e for e in events if e.get("len") in lens], maps, "mmap")
    for rec in maps:
        ev = find_mmap(events, rec)
        assert ev["comm"] == rec["comm"], f"comm {ev['comm']!r}, expected {rec['comm']!r}: {ev}"
        assert ev["prot"] == "rw-" and ev["flags"] == "MAP_PRIVATE|MAP_ANONYMOUS", ev
        assert ev["fd"] == -1 and ev["offset"] == 0, ev
    by_comm = {r["comm"]: r for r in maps}
    parent = by_comm["trace_threads"]["pid"]
    child = by_comm["fork-child"]["pid"]
    assert parent == by_comm["trace_threads"]["tid"]
    assert child != parent and by_comm["fork-child"]["tid"] == child
    assert by_comm["child-th"]["pid"] == child and by_comm["child-th"]["tid"] != child
    tids = {by_comm[f"arena-{i}"]["tid"] for i in range(4)}
    assert len(tids) == 4 and parent not in tids
    assert all(by_comm[f"arena-{i}"]["pid"] == parent for i in range(4))
    assert_exit(events, parent, 0)
    assert_exit(events, child, 0)


def test_threads_fork_launch():
    events, truth = launch("trace_threads")
    check_threads(events, truth)


def test_threads_fork_attach():
    events, truth, att = attach("trace_threads")
    # main + arena-0..3 exist (and wait) when mmapwatch attaches
    assert att["threads"] == 5, f"attach event: {att}"
    check_threads(events, truth)


def test_attach_many_threads():
    """40 threads waiting when mmapwatch attaches: all seized, all followed."""
    events, truth, att = attach_args("trace_threads", ["-n", "40"], [])
    assert att["threads"] == 41, f"attach event: {att}"
    maps = truth_of(truth, "mmap")
    assert len(maps) == 43, f"fixture wrote {len(maps)} maps"
    lens = {r["len"] for r in maps}
    assert len(lens) == 43
    assert_exact([e for e in events if e.get("len") in lens], maps, "mmap")
    for rec in maps:
        assert find_mmap(events, rec)["comm"] == rec["comm"]


def test_attach_during_thread_churn():
    """Attach while relay threads keep creating their successors and
    exiting: a thread missed while seizing would lose its whole chain.
    ptrace follows each new thread from its birth and must miss none; the
    perf source opens each thread's events after a pass over its threads
    and may fall behind chains that outrun it, but then it must say so
    (never a silent loss)."""
    for _ in range(3):
        events, truth, _, err = attach("trace_relay", with_stderr=True)
        maps = truth_of(truth, "mmap")
        assert len(maps) == 3, truth
        reported = [e for e in events if e.get("len") in {r["len"] for r in maps}]
        if "are not followed" in err and harness.DEFAULT_SOURCE == harness.PERF:
            maps = [r for r in maps if key_of("mmap", r) in
                    {key_of("mmap", e) for e in events_of(reported, "mmap")}]
        assert_exact(reported, maps, "mmap", f"stderr={err!r}: ")
        for rec in maps:
            assert find_mmap(events, rec)["comm"] == "relay-last"
        assert_exit(events, truth_of(truth, "mmap")[0]["pid"], 0)


# --------------------------------------------------------------------------
# --min-size

MIN_SIZES = [4096, MIB, 4 * MIB - 4096, 4 * MIB - 1, 4 * MIB, 4 * MIB + 1,
             4 * MIB + 4096, 8 * MIB]


def check_min_size(events, truth, threshold):
    maps = truth_of(truth, "mmap")
    assert [r["len"] for r in maps] == MIN_SIZES, truth
    # The program loader's own maps are all below 4 MiB, so with this
    # threshold the fixture's big maps are the only mmaps to report.
    want = [r for r in maps if r["len"] >= threshold]
    assert_exact(events, want, "mmap", f"--min-size {threshold}: ")
    small = [e for e in events_of(events, "mmap") if e["len"] < threshold]
    assert not small, f"--min-size {threshold} reported smaller maps: {small}"


def test_min_size_launch():
    for spelling in ("4M", "4194304", "4MiB"):
        events, truth = launch("trace_map", *map(str, MIN_SIZES),
                               opts=("--min-size", spelling))
        check_min_size(events, truth, 4 * MIB)


def test_min_size_attach():
    events, truth, _ = attach("trace_map", *map(str, MIN_SIZES), opts=("-m", "4M"))
    check_min_size(events, truth, 4 * MIB)


def test_min_size_zero_reports_all():
    events, truth = launch("trace_map", *map(str, MIN_SIZES), opts=("--min-size", "0"))
    assert_each_once(events, truth_of(truth, "mmap"), "mmap")


# --------------------------------------------------------------------------
# region lifecycle: munmap (whole, head, middle, tail), mremap (FIXED move,
# grow), mprotect (commit part of a reservation)

LIFE_KINDS = ("mmap", "munmap", "mremap", "mprotect")


def check_lifecycle_all(events, truth, exact):
    pid = truth[0]["pid"]
    for kind in LIFE_KINDS:
        recs = truth_of(truth, kind)
        assert recs, f"fixture recorded no {kind}"
        if exact:
            assert_exact(events, recs, kind)
        else:
            assert_each_once(events, recs, kind)
    for e in events_of(events, "mmap"):
        rec = [r for r in truth_of(truth, "mmap") if key_of("mmap", r) == key_of("mmap", e)]
        if rec:
            assert e["prot"] == rec[0]["prot"], f"prot {e['prot']!r}, truth {rec[0]}"
    for e in events_of(events, "mremap"):
        assert e["pid"] == pid
    assert_exit(events, pid, 0)


def check_lifecycle_big(events, truth, exact):
    """--min-size 1M: the big=1 records appear, the big=0 ones do not."""
    for kind in LIFE_KINDS:
        big = [r for r in truth_of(truth, kind) if r["big"] == 1]
        small = [r for r in truth_of(truth, kind) if r["big"] == 0]
        assert big, f"fixture recorded no big {kind}"
        if exact:
            assert_exact(events, big, kind, "--min-size 1M: ")
        else:
            assert_each_once(events, big, kind, "--min-size 1M: ")
        for r in small:
            # same place and length (a later region may start where an
            # earlier small one was)
            hits = [e for e in events_of(events, kind)
                    if (hexaddr(e["addr"]), e["len"]) == (hexaddr(r["addr"]), r["len"])]
            assert not hits, f"--min-size 1M reported {kind} of a small region: {hits}"


def test_lifecycle_launch():
    events, truth = launch("trace_lifecycle")
    check_lifecycle_all(events, truth, exact=False)


def test_lifecycle_launch_min_size():
    events, truth = launch("trace_lifecycle", opts=("--min-size", "1M"))
    check_lifecycle_big(events, truth, exact=False)


def test_lifecycle_attach():
    # After the handshake the fixture makes no map call but its own.
    events, truth, _ = attach("trace_lifecycle")
    check_lifecycle_all(events, truth, exact=True)


def test_lifecycle_attach_min_size():
    events, truth, _ = attach("trace_lifecycle", opts=("--min-size", "1M"))
    check_lifecycle_big(events, truth, exact=True)


# --------------------------------------------------------------------------
# exec by a thread that is not the leader


def check_exec_thread(events, truth):
    pre = truth_of(truth, "pre")[0]
    pid, old_tid = pre["pid"], pre["tid"]
    assert old_tid != pid
    pre_map, post_map = truth_of(truth, "mmap")
    assert (pre_map["pid"], pre_map["tid"], pre_map["comm"]) == (pid, old_tid, "execer"), truth
    # the exec'd image runs as the old pid (the tid took the leader's place)
    assert (post_map["pid"], post_map["tid"], post_map["comm"]) == (pid, pid, "trace_map"), truth

    pre_ev, post_ev = find_mmap(events, pre_map), find_mmap(events, post_map)
    assert pre_ev["comm"] == "execer", pre_ev
    assert post_ev["comm"] == "trace_map", post_ev
    i_pre, i_post = index_of(events, pre_ev), index_of(events, post_ev)
    execs = [(i, e) for i, e in enumerate(events)
             if e["event"] == "exec" and i_pre < i]
    assert len(execs) == 1, f"expected one exec event after the thread's mmap: {execs}"
    i_exec, exec_ev = execs[0]
    assert exec_ev["pid"] == pid and exec_ev["tid"] in (pid, old_tid), exec_ev
    assert isinstance(exec_ev["regions_ended"], int) and exec_ev["regions_ended"] >= 1, exec_ev
    assert i_pre < i_exec < i_post, "events out of order: pre-exec mmap, exec, post-exec mmap"
    stale = [e for e in events[i_exec + 1:] if e["tid"] == old_tid]
    assert not stale, f"events with the vanished tid {old_tid} after the exec: {stale}"
    # the process lives on through the exec: one exit, at the very end
    assert_exit(events, pid, 0)


def test_exec_non_leader_launch():
    events, truth = launch("trace_exec_thread", fixture("trace_map"))
    check_exec_thread(events, truth)


def test_exec_non_leader_attach():
    events, truth, att = attach("trace_exec_thread", fixture("trace_map"))
    assert att["threads"] == 2, att
    check_exec_thread(events, truth)


def test_exec_after_leader_exit_launch():
    # the leader has gone through pthread_exit (a zombie) when the thread execs
    events, truth = launch_args("trace_exec_thread", ["-L"], [fixture("trace_map")])
    check_exec_thread(events, truth)


def test_exec_after_leader_exit_attach():
    events, truth, att = attach_args("trace_exec_thread", ["-L"], [fixture("trace_map")])
    assert att["threads"] == 2, att
    check_exec_thread(events, truth)


# --------------------------------------------------------------------------
# vfork + exec, posix_spawn (clone3 CLONE_VM|CLONE_VFORK) + exec


def check_vfork(events, truth, min_size=0):
    vf = truth_of(truth, "vfork")[0]
    sp = truth_of(truth, "spawn")[0]
    parent, child, spawned = vf["parent"], vf["child"], sp["child"]
    assert sp["parent"] == parent and len({parent, child, spawned}) == 3, truth
    maps = truth_of(truth, "mmap")
    assert sorted(r["pid"] for r in maps) == sorted([parent] * 2 + [child] * 2 + [spawned]), truth
    small = [r for r in maps if r["len"] < min_size]
    maps = [r for r in maps if r["len"] >= min_size]
    for rec in small:
        hits = [e for e in events_of(events, "mmap") if key_of("mmap", e) == key_of("mmap", rec)]
        assert not hits, f"--min-size {min_size} reported {hits}"
    for rec in maps:
        assert rec["tid"] == rec["pid"], rec
        ev = find_mmap(events, rec)
        assert ev["comm"] == rec["comm"], ev
    lens = {r["len"] for r in maps}
    assert_exact([e for e in events if e.get("len") in lens], maps, "mmap")
    # the parent's region outlived the vfork child's exec
    unmaps = truth_of(truth, "munmap")
    assert len(unmaps) == 1 and unmaps[0]["pid"] == parent, truth
    assert_each_once(events, unmaps, "munmap")
    for pid in (child, spawned):
        execs = [e for e in events_of(events, "exec") if e["pid"] == pid]
        assert len(execs) == 1, f"exec events of child {pid}: {execs}"
        # the address space it left was its parent's: no region of its own
        assert execs[0]["regions_ended"] == 0, execs[0]
        assert_exit(events, pid, 0)
    assert_exit(events, parent, 0)


def test_vfork_launch():
    events, truth = launch("trace_vfork", fixture("trace_map"))
    check_vfork(events, truth)


def test_vfork_attach():
    events, truth, _ = attach("trace_vfork", fixture("trace_map"))
    check_vfork(events, truth)


def test_vfork_min_size():
    # only the big maps are regions now: the parent's must survive the
    # child's exec for its munmap to be reported
    events, truth = launch("trace_vfork", fixture("trace_map"), opts=("--min-size", "1M"))
    check_vfork(events, truth, min_size=MIB)
    events, truth, _ = attach("trace_vfork", fixture("trace_map"), opts=("-m", "1M"))
    check_vfork(events, truth, min_size=MIB)


def test_exec_regions_ended():
    """Attach mode, --min-size 1M: the thread's 3 MiB map is the one region
    mmapwatch reported in the old image, so the exec ends exactly one."""
    events, truth, _ = attach("trace_exec_thread", fixture("trace_map"), opts=("-m", "1M"))
    check_exec_thread(events, truth)
    execs = events_of(events, "exec")
    assert len(execs) == 1 and execs[0]["regions_ended"] == 1, execs


# --------------------------------------------------------------------------
# exit status passthrough and exit events

EXITS = [("0", 0, None), ("3", 3, None), ("term", 143, "SIGTERM"), ("segv", 139, "SIGSEGV"),
         ("leader7", 7, None)]


def check_exit(events, truth, status, signal):
    child = truth_of(truth, "child")[0]["pid"]
    me = truth_of(truth, "self")[0]["pid"]
    assert_exit(events, child, 5)
    assert_exit(events, me, status, signal)
    assert set(exits_by_pid(events)) == {child, me}, events_of(events, "exit")
    for rec in truth_of(truth, "mmap"):
        find_mmap(events, rec)
    last = events[-1]
    assert last["event"] in ("exit", "detach") and last["pid"] == me, \
        f"the last event should be the end of {me}: {last}"


def test_exit_status_launch():
    for how, status, signal in EXITS:
        events, truth = launch("trace_exit", how, expect_rc=status)
        check_exit(events, truth, status, signal)


def test_exit_status_attach():
    # attach mode exits 0 however the target ended; the exit events tell.
    for how, status, signal in EXITS:
        # Popen's returncode of a process killed by signal N is -N
        fixture_rc = -(status - 128) if signal else status
        events, truth, _ = attach("trace_exit", how, expect_fixture_rc=fixture_rc)
        check_exit(events, truth, status, signal)


# --------------------------------------------------------------------------
# --failed


def failed_key(rec):
    return (rec["pid"], rec["tid"], hexaddr(rec["addr"]), rec["len"], rec["error"])


def check_failed(events, truth, reported):
    ok = truth_of(truth, "mmap")
    bad = truth_of(truth, "failed")
    assert len(ok) == 2 and len(bad) == 3, truth
    assert_each_once(events, ok, "mmap")
    errs = [e for e in events if "error" in e]
    for e in errs:
        assert e["event"] == "mmap", f"an error on a {e['event']} event: {e}"
    hints = {hexaddr(r["addr"]) for r in bad}
    if not reported:
        assert not errs, f"failed mmaps reported without --failed: {errs}"
        assert not [e for e in events_of(events, "mmap") if hexaddr(e["addr"]) in hints]
        return
    have = collections.Counter(failed_key(e) for e in errs)
    want = collections.Counter(failed_key(r) for r in bad)
    assert have == want, f"--failed: missing {want - have}, unexpected {have - want}"


def test_failed_launch():
    events, truth = launch("trace_failed")
    check_failed(events, truth, reported=False)
    events, truth = launch("trace_failed", opts=("--failed",))
    check_failed(events, truth, reported=True)


def test_failed_attach():
    events, truth, _ = attach("trace_failed", opts=("--failed",))
    check_failed(events, truth, reported=True)


# --------------------------------------------------------------------------
# differential test against strace

DIFF_MIN = 64 * 1024


def strace_maps(path):
    calls = [c for c in harness.parse_strace(path) if c["name"] == "mmap"]
    assert calls, f"no mmap in the strace output {path}"
    return collections.Counter((c["ret"], int(c["args"][1])) for c in calls
                               if c["error"] is None and int(c["args"][1]) >= DIFF_MIN)


def test_strace_differential():
    """Same deterministic fixture (threads take turns; the fork child maps
    after the parent's threads) under strace and under mmapwatch, both with
    ASLR off (setarch -R), so both see the same layout: the (address,
    length) pairs of successful mmaps of at least 64 KiB must be equal, and
    each tool must see its run's truth."""
    for tool in ("strace", "setarch"):
        if not shutil.which(tool):
            raise harness.Skip(f"{tool} is not installed (scripts/deps.sh installs it)")
    base = tmpdir()
    # same-length truth paths, so the two runs differ in nothing that matters
    s_dir, m_dir = os.path.join(base, "s"), os.path.join(base, "m")
    os.mkdir(s_dir)
    os.mkdir(m_dir)
    s_truth, m_truth = os.path.join(s_dir, "truth"), os.path.join(m_dir, "truth")
    s_out, m_out = os.path.join(s_dir, "out"), os.path.join(m_dir, "out")
    fx = fixture("trace_threads")

    p = subprocess.run(["setarch", "-R", "strace", "-f", "-qq", "-e", "trace=mmap",
                        "-o", s_out, fx, s_truth],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=harness.WAIT_S * 2)
    assert p.returncode == 0, f"strace run failed: {p.returncode} {p.stderr!r}"
    p = subprocess.run(["setarch", "-R", harness.MMAPWATCH, "--json", "-o", m_out,
                        "--min-size", "64K", "--", fx, m_truth],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=harness.WAIT_S * 2)
    assert p.returncode == 0, f"mmapwatch run failed: {p.returncode} {p.stderr!r}"

    s_maps = strace_maps(s_out)
    events = read_events(m_out)
    harness.check_event_fields(events)
    m_maps = collections.Counter((hexaddr(e["addr"]), e["len"])
                                 for e in events_of(events, "mmap")
                                 if e["len"] >= DIFF_MIN and "error" not in e)
    s_t = collections.Counter((hexaddr(r["addr"]), r["len"]) for r in read_truth(s_truth))
    m_t = collections.Counter((hexaddr(r["addr"]), r["len"]) for r in read_truth(m_truth))
    assert len(s_t) == 7 and not (s_t - s_maps), f"strace missed its truth: {s_t - s_maps}"
    assert len(m_t) == 7 and not (m_t - m_maps), f"mmapwatch missed its truth: {m_t - m_maps}"
    if s_t != m_t:
        raise AssertionError(f"the fixture mapped different addresses under the two "
                             f"tools (ASLR not off?): {sorted(s_t)} vs {sorted(m_t)}")
    assert s_maps == m_maps, (f"mmapwatch and strace disagree: only strace "
                              f"{sorted(s_maps - m_maps)}, only mmapwatch "
                              f"{sorted(m_maps - s_maps)}")
    # no map under 64 KiB except those replacing part of a reported region
    small = [e for e in events_of(events, "mmap") if e["len"] < DIFF_MIN
             and "MAP_FIXED" not in e["flags"]]
    assert not small, f"--min-size 64K reported small non-fixed maps: {small}"


# --------------------------------------------------------------------------
# which address space a region belongs to: shared by threads, copied at
# fork, shared by clone(CLONE_VM) without CLONE_THREAD


SHARED_KINDS = ("mmap", "munmap", "mprotect")


def check_shared(events, truth, exact):
    """--min-size 1M: the big=1 records appear (each once, right pid/tid),
    the big=0 ones do not."""
    pids = {r["pid"] for r in truth}
    for kind in SHARED_KINDS:
        big = [r for r in truth_of(truth, kind) if r["big"] == 1]
        small = [r for r in truth_of(truth, kind) if r["big"] == 0]
        if exact:
            assert_exact([e for e in events if e["pid"] in pids], big, kind, "--min-size 1M: ")
        else:
            assert_each_once(events, big, kind, "--min-size 1M: ")
        for r in small:
            hits = [e for e in events_of(events, kind)
                    if (e["pid"], hexaddr(e["addr"]), e["len"])
                    == (r["pid"], hexaddr(r["addr"]), r["len"])]
            assert not hits, f"--min-size 1M reported {kind} of a small region: {hits}"
    for pid in pids:
        assert_exit(events, pid, 0)


def test_shared_regions_launch():
    events, truth = launch("trace_shared", opts=("--min-size", "1M"))
    check_shared(events, truth, exact=False)


def test_shared_regions_attach():
    events, truth, _ = attach("trace_shared", opts=("--min-size", "1M"))
    check_shared(events, truth, exact=True)


def test_clone_vm_process_launch():
    events, truth = launch_args("trace_shared", ["-c"], [], opts=("--min-size", "1M"))
    check_shared(events, truth, exact=False)


def test_clone_vm_process_attach():
    events, truth, _ = attach_args("trace_shared", ["-c"], [], opts=("--min-size", "1M"))
    check_shared(events, truth, exact=True)


# --------------------------------------------------------------------------
# several -p


def test_attach_several_pids():
    """Two targets at once: each one's attach, maps and exit, and mmapwatch
    ends (exit 0) when both have."""
    targets = []
    for size in (MIB + 1001, 2 * MIB + 1002):
        truth = truth_path()
        p, pid = start_fixture([fixture("trace_map"), "-w", truth, str(size)])
        targets.append((p, pid, truth))
    w = harness.start_attach_many([pid for _, pid, _ in targets])
    attaches = events_of(w.events, "attach")
    assert sorted(e["pid"] for e in attaches) == sorted(pid for _, pid, _ in targets), attaches
    assert all(e["threads"] == 1 for e in attaches), attaches
    for p, _, _ in targets:
        send_go(p)
    for p, _, _ in targets:
        wait_fixture(p, 0)
    rc, events, err = harness.finish_attach_many(w)
    assert rc == 0, f"mmapwatch exited {rc}; stderr={err!r}"
    harness.check_event_fields(events)
    maps = [r for _, _, truth in targets for r in read_truth(truth)]
    assert_exact(events, maps, "mmap")
    for _, pid, _ in targets:
        assert_exit(events, pid, 0)


# --------------------------------------------------------------------------
# i386 system calls (int $0x80) from a 64-bit process


def compat_run(mode):
    if mode == "launch":
        truth = truth_path()
        rc, events, err = run_launch([fixture("trace_compat"), truth])
        if rc == 98:
            raise harness.Skip("no i386 emulation in this kernel (int $0x80: ENOSYS)")
        assert rc == 0, f"mmapwatch exited {rc} (the fixture's status); stderr={err!r}"
        harness.check_event_fields(events)
        return events, read_truth(truth)
    events, truth, _ = attach("trace_compat")
    return events, truth


def check_compat_safe(events, truth):
    """The process was not killed (checked by the caller), no event was
    made up from an i386 call decoded as an x86_64 one, and the tracer
    still followed afterwards."""
    native = [r for r in truth_of(truth, "mmap") if "compat" not in r]
    assert len(native) == 1, truth
    find_mmap(events, native[0])
    unlink = truth_of(truth, "unlink")[0]
    fake = [e for e in events_of(events, "mprotect")
            if hexaddr(e["addr"]) == hexaddr(unlink["addr"])]
    assert not fake, f"i386 unlink (number 10) reported as x86_64 mprotect: {fake}"
    assert_exit(events, native[0]["pid"], 0)


def check_compat_reported(events, truth):
    """The i386 mmap2 and munmap are reported like native ones."""
    compat_maps = [r for r in truth_of(truth, "mmap") if r.get("compat") == 1]
    compat_unmaps = [r for r in truth_of(truth, "munmap") if r.get("compat") == 1]
    assert len(compat_maps) == 1 and len(compat_unmaps) == 1, truth
    assert_each_once(events, compat_maps, "mmap", "i386 mmap2: ")
    assert_each_once(events, compat_unmaps, "munmap", "i386 munmap: ")


def test_compat_syscalls_safe():
    for mode in ("launch", "attach"):
        events, truth = compat_run(mode)
        check_compat_safe(events, truth)


def test_compat_mmap_reported():
    for mode in ("launch", "attach"):
        events, truth = compat_run(mode)
        check_compat_reported(events, truth)


def test_compat_syscalls_perf():
    """The perf source reading the calls through raw_syscalls (the BPF
    reader does not see int $0x80 at all: test_perf_events.py has how it
    says a 32-bit program), which fires for i386 calls too, with i386 numbers (10 is unlink, x86_64's
    mprotect; 192 mmap2 is x86_64's lgetxattr): none is read as an x86_64
    call, the native map after them is followed, and the process is said
    to make i386 calls (once), which this source does not follow."""
    harness.require_perf()
    for mode in ("launch", "attach"):
        if mode == "launch":
            truth = truth_path()
            rc, events, err = run_launch([fixture("trace_compat"), truth], *harness.PERF,
                                         "--perf-calls", "raw")
            if rc == 98:
                raise harness.Skip("no i386 emulation in this kernel (int $0x80: ENOSYS)")
            assert rc == 0, f"mmapwatch exited {rc} (the fixture's status); stderr={err!r}"
            harness.check_event_fields(events)
            truth = read_truth(truth)
        else:
            events, truth, _, err = attach("trace_compat", opts=(*harness.PERF, "--perf-calls",
                                                                 "raw"), with_stderr=True)
        check_compat_safe(events, truth)
        pid = truth_of(truth, "mmap")[0]["pid"]
        said = [l for l in err.splitlines() if "i386 system calls" in l]
        assert len(said) == 1 and f"process {pid} makes i386" in said[0] and \
            "--source ptrace" in said[0], err


# ---------------------------------------------------------------------------
# mremap forms with no other witness (tests/fixtures/trace_remap.c)


def remap_truth(records):
    """trace_remap's truth records by (kind, name)."""
    return {(r["kind"], r["name"]): r for r in records}


def test_remap_dontunmap_keeps_old_region():
    """mremap(MAYMOVE|DONTUNMAP) copies a region and leaves the old range
    mapped: with --min-size 1M the munmap of each is reported."""
    events, truth = launch("trace_remap", opts=("--min-size", "1M", "--no-dump"))
    t = remap_truth(truth)
    moves = [e for e in events_of(events, "mremap")
             if hexaddr(e["old_addr"]) == hexaddr(t["mremap", "H2"]["old_addr"])]
    assert len(moves) == 1 and "MREMAP_DONTUNMAP" in moves[0]["flags"], moves
    assert hexaddr(moves[0]["addr"]) == hexaddr(t["mremap", "H2"]["addr"]), moves
    for name in ("H", "H2"):
        rec = t["munmap", name]
        hits = [e for e in events_of(events, "munmap")
                if (hexaddr(e["addr"]), e["len"]) == (hexaddr(rec["addr"]), rec["len"])]
        assert len(hits) == 1, f"munmap of {name} ({rec['addr']}): {len(hits)} events"


def test_remap_grown_region_attributes_from_maps():
    """A region that becomes reported by growing (64 KiB read-only, mremap
    to 2 MiB) gets its protection and sharing from /proc/PID/maps: its dump
    metadata says r-- and MAP_PRIVATE|MAP_ANONYMOUS, not a guess."""
    dumps = os.path.join(tmpdir(), "dumps")
    events, truth = launch("trace_remap", opts=("--min-size", "1M", "--delay", "0",
                                                "--dump-dir", dumps))
    r2 = remap_truth(truth)["mremap", "R2"]
    hits = [e for e in events_of(events, "dump") if hexaddr(e["addr"]) == hexaddr(r2["addr"])]
    assert len(hits) == 1, f"dumps of R2 at {r2['addr']}: {hits}"
    meta_path = hits[0]["path"][:-len(".bin")] + ".json"
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    assert meta["prot"] == "r--", meta
    assert meta["flags"] == "MAP_PRIVATE|MAP_ANONYMOUS", meta


def test_remap_fixed_text_form():
    """Text output of mremap(MAYMOVE|FIXED) shows the fifth argument, as
    strace does: mremap(OLD, LEN, LEN, MREMAP_MAYMOVE|MREMAP_FIXED, NEW)."""
    truth = truth_path()
    out = os.path.join(tmpdir(), "events.txt")
    r = run_mmapwatch(["--min-size", "1M", "--no-dump", "-o", out, "--",
                       fixture("trace_remap"), truth])
    assert r.returncode == 0, r.stderr
    rec = remap_truth(read_truth(truth))["mremap", "L2"]
    want = (f"mremap({rec['old_addr']}, 1048576, 1048576, MREMAP_MAYMOVE|MREMAP_FIXED, "
            f"{rec['to']}) = {rec['addr']} (1.0 MiB)")
    with open(out, encoding="utf-8") as f:
        lines = [l for l in f.read().splitlines() if "MREMAP_FIXED" in l]
    assert len(lines) == 1 and lines[0].endswith(want), f"want ...{want!r}, got {lines!r}"
    # and one without FIXED has no fifth argument
    with open(out, encoding="utf-8") as f:
        plain = [l for l in f.read().splitlines() if "MREMAP_MAYMOVE) = " in l]
    assert plain, "no mremap(MREMAP_MAYMOVE) line"


# --------------------------------------------------------------------------
# the same truth through the perf source (--source perf): same events,
# fields and thread names. Launch mode too: the command is started paused
# and let go once followed. The vfork tests too: a vfork (or posix_spawn)
# child's sharing of its parent's memory comes from the clone flags the
# kernel's task_newtask tracepoint records, since the child has exec'd
# before its records are read.

harness.add_perf_twins(globals(), [
    "test_threads_fork_launch", "test_threads_fork_attach", "test_attach_many_threads",
    "test_attach_during_thread_churn", "test_min_size_launch", "test_min_size_attach",
    "test_lifecycle_launch", "test_lifecycle_attach", "test_lifecycle_attach_min_size",
    "test_exec_non_leader_launch", "test_exec_non_leader_attach",
    "test_exec_after_leader_exit_attach", "test_exec_regions_ended", "test_exit_status_launch",
    "test_exit_status_attach", "test_failed_launch", "test_failed_attach",
    "test_vfork_launch", "test_vfork_attach", "test_vfork_min_size",
])
