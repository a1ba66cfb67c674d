"""strace's habits on the command line, where the meaning is the same
(-f, -y, -e trace=, -t/-tt/-ttt, -s, -p 1,2), refused with the mmapwatch
way named where it is not (-T, -ff, -e trace=brk); pmap's habits in the
subcommands (maps PID, several pids, 00007f... addresses in read); and
numbers too large to be meant (--delay 18446742450s). Each run is checked
against the fixture's own truth or its memory, not against our output."""
import json
import os
import re
import subprocess
import time

import harness
from harness import (MMAPWATCH, events_of, fixture, hexaddr, read_truth, run_mmapwatch,
                     send_go, start_fixture, tmpdir, tracer_pid, wait_fixture)

SIZE = 3 * 1024 * 1024 + 123


def one_line(stderr, what):
    lines = stderr.splitlines()
    assert len(lines) == 1, f"{what}: expected exactly one line on stderr, got {stderr!r}"
    assert lines[0].startswith("mmapwatch: "), f"{what}: {lines[0]!r}"
    return lines[0]


def launch_text(*opts):
    """mmapwatch OPTS -- trace_map TRUTH SIZE: (stderr lines, truth record)."""
    truth = os.path.join(tmpdir(), "truth")
    r = run_mmapwatch(["--no-dump", "-m", "3M", *opts, "--", fixture("trace_map"), truth,
                       str(SIZE)])
    assert r.returncode == 0, f"{opts}: exit {r.returncode}; stderr={r.stderr!r}"
    recs = read_truth(truth)
    assert len(recs) == 1, recs
    return r.stderr.splitlines(), recs[0]


def mmap_line(lines, rec, stamp):
    """The one text line of the fixture's mmap, with the time stamp STAMP."""
    want = (rf"^({stamp}) \[{rec['pid']}/{rec['tid']} trace_map\] mmap\(NULL, {SIZE}, "
            rf"PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\) = {rec['addr']} ")
    hits = [m for m in (re.match(want, l) for l in lines) if m]
    assert len(hits) == 1, f"no line matching {want!r} in {lines}"
    return hits[0].group(1)


def test_timestamp_forms():
    before = time.time()
    lines, rec = launch_text("-ttt")
    stamp = float(mmap_line(lines, rec, r"\d+\.\d{6}"))
    assert before - 1 <= stamp <= time.time() + 1, f"-ttt stamp {stamp} is not now"

    lines, rec = launch_text("-tt")
    mmap_line(lines, rec, r"\d\d:\d\d:\d\d\.\d{6}")
    lines, rec = launch_text("-t")
    mmap_line(lines, rec, r"\d\d:\d\d:\d\d")
    lines, rec = launch_text("-t", "-t")  # -t twice is -tt, as in strace
    mmap_line(lines, rec, r"\d\d:\d\d:\d\d\.\d{6}")


def test_noop_habits_trace_the_same():
    """-f, -y, -e trace=... and -s change nothing but what they say: the
    mmap is reported exactly as without them, and -v says why."""
    lines, rec = launch_text("-f", "-y", "-e", "trace=mmap,munmap", "-e", "mprotect")
    mmap_line(lines, rec, r"\d\d:\d\d:\d\d\.\d{6}")
    assert not any("changes nothing" in l for l in lines), lines
    lines, rec = launch_text("-v", "-f", "-y", "-e", "trace=mmap")
    for flag in ("-f", "-y", "-e trace="):
        assert any(l.startswith(f"mmapwatch: {flag}") and "changes nothing" in l
                   for l in lines), f"-v says nothing about {flag}: {lines}"
    mmap_line(lines, rec, r"\d\d:\d\d:\d\d\.\d{6}")


def waiting_target():
    truth = os.path.join(tmpdir(), "truth")
    p, pid = start_fixture([fixture("trace_map"), "-w", truth, str(SIZE)])
    return p, pid, truth


