"""The perf source (src/perf_source.c), driven outside the tracer by
build/.../tests/perfdrv against real fixtures that write their own truth.

What is checked against the truth: the exact tid/addr/len of every map call
made after the attach, exactly once (no duplicate, none missing); threads
and processes created after the attach; a non-leader exec (the exec names
the thread that called it); a storm of 2,000 threads; losses made on
purpose (a stalled reader, a tiny ring) reported as "lost" events, also
when no ring carries a LOST record; the --min-size kernel filter; the
target untouched by a SIGKILL of the reader; tracefs mounted privately
when the host has none; and the one-line reason when the source cannot be
used (an unprivileged user).
"""
import json
import os
import re
import signal
import subprocess
import threading

import harness
from harness import Skip, fixture, read_truth, start_fixture, tmpdir, truth_of

PERFDRV = os.environ.get("PERFDRV") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "release", "tests", "perfdrv")
MIB = 1024 * 1024
MAP_FIXED = 0x10
NOBODY = "65534"


def _require_perf():
    """Skips when this machine cannot open syscall tracepoints at all."""
    p = subprocess.run([PERFDRV, "--probe", str(os.getpid())], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=harness.WAIT_S)
    if p.returncode != 0:
        why = json.loads(p.stdout)["why"] if p.stdout.strip() else p.stderr.strip()
        raise Skip(f"perf_event_open of syscall tracepoints is not allowed here: {why}")


class Driver:
    """perfdrv PID OPTS..., read up to its "attach" line."""

    def __init__(self, pid, *opts, argv_prefix=(), stdin=subprocess.DEVNULL):
        # The perf-event reader unless a test names how the calls are read:
        # the BPF one has its own twins (*_bpf) below.
        if not {"--raw", "--bpf", "--per-call"} & set(map(str, opts)):
            opts = (*opts, "--raw")
        self.p = harness.spawn([*argv_prefix, PERFDRV, str(pid), *map(str, opts)],
                               stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               bufsize=0)
        self.reader = harness.LineReader(self.p.stdout)
        line = self.reader.line()
        if not line:
            raise AssertionError(f"perfdrv ended before attaching: rc={self.p.wait()} "
                                 f"stderr={self.p.stderr.read()!r}")
        self.attach = json.loads(line)
        assert self.attach["event"] == "attach", self.attach
        # Read on while the test drives the target: a reader blocked on a
        # full pipe stops draining, and the kernel then drops records.
        self.chunks = [self.reader.rest().encode()]
        self.arrived = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            chunk = os.read(self.p.stdout.fileno(), 1 << 16)
            with self.arrived:
                if chunk:
                    self.chunks.append(chunk)
                self.arrived.notify_all()
            if not chunk:
                return

    def wait_for(self, pred):
        """Waits until a whole line read so far is an event satisfying pred."""
        def seen():
            lines = b"".join(self.chunks).split(b"\n")[:-1]
            return any(l.strip() and pred(json.loads(l)) for l in lines)
        with self.arrived:
            if not self.arrived.wait_for(seen, timeout=harness.WAIT_S):
                raise AssertionError("perfdrv never printed the event waited for")

    def finish(self, timeout=None):
        """Waits for perfdrv to end (the target exited); all events after attach."""
        self.p.wait(timeout=timeout or harness.WAIT_S * 4)
        self.thread.join(timeout=harness.WAIT_S)
        self.stderr = self.p.stderr.read().decode()
        assert self.p.returncode == 0, f"perfdrv rc={self.p.returncode} stderr={self.stderr!r}"
        self.events = harness.parse_events(b"".join(self.chunks).decode())
        assert self.events and self.events[-1]["event"] == "end", self.events[-3:]
        self.end = self.events[-1]
        times = [e["time"] for e in self.events[:-1] if "time" in e]
        assert times == sorted(times), "events not in time order"
        _check_entries(self.events)
        return self.events


