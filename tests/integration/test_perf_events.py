"""The perf source as mmapwatch's event source (--source perf, and the
default --source auto in attach mode), beyond the parametrised tracing
tests (test_tracing.py's *_perf twins): which source is chosen and said,
the target's safety when mmapwatch is SIGKILLed, a differential against the
ptrace source on one fixture, losses said as "lost" events and counted by
-c, a 2,000-thread storm, --comm targets, and stacks as deep as ptrace's.
"""
import errno
import os
import re
import signal
import subprocess
import sys
import time

import harness
from harness import (PERF, Skip, events_of, fixture, hexaddr, read_truth, require_perf,
                     send_go, start_fixture, tmpdir, truth_of, wait_fixture)
from safety_lib import Worker, assert_untraced, attach, events_of as safety_events_of

MIB = 1024 * 1024
MAP_LEN = 3 * MIB + 4096


def _perf_fds(pid):
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if "perf_event" in os.readlink(f"/proc/{pid}/fd/{fd}"):
                found.append(fd)
        except FileNotFoundError:
            pass
    return found


def _attach_run(name, *opts, args=(), flags=()):
    """fixture NAME -w [flags] TRUTH [args] attached with opts; (events, truth, stderr)."""
    truth = os.path.join(tmpdir(), "truth")
    p, pid = start_fixture([fixture(name), "-w", *flags, truth, *args])
    w = harness.start_attach_many([pid], *opts)
    send_go(p)
    wait_fixture(p, 0, timeout=harness.WAIT_S * 4)
    rc, events, err = harness.finish_attach_many(w)
    assert rc == 0, f"mmapwatch exited {rc}; stderr={err!r}"
    harness.check_event_fields(events)
    return events, read_truth(truth), err


def test_auto_chooses_perf_and_says_why():
    """--source auto in attach mode: perf where it can, in one line on
    stderr with how to get the other; -v adds the machine-wide cost."""
    require_perf()
    events, truth, err = _attach_run("trace_map", "--source", "auto", "--no-dump",
                                     args=[str(MAP_LEN)])
    lines = err.splitlines()
    # BPF programs by default: three maps, a program and an event per tracepoint
    # (about 19), and the exec watch's events (one per CPU)
    assert len(lines) == 1 and re.fullmatch(
        r"mmapwatch: following with perf_event tracepoints \(root; BPF programs on the "
        r"calls' tracepoints for every process of the machine, one ring, (\d+) "
        r"descriptors\); --source ptrace to hold threads for dumps", lines[0]) and \
        30 < int(re.search(r"(\d+) descriptors", lines[0]).group(1)) - os.cpu_count() < 50, \
        lines
    (rec,) = truth_of(truth, "mmap")
    assert [e for e in events_of(events, "mmap") if e["len"] == MAP_LEN][0]["tid"] == rec["tid"]
    # perf events: one thread in no cgroup of its own, CPUs x tracepoints of them
    events, truth, err = _attach_run("trace_map", "--source", "auto", "--perf-calls", "raw",
                                     "--no-dump", args=[str(MAP_LEN)])
    lines = err.splitlines()
    assert len(lines) == 1 and re.fullmatch(
        r"mmapwatch: following with perf_event tracepoints \(root; events per thread, "
        r"(\d+) descriptors\); --source ptrace to hold threads for dumps", lines[0]) and \
        int(re.search(r"(\d+) descriptors", lines[0]).group(1)) % os.cpu_count() == 0, lines
    (rec,) = truth_of(truth, "mmap")
    assert [e for e in events_of(events, "mmap") if e["len"] == MAP_LEN][0]["tid"] == rec["tid"]
    _, _, err = _attach_run("trace_map", "--source", "auto", "-v", "--no-dump",
                            args=[str(MAP_LEN)])
    assert "tracing slow path (about 30 to 100 ns more each)" in err, err
    # launch mode keeps ptrace and its filter unless told
    rc, _, err = harness.run_launch([fixture("trace_map"), os.path.join(tmpdir(), "t2"),
                                     str(MAP_LEN)], "--source", "auto", "-v", "--no-dump")
    assert rc == 0 and "following with ptrace and a seccomp filter (launch mode)" in err, err


