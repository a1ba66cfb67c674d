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
    # --source ptrace: the descriptors kept per thread are the ptrace
    # source's question (the perf source needs threads x CPUs x tracepoints
    # and says so when it cannot have them).
    w = spawn(["prlimit", f"--nofile={NOFILE}:{NOFILE}", MMAPWATCH, "--source", "ptrace",
               "--json", "--no-dump", "-o", "-", "-p", str(pid)],
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


# ---------------------------------------------------------------------------
# thread names are the traced program's bytes (tests/fixtures/name_bytes.c)


def name_runs(*opts):
    truth = os.path.join(tmpdir(), "truth")
    out = os.path.join(tmpdir(), "events")
    r = harness.run_mmapwatch(["--min-size", "1M", "--no-dump", "-o", out, *opts, "--",
                               fixture("name_bytes"), truth])
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        data = f.read()
    return data, truth_of(read_truth(truth), "mmap")


def text_escape(raw):
    """The text form docs/mmapwatch.1 promises: \\xNN for control bytes,
    DEL, backslash, C1 controls and bytes that are not UTF-8."""
    out, i = [], 0
    while i < len(raw):
        for n in (4, 3, 2, 1):
            chunk = raw[i:i + n]
            try:
                ch = chunk.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1 and not (ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0 or ch == "\\"):
                out.append(ch)
                i += n
                break
        else:
            out.append(f"\\x{raw[i]:02x}")
            i += 1
    return "".join(out)


def test_thread_names_escaped_in_text():
    """No byte of a thread name reaches the terminal raw: no ESC, CR or
    stray newline inside a field; each name shown in its escaped form."""
    data, recs = name_runs()
    assert b"\x1b" not in data and b"\r" not in data and b"\xc2\x9b" not in data, data
    text = data.decode("utf-8")  # all of it valid UTF-8 now
    lines = text.splitlines()
    for r in recs:
        raw = bytes.fromhex(r["comm_hex"])
        hits = [l for l in lines if f" = {r['addr']} " in l and l.startswith(tuple("0123456789"))]
        assert len(hits) == 1, f"line of {r}: {hits}"
        want = f"[{r['tid']}/{r['tid']} {text_escape(raw)}] mmap("
        assert want in hits[0], f"want {want!r} in {hits[0]!r}"
    assert "\\x0d\\x1b[31mred" in text and "nl\\x0aafter" in text and "\\xff\\xfebad\\x5c" in text


def test_thread_names_lossless_in_json():
    """JSON gives back the exact bytes: a valid UTF-8 name as is (JSON
    escapes undone by the parser), any other with its comm_hex."""
    data, recs = name_runs("--json")
    events = harness.parse_events(data.decode("utf-8"))
    for r in recs:
        raw = bytes.fromhex(r["comm_hex"])
        hits = [e for e in events_of(events, "mmap") if hexaddr(e["addr"]) == hexaddr(r["addr"])]
        assert len(hits) == 1, f"event of {r}: {hits}"
        e = hits[0]
        got = bytes.fromhex(e["comm_hex"]) if "comm_hex" in e else e["comm"].encode("utf-8")
        assert got == raw, f"{e} gives {got!r}, truth {raw!r}"
        try:
            raw.decode("utf-8")
            assert "comm_hex" not in e, f"comm_hex for a valid UTF-8 name: {e}"
        except UnicodeDecodeError:
            assert "\ufffd" in e["comm"], e