def _maps(events, call="mmap"):
    return [e for e in events if e["event"] == "map" and e["call"] == call]


def _check_entries(events):
    """Every paired call was announced by its entry, earlier, with the same
    arguments; every entry ends paired or unfinished, or is still open at
    the end."""
    open_ = {}
    for e in events:
        if e["event"] == "enter":
            open_[e["tid"]] = e
        elif e["event"] in ("map", "unfinished"):
            ent = open_.pop(e["tid"], None)
            assert ent and ent["args"] == e["args"] and ent["time"] == e["enter_time"], (ent, e)


def _mmap_key(e):
    """(tid, addr, asked length) of a successful mmap event."""
    return (e["tid"], e["ret"], e["args"][1])


def _truth_maps(truth):
    return [(r["tid"], harness.hexaddr(r["addr"]), r["len"]) for r in truth_of(truth, "mmap")]


def _assert_exactly_once(reported, expected, what):
    missing = [k for k in expected if reported.count(k) == 0]
    twice = [k for k in expected if reported.count(k) > 1]
    assert not missing, f"{what}: {len(missing)} never reported, e.g. {missing[:3]}"
    assert not twice, f"{what}: {len(twice)} reported more than once, e.g. {twice[:3]}"


def _run_threads(*opts, argv_prefix=()):
    """trace_threads attached after its 4 arenas exist; returns (driver, truth, pid)."""
    truth_path = os.path.join(tmpdir(), "truth")
    p, pid = start_fixture([fixture("trace_threads"), "-w", truth_path])
    drv = Driver(pid, *opts, argv_prefix=argv_prefix)
    harness.send_go(p)
    harness.wait_fixture(p)
    drv.finish()
    return drv, read_truth(truth_path), pid


# ---------------------------------------------------------------------------

def _map_calls_exact_with_threads_and_child(calls):
    _require_perf()
    drv, truth, pid = _run_threads("--min-size", MIB, calls)
    evs = drv.events
    assert drv.attach["threads"] == 5, drv.attach  # main + 4 arenas
    if calls == "--bpf":  # three maps, a program and its event per tracepoint, and
        # the exec watch's events (one per CPU)
        assert drv.attach["fds"] == \
            3 + 2 * drv.attach["tracepoints"] + drv.attach["cpus"], drv.attach
    else:
        assert drv.attach["fds"] == 5 * drv.attach["cpus"] * drv.attach["tracepoints"]
    reported = [_mmap_key(e) for e in _maps(evs) if e["ret"] > 0]
    _assert_exactly_once(reported, _truth_maps(truth), "fixture mmaps")
    for e in _maps(evs):
        pid_of = {r["tid"]: r["pid"] for r in truth_of(truth, "mmap")}
        if e["tid"] in pid_of:
            assert e["pid"] == pid_of[e["tid"]], e
    # The child process and its thread were created after the attach.
    child = [r for r in truth_of(truth, "mmap") if r["comm"] == "fork-child"][0]
    child_th = [r for r in truth_of(truth, "mmap") if r["comm"] == "child-th"][0]
    spawns = harness.events_of(evs, "spawn")
    assert any(s["pid"] == child["pid"] and s["tid"] == child["pid"] and
               s["parent_pid"] == pid for s in spawns), spawns
    assert any(s["tid"] == child_th["tid"] and s["pid"] == child["pid"] and
               s["parent_tid"] == child["pid"] for s in spawns), spawns
    comms = {(e["tid"], e["comm"]) for e in harness.events_of(evs, "comm")}
    assert (child["tid"], "fork-child") in comms and (child_th["tid"], "child-th") in comms, comms
    exits = {e["tid"] for e in harness.events_of(evs, "thread_exit")}
    for r in truth_of(truth, "mmap"):
        assert r["tid"] in exits, f"no thread_exit for {r}"
    assert not harness.events_of(evs, "lost"), harness.events_of(evs, "lost")
    assert drv.end["duplicates"] == 0 and drv.end["bad_records"] == 0, drv.end


