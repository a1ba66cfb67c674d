"""Resource limits and untrusted names: what mmapwatch says when it runs
out of file descriptors (never an invented event), and how the bytes a
traced program chooses for its thread names reach text and JSON output."""
import os
import re
import subprocess

import harness
from harness import (MMAPWATCH, EventReader, events_of, fixture, hexaddr, read_truth, spawn,
                     tmpdir, truth_of)

NTHREADS = 600
NOFILE = 256  # soft and hard: raising the soft limit cannot help


def check_fd_run(events, truth, stderr, pid):
    """Against fd_threads' truth: every map once, from its process and
    thread; no process, exit or thread invented; each name right or "?"
    with one warning saying why."""
    recs = truth_of(truth, "mmap")
    assert len(recs) == 2 * NTHREADS, f"fixture recorded {len(recs)} maps"
    maps = {(hexaddr(e["addr"]), e["len"]): e for e in events_of(events, "mmap")
            if e["len"] >= 1 << 20}
    unknown = 0
    for r in recs:
        e = maps.get((hexaddr(r["addr"]), r["len"]))
        assert e, f"map {r} not reported"
        assert (e["pid"], e["tid"]) == (pid, r["tid"]), f"{e} is not from {r}"
        if e["comm"] == "?":
            unknown += 1
        else:
            assert e["comm"] == r["comm"], f"{e['comm']!r}, truth {r['comm']!r}"
    others = {e["pid"] for e in events if e["pid"] not in (pid, 0)}
    assert not others, f"events of processes that do not exist: {sorted(others)[:5]}"
    exits = events_of(events, "exit")
    assert [(e["pid"], e["tid"]) for e in exits] == [(pid, pid)], \
        f"{len(exits)} exit events: {exits[:5]}"
    warnings = [l for l in stderr.splitlines() if "file descriptors" in l]
    if unknown:
        assert len(warnings) == 1, f"{unknown} names unknown, warnings: {warnings}"
    assert all(l.startswith("mmapwatch: ") for l in stderr.splitlines()), stderr


def test_out_of_fds_launch():
    """Launch mode under prlimit --nofile=256:256 with 600 threads alive."""
    truth = os.path.join(tmpdir(), "truth")
    out = os.path.join(tmpdir(), "events.jsonl")
    r = subprocess.run(["prlimit", f"--nofile={NOFILE}:{NOFILE}", MMAPWATCH, "--json",
                        "--no-dump", "-o", out, "--", fixture("fd_threads"), truth,
                        str(NTHREADS)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=harness.WAIT_S * 4)
    assert r.returncode == 0, f"rc={r.returncode} stderr={r.stderr!r}"
    events = harness.read_events(out)
    pid = events_of(events, "exit")[0]["pid"]
    check_fd_run(events, read_truth(truth), r.stderr, pid)


def test_out_of_fds_attach():
    """Attach mode: 600 threads already alive, then each maps twice. While
    all 600 are alive and have mapped, mmapwatch holds few descriptors:
    none kept per thread."""
    truth = os.path.join(tmpdir(), "truth")
    fx, pid = harness.start_fixture([fixture("fd_threads"), "-w", truth, str(NTHREADS)])
    w = spawn(["prlimit", f"--nofile={NOFILE}:{NOFILE}", MMAPWATCH, "--json", "--no-dump",
               "-o", "-", "-p", str(pid)],
              stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    stream = EventReader(w.stdout, explain=lambda: f"rc={w.poll()}")
    stream.wait_attached([pid])
    harness.send_go(fx)
    # Events first (mmapwatch blocks on a full pipe, and the threads with it)
    firsts = set()
    while len(firsts) < NTHREADS:
        ev = stream.wait_event(lambda e: e["event"] == "mmap" and e["len"] < 8 << 20 and
                               e["len"] >= 1 << 20, "the first maps of every thread")
        firsts.add(ev["tid"])
    line = harness.read_line(fx.stdout)
    assert line == "mapped\n", f"fixture said {line!r}"
    held = len(os.listdir(f"/proc/{w.pid}/fd"))
    assert held < 64, f"mmapwatch holds {held} descriptors with {NTHREADS} threads traced"
    harness.send_go(fx)
    stream.drain()  # keeps reading while the fixture runs: never a full pipe
    harness.wait_fixture(fx, 0)
    rc = w.wait(timeout=harness.WAIT_S)
    stderr = w.stderr.read().decode()
    assert rc == 0, f"rc={rc} stderr={stderr!r}"
    check_fd_run(stream.events, read_truth(truth), stderr, pid)
