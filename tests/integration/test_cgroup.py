"""The memory cgroup watch (src/cgroup.c and src/cgroup_report.c,
src/dumper.c, src/output.c): --cgroup-threshold and --dump-on-threshold,
against real memory cgroups.

Each test creates memory cgroups of its own (cgroup v1 under the memory
controller's mount, or cgroup v2 under the cgroup2 mount with +memory in
its cgroup.subtree_control), gives one a limit, puts
tests/fixtures/cg_grow in it and makes that grow one 4 MiB chunk at a
time, reading the cgroup's usage itself after each step to know when the
threshold is crossed. Then it checks mmapwatch's events against the
fixture's truth: the threshold event's numbers and regions, the dumps'
bytes (every page of a chunk is rebuilt from the fixture's pattern), the
re-arm after usage falls, the cgroup's OOM kill of the fixture, launch
mode, the sidecar case (mmapwatch and the target in cgroup and mount
namespaces of their own, as two containers of a pod), a cgroup removed
under the watch, and a percentage without a limit (exit 1, target
untouched). Every cgroup is removed at the end, whatever happened.

No test waits for time to pass: each waits (with a deadline) for the event
a step must cause. The kernel checks a v1 threshold every 128 pages
charged, so the sizes are chosen for the step that crosses the threshold
to end well past it (checked: see Grower.grow_past).

A v2 variant skips where the memory controller is bound to the v1
hierarchy (then cgroup2 cannot have it); a test skips only where no memory
cgroup of the kind can be created (not root, no such mount).
"""
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time

import harness
from harness import (MMAPWATCH, WAIT_S, LineReader, Skip, fixture, hexaddr, read_truth, spawn,
                     tmpdir, truth_of)

MIB = 1024 * 1024
PAGE = 4096
CHUNK_MIB = 4
CHUNK = CHUNK_MIB * MIB
# Past the threshold by this much, the kernel has checked it (v1: every
# 128 pages, 512 KiB) within the step that crossed it.
MARGIN = MIB

# ---------------------------------------------------------------------------
# memory cgroups


def _own_cgroup_path(version):
    with open("/proc/self/cgroup", encoding="utf-8") as f:
        for line in f:
            hid, ctrl, path = line.rstrip("\n").split(":", 2)
            if version == 1 and "memory" in ctrl.split(","):
                return path
            if version == 2 and hid == "0" and ctrl == "":
                return path
    return None


def _write(path, text):
    with open(path, "w", encoding="ascii") as f:
        f.write(text)


def _read(path):
    with open(path, encoding="ascii") as f:
        return f.read()


class MemoryCgroup(harness.Cgroup):
    """A memory cgroup made for one test (harness.Cgroup: destroy() kills
    what is left in it and removes it); destroy() also disables the memory
    controller again where making it enabled it."""

    def __init__(self, version, directory, enabled_memory_in=None):
        super().__init__(directory)
        self.version = version
        self.enabled_memory_in = enabled_memory_in  # subtree_control we changed

    def set_limit(self, nbytes):
        _write(self.file("memory.limit_in_bytes" if self.version == 1 else "memory.max"),
               str(nbytes))

    def usage(self):
        return int(_read(self.file("memory.usage_in_bytes" if self.version == 1
                                   else "memory.current")))

    def oom_kills(self):
        text = _read(self.file("memory.oom_control" if self.version == 1 else "memory.events"))
        m = re.search(r"^oom_kill (\d+)$", text, re.M)
        return int(m.group(1)) if m else None

    def destroy(self):
        super().destroy()
        if self.enabled_memory_in:
            with contextlib.suppress(OSError):
                _write(self.enabled_memory_in, "-memory")


