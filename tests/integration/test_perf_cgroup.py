"""The perf source's cgroup layout (src/perf_cgroup.c, src/perf_follow.c,
src/perf_source.c): events opened per CPU for the target's cgroup
(PERF_FLAG_PID_CGROUP) instead of per thread, the records of the cgroup's
other processes dropped by pid.

Each test makes a cgroup of its own in the hierarchy the perf_event
controller is bound to (cgroup v2 where it is not bound to a v1 one, else
the v1 perf_event mount) and removes it at the end, whatever happened. The
fixtures write their own truth; the tests compare:

- a target of 100 threads that forks a child, with a stranger that maps
  too in the same cgroup, and a descriptor limit too low for the
  per-thread layout: --source auto follows with perf in the cgroup layout
  (not ptrace), says so, and reports exactly the target's and its child's
  maps, nothing of the stranger (whose records were read and dropped: -v
  counts them);
- the root cgroup is refused (it would read every process of the
  machine), with --perf-layout cgroup and in --source auto's note;
- a target alone in its cgroup is followed in the cgroup layout; moved
  out of the cgroup while followed, it is said.
"""
import contextlib
import os
import re
import subprocess

import harness
from harness import (MMAPWATCH, WAIT_S, Skip, events_of, fixture, hexaddr, read_truth,
                     require_perf, send_go, start_fixture, tmpdir, truth_of, wait_fixture)

def _perf_event_mount():
    """(version, mount point) of the hierarchy perf_event is bound to."""
    bound = None
    with open("/proc/cgroups", encoding="ascii") as f:
        for line in f:
            words = line.split()
            if words and words[0] == "perf_event":
                bound = int(words[1])
    if bound is None:
        raise Skip("this kernel has no perf_event cgroup controller")
    for root, point, fstype, opts in harness.mounts():
        if root != "/":
            continue
        if bound == 0 and fstype == "cgroup2":
            return 2, point
        if bound != 0 and fstype == "cgroup" and "perf_event" in opts:
            return 1, point
    raise Skip("the perf_event cgroup hierarchy is not mounted here")


@contextlib.contextmanager
def perf_cgroup():
    """A cgroup of the perf_event hierarchy, at its top (mmapwatch names it
    "/" + its name), made for one test and removed at the end
    (harness.Cgroup)."""
    if os.geteuid() != 0:
        raise Skip("creating a cgroup needs root")
    _, mount = _perf_event_mount()
    directory = os.path.join(mount, harness.new_cgroup_name("perfcg"))
    try:
        os.mkdir(directory)
    except OSError as e:
        raise Skip(f"cannot create cgroup {directory}: {e}") from e
    cg = harness.Cgroup(directory)
    try:
        yield cg
    finally:
        cg.destroy()


PR_CAPBSET_DROP = 24
CAP_SYS_RESOURCE = 24


def _limit_fds(n):
    """preexec_fn: mmapwatch may have n descriptors, and cannot raise that
    (CAP_SYS_RESOURCE is dropped from its bounding set, so that root does
    not get it at the exec)."""
    def apply():
        import ctypes
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0)
    return apply


def _start(argv, fds=None):
    p = harness.spawn([MMAPWATCH, "--json", "-o", "-", *argv], stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, bufsize=0,
                      preexec_fn=_limit_fds(fds) if fds else None)
    return p


def _maps_of(events):
    return {(e["pid"], e["tid"], hexaddr(e["addr"]), e["len"]) for e in events_of(events, "mmap")}


def _truth_maps(truth):
    return {(r["pid"], r["tid"], hexaddr(r["addr"]), r["len"]) for r in truth_of(truth, "mmap")}