def assert_untouched(p, pid):
    assert p.poll() is None, f"target {pid} died"
    assert tracer_pid(pid) == 0, f"target {pid} left traced"
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    assert data[data.rindex(")") + 2] not in "Tt", f"target {pid} left stopped"


def test_pid_list():
    """-p A,B attaches to both, as -p A -p B does: each one's mmap is
    reported with its own pid, tid, address and length."""
    targets = [waiting_target() for _ in range(3)]
    pids = [t[1] for t in targets]
    argv = [MMAPWATCH, "--json", "-o", "-", "--no-dump", "-m", "3M",
            "-p", f"{pids[0]},{pids[1]}", "-p", str(pids[2])]
    w = harness.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    reader = harness.LineReader(w.stdout)
    waiting, events = set(pids), []
    while waiting:
        line = reader.line()
        assert line, f"mmapwatch ended before attaching: rc={w.wait()}"
        ev = json.loads(line)
        events.append(ev)
        if ev["event"] == "attach":
            waiting.discard(ev["pid"])
    for p, _, _ in targets:
        send_go(p)
        wait_fixture(p, 0)
    out, err = w.communicate(timeout=harness.WAIT_S * 4)
    events += harness.parse_events(reader.rest() + out.decode())
    assert w.returncode == 0, f"rc={w.returncode} stderr={err!r}"
    maps = events_of(events, "mmap")
    for _, pid, truth in targets:
        rec = read_truth(truth)[0]
        hits = [e for e in maps if (e["pid"], e["tid"], hexaddr(e["addr"]), e["len"])
                == (rec["pid"], rec["tid"], hexaddr(rec["addr"]), rec["len"])]
        assert len(hits) == 1, f"pid {pid}: mmap {rec} reported {len(hits)} times: {maps}"


def test_refusals_name_the_mmapwatch_way():
    p, pid, _ = waiting_target()
    cases = [  # (args, words the one line must hold)
        (["-T"], ["-T", "-tt"]),
        (["-ff"], ["-ff", "--json"]),
        (["-tttt"], ["-ttt"]),
        (["-e", "trace=brk"], ["brk", "mmapwatch maps"]),
        (["-e", "trace=mmap,openat"], ["openat"]),
        (["-e", "signal=none"], ["--min-size"]),
        (["-s", "0"], ["-s"]),
        (["-p", f"{pid},"], [f"{pid},"]),
        (["-p", f"{pid},,1"], [f"{pid},,1"]),
        # fault 6 of issue 13: fits in 64 bits, but now + DUR wraps around
        (["--delay", "18446742450s"], ["--delay", "too large"]),
        (["--delay", "876000.1h"], ["--delay", "too large"]),
        (["--duration", "18446744073s"], ["--duration", "too large"]),
        (["--redump", "9999999h"], ["--redump", "too large"]),
        (["--exit-dump-timeout", "18446742450s"], ["--exit-dump-timeout"]),
        (["--min-size", "16777216T"], ["--min-size", "too large"]),
        (["--max-dump-bytes", "99999999999999999999"], ["--max-dump-bytes"]),
    ]
    for extra, words in cases:
        args = [*extra, "-p", str(pid)] if extra[0] != "-p" else extra
        r = run_mmapwatch(args, timeout=harness.WAIT_S)
        assert r.returncode == 2, f"{args}: exit {r.returncode}, expected 2: {r.stderr!r}"
        line = one_line(r.stderr, repr(args))
        for word in words:
            assert word in line, f"{args}: {word!r} not in {line!r}"
        assert r.stdout == ""
        assert_untouched(p, pid)
    send_go(p)
    wait_fixture(p, 0)