def _make_v1():
    if os.geteuid() != 0:
        raise Skip("creating a memory cgroup needs root")
    mounts = [m for m in harness.mounts() if m[2] == "cgroup" and "memory" in m[3]]
    if not mounts:
        raise Skip("no cgroup v1 memory controller is mounted")
    root, point = mounts[0][0], mounts[0][1]
    # Under our own cgroup when we can (its accounting then covers the
    # test's), else at the top of the mount.
    parents = []
    own = _own_cgroup_path(1)
    if own and (root == "/" or own == root or own.startswith(root + "/")):
        rest = own[len(root):] if root != "/" else own
        parents.append(point + rest.rstrip("/"))
    parents.append(point)
    last = None
    for parent in parents:
        path = os.path.join(parent, harness.new_cgroup_name("test"))
        try:
            os.mkdir(path)
            return MemoryCgroup(1, path)
        except OSError as e:
            last = e
    raise Skip(f"cannot create a cgroup v1 memory cgroup: {last}")


def _make_v2():
    if os.geteuid() != 0:
        raise Skip("creating a memory cgroup needs root")
    mounts = [m for m in harness.mounts() if m[2] == "cgroup2"]
    if not mounts:
        raise Skip("no cgroup2 hierarchy is mounted")
    point = mounts[0][1]
    if "memory" not in _read(os.path.join(point, "cgroup.controllers")).split():
        raise Skip("the cgroup2 hierarchy has no memory controller here (it is bound to the "
                   "cgroup v1 hierarchy): the v1 variant of this test covers the watch")
    control = os.path.join(point, "cgroup.subtree_control")
    enabled = None
    if "memory" not in _read(control).split():
        try:
            _write(control, "+memory")
            enabled = control
        except OSError as e:
            raise Skip(f"cannot enable the memory controller in {control}: {e}") from e
    path = os.path.join(point, harness.new_cgroup_name("test"))
    try:
        os.mkdir(path)
    except OSError as e:
        if enabled:
            with contextlib.suppress(OSError):
                _write(control, "-memory")
        raise Skip(f"cannot create a cgroup v2 memory cgroup: {e}") from e
    return MemoryCgroup(2, path, enabled)


@contextlib.contextmanager
def memory_cgroup(version, limit=None):
    cg = _make_v1() if version == 1 else _make_v2()
    try:
        if limit:
            cg.set_limit(limit)
        yield cg
    finally:
        cg.destroy()


def any_version():
    """v1 where the memory controller is there, else v2."""
    return 1 if any(m[2] == "cgroup" and "memory" in m[3] for m in harness.mounts()) else 2


def proc_cgroup_path(pid, version):
    """The memory cgroup of pid as /proc/PID/cgroup shows it to us."""
    with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
        for line in f:
            hid, ctrl, path = line.rstrip("\n").split(":", 2)
            if (version == 1 and "memory" in ctrl.split(",")) or \
               (version == 2 and hid == "0" and ctrl == ""):
                return path
    raise AssertionError(f"process {pid} has no memory cgroup line")


# ---------------------------------------------------------------------------
# the fixture and what it wrote

CYCLE = bytes(range(256)) * 17


def expected_page(n, p):
    """Page p of chunk n as cg_grow writes it."""
    header = f"cg_grow chunk={n} page={p}".encode().ljust(64, b".")
    start = (n * 13 + p * 7 + 64) & 0xFF
    return header + CYCLE[start:start + PAGE - 64]


ZERO_PAGE = bytes(PAGE)