def test_map_calls_exact_with_threads_and_child():
    _map_calls_exact_with_threads_and_child("--raw")


def test_map_calls_exact_with_threads_and_child_bpf():
    _map_calls_exact_with_threads_and_child("--bpf")


def _min_size_filter_in_kernel(calls):
    _require_perf()
    drv, truth, _ = _run_threads("--min-size", 3 * MIB, calls)
    small = [e for e in _maps(drv.events)
             if e["args"][1] < 3 * MIB and not e["args"][3] & MAP_FIXED]
    assert not small, f"mmaps under --min-size reported: {small[:3]}"
    want = [k for k in _truth_maps(truth) if k[2] >= 3 * MIB]
    reported = [_mmap_key(e) for e in _maps(drv.events) if e["ret"] > 0]
    _assert_exactly_once(reported, want, "mmaps of 3 MiB and more")
    # The small ones' exits still came (sys_exit_mmap cannot be filtered)
    # and were dropped as entries never seen.
    assert drv.end["unpaired_exits"] > 0, drv.end


def test_min_size_filter_in_kernel():
    _min_size_filter_in_kernel("--raw")


def test_min_size_filter_in_kernel_bpf():
    _min_size_filter_in_kernel("--bpf")


def _non_leader_exec(calls):
    _require_perf()
    for variant in ([], ["-L"]):
        truth_path = os.path.join(tmpdir(), "truth")
        p, pid = start_fixture([fixture("trace_exec_thread"), "-w", *variant, truth_path,
                                fixture("trace_map")])
        drv = Driver(pid, "--min-size", MIB, calls)
        harness.send_go(p)
        harness.wait_fixture(p)
        evs = drv.finish()
        truth = read_truth(truth_path)
        execer = truth_of(truth, "pre")[0]["tid"]
        assert execer != pid
        reported = [_mmap_key(e) for e in _maps(evs) if e["ret"] > 0]
        _assert_exactly_once(reported, _truth_maps(truth), f"mmaps {variant}")
        execs = harness.events_of(evs, "exec")
        assert len(execs) == 1, execs
        ex = execs[0]
        assert (ex["pid"], ex["tid"], ex["former_tid"], ex["comm"]) == \
            (pid, pid, execer, "trace_map"), ex
        pre, post = [e for e in _maps(evs) if e["ret"] > 0 and
                     _mmap_key(e) in _truth_maps(truth)]
        assert pre["tid"] == execer and post["tid"] == pid, (pre, post)
        assert pre["time"] < ex["time"] < post["time"]


def test_non_leader_exec():
    _non_leader_exec("--raw")


def test_non_leader_exec_bpf():
    _non_leader_exec("--bpf")


def _storm(n, *opts, maps=1):
    truth_path = os.path.join(tmpdir(), "truth")
    p, pid = start_fixture([fixture("perf_storm"), "-w", "-n", str(n), "-m", str(maps),
                            truth_path])
    drv = Driver(pid, "--min-size", MIB, *opts)
    harness.send_go(p)
    harness.wait_fixture(p, timeout=harness.WAIT_S * 4)
    drv.finish()
    truth = read_truth(truth_path)
    assert truth_of(truth, "done")[0]["threads"] == n
    return drv, truth