def test_perf_cgroup_layout_reports_only_targets():
    """100 threads x CPUs x tracepoints descriptors do not fit a limit of
    512: --source auto takes the perf source in the cgroup layout, not
    ptrace. The target's maps and its child's are reported exactly; the
    stranger in the same cgroup maps while followed and none of its events
    appear (its records were read and dropped, -v counts them)."""
    require_perf()
    with perf_cgroup() as cg:
        t_truth, s_truth = os.path.join(tmpdir(), "target"), os.path.join(tmpdir(), "stranger")
        target, tpid = start_fixture([fixture("trace_threads"), "-w", "-n", "100", t_truth])
        stranger, spid = start_fixture([fixture("trace_map"), "-w", s_truth,
                                        str(3 * 1024 * 1024 + 123)])
        cg.add(tpid)
        cg.add(spid)
        w = _start(["--source", "auto", "--perf-calls", "raw", "-v", "--no-dump", "-p",
                    str(tpid)], fds=512)
        stream = harness.EventReader(w.stdout, explain=lambda: f"rc={w.poll()}")
        stream.wait_attached([tpid])
        # The target is not stopped by anyone.
        assert harness.tracer_pid(tpid) == 0
        send_go(stranger)
        wait_fixture(stranger)
        send_go(target)
        wait_fixture(target)
        events = stream.drain()
        w.wait(timeout=WAIT_S * 4)
        err = w.stderr.read().decode()
        assert w.returncode == 0, err
        note = err.splitlines()[0]
        assert note.startswith("mmapwatch: following with perf_event tracepoints (") and \
            f"events per CPU for cgroup '/{cg.name}'" in note, err
        want = _truth_maps(read_truth(t_truth))
        child = truth_of(read_truth(t_truth), "mmap")[-1]["pid"]
        assert child != tpid and {m[0] for m in want} == {tpid, child}, want
        got = _maps_of(events)
        assert want <= got, f"missed {want - got}"
        assert not [e for e in events if e.get("pid") == spid], \
            [e for e in events if e.get("pid") == spid][:3]
        (s_map,) = truth_of(read_truth(s_truth), "mmap")
        assert s_map["pid"] == spid
        dropped = re.search(r"(\d+) events of processes not followed dropped", err)
        assert dropped and int(dropped.group(1)) > 0, err


def test_perf_cgroup_layout_refuses_the_root_cgroup():
    """A target in the root cgroup: --perf-layout cgroup fails with one
    line that says why; --source auto, with too few descriptors for the
    per-thread layout, takes ptrace and says both reasons."""
    require_perf()
    version, mount = _perf_event_mount()
    if os.geteuid() != 0:
        raise Skip("moving a process to the root cgroup needs root")
    p, pid = start_fixture([fixture("fd_threads"), "-w", os.path.join(tmpdir(), "truth"), "40"])
    try:
        with open(os.path.join(mount, "cgroup.procs"), "w", encoding="ascii") as f:
            f.write(str(pid))
        r = subprocess.run([MMAPWATCH, "--source", "perf", "--perf-layout", "cgroup",
                            "--no-dump", "-o", "/dev/null", "-p", str(pid)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=WAIT_S)
        assert r.returncode == 1 and "root cgroup" in r.stderr, r
        assert len(r.stderr.splitlines()) == 1, r.stderr
        r = subprocess.run([MMAPWATCH, "--source", "auto", "--perf-calls", "raw", "--no-dump",
                            "-o", "/dev/null", "--duration", "0", "-p", str(pid)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=WAIT_S, preexec_fn=_limit_fds(128))
        note = r.stderr.splitlines()[0]
        assert r.returncode == 0 and note.startswith("mmapwatch: following with ptrace (") and \
            "file descriptors" in note and "root cgroup" in note, r.stderr
        assert harness.tracer_pid(pid) == 0
    finally:
        p.kill()
        p.wait()


def test_perf_cgroup_layout_says_a_target_that_left():
    """A target alone in its cgroup: --source auto follows it in the
    cgroup layout. Moved to another cgroup, it is no longer seen: a warning
    says so (once), and mmapwatch goes on."""
    require_perf()
    with perf_cgroup() as cg, perf_cgroup() as elsewhere:
        p, pid = start_fixture([fixture("trace_map"), "-w", os.path.join(tmpdir(), "truth"),
                                str(2 * 1024 * 1024)])
        cg.add(pid)
        # Alone in its cgroup: --source auto takes the cgroup layout.
        w = _start(["--source", "auto", "--perf-calls", "raw", "--no-dump", "-p", str(pid)])
        stream = harness.EventReader(w.stdout, explain=lambda: f"rc={w.poll()}")
        stream.wait_attached([pid])
        err = harness.LineReader(w.stderr)
        note = err.readline()
        assert f"events per CPU for cgroup '/{cg.name}'" in note, note
        elsewhere.add(pid)
        line = ""
        while "left cgroup" not in line:
            line = err.readline()
            assert line is not None, "mmapwatch ended without saying the target left"
        assert f"process {pid} left cgroup '/{cg.name}'" in line and "missed" in line, line
        send_go(p)
        wait_fixture(p)
        stream.drain()
        w.wait(timeout=WAIT_S * 4)
        assert w.returncode == 0
        rest = err.rest() + w.stderr.read().decode()
        assert "left cgroup" not in rest, rest