class Grower:
    """cg_grow in a cgroup: step() maps and fills one more chunk. Started
    here (argv_prefix before it), or p is a process that runs it and whose
    stdin and stdout are its."""

    def __init__(self, cg, argv_prefix=(), p=None, truth=None):
        self.cg = cg
        self.truth = truth or os.path.join(tmpdir(), "truth")
        if p is None:
            p = spawn([*argv_prefix, fixture("cg_grow"), self.truth, str(CHUNK_MIB)],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
            cg.procs.append(p)
        self.p = p
        self.out = LineReader(self.p.stdout)
        words = self.out.line().split()
        if len(words) != 2 or words[0] != "ready":
            raise AssertionError(f"cg_grow did not get ready: {words}")
        self.pid = int(words[1])
        self.chunks = {}  # n -> addr, of those mapped now

    def command(self, c):
        self.p.stdin.write(c.encode())
        self.p.stdin.flush()
        return self.out.line()

    def step(self):
        line = self.command("g")
        m = re.match(r"grown n=(\d+) addr=(0x[0-9a-f]+) len=(\d+)$", line.strip())
        if not m:
            raise AssertionError(f"cg_grow did not grow: {line!r} (rc={self.p.poll()})")
        self.chunks[int(m.group(1))] = hexaddr(m.group(2))
        return int(m.group(1))

    def unmap(self):
        line = self.command("u")
        m = re.match(r"unmapped n=(\d+)$", line.strip())
        if not m:
            raise AssertionError(f"cg_grow did not unmap: {line!r}")
        del self.chunks[int(m.group(1))]

    def grow_past(self, threshold, strict=True):
        """Steps until the step in which the cgroup's usage crosses
        threshold; returns (its chunk number, the chunks complete before
        it). The tests' sizes make every crossing step end at least MARGIN
        past the threshold (checked), so the kernel has seen the crossing
        within the step whatever its accounting granularity. Not strict
        (usage not known beforehand): steps on until usage is MARGIN past
        the threshold, so the crossing may come in any of the last steps."""
        for _ in range(64):
            before = set(self.chunks)
            n = self.step()
            usage = self.cg.usage()
            if usage >= threshold + MARGIN or (strict and usage >= threshold):
                assert usage >= threshold + MARGIN, \
                    f"test sizes: chunk {n} ends at {usage}, too close to {threshold}"
                return n, before
        raise AssertionError(f"usage never reached {threshold}: {self.cg.usage()}")

    def check_truth(self):
        recs = truth_of(read_truth(self.truth), "chunk")
        mapped = {r["n"]: hexaddr(r["addr"]) for r in recs}
        for n, addr in self.chunks.items():
            assert mapped.get(n) == addr, (n, addr, recs)


def check_chunk_dump(path, n, complete):
    """The .bin of chunk n: each page as cg_grow wrote it; a chunk being
    written while it was dumped (complete False) may have pages not
    written yet (zeros) and one page written part of the way (its
    beginning, then zeros: cg_grow writes each page in ascending order)."""
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) == CHUNK, (path, len(data))
    for p in range(CHUNK // PAGE):
        got = data[p * PAGE:(p + 1) * PAGE]
        want = expected_page(n, p)
        if got == want:
            continue
        assert not complete, f"{path}: page {p} of chunk {n} differs from what was written"
        if got == ZERO_PAGE:
            continue
        k = 0
        while k < PAGE and got[k] == want[k]:
            k += 1
        assert got[k:] == ZERO_PAGE[k:], \
            f"{path}: page {p} of chunk {n} is neither written, unwritten nor half written"


# ---------------------------------------------------------------------------
# mmapwatch's events, read as they come


class Events:
    """mmapwatch --json in the background: threads collect its events from
    stdout (-o -), or with on_stderr from stderr (the default output, which
    its diagnostics share), and its diagnostics from stderr; wait() returns
    the next event that matches."""

    def __init__(self, argv, on_stderr=False, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        self.p = spawn(argv, stderr=subprocess.PIPE, **kw)
        self.events = []
        self.diagnostics = []
        self.cond = threading.Condition()
        self.pos = 0
        self.source = self.p.stderr if on_stderr else self.p.stdout
        self.streams = [self.source] if on_stderr else [self.p.stdout, self.p.stderr]
        self.ended = []
        for stream in self.streams:
            threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            text = line.decode(errors="replace")
            with self.cond:
                if text.startswith("{"):
                    self.events.append(json.loads(text))
                else:
                    self.diagnostics.append(text)
                self.cond.notify_all()
        with self.cond:
            self.ended.append(stream)
            self.cond.notify_all()

    def wait(self, pred, what):
        """The first event after the last one returned that matches."""
        deadline = time.monotonic() + WAIT_S
        with self.cond:
            while True:
                while self.pos < len(self.events):
                    ev = self.events[self.pos]
                    self.pos += 1
                    if pred(ev):
                        return ev
                if self.source in self.ended:
                    raise AssertionError(f"mmapwatch ended without {what}: rc={self.p.poll()} "
                                         f"stderr={''.join(self.diagnostics)!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self.cond.wait(left)

    def wait_diagnostic(self, text):
        """Waits until a line of stderr holds text; returns it."""
        deadline = time.monotonic() + WAIT_S
        with self.cond:
            while True:
                for line in self.diagnostics:
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.p.stderr in self.ended:
                    raise AssertionError(f"no {text!r} on stderr: {self.diagnostics}")
                self.cond.wait(left)

    def wait_kind(self, kind, **fields):
        return self.wait(lambda e: e["event"] == kind and
                         all(e.get(k) == v for k, v in fields.items()),
                         f"a {kind} event {fields}")

    def finish(self):
        """Waits for mmapwatch to exit and its output to be read; its status."""
        rc = self.p.wait(timeout=WAIT_S * 2)
        deadline = time.monotonic() + WAIT_S
        with self.cond:
            while len(self.ended) < len(self.streams) and time.monotonic() < deadline:
                self.cond.wait(1)
        return rc

    def stderr(self):
        with self.cond:
            return "".join(self.diagnostics)

    def all(self, kind):
        with self.cond:
            return [e for e in self.events if e["event"] == kind]


VALGRIND = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible"]


def attach(pid, *opts, valgrind=False):
    ev = Events([*(VALGRIND if valgrind else []), MMAPWATCH, "--json", "-o", "-", *opts,
                 "-p", str(pid)])
    ev.wait_kind("attach", pid=pid)
    return ev


def check_above(ev, g, cg_path, threshold, limit, chunks_mapped, exact=True):
    """A threshold event of a crossing upward, with the chunks mapped then
    as its regions (exact), or some of those mapped now."""
    assert ev["state"] == "above", ev
    assert ev["pid"] == g.pid and ev["tid"] == g.pid, ev
    assert ev["cgroup"] == cg_path, (ev, cg_path)
    assert ev["threshold"] == threshold, ev
    assert ev["limit"] == limit, ev
    assert ev["usage"] >= threshold, ev
    addrs = [hexaddr(r["addr"]) for r in ev["regions"]]
    assert len(set(addrs)) == len(addrs) <= 5, ev
    if exact:
        assert len(addrs) == min(5, len(chunks_mapped)), (ev, chunks_mapped)
    # The largest first: every chunk has the same size, so any five.
    for addr in addrs:
        assert addr in chunks_mapped.values(), (ev, chunks_mapped)
    for r in ev["regions"]:
        assert r["len"] == CHUNK and r["pid"] == g.pid and r["tid"] == g.pid, r
        assert r["comm"] == "cg_grow", r


def wait_threshold_dumps(events, count):
    """The dump events of one --dump-on-threshold: addr -> path."""
    dumps = {}
    for _ in range(count):
        d = events.wait_kind("dump", reason="threshold")
        dumps[hexaddr(d["addr"])] = d["path"]
    return dumps


def check_threshold_dumps(g, dumps, complete_before):
    assert set(dumps) == set(g.chunks.values()), (dumps, g.chunks)
    for n, addr in g.chunks.items():
        check_chunk_dump(dumps[addr], n, n in complete_before)


# ---------------------------------------------------------------------------
# the tests


def _threshold_dump_rearm(version):
    limit, threshold = 64 * MIB, 10 * MIB
    with memory_cgroup(version, limit) as cg:
        g = Grower(cg)
        cg.add(g.pid)
        path = proc_cgroup_path(g.pid, version)
        dump_dir = os.path.join(tmpdir(), "dumps")
        events = attach(g.pid, "-m", "1M", "--delay", "1h", "--dump-dir", dump_dir,
                        "--cgroup-threshold", "10M", "--dump-on-threshold")

        # Up: one threshold event with the chunks mapped, and a dump of
        # each, holding what the fixture wrote.
        n, complete = g.grow_past(threshold)
        above = events.wait_kind("threshold", state="above")
        check_above(above, g, path, threshold, limit, g.chunks)
        assert above["dumps"] == len(g.chunks), above
        check_threshold_dumps(g, wait_threshold_dumps(events, above["dumps"]), complete)

        # Down: re-armed; up again: a second event and a second round of dumps.
        g.unmap()
        below = events.wait_kind("threshold", state="below")
        assert below["usage"] < threshold and "regions" not in below, below
        n, complete = g.grow_past(threshold)
        again = events.wait_kind("threshold", state="above")
        check_above(again, g, path, threshold, limit, g.chunks)
        check_threshold_dumps(g, wait_threshold_dumps(events, again["dumps"]), complete)
        g.check_truth()

        g.command("q")
        assert events.finish() == 0, events.stderr()
        aboves = [e for e in events.all("threshold") if e["state"] == "above"]
        assert len(aboves) == 2, aboves
        # --delay 1h: every dump there is came from a threshold.
        assert all(d["reason"] == "threshold" for d in events.all("dump")), events.all("dump")
        assert not events.all("oom"), events.all("oom")


def test_cgroup_v1_threshold_dump_rearm():
    _threshold_dump_rearm(1)


def test_cgroup_v2_threshold_dump_rearm():
    _threshold_dump_rearm(2)


def _pct_oom(version):
    limit = 36 * MIB
    with memory_cgroup(version, limit) as cg:
        g = Grower(cg)
        cg.add(g.pid)
        kills_before = cg.oom_kills() or 0
        events = attach(g.pid, "-m", "1M", "--no-dump", "--cgroup-threshold", "50%")
        g.grow_past(limit // 2)
        above = events.wait_kind("threshold", state="above")
        check_above(above, g, proc_cgroup_path(g.pid, version), limit // 2, limit, g.chunks)
        assert above["percent"] == 50 and "dumps" not in above, above

        # On past the limit: the cgroup OOM-kills the fixture mid-step.
        for _ in range(64):
            line = g.command("g")
            if not line:
                break
        else:
            raise AssertionError("cg_grow was never OOM-killed")
        assert g.p.wait(timeout=WAIT_S) == -signal.SIGKILL
        oom = events.wait_kind("oom")
        exit_ev = events.wait_kind("exit", pid=g.pid)
        assert exit_ev.get("signal") == "SIGKILL", exit_ev
        assert events.finish() == 0, events.stderr()
        assert oom["pid"] == g.pid and oom["cgroup"] == above["cgroup"], oom
        assert oom["limit"] == limit, oom
        assert oom["oom_kill"] == cg.oom_kills() and oom["oom_kill"] > kills_before, oom
        assert oom["new_kills"] >= 1, oom


def test_cgroup_v1_pct_oom():
    _pct_oom(1)


def test_cgroup_v2_pct_oom():
    _pct_oom(2)


def test_cgroup_pct_without_limit():
    """--cgroup-threshold 90% of a cgroup without a limit: exit 1 with one
    line, before anything is seized."""
    version = any_version()
    with memory_cgroup(version) as cg:
        g = Grower(cg)
        cg.add(g.pid)
        argv = [MMAPWATCH, "--json", "-o", "-", "--cgroup-threshold", "90%", "-p", str(g.pid)]
        r = subprocess.run(harness.with_source(argv), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=WAIT_S)
        assert r.returncode == 1, (r.returncode, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("mmapwatch: "), lines
        assert "no memory limit" in lines[0] and "SIZE" in lines[0], lines
        assert proc_cgroup_path(g.pid, version) in lines[0], lines
        assert r.stdout == "", r.stdout  # not even an attach
        assert harness.tracer_pid(g.pid) == 0
        assert harness.proc_state(g.pid) in "SR", harness.proc_state(g.pid)
        g.step()  # it runs on, untouched
        g.command("q")
        assert g.p.wait(timeout=WAIT_S) == 0


def test_cgroup_launch_mode():
    """Launch mode: the command starts in mmapwatch's cgroup (mmapwatch is
    put in the test's first), watched from its first instruction; the
    events name the command. mmapwatch's own memory counts too, hence a
    threshold well above what it uses."""
    version = any_version()
    limit, threshold = 256 * MIB, 64 * MIB
    with memory_cgroup(version, limit) as cg:
        truth = os.path.join(tmpdir(), "truth")
        events = Events(["sh", "-c", 'echo $$ > "$0" && exec "$@"', cg.file("cgroup.procs"),
                         MMAPWATCH, "--json", "-m", "1M", "--no-dump",
                         "--cgroup-threshold", "64M", "--",
                         fixture("cg_grow"), truth, str(CHUNK_MIB)],
                        on_stderr=True, stdin=subprocess.PIPE, bufsize=0)
        cg.procs.append(events.p)
        g = Grower(cg, p=events.p, truth=truth)
        assert g.pid != events.p.pid
        g.grow_past(threshold, strict=False)
        above = events.wait_kind("threshold", state="above")
        check_above(above, g, proc_cgroup_path(g.pid, version), threshold, limit, g.chunks,
                    exact=False)
        assert above["comm"] == "cg_grow" and above["regions"], above
        g.command("q")
        assert events.finish() == 0, events.stderr()
        # The command's exit may bring usage back below: one crossing up.
        aboves = [e for e in events.all("threshold") if e["state"] == "above"]
        assert len(aboves) == 1, events.all("threshold")


def test_cgroup_v1_sidecar():
    """mmapwatch in another container of the pod: its own cgroup namespace
    and mount of the memory hierarchy show only its own cgroup, so the
    target's is reached through /proc/PID/root, where the target's
    container has the hierarchy mounted read-only (cgroup.event_control
    cannot be written there: mmapwatch reads usage every 100 ms)."""
    _sidecar(1)


def test_cgroup_v2_sidecar():
    _sidecar(2)


def _sidecar(version):
    limit, threshold = 32 * MIB, 14 * MIB
    with memory_cgroup(version, limit) as cg, memory_cgroup(version) as own:
        # Each side: into its cgroup, then a cgroup namespace rooted there
        # and a mount namespace with the hierarchy mounted at
        # /sys/fs/cgroup/memory (v1) or /sys/fs/cgroup (v2), as a
        # container runtime does.
        if version == 1:
            mount = ("mount -t tmpfs none /sys/fs/cgroup && mkdir /sys/fs/cgroup/memory && "
                     "mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory")
            ro = "mount -o remount,bind,ro /sys/fs/cgroup/memory"
        else:
            mount = "mount -t cgroup2 none /sys/fs/cgroup"
            ro = "mount -o remount,bind,ro /sys/fs/cgroup"

        def container(procs, setup):
            outer = ('echo $$ > "$0" && inner="$1" && shift && '
                     'exec unshare --mount --cgroup --propagation private sh -c "$inner" sh "$@"')
            return ["sh", "-c", outer, procs, f'{setup} && exec "$@"']

        g = Grower(cg, container(cg.file("cgroup.procs"), f"{mount} && {ro}"))
        dump_dir = os.path.join(tmpdir(), "dumps")
        events = Events([*container(own.file("cgroup.procs"), mount), MMAPWATCH, "--json",
                         "-o", "-", "-m", "1M", "--delay", "1h", "--dump-dir", dump_dir,
                         "--cgroup-threshold", "14M", "--dump-on-threshold", "-p", str(g.pid)])
        own.procs.append(events.p)
        events.wait_kind("attach", pid=g.pid)
        n, complete = g.grow_past(threshold)
        above = events.wait_kind("threshold", state="above")
        # Seen from mmapwatch's cgroup namespace: a sibling of its own.
        check_above(above, g, f"/../{cg.name}", threshold, limit, g.chunks)
        check_threshold_dumps(g, wait_threshold_dumps(events, above["dumps"]), complete)
        for _ in range(64):
            if not g.command("g"):
                break
        else:
            raise AssertionError("cg_grow was never OOM-killed")
        oom = events.wait_kind("oom")
        assert oom["cgroup"] == f"/../{cg.name}" and oom["new_kills"] >= 1, oom
        assert events.finish() == 0, events.stderr()


def test_cgroup_valgrind_clean():
    """The watch thread, the threshold dumps and the teardown under
    valgrind: no leak, no invalid access (the sanitizer build checks the
    same with ASan)."""
    harness.require_valgrind()
    version = any_version()
    with memory_cgroup(version, 64 * MIB) as cg:
        g = Grower(cg)
        cg.add(g.pid)
        dump_dir = os.path.join(tmpdir(), "dumps")
        events = attach(g.pid, "-m", "1M", "--delay", "1h", "--dump-dir", dump_dir,
                        "--cgroup-threshold", "10M", "--dump-on-threshold", valgrind=True)
        g.grow_past(10 * MIB)
        above = events.wait_kind("threshold", state="above")
        wait_threshold_dumps(events, above["dumps"])
        events.p.send_signal(signal.SIGINT)
        assert events.finish() == 0, events.stderr()
        events.wait_kind("detach", pid=g.pid)
        assert harness.tracer_pid(g.pid) == 0


def test_cgroup_removed_while_watched():
    """The cgroup goes away under the watch (the target moved out, the
    directory removed): one warning, and tracing goes on."""
    version = any_version()
    with memory_cgroup(version, 64 * MIB) as cg:
        g = Grower(cg)
        cg.add(g.pid)
        events = attach(g.pid, "-v", "-m", "1M", "--no-dump", "--cgroup-threshold", "10M")
        events.wait_diagnostic("watching memory cgroup")  # it starts after the attach event
        _write(os.path.join(os.path.dirname(cg.dir), "cgroup.procs"), str(g.pid))
        os.rmdir(cg.dir)
        line = events.wait_diagnostic("is no longer watched")
        assert cg.name in line, line
        g.step()
        events.wait_kind("mmap", pid=g.pid, len=CHUNK)
        events.p.send_signal(signal.SIGINT)
        assert events.finish() == 0, events.stderr()
        events.wait_kind("detach", pid=g.pid)
        assert not events.all("threshold"), events.all("threshold")


def test_cgroup_launch_moves_itself():
    """Launch mode, a command that moves itself into another cgroup before
    it execs the program (a wrapper, systemd-run --scope): the watch is on
    the cgroup it ends up in, not on the one it started in (mmapwatch's),
    and the events name the program. (The threshold leaves the five
    largest regions to be the fixture's chunks, not its libraries.)"""
    version = any_version()
    limit, threshold = 256 * MIB, 24 * MIB
    with memory_cgroup(version) as start, memory_cgroup(version, limit) as cg:
        truth = os.path.join(tmpdir(), "truth")
        wrapper = 'echo $$ > "$0" && exec "$@"'
        events = Events(["sh", "-c", 'echo $$ > "$0" && exec "$@"', start.file("cgroup.procs"),
                         MMAPWATCH, "--json", "-m", "1M", "--no-dump",
                         "--cgroup-threshold", "24M", "--",
                         "sh", "-c", wrapper, cg.file("cgroup.procs"),
                         fixture("cg_grow"), truth, str(CHUNK_MIB)],
                        on_stderr=True, stdin=subprocess.PIPE, bufsize=0)
        start.procs.append(events.p)
        g = Grower(cg, p=events.p, truth=truth)
        g.grow_past(threshold, strict=False)
        above = events.wait_kind("threshold", state="above")
        check_above(above, g, proc_cgroup_path(g.pid, version), threshold, limit, g.chunks,
                    exact=False)
        assert above["comm"] == "cg_grow", above
        g.command("q")
        assert events.finish() == 0, events.stderr()


# ---------------------------------------------------------------------------
# the same watch with the perf source (--source perf): the threshold, its
# regions and dumps (read without stopping anyone), the re-arm, the OOM
# kill, launch mode and a cgroup removed under the watch. In a v2 memory
# cgroup the fixture is alone in a cgroup of its own, so the perf source
# follows it with events scoped to that cgroup (test_perf_cgroup.py); in a
# v1 one, per thread.

harness.add_perf_twins(globals(), [
    "test_cgroup_v1_threshold_dump_rearm", "test_cgroup_v2_threshold_dump_rearm",
    "test_cgroup_v1_pct_oom", "test_cgroup_v2_pct_oom", "test_cgroup_pct_without_limit",
    "test_cgroup_launch_mode", "test_cgroup_removed_while_watched",
    "test_cgroup_launch_moves_itself",
])