def test_auto_takes_ptrace_when_descriptors_run_short():
    """--source auto --perf-calls raw with fewer descriptors than threads x
    CPUs x tracepoints, and no cgroup to scope the events to (the root cgroup):
    ptrace follows, and the note says why, before anything is opened (with
    --source perf the same attach would fail). test_perf_cgroup.py has the
    target in a cgroup of its own, followed by perf."""
    require_perf()
    from test_perf_cgroup import _limit_fds, _perf_event_mount
    fx, pid = harness.start_fixture([fixture("fd_threads"), "-w",
                                     os.path.join(tmpdir(), "truth"), "40"])
    try:
        if os.geteuid() == 0:
            with open(os.path.join(_perf_event_mount()[1], "cgroup.procs"), "w",
                      encoding="ascii") as f:
                f.write(str(pid))
        r = subprocess.run([harness.MMAPWATCH, "--source", "auto", "--perf-calls", "raw",
                            "--no-dump", "-o", "/dev/null", "--duration", "0", "-p", str(pid)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=harness.WAIT_S, preexec_fn=_limit_fds(128))
        assert r.returncode == 0, r
        note = r.stderr.splitlines()[0]
        assert note.startswith("mmapwatch: following with ptrace (") and \
            "file descriptors" in note, r.stderr
    finally:
        fx.kill()
        fx.wait()


def test_bad_source_is_a_usage_error():
    for argv in (["--source", "bpf", "-p", "1"], ["--perf-pages", "3", "-p", "1"],
                 ["--perf-calls", "ebpf", "-p", "1"],
                 ["--perf-calls", "bpf", "--perf-layout", "thread", "-p", "1"],
                 ["--perf-pages", "0", "-p", "1"]):
        r = harness.run_mmapwatch(argv)
        assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, (argv, r)


def _sigkill_leaves_target_running(calls, *opts):
    require_perf()
    wk = Worker(3)
    w = attach([wk.pid], *PERF, "--perf-calls", calls, *opts)
    assert len(safety_events_of(w.events, "attach", wk.pid)) == 1
    assert_untraced(wk.pid)  # perf stops and traces no one
    tid, addr, ln = wk.mmap(MAP_LEN)
    w.wait_mmap(tid, addr, ln)
    assert _perf_fds(w.pid), "mmapwatch holds no perf event: the test proves nothing"
    bpf = harness.bpf_objects_of(w.pid)
    assert bool(bpf) == (calls == "bpf"), bpf
    w.proc.kill()
    assert w.wait_exit() == -signal.SIGKILL
    # the kernel freed mmapwatch's programs and maps with its descriptors
    left = harness.bpf_objects_left(bpf)
    assert not left, f"BPF objects left in the kernel: {left}"
    assert_untraced(wk.pid)
    for task in os.listdir(f"/proc/{wk.pid}/task"):
        assert harness.proc_state(int(task)) not in "Tt", task
    wk.ping()
    wk.iterate(20)
    tid, addr, ln = wk.mmap(MAP_LEN)
    assert tid == wk.pid and ln == MAP_LEN
    assert wk.sigs() == {}, wk.sigs()
    wk.finish(0)


def test_sigkill_of_mmapwatch_leaves_target_running():
    """mmapwatch --source perf (BPF programs) killed with SIGKILL: the
    target runs on, never stopped, TracerPid 0, and no perf event, BPF
    program or map is left (mmapwatch's descriptors were the only ones)."""
    _sigkill_leaves_target_running("bpf")


def test_sigkill_of_mmapwatch_leaves_target_running_k():
    """The same with -k: the stack watch's per-CPU events and the gating
    programs go with mmapwatch's descriptors too."""
    _sigkill_leaves_target_running("bpf", "-k")


def test_sigkill_of_mmapwatch_leaves_target_running_raw():
    """The same with perf events on raw_syscalls."""
    _sigkill_leaves_target_running("raw")


def _regions(events):
    """The reported regions and what happened to them, source-neutral."""
    keep = {"mmap", "munmap", "mremap", "mprotect", "exec", "exit"}
    out = set()
    for e in events:
        if e["event"] not in keep:
            continue
        out.add((e["event"], e["pid"], e["tid"], e.get("comm"), e.get("addr"), e.get("len"),
                 e.get("new_addr"), e.get("new_len"), e.get("prot"), e.get("status")))
    return out


def test_differential_ptrace_and_perf():
    """One fixture (threads, a child, every call kind of a region's life)
    traced by each source (perf both ways it reads the calls: BPF programs
    and raw_syscalls events): the same set of reported events, field by field
    (pids differ per run, so each run is keyed by its fixture's truth)."""
    require_perf()
    runs = {}
    for source, calls in (("ptrace", "auto"), ("perf", "bpf"), ("perf", "raw")):
        # setarch -R: the same addresses in every run
        truth = os.path.join(tmpdir(), f"truth-{source}-{calls}")
        p, pid = start_fixture(["setarch", "-R", fixture("trace_lifecycle"), "-w", truth])
        w = harness.start_attach_many([pid], "--source", source, "--perf-calls", calls,
                                      "--no-dump")
        send_go(p)
        wait_fixture(p, 0)
        rc, events, err = harness.finish_attach_many(w)
        assert rc == 0, err
        truth = read_truth(truth)
        me = truth_of(truth, "self")[0]["pid"] if truth_of(truth, "self") else None
        pids = {e["pid"] for e in events}
        # the run's own pids and tids, renamed by order of appearance
        ids = {}
        for e in events:
            for k in ("pid", "tid"):
                ids.setdefault(e[k], len(ids))
        runs[calls] = {tuple(ids.get(v, v) if i in (1, 2) else v for i, v in enumerate(r))
                       for r in _regions(events)}
        assert runs[calls], (source, calls, me, pids)
    for calls in ("bpf", "raw"):
        assert runs["auto"] == runs[calls], (
            f"only ptrace: {sorted(runs['auto'] - runs[calls], key=str)[:5]}; "
            f"only perf {calls}: {sorted(runs[calls] - runs['auto'], key=str)[:5]}")


def test_storm_2000_threads_nothing_missed_or_lost_said():
    """2,000 threads created after the attach, each mapping and unmapping:
    every map call of the truth is reported with its thread, or a "lost"
    event says records were lost."""
    require_perf()
    events, truth, _ = _attach_run("perf_storm", *PERF, "--no-dump", "-m", "3M",
                                   flags=["-n", "2000"])
    assert truth_of(truth, "done")[0]["threads"] == 2000
    lost = events_of(events, "lost")
    for kind in ("mmap", "munmap"):
        want = {(r["tid"], hexaddr(r["addr"]), r["len"]) for r in truth_of(truth, kind)}
        got = {(e["tid"], hexaddr(e["addr"]), e["len"]) for e in events_of(events, kind)}
        missing = want - got
        assert not missing or lost, f"{len(missing)} {kind}s missed without a lost event"
        assert not (got - want) or kind == "munmap", f"{kind}s never made: {list(got - want)[:3]}"
    names = {e["comm"] for e in events_of(events, "mmap") if e["len"] >= 3 * MIB}
    assert names and all(n.startswith("storm-") for n in names), names


def test_loss_is_a_lost_event_and_counted_by_summary():
    """A one-page ring and a storm: records are lost; each loss is a
    "lost" event with its count and window, the regions then uncertain are
    said, and the -c summary's lost count is their sum."""
    require_perf()
    events, truth, _ = _attach_run("perf_storm", *PERF, "--perf-pages", "1", "--no-dump",
                                   "-c", flags=["-n", "600", "-m", "6"])
    lost = events_of(events, "lost")
    assert lost, "a one-page ring lost nothing: the test proves nothing"
    for e in lost:
        assert e["count"] >= 0 and e["window_ns"] >= 0 and "regions_uncertain" in e, e
    (summary,) = events_of(events, "summary")
    assert summary["lost"] == sum(e["count"] for e in lost), (summary, lost)


def test_summary_says_nothing_lost():
    require_perf()
    events, _, _ = _attach_run("trace_map", *PERF, "--no-dump", "-c", args=[str(MAP_LEN)])
    (summary,) = events_of(events, "summary")
    assert summary["lost"] == 0 and summary["mmaps"] >= 1, summary


def test_comm_target_and_children_after_attach():
    """--comm NAME through the perf source: the process found by name is
    followed, with the threads and the child it creates after the attach."""
    require_perf()
    truth = os.path.join(tmpdir(), "truth")
    p, pid = start_fixture([fixture("trace_threads"), "-w", truth])
    with open(f"/proc/{pid}/comm") as f:
        name = f.read().strip()
    w = harness.spawn([harness.MMAPWATCH, "--json", "-o", "-", *PERF, "--no-dump",
                       "--comm", name], stdout=harness.subprocess.PIPE,
                      stderr=harness.subprocess.PIPE, bufsize=0)
    reader = harness.LineReader(w.stdout)
    first = []
    while True:
        line = reader.line()
        assert line, f"mmapwatch ended before attaching: {w.stderr.read()!r}"
        ev = harness.json.loads(line)
        first.append(ev)
        if ev["event"] == "attach":
            break
    assert ev["pid"] == pid, ev
    send_go(p)
    wait_fixture(p, 0)
    out, err = w.communicate(timeout=harness.WAIT_S * 4)
    events = first + harness.parse_events(reader.rest() + out.decode())
    assert w.returncode == 0, err
    for rec in truth_of(read_truth(truth), "mmap"):
        hits = [e for e in events_of(events, "mmap")
                if e["tid"] == rec["tid"] and hexaddr(e["addr"]) == hexaddr(rec["addr"])]
        assert len(hits) == 1, (rec, hits)


def _stacks(source, *opts, during=None):
    """The stacks of stack_chain's summary mmaps (site_alpha, site_beta),
    by address, traced by source with opts, and mmapwatch's stderr; the
    fixture lives until after the detach (a perf sample's stack is walked
    after the fact, over the files the process still has mapped). during()
    is called while the fixture's mmaps are being traced."""
    truth = os.path.join(tmpdir(), "truth")
    fx, pid = start_fixture([fixture("stack_chain"), "-w", "summary", truth])
    p = harness.start_attach_many([pid], "--source", source, "-k", "-m", "4M", "--no-dump",
                                  *opts)
    send_go(fx)
    assert fx.stdout.readline() == "done\n"
    if during:
        during()
    p.send_signal(signal.SIGINT)
    rc, events, err = harness.finish_attach_many(p)
    assert rc == 0, err
    fx.stdin.close()
    wait_fixture(fx)
    want = {hexaddr(r["addr"]) for r in truth_of(read_truth(truth), "mmap")}
    got = {hexaddr(e["addr"]): [(f.get("symbol") or "?").split("+")[0] for f in e["stack"]]
           for e in events_of(events, "mmap") if hexaddr(e["addr"]) in want}
    assert set(got) == want, (got, want)
    return [got[a] for a in sorted(got)], err


def test_stack_depth_equals_ptrace():
    """-k from the kernel's register and stack copy: the same frames, as
    deep, as the ptrace source's walk of the stopped thread; with the BPF
    reader (its stack watch's per-CPU samples, the default) and with the
    raw_syscalls events."""
    require_perf()
    ptrace, _ = _stacks("ptrace")
    assert all(len(s) >= 4 and ("site_alpha" in s or "site_beta" in s) for s in ptrace), ptrace
    for calls in ("bpf", "raw"):
        perf, _ = _stacks("perf", "--perf-calls", calls)
        assert perf == ptrace, f"{calls}: perf {perf} vs ptrace {ptrace}"


STACK_LINE = re.compile(r"perf source: (\d+) stack samples \((\d+) lost, (\d+) taken by no "
                        r"call\), (\d+) calls without their stack")


def test_k_stack_watch_samples_only_the_calls_written():
    """The BPF reader's stacks come from per-CPU perf events on the stacked
    entries' tracepoints, which sample every process of the machine unless
    the programs answer 0: they must answer 1 only for the calls they wrote
    a record of. Another process maps and unmaps all along the traced run;
    none of its calls may be sampled (a sample no call takes), and every
    stacked call of the fixture gets its stack."""
    require_perf()
    noise = harness.spawn([sys.executable, "-c", (
        "import mmap, sys, select\n"
        "n = 0\n"
        "while True:\n"
        "    for _ in range(100):\n"
        "        mmap.mmap(-1, 1 << 20).close()\n"
        "    n += 100\n"
        "    if select.select([sys.stdin], [], [], 0)[0]:\n"
        "        if sys.stdin.readline() == '':\n"
        "            break\n"
        "        print(n, flush=True)\n")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    counts = []

    def count():
        noise.stdin.write("\n")
        noise.stdin.flush()
        counts.append(int(noise.stdout.readline()))
    try:
        count()
        _, err = _stacks("perf", "-v", during=count)
    finally:
        noise.stdin.close()
        noise.wait(timeout=harness.WAIT_S)
    assert counts[1] > counts[0], "the other process made no mmap while traced: proves nothing"
    m = STACK_LINE.search(err)
    assert m, err
    samples, lost, stray, missing = map(int, m.groups())
    assert samples >= 2 and lost == 0 and missing == 0, m.group(0)
    assert stray == 0, f"calls of a process not followed were sampled: {m.group(0)}"


def test_k_second_instance_reads_its_stacks_without_the_gate():
    """A second mmapwatch -k while one runs: the first's programs answer 0
    on the stacked entries for every process it does not follow, which
    would leave the second with no stack at all (and the second's gate
    would do the same to the first). The second sees the first's program
    on sys_enter_mmap, says so (-v), and reads its stacks through
    raw_syscalls: every stack of its own fixture is there."""
    require_perf()
    truth_a = os.path.join(tmpdir(), "truth_a")
    fx, pid = start_fixture([fixture("stack_chain"), "-w", "summary", truth_a])
    first = harness.start_attach_many([pid], "--source", "perf", "-k", "-m", "4M", "--no-dump")
    try:
        truth = os.path.join(tmpdir(), "truth")
        rc, events, err = harness.run_launch([fixture("stack_chain"), "chain", truth], *PERF,
                                             "-k", "-v", "-m", "16M", "--no-dump")
    finally:
        send_go(fx)
        assert fx.stdout.readline() == "done\n"
        first.send_signal(signal.SIGINT)
        rc1, events1, err1 = harness.finish_attach_many(first)
        fx.stdin.close()
        wait_fixture(fx)
    assert rc == 0 and rc1 == 0, (err, err1)
    assert re.search(r"BPF programs cannot be used here: \d+ other BPF programs? "
                     r"\([^)]*mmapwatch_\d+[^)]*\) on syscalls/sys_enter_mmap", err), err
    assert "without their stack" not in err, err
    # (the fixture has exited when its stacks are walked: frames unnamed, as deep)
    want = {hexaddr(r["addr"]) for r in truth_of(read_truth(truth), "mmap")}
    got = [e for e in events_of(events, "mmap") if hexaddr(e["addr"]) in want]
    assert len(got) == len(want) >= 1 and all(len(e["stack"]) >= 5 for e in got), got
    assert "without their stack" not in err1, err1


def test_a_program_that_can_drop_our_records_is_said():
    """The perf-event readers cannot see the records a BPF program on their
    tracepoint makes the kernel drop (one that answers 0, as mmapwatch -k's
    do for processes they do not follow): they look for such programs and
    say so, naming the tracepoint. Here a program answering 0 sits on
    sys_enter_mmap while the per-call reader runs: its mmaps are lost
    there, and the warning is the only trace of it."""
    require_perf()
    blocker = harness.spawn([harness.PERFDRV, "--answer-zero", "syscalls/sys_enter_mmap"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert blocker.stdout.readline() == "ready\n"
        rc, events, err = harness.run_launch(
            [fixture("trace_map"), os.path.join(tmpdir(), "truth"), str(MAP_LEN)], *PERF,
            "--perf-calls", "syscalls", "--no-dump")
    finally:
        blocker.stdin.close()
        blocker.wait(timeout=harness.WAIT_S)
    assert rc == 0, err
    warn = [ln for ln in err.splitlines() if "BPF program" in ln]
    assert len(warn) == 1 and "syscalls/sys_enter_mmap" in warn[0] and \
        "go unseen" in warn[0], err


def test_k_stack_ring_too_small_is_said():
    """A stack ring of one page cannot hold a single 16 KiB stack copy:
    every sample is lost, every mmap is still reported (stackless), and the
    warnings say so, with --perf-pages, and in all at the end."""
    require_perf()
    rc, events, err = harness.run_launch([fixture("bench_mmap"), "300", "1", "65536"], *PERF,
                                         "-k", "--perf-pages", "1", "--no-dump")
    assert rc == 0, err
    maps = [e for e in events_of(events, "mmap") if e["len"] == 65536]
    lost = sum(e["count"] for e in events_of(events, "lost"))
    assert len(maps) + lost >= 300 and maps and all(e["stack"] == [] for e in maps), \
        (len(maps), lost)
    warn = [ln for ln in err.splitlines() if "without their stack" in ln]
    assert warn and "ring was full" in warn[0] and "--perf-pages" in warn[0], err
    said = int(re.search(r"(\d+) calls", warn[-1]).group(1))
    assert said >= len(maps), (said, len(maps), warn)


def test_k_stacks_taken_away_are_said():
    """Another BPF program that comes to sys_enter_mmap after mmapwatch -k
    started (one already there makes it read stacks without the gate), and
    answers 0: the kernel then takes no perf sample there. The mmaps are
    still reported, without a stack, and a warning says how many and why;
    never an empty stack passed off in silence."""
    require_perf()
    truth = os.path.join(tmpdir(), "truth")
    fx, pid = start_fixture([fixture("stack_chain"), "-w", "summary", truth])
    w = harness.start_attach_many([pid], "--source", "perf", "-k", "-m", "4M", "--no-dump")
    blocker = harness.spawn([harness.PERFDRV, "--answer-zero", "syscalls/sys_enter_mmap"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert blocker.stdout.readline() == "ready\n"
        send_go(fx)
        assert fx.stdout.readline() == "done\n"
    finally:
        blocker.stdin.close()
        blocker.wait(timeout=harness.WAIT_S)
    w.send_signal(signal.SIGINT)
    rc, events, err = harness.finish_attach_many(w)
    fx.stdin.close()
    wait_fixture(fx)
    assert rc == 0, err
    want = {hexaddr(r["addr"]) for r in truth_of(read_truth(truth), "mmap")}
    got = [e for e in events_of(events, "mmap") if hexaddr(e["addr"]) in want]
    assert len(got) == len(want) >= 1 and all(e["stack"] == [] for e in got), got
    warn = [ln for ln in err.splitlines() if "without their stack" in ln]
    assert warn and "another BPF program" in warn[0], err
    assert int(re.search(r"(\d+) calls", warn[-1]).group(1)) >= len(want), warn


def test_non_leader_exec_carries_the_thread_on():
    """A thread that is not the leader execs: the kernel gives it the
    leader's tid, and the perf source's EXEC says which tid called execve
    (former_tid, from the execve entry waiting in perf_pair). With it, the
    source's thread table carries the exec'ing thread on under the
    leader's tid, and the process's end is seen from its own records;
    without it, the old tid would stay in the table as a thread that never
    ends, and the end would only be found in /proc later (-v counts that).
    Launched and attached, the leader alive at the exec or gone before it
    (-L); the truth checks are the ptrace source's (test_tracing)."""
    require_perf()
    from test_tracing import check_exec_thread
    for flags in ([], ["-L"]):
        truth = os.path.join(tmpdir(), "truth")
        rc, events, err = harness.run_launch(
            [fixture("trace_exec_thread"), *flags, truth, fixture("trace_map")],
            *PERF, "-v", "--no-dump")
        assert rc == 0, err
        check_exec_thread(events, read_truth(truth))
        assert "0 thread exits found in /proc" in err, (flags, err)
        events, truth, err = _attach_run("trace_exec_thread", *PERF, "-v", "--no-dump",
                                         flags=flags, args=[fixture("trace_map")])
        check_exec_thread(events, truth)
        assert "0 thread exits found in /proc" in err, (flags, err)


def _mapped_file_path(source):
    """The path of a file-backed mmap whose descriptor the program closed
    and reused for another file before mmapwatch read the event."""
    d = tmpdir()
    mapped, other = os.path.join(d, "mapped.txt"), os.path.join(d, "other.txt")
    for path in (mapped, other):
        with open(path, "w") as f:
            f.write(path * 100)
    truth = os.path.join(d, "truth")
    p, pid = harness.start_fixture([fixture("fd_reuse"), mapped, other, truth])
    m = harness.spawn([harness.MMAPWATCH, "--json", "-o", "-", "--no-dump", "--source", source,
                       "-p", str(pid)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    r = harness.EventReader(m.stdout, explain=lambda: f"rc={m.poll()}")
    r.wait_attached([pid])
    harness.send_go(p)
    ev = r.wait_event(lambda e: e["event"] == "mmap" and e["tid"] == pid, "the file mmap")
    harness.send_go(p)  # the second byte: it may unmap and exit now
    harness.wait_fixture(p, 0)
    r.drain()
    assert m.wait(timeout=harness.WAIT_S) == 0, m.stderr.read()
    rec = harness.read_truth(truth)[0]
    assert harness.hexaddr(ev["addr"]) == harness.hexaddr(rec["addr"]) and ev["fd"] == rec["fd"], (ev, rec)
    # Its own file, or no name at all: never the file that took its fd.
    assert ev["path"] == mapped, ev


def test_mapped_file_named_though_its_fd_was_reused():
    _mapped_file_path("ptrace")


def test_mapped_file_named_though_its_fd_was_reused_perf():
    harness.require_perf()
    _mapped_file_path("perf")


def test_launch_ends_when_the_last_exit_record_is_lost():
    """A ring that stays full while the command exits loses its threads'
    exit records; the command, not yet reaped, is a zombie still listed in
    /proc. mmapwatch must take it as ended, say what it lost, and exit
    (it once waited for it for ever, woken without end by the ring's
    EPOLLHUP)."""
    require_perf()
    out = os.path.join(tmpdir(), "events.jsonl")
    mw = harness.spawn([harness.MMAPWATCH, *PERF, "--perf-pages", "1", "--no-dump", "--json",
                        "-o", out, "--", fixture("bench_mmap"), "--wait-stdin", "2000", "2",
                        "65536"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # bench_mmap, our child's child: "ready" on the stdout it shares.
    assert harness.read_line(mw.stdout).strip() == b"ready"
    with open(f"/proc/{mw.pid}/task/{mw.pid}/children") as f:
        kids = f.read().split()
    assert len(kids) == 1, kids
    child = int(kids[0])
    # mmapwatch stopped: nobody drains the one-page ring while the command
    # maps 2,000 times and exits.
    os.kill(mw.pid, signal.SIGSTOP)
    try:
        mw.stdin.write(b"g")
        mw.stdin.flush()
        deadline = time.monotonic() + harness.WAIT_S
        while harness.proc_state(child) != "Z":
            assert time.monotonic() < deadline, "the command did not exit"
            time.sleep(0.01)
    finally:
        os.kill(mw.pid, signal.SIGCONT)
    rc = mw.wait(timeout=harness.WAIT_S)
    err = mw.stderr.read().decode()
    assert rc == 0, (rc, err)
    events = harness.parse_events(open(out).read())
    assert sum(e["count"] for e in events_of(events, "lost")) > 0, "no loss reported"


def test_per_call_where_kernel_samples_are_not_allowed():
    """raw_syscalls fires with the kernel's registers, so its events need
    kernel samples: with kernel.perf_event_paranoid 2 and neither
    CAP_PERFMON nor CAP_SYS_ADMIN, the perf source reads one tracepoint pair
    per call instead (which -v says), and follows the same maps, --min-size
    applied; --perf-calls syscalls asks for that layout anywhere."""
    require_perf()
    # Without CAP_SYS_ADMIN mmapwatch cannot mount tracefs for itself: where
    # the machine has none mounted, the run gets a mount namespace of its
    # own with tracefs mounted (the machine's mounts stay as they are).
    mounted = ["unshare", "-m", "--propagation", "private", "sh", "-c",
               '[ -d /sys/kernel/tracing/events ] || '
               'mount -t tracefs nodev /sys/kernel/tracing || exit 97; exec "$@"', "sh"]
    for argv_prefix, fallback in (([*mounted, "setpriv", "--bounding-set=-perfmon,-sys_admin"],
                                   True),
                                  ([], False)):
        if argv_prefix:
            with open("/proc/sys/kernel/perf_event_paranoid", encoding="ascii") as f:
                if int(f.read()) < 2 or os.geteuid() != 0:
                    continue  # kernel samples allowed to anyone here: nothing to fall back from
        truth = os.path.join(tmpdir(), "truth")
        out = os.path.join(tmpdir(), "events.jsonl")
        calls = [] if fallback else ["--perf-calls", "syscalls"]
        r = subprocess.run([*argv_prefix, harness.MMAPWATCH, "--source", "perf", *calls, "-v",
                            "--json", "-o", out, "--no-dump", "--min-size", "2M", "--",
                            fixture("trace_map"), truth, str(MAP_LEN), str(MIB + 4096)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=harness.WAIT_S * 4)
        assert r.returncode == 0, r.stderr
        said = [l for l in r.stderr.splitlines() if "the calls are read through" in l]
        assert len(said) == 1 and "one tracepoint pair per call" in said[0], r.stderr
        assert ("raw_syscalls needs kernel samples" in said[0]) == fallback, said
        big = [rec for rec in truth_of(read_truth(truth), "mmap") if rec["len"] == MAP_LEN]
        got = [e for e in events_of(harness.read_events(out), "mmap")]
        assert [(e["tid"], hexaddr(e["addr"]), e["len"]) for e in got] == \
            [(rec["tid"], hexaddr(rec["addr"]), rec["len"]) for rec in big], got


def test_bpf_refused_in_a_pid_namespace_falls_back_to_raw():
    """BPF programs see the host's process ids: mmapwatch in a pid
    namespace of its own (a container's) reads the calls through
    raw_syscalls instead, says why with -v, and reports the same maps."""
    require_perf()
    if os.geteuid() != 0:
        raise Skip("unshare --pid needs root")
    truth = os.path.join(tmpdir(), "truth")
    out = os.path.join(tmpdir(), "events.jsonl")
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", harness.MMAPWATCH,
                        "--source", "perf", "-v", "--json", "-o", out, "--no-dump",
                        "--min-size", "2M", "--", fixture("trace_map"), truth, str(MAP_LEN)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=harness.WAIT_S * 4)
    assert r.returncode == 0, r.stderr
    said = [l for l in r.stderr.splitlines() if "the calls are read" in l]
    assert len(said) == 1 and "through raw_syscalls" in said[0] and \
        "BPF programs cannot be used here: mmapwatch runs in a pid namespace of its own" \
        in said[0], r.stderr
    (rec,) = [m for m in truth_of(read_truth(truth), "mmap") if m["len"] == MAP_LEN]
    got = [(e["tid"], hexaddr(e["addr"]), e["len"])
           for e in events_of(harness.read_events(out), "mmap")]
    assert got == [(rec["tid"], hexaddr(rec["addr"]), rec["len"])], got
    # and asked for by name, the refusal is an error that says what to do
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", harness.MMAPWATCH,
                        "--source", "perf", "--perf-calls", "bpf", "--no-dump", "--",
                        "true"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=harness.WAIT_S)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1 and \
        "pid namespace of its own" in r.stderr and "--perf-calls raw" in r.stderr, r


def test_bpf_reader_says_a_32bit_program():
    """The syscall tracepoints never fire for i386 calls, so the BPF reader
    cannot see a 32-bit program's maps: it says so, once, for a program
    followed while it runs (its ELF class) and for one exec'd later (the
    exec's sampled registers), and reports none of its calls."""
    require_perf()
    prog32 = fixture("prog32")
    said = "runs a 32-bit program: its system calls are i386 ones, which the perf " \
           "source's BPF programs do not see; --source ptrace follows them"
    # exec'd under the reader: launch mode, and a child of a followed shell
    for argv in ([prog32], ["sh", "-c", f"{prog32} </dev/null; true"]):
        out = os.path.join(tmpdir(), "events.jsonl")
        r = subprocess.run([harness.MMAPWATCH, "--source", "perf", "--json", "-o", out,
                            "--no-dump", "--", *argv], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=harness.WAIT_S * 4)
        assert r.returncode == 0, r.stderr
        assert "mapped 0x" in r.stdout, r.stdout  # it did map, with i386 mmap2
        execs = [e for e in harness.read_events(out) if e["event"] == "exec" and
                 e.get("comm") == "prog32"]
        assert len(execs) == 1, execs
        lines = [l for l in r.stderr.splitlines() if said in l]
        assert lines == [f"mmapwatch: warning: process {execs[0]['pid']} {said}"], r.stderr
        assert not [e for e in harness.read_events(out)
                    if e["event"] == "mmap" and e["pid"] == execs[0]["pid"]]
    # already running when attached: it waits for a byte on stdin
    p = subprocess.Popen([prog32], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        w = harness.start_attach_many([p.pid], "--source", "perf", "--no-dump")
        p.stdin.write(b"g")
        p.stdin.close()
        assert p.wait(timeout=harness.WAIT_S) == 0
        rc, events, err = harness.finish_attach_many(w)
        assert rc == 0, err
        lines = [l for l in err.splitlines() if said in l]
        assert lines == [f"mmapwatch: warning: process {p.pid} {said}"], err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    # with raw_syscalls the same program's calls are seen, and said as i386 ones
    r = subprocess.run([harness.MMAPWATCH, "--source", "perf", "--perf-calls", "raw",
                        "--no-dump", "-o", "/dev/null", "--", prog32],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=harness.WAIT_S * 4)
    assert r.returncode == 0 and "makes i386 system calls" in r.stderr, r.stderr


def _followed_map_keys(mw_pid):
    """The process ids in mmapwatch's BPF map of followed processes (the
    one hash map it holds), read through bpf(2)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    map_id = None
    for fd in os.listdir(f"/proc/{mw_pid}/fdinfo"):
        try:
            with open(f"/proc/{mw_pid}/fdinfo/{fd}") as f:
                info = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
        except OSError:
            continue
        if info.get("map_type") == "1":  # BPF_MAP_TYPE_HASH
            map_id = int(info["map_id"])
    assert map_id is not None, "mmapwatch holds no BPF hash map"
    attr = ctypes.create_string_buffer(128)
    ctypes.c_uint32.from_buffer(attr, 0).value = map_id
    fd = libc.syscall(321, 14, attr, 128)  # BPF_MAP_GET_FD_BY_ID
    assert fd >= 0, os.strerror(ctypes.get_errno())
    keys, key, nxt = set(), ctypes.c_uint32(0), ctypes.c_uint32(0)
    try:
        first = True
        while True:
            attr = ctypes.create_string_buffer(128)
            ctypes.c_uint32.from_buffer(attr, 0).value = fd
            ctypes.c_uint64.from_buffer(attr, 8).value = \
                0 if first else ctypes.addressof(key)
            ctypes.c_uint64.from_buffer(attr, 16).value = ctypes.addressof(nxt)
            if libc.syscall(321, 4, attr, 128) != 0:  # BPF_MAP_GET_NEXT_KEY
                assert ctypes.get_errno() == errno.ENOENT, os.strerror(ctypes.get_errno())
                return keys
            keys.add(nxt.value)
            key.value, first = nxt.value, False
    finally:
        os.close(fd)


def test_bpf_map_forgets_ended_processes():
    """Children of a followed process are followed from birth by the BPF
    programs' map; once they have ended they leave it (a pid reused later
    by a stranger must not be followed)."""
    require_perf()
    sh = subprocess.Popen(["sh", "-c", "read a; for i in 1 2 3 4 5; do /bin/true; done; "
                           "echo done; read b"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True)
    try:
        w = harness.start_attach_many([sh.pid], "--source", "perf", "--perf-calls", "bpf",
                                      "--no-dump")
        assert _followed_map_keys(w.pid) == {sh.pid}
        sh.stdin.write("go\n")
        sh.stdin.flush()
        assert sh.stdout.readline() == "done\n"
        # the five children were followed (their execs reported), then forgotten
        deadline = time.monotonic() + harness.WAIT_S
        while (keys := _followed_map_keys(w.pid)) != {sh.pid} and time.monotonic() < deadline:
            time.sleep(0.02)  # polled: mmapwatch forgets them as it reads their end
        assert keys == {sh.pid}, keys
        sh.stdin.write("x\n")
        sh.stdin.close()
        assert sh.wait(timeout=harness.WAIT_S) == 0
        rc, events, err = harness.finish_attach_many(w)
        assert rc == 0, err
        execs = [e for e in events if e["event"] == "exec" and e.get("comm") == "true"]
        assert len(execs) == 5, execs
    finally:
        if sh.poll() is None:
            sh.kill()
            sh.wait()