def _storm_check(drv, truth, allow_loss):
    evs = drv.events
    reported = [_mmap_key(e) for e in _maps(evs) if e["ret"] > 0]
    unmaps = [(e["tid"], e["args"][0], e["args"][1]) for e in _maps(evs, "munmap")
              if e["ret"] == 0]
    want_maps = _truth_maps(truth)
    want_unmaps = [(r["tid"], harness.hexaddr(r["addr"]), r["len"])
                   for r in truth_of(truth, "munmap")]
    # Nothing invented: every reported storm call is in the truth, once.
    truth_set = set(want_maps)
    storm_lens = {k[2] for k in want_maps}
    bogus = [k for k in reported if k[2] in storm_lens and k not in truth_set]
    bogus += [k for k in unmaps if k[2] in storm_lens and k not in set(want_unmaps)]
    assert not bogus, f"mmaps the fixture never made (a wrong pair?): {bogus[:3]}"
    assert len(set(reported)) == len(reported), "an mmap reported twice"
    lost = harness.events_of(evs, "lost")
    missing = [k for k in want_maps if k not in set(reported)]
    missing += [k for k in want_unmaps if k not in set(unmaps)]
    if not allow_loss:
        assert not lost, lost[:3]
        assert not missing, f"{len(missing)} storm calls missed, e.g. {missing[:3]}"
    else:
        # Every missed call is covered by the records said to be lost.
        total = sum(e["count"] for e in lost)
        assert total >= len(missing), f"{len(missing)} calls missed, only {total} lost reported"
        for e in lost:
            assert e["count"] > 0 and e["from"] <= e["time"] <= e["to"], e
    return missing, lost


def test_storm_2000_threads():
    _storm_2000_threads("--raw")


def test_storm_2000_threads_bpf():
    _storm_2000_threads("--bpf")


def _storm_2000_threads(calls):
    _require_perf()
    drv, truth = _storm(2000, calls)
    _storm_check(drv, truth, allow_loss=False)
    spawned = {e["tid"] for e in harness.events_of(drv.events, "spawn")}
    tids = {r["tid"] for r in truth_of(truth, "mmap")}
    assert tids <= spawned, f"{len(tids - spawned)} storm threads without a spawn event"
    assert drv.end["duplicates"] == 0, drv.end


def test_loss_from_a_slow_reader_is_reported():
    _loss_from_a_slow_reader_is_reported("--raw")


def test_loss_from_a_slow_reader_is_reported_bpf():
    _loss_from_a_slow_reader_is_reported("--bpf")


def _loss_from_a_slow_reader_is_reported(calls):
    _require_perf()
    # One page per ring, drained every 10 ms: the storm overflows it. With
    # several calls of one kind per thread, an exit paired with an entry
    # from before a loss would show as a call the fixture never made.
    drv, truth = _storm(600, "--ring-pages", 1, "--stall-ms", 10, calls, maps=6)
    missing, lost = _storm_check(drv, truth, allow_loss=True)
    assert missing and lost, "the stalled reader lost nothing: the test proves nothing"
    assert drv.end["voided"] >= 0 and drv.end["lost"] == sum(e["count"] for e in lost)


def test_loss_until_exit_is_counted():
    _require_perf()
    # The reader sleeps through the whole run: the ring stays full until the
    # target is gone, so no LOST record is ever written; only the events'
    # own lost counters tell. The kernel writes a LOST record as soon as it
    # and one more record fit: with the per-call tracepoints no record is
    # larger than a LOST record and the smallest one together, so none ever
    # fits again; the raw layout's entries (with their registers) are, and
    # a thread's exit record may then bring a LOST record in. So per call.
    drv, truth = _storm(300, "--ring-pages", 1, "--stall-ms", 2500, "--per-call")
    missing, lost = _storm_check(drv, truth, allow_loss=True)
    assert missing, "nothing was lost: the test proves nothing"
    assert any(e["by_counter"] for e in lost), lost


def _perf_fds(pid):
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if "perf_event" in link:
            found.append(link)
    return found


def test_sigkill_of_reader_leaves_target_untouched():
    _sigkill_of_reader_leaves_target_untouched("--raw")


def test_sigkill_of_reader_leaves_target_untouched_bpf():
    _sigkill_of_reader_leaves_target_untouched("--bpf")