def test_long_delay_still_accepted():
    """The limit is 100 years, not less: a long --delay is not refused,
    and it does not fire at once (the mmap is reported, no dump is)."""
    d = tmpdir()
    truth = os.path.join(d, "truth")
    dumps = os.path.join(d, "dumps")
    r = run_mmapwatch(["--json", "-m", "3M", "--no-dump-on-unmap", "--delay", "876000h",
                       "--dump-dir", dumps, "--", fixture("trace_map"), truth, str(SIZE)])
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}"
    events = harness.parse_events(r.stderr)
    assert len(events_of(events, "mmap")) == 1, events
    assert events_of(events, "dump") == [], f"dumped before its delay: {events}"


# ------------------------------------------------------------ subcommands


def run_sub(args):
    return subprocess.run([MMAPWATCH, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=harness.WAIT_S * 2)


def test_maps_pid_operand_and_several_pids():
    a, pa, _ = waiting_target()
    b, pb, _ = waiting_target()
    with_p = run_sub(["maps", "-p", str(pa), "--json", "--sort", "addr"])
    operand = run_sub(["maps", str(pa), "--json", "--sort", "addr"])
    assert with_p.returncode == 0 and operand.returncode == 0, (with_p.stderr, operand.stderr)
    addrs = [json.loads(l)["addr"] for l in operand.stdout.splitlines()]
    assert addrs == [json.loads(l)["addr"] for l in with_p.stdout.splitlines()]
    with open(f"/proc/{pa}/maps") as f:
        truth = ["0x" + l.split("-")[0].lstrip("0") for l in f]
    assert addrs == truth, f"maps PID differs from /proc/PID/maps: {addrs} vs {truth}"

    # Several: -p A -p B, a list, operands; each process's rows with its pid.
    for args in (["-p", str(pa), "-p", str(pb)], [f"{pa},{pb}"], [str(pa), str(pb)]):
        r = run_sub(["maps", *args, "--json"])
        assert r.returncode == 0, f"{args}: {r.stderr!r}"
        pids = [json.loads(l)["pid"] for l in r.stdout.splitlines()]
        assert set(pids) == {pa, pb}, f"{args}: rows of {set(pids)}, expected {pa} and {pb}"
        assert pids == sorted(pids, key=[pa, pb].index), f"{args}: rows interleaved"
        r = run_sub(["maps", *args, "--top", "1"])
        assert r.returncode == 0, r.stderr
        heads = [l for l in r.stdout.splitlines() if l.startswith("process ")]
        assert heads == [f"process {pa} (trace_map)", f"process {pb} (trace_map)"], r.stdout

    r = run_sub(["maps", str(pa), str(pb), "--watch", "1s"])
    assert r.returncode == 2, r.stderr
    line = one_line(r.stderr, "maps --watch with two pids")
    assert "one process" in line, line
    for p, pid in ((a, pa), (b, pb)):
        assert_untouched(p, pid)
        send_go(p)
        wait_fixture(p, 0)


def test_read_pmap_style_addresses():
    """An address as pmap prints it (00007f..., no 0x), as /proc/PID/maps
    prints it (7f...), or a whole maps range, reads the fixture's own
    pattern, as the 0x form does."""
    import test_read  # its fixture writes a known pattern and says where
    fx = test_read.Regions()
    start = fx.r["pattern"]["addr"]
    with open(f"/proc/{fx.pid}/maps") as f:
        rng = next(l.split()[0] for l in f if int(l.split("-")[0], 16) == start)
    truth = test_read.PATTERN[:256]
    for form in (f"{start:016x}", f"{start:x}", rng, f"0x{start:X}", hex(start)):
        r = subprocess.run([MMAPWATCH, "read", "-p", str(fx.pid), "-a", form, "-n", "256",
                            "-o", "-"], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=harness.WAIT_S)
        assert r.returncode == 0, f"{form}: rc={r.returncode} {r.stderr!r}"
        assert r.stdout == truth, f"{form}: not the fixture's pattern"
        r = subprocess.run([MMAPWATCH, "read", "-p", str(fx.pid), "--region", form, "-o", "-"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=harness.WAIT_S)
        assert r.returncode == 0 and r.stdout[:256] == truth, f"--region {form}: {r.stderr!r}"
    fx.check_untouched()