def _sigkill_of_reader_leaves_target_untouched(calls):
    _require_perf()
    truth_path = os.path.join(tmpdir(), "truth")
    p, pid = start_fixture([fixture("trace_threads"), "-w", truth_path])
    drv = Driver(pid, "--min-size", MIB, calls)
    bpf = harness.bpf_objects_of(drv.p.pid)
    if calls == "--bpf":
        assert len(bpf) == 3 + drv.attach["tracepoints"], bpf  # maps and programs
        assert len(_perf_fds(drv.p.pid)) == \
            drv.attach["tracepoints"] + drv.attach["cpus"]  # and the exec watch per CPU
    else:
        assert not bpf and len(_perf_fds(drv.p.pid)) == drv.attach["fds"]
    drv.p.send_signal(signal.SIGKILL)
    drv.p.wait(timeout=harness.WAIT_S)
    left = harness.bpf_objects_left(bpf)
    assert not left, f"BPF objects left in the kernel: {left}"
    assert harness.tracer_pid(pid) == 0
    assert harness.proc_state(pid) not in "Tt", harness.proc_state(pid)
    assert not _perf_fds(pid), _perf_fds(pid)
    for task in os.listdir(f"/proc/{pid}/task"):
        assert harness.proc_state(int(task)) not in "Tt"
    # It runs on and finishes its work as if nothing had happened.
    harness.send_go(p)
    harness.wait_fixture(p)
    assert len(truth_of(read_truth(truth_path), "mmap")) == 7


def _said_pid(p, word):
    """The pid in the fixture's next line, "WORD PID"."""
    line = harness.read_line(p.stdout)
    assert line.startswith(word + " "), line
    return int(line.split()[1])


def _spawn_ready(name, truth_path):
    """Fixture name (TRUTH as its argument), talked to through pipes: (the
    process, the pid it says in its "ready PID" line)."""
    p = harness.spawn([fixture(name), truth_path], stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, text=True)
    return p, _said_pid(p, "ready")


def test_attach_during_thread_creation():
    _require_perf()
    truth_path = os.path.join(tmpdir(), "truth")
    p, pid = _spawn_ready("sig_storm", truth_path)
    drv = Driver(pid)
    # Threads born while the events were being opened are covered twice
    # (their own events and inherited ones) or once: never reported twice.
    p.stdin.write("go\n")
    p.stdin.flush()
    finals = []
    while True:
        line = harness.read_line(p.stdout)
        if line.startswith("done "):
            break
        _, tid, addr = line.split()
        finals.append((int(tid), int(addr, 16)))
    p.stdin.write("exit\n")
    p.stdin.flush()
    harness.wait_fixture(p)
    evs = drv.finish()
    final_len = 9 * 4096 + 1
    reported = [(e["tid"], e["ret"]) for e in _maps(evs) if e["args"][1] == final_len]
    _assert_exactly_once(reported, finals, "final-round mmaps")
    storm = [(e["tid"], e["ret"]) for e in _maps(evs) if e["args"][1] == 5 * 4096 + 3]
    assert len(storm) == len(set(storm)), "a storm mmap reported twice"
    with open(truth_path) as f:
        truth = {(int(t), int(a, 16)) for _, t, a in (ln.split() for ln in f)}
    bogus = [k for k in storm if k not in truth]
    assert not bogus, bogus[:3]


def test_private_tracefs_mount_leaves_host_alone():
    _require_perf()
    if subprocess.run(["unshare", "--help"], stdout=subprocess.DEVNULL).returncode != 0:
        raise Skip("no unshare(1)")

    def tracefs_mounts():
        with open("/proc/self/mountinfo") as f:
            return sorted(l.split()[4] for l in f if " - tracefs " in l)

    before = tracefs_mounts()
    # A namespace of our own where no tracefs is mounted: the source must
    # mount one privately (in its helper's namespace) to read the formats.
    umount = "for m in $(awk '/ - tracefs /{print $5}' /proc/self/mountinfo); " \
             "do umount -l $m; done; exec \"$@\""
    drv, truth, _ = _run_threads("--min-size", MIB, argv_prefix=(
        "unshare", "-m", "--propagation", "private", "sh", "-c", umount, "sh"))
    assert drv.attach["tracefs_private"] is True, drv.attach
    reported = [_mmap_key(e) for e in _maps(drv.events) if e["ret"] > 0]
    _assert_exactly_once(reported, _truth_maps(truth), "fixture mmaps")
    assert tracefs_mounts() == before, "a tracefs mount was left on the host"


def test_unprivileged_user_gets_one_clear_line():
    _require_perf()
    if subprocess.run(["setpriv", "--help"], stdout=subprocess.DEVNULL).returncode != 0:
        raise Skip("no setpriv(1)")
    drop = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all")
    truth_path = os.path.join(tmpdir(), "truth")
    os.chmod(os.path.dirname(truth_path), 0o777)
    # The target is the unprivileged user's own process: only the missing
    # privilege for tracepoints stands in the way.
    p, pid = start_fixture([*drop, fixture("trace_map"), "-w", truth_path, str(MIB)])
    r = subprocess.run([*drop, PERFDRV, str(pid)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=harness.WAIT_S)
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfdrv: "), r.stderr
    assert re.search(r"tracefs|perf_event_open|CAP_", lines[0]), lines[0]
    assert re.search(r"root|CAP_|--source ptrace", lines[0]), lines[0]
    probe = subprocess.run([*drop, PERFDRV, "--probe", str(pid)], stdout=subprocess.PIPE,
                           text=True, timeout=harness.WAIT_S)
    verdict = json.loads(probe.stdout)
    assert probe.returncode == 1 and verdict["ok"] is False and verdict["why"], verdict
    assert harness.tracer_pid(pid) == 0 and harness.proc_state(pid) not in "Tt"
    harness.send_go(p)
    harness.wait_fixture(p)


def test_stacks_with_k():
    _require_perf()
    truth_path = os.path.join(tmpdir(), "truth")
    p, pid = start_fixture([fixture("trace_threads"), "-w", truth_path])
    # The code that makes the mmap system call: libc's executable mappings.
    text = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and "x" in fields[1] and "libc" in fields[5]:
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                text.append((lo, hi))
    assert text, "no libc text in the fixture's maps"
    drv = Driver(pid, "--min-size", MIB, "-k")
    harness.send_go(p)
    harness.wait_fixture(p)
    drv.finish()
    truth = set(_truth_maps(read_truth(truth_path)))
    calls = [e for e in _maps(drv.events) if e["ret"] > 0 and _mmap_key(e) in truth]
    assert len(calls) == len(truth), (len(calls), len(truth))
    for e in calls:
        assert e.get("stack_bytes", 0) > 1024, e
        assert e["nregs"] == 17, e
        ip = int(e["ip"], 16)
        assert any(lo <= ip < hi for lo, hi in text), f"ip {e['ip']} not in libc's text"
        assert int(e["sp"], 16) != 0


def test_loss_never_joins_two_calls():
    _require_perf()
    # One thread makes mmap after mmap while a one-page ring is drained
    # every 20 ms: the ring fills mid-call again and again. An entry whose
    # exit was lost must never be paired with the next call's exit.
    truth_path = os.path.join(tmpdir(), "truth")
    sizes = [str(4096 + 8 * i) for i in range(6000)]
    p, pid = start_fixture([fixture("trace_map"), "-w", truth_path, *sizes])
    drv = Driver(pid, "--ring-pages", 1, "--stall-ms", 3)
    harness.send_go(p)
    harness.wait_fixture(p)
    drv.finish()
    truth = set(_truth_maps(read_truth(truth_path)))
    lens = {k[2] for k in truth}
    reported = [_mmap_key(e) for e in _maps(drv.events) if e["ret"] > 0 and e["args"][1] in lens]
    lost = harness.events_of(drv.events, "lost")
    assert lost, "nothing was lost: the test proves nothing"
    bogus = [k for k in reported if k not in truth]
    assert not bogus, f"{len(bogus)} mmaps joined from two calls, e.g. {bogus[:3]}"
    missing = len(truth) - len(set(reported) & truth)
    assert sum(e["count"] for e in lost) >= missing


def test_second_attach_to_a_covered_child_is_not_doubled():
    _require_perf()
    # The child is born after the attach (covered by inheritance); then it
    # is attached to by pid as well (as --comm or --match would): its own
    # events and the inherited ones both fire, and each call must still be
    # reported once.
    truth_path = os.path.join(tmpdir(), "truth")
    p, pid = _spawn_ready("perf_fork_wait", truth_path)
    drv = Driver(pid, "--min-size", MIB, stdin=subprocess.PIPE)
    harness.send_go(p)
    child = _said_pid(p, "child")
    drv.p.stdin.write(f"{child}\n".encode())
    drv.p.stdin.flush()
    drv.wait_for(lambda e: e["event"] == "attach" and e["pid"] == child)
    harness.send_go(p)
    harness.wait_fixture(p)
    drv.finish()
    truth = _truth_maps(read_truth(truth_path))
    assert len(truth) == 2
    reported = [_mmap_key(e) for e in _maps(drv.events) if e["ret"] > 0]
    _assert_exactly_once(reported, truth, "the child's mmaps")
    # The records that are not paired come once too.
    thread = [r for r in read_truth(truth_path) if r["comm"] == "fw-thread"][0]["tid"]
    evs = drv.events
    assert [e["tid"] for e in harness.events_of(evs, "spawn") if e["parent_pid"] == child] == \
        [thread], harness.events_of(evs, "spawn")
    assert [e["comm"] for e in harness.events_of(evs, "comm") if e["tid"] == thread] == \
        ["fw-thread"], harness.events_of(evs, "comm")
    exits = sorted(e["tid"] for e in harness.events_of(evs, "thread_exit") if e["pid"] == child)
    assert exits == sorted([child, thread]), exits
    assert drv.end["duplicates"] > 0, f"the child was not covered twice: {drv.end}"


def test_child_the_full_followed_map_cannot_take_is_said_bpf():
    _require_perf()
    # The BPF reader's map of followed processes holds one process here (it
    # holds 16,384 in mmapwatch): the child created after the attach finds
    # it full. That is said, a warning and a count, and nothing of the
    # child is reported, neither its maps nor calls made up of others'.
    truth_path = os.path.join(tmpdir(), "truth")
    p, pid = _spawn_ready("perf_fork_wait", truth_path)
    drv = Driver(pid, "--min-size", MIB, "--bpf", "--followed-max", 1)
    harness.send_go(p)
    child = _said_pid(p, "child")
    harness.send_go(p)
    harness.wait_fixture(p)
    drv.finish()
    assert len(_truth_maps(read_truth(truth_path))) == 2
    assert not [e for e in _maps(drv.events) if e["pid"] == child], _maps(drv.events)
    assert drv.end["bpf_unfollowed"] == 1, drv.end
    assert (f"process {child}, created by followed process {pid}, is not followed: the BPF "
            "map of followed processes is full (1)") in drv.stderr, drv.stderr


def test_every_call_kind_of_a_region_life():
    _require_perf()
    # trace_lifecycle's calls (munmap of parts, mremap moved and grown,
    # mprotect, a small MAP_FIXED over a big reservation): every mmap of at
    # least --min-size, or MAP_FIXED, and every munmap/mremap/mprotect, seen
    # with the exact arguments and result.
    truth_path = os.path.join(tmpdir(), "truth")
    p, pid = start_fixture([fixture("trace_lifecycle"), "-w", truth_path])
    drv = Driver(pid, "--min-size", MIB)
    harness.send_go(p)
    harness.wait_fixture(p)
    evs = drv.finish()
    truth = read_truth(truth_path)
    got = {c: [e for e in _maps(evs, c)] for c in ("mmap", "munmap", "mremap", "mprotect")}
    h = harness.hexaddr

    def once(call, pred, rec):
        n = sum(1 for e in got[call] if e["tid"] == rec["tid"] and pred(e))
        assert n == 1, f"{rec} reported {n} times"

    fixed = 0
    for r in truth:
        if r["kind"] == "mmap" and r["big"]:
            once("mmap", lambda e: e["ret"] == h(r["addr"]) and e["args"][1] == r["len"], r)
            fixed += 1 if r["len"] < MIB else 0
        elif r["kind"] == "mmap":
            assert not [e for e in got["mmap"] if e["ret"] == h(r["addr"])], r
        elif r["kind"] == "munmap":
            once("munmap", lambda e: e["args"][:2] == [h(r["addr"]), r["len"]] and
                 e["ret"] == 0, r)
        elif r["kind"] == "mremap":
            once("mremap", lambda e: e["args"][:3] == [h(r["old_addr"]), r["old_len"], r["len"]]
                 and e["ret"] == h(r["addr"]), r)
        elif r["kind"] == "mprotect":
            once("mprotect", lambda e: e["args"][:2] == [h(r["addr"]), r["len"]] and
                 e["ret"] == 0, r)
    assert fixed == 1, "the small MAP_FIXED mmap is not in the truth any more"


def test_k_copies_stacks_only_for_calls_that_can_carry_one():
    """-k asks the kernel for a 16 KiB stack copy only at the entries whose
    report can show a stack (mmap, mremap, mprotect, brk): never at munmap
    (nor exit_group), whose copy the target would pay for nothing."""
    _require_perf()
    p = harness.spawn([fixture("bench_mmap"), "--wait-stdin", "40", "2", "65536"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert harness.read_line(p.stdout).strip() == "ready"
    drv = Driver(p.pid, "-k")
    p.stdin.write("g")
    p.stdin.flush()
    harness.wait_fixture(p)
    drv.finish()
    calls = [e for e in drv.events if e["event"] in ("map", "enter", "unfinished")]
    mmaps = [e for e in calls if e["call"] == "mmap" and e["args"][1] == 65536]
    munmaps = [e for e in calls if e["call"] == "munmap" and e["args"][1] == 65536]
    assert len(mmaps) >= 40 and len(munmaps) >= 40, (len(mmaps), len(munmaps))
    assert all(e.get("stack_bytes", 0) > 0 for e in mmaps), mmaps
    assert not any("stack_bytes" in e for e in munmaps), [e for e in munmaps if "stack_bytes" in e]


def test_bpf_reader_leaves_other_perf_users_their_samples():
    """While mmapwatch's BPF programs sit on the syscall tracepoints, another
    user of the same tracepoints (perfdrv with the per-call perf events,
    following another process) still gets every sample: the programs answer
    1, where a 0 would make the kernel drop the samples of every perf event
    on their tracepoint."""
    _require_perf()
    sleeper = subprocess.Popen(["sleep", "600"])
    w = None
    try:
        w = harness.start_attach_many([sleeper.pid], "--source", "perf", "--perf-calls", "bpf",
                                      "--no-dump")
        assert harness.bpf_objects_of(w.pid), "mmapwatch holds no BPF program"
        drv, truth, _ = _run_threads("--min-size", MIB, "--per-call")
        reported = [_mmap_key(e) for e in _maps(drv.events) if e["ret"] > 0]
        _assert_exactly_once(reported, _truth_maps(truth), "mmaps seen by the other perf user")
    finally:
        sleeper.kill()
        sleeper.wait()
        if w is not None:
            rc, _, err = harness.finish_attach_many(w)
            assert rc == 0, err
