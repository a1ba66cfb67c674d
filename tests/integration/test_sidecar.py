"""Targets by name, as a sidecar uses mmapwatch: --comm, --match, --wait,
SIGTERM at pod shutdown, and the "target" event.

Processes get a name no other process on the machine has: a fixture
started through a symlink named "mwsc" + random hex (/proc/PID/comm is the
basename of the path executed), or a command line with a random token.
Nothing waits for time to pass: --wait tests read mmapwatch's -v line
"waiting for a target" before they start a process (so it is found by a
rescan, not by the first scan), and the "target"/"attach" events before
they let it go on.
"""
import json
import os
import re
import secrets
import signal
import subprocess
import time

import harness
from harness import (MMAPWATCH, LineReader, Skip, fixture, hexaddr, read_truth, run_mmapwatch,
                     send_go, spawn, start_fixture, tmpdir, tracer_pid, wait_fixture)

MIB = 1024 * 1024
# The kubelet's default terminationGracePeriodSeconds: after SIGTERM, it
# sends SIGKILL this long later. mmapwatch must be gone well before.
GRACE_S = 30


def unique_name():
    return "mwsc" + secrets.token_hex(5)  # 14 characters: fits comm's 15


def named(fixture_name, name):
    """A path to the fixture whose basename (and so comm) is name."""
    path = os.path.join(tmpdir(), name)
    os.symlink(fixture(fixture_name), path)
    return path


class Sidecar(harness.EventReader):
    """mmapwatch --json -o - -v OPTS, events read from its stdout (the
    harness's EventReader) and diagnostics from its stderr, both through
    pipes."""

    def __init__(self, *opts):
        self.argv = [MMAPWATCH, "--json", "-o", "-", "-v", *opts]
        self.proc = spawn(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          bufsize=0)
        super().__init__(self.proc.stdout,
                         explain=lambda: f"rc={self.proc.poll()} log {self.log}")
        self.err = LineReader(self.proc.stderr)
        self.log = []

    def wait_log(self, text):
        while True:
            line = self.err.line()
            if not line:
                raise AssertionError(f"mmapwatch ended before saying {text!r}: {self.log}")
            self.log.append(line.rstrip("\n"))
            if text in line:
                return line

    def finish(self, timeout=None):
        """Reads every event until mmapwatch exits; returns its status."""
        self.drain()
        rc = self.proc.wait(timeout=timeout or harness.WAIT_S)
        while True:
            line = self.err.line()
            if not line:
                break
            self.log.append(line.rstrip("\n"))
        harness.check_event_fields(self.events)
        return rc


def check_target(sc, pid, comm, cmdline, matched):
    """Exactly one "target" event for pid, with these fields, before its
    "attach" event."""
    targets = sc.of("target", pid)
    assert len(targets) == 1, f"{len(targets)} target events for {pid}: {sc.events}"
    t = targets[0]
    assert t["tid"] == pid and t["comm"] == comm, t
    assert t["cmdline"] == cmdline, f"cmdline {t['cmdline']!r}, expected {cmdline!r}"
    assert t["matched"] == matched, t
    attaches = sc.of("attach", pid)
    assert len(attaches) == 1, f"{len(attaches)} attach events for {pid}: {sc.events}"
    assert sc.index(t) < sc.index(attaches[0]), "the attach came before the target event"


def check_maps(sc, truth_path, pid):
    """Every mmap the fixture recorded was reported once, with its thread."""
    recs = [r for r in read_truth(truth_path) if r["kind"] == "mmap" and r["pid"] == pid]
    assert recs, f"no truth for {pid}"
    for rec in recs:
        hits = [e for e in sc.of("mmap", pid)
                if (e["tid"], hexaddr(e["addr"]), e["len"]) ==
                (rec["tid"], hexaddr(rec["addr"]), rec["len"])]
        assert len(hits) == 1, f"mmap {rec} reported {len(hits)} times: {sc.of('mmap', pid)}"


def untraced_and_running(pid):
    assert tracer_pid(pid) == 0, f"{pid} is still traced by {tracer_pid(pid)}"
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            data = f.read()
        state = data[data.rindex(")") + 2]
        assert state not in "Tt", f"thread {tid} of {pid} left stopped (state {state})"


class Ctl:
    """tests/fixtures/dumpw_ctl started under a given name: one command a
    line on stdin, one answer a line on stdout."""

    def __init__(self, name):
        self.path = named("dumpw_ctl", name)
        self.proc = spawn([self.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          bufsize=0)
        self.reader = LineReader(self.proc.stdout)
        words = self.reader.line().split()
        assert len(words) == 2 and words[0] == "ready", f"dumpw_ctl not ready: {words}"
        self.pid = int(words[1])

    def send(self, *words):
        self.proc.stdin.write((" ".join(str(w) for w in words) + "\n").encode())

    def cmd(self, *words):
        self.send(*words)
        line = self.reader.line()
        assert line, f"dumpw_ctl ended at {words}: rc={self.proc.wait()}"
        rec = {}
        for w in line.split()[1:]:
            key, _, value = w.partition("=")
            rec[key] = value
        return rec

    def exit(self):
        self.send("exit", 0)
        assert self.proc.wait(timeout=harness.WAIT_S) == 0


def maps_event(sc, pid, rec):
    """The one mmap event of pid at the address and length of an answer."""
    hits = [e for e in sc.of("mmap", pid)
            if hexaddr(e["addr"]) == int(rec["addr"], 16) and e["len"] == int(rec["len"])]
    assert len(hits) == 1, f"mmap {rec}: {len(hits)} events: {sc.of('mmap', pid)}"
    return hits[0]


# --------------------------------------------------------------------------
# without --wait: what runs now


def test_comm_attaches_every_process_of_that_name():
    """Two processes with the same name, running before mmapwatch starts:
    a "target" (matched "comm") then an "attach" for each, their mmaps as
    their truth says, and mmapwatch ends 0 when both have exited."""
    name = unique_name()
    path = named("trace_map", name)
    t1, t2 = os.path.join(tmpdir(), "truth1"), os.path.join(tmpdir(), "truth2")
    p1, pid1 = start_fixture([path, "-w", t1, str(3 * MIB + 5), "4096"])
    p2, pid2 = start_fixture([path, "-w", t2, str(MIB)])
    sc = Sidecar("--no-dump", "--comm", name)
    sc.wait_attached({pid1, pid2})
    send_go(p1)
    send_go(p2)
    wait_fixture(p1)
    wait_fixture(p2)
    assert sc.finish() == 0, sc.log
    check_target(sc, pid1, name, f"{path} -w {t1} {3 * MIB + 5} 4096", "comm")
    check_target(sc, pid2, name, f"{path} -w {t2} {MIB}", "comm")
    assert len(sc.of("target")) == 2, sc.of("target")
    check_maps(sc, t1, pid1)
    check_maps(sc, t2, pid2)
    assert [e["status"] for e in sc.of("exit", pid1) + sc.of("exit", pid2)] == [0, 0]


def test_match_on_the_command_line():
    """--match on a token of the command line: the process that has it is
    the only target (matched "match"); mmapwatch's own command line holds
    the token too and is skipped; a process of the same name without the
    token is not touched."""
    token = secrets.token_hex(8)
    truth = os.path.join(tmpdir(), f"truth-{token}")
    p, pid = start_fixture([fixture("trace_map"), "-w", truth, str(2 * MIB)])
    other, opid = start_fixture([fixture("trace_map"), "-w", os.path.join(tmpdir(), "t")])
    sc = Sidecar("--no-dump", "--match", f"truth-{token}")
    sc.wait_attached({pid})
    send_go(p)
    wait_fixture(p)
    assert sc.finish() == 0, sc.log
    check_target(sc, pid, "trace_map", f"{fixture('trace_map')} -w {truth} {2 * MIB}", "match")
    assert [e["pid"] for e in sc.of("target")] == [pid], sc.of("target")
    check_maps(sc, truth, pid)
    untraced_and_running(opid)
    send_go(other)
    wait_fixture(other)


def test_no_match_without_wait_exits_1():
    """Nothing of that name or command line: exit 1, one line that names
    what was looked for and suggests --wait, no event."""
    name = unique_name()
    for args, what in ((["--comm", name], name), (["--match", f"zz-{name}-[0-9]+"], name)):
        r = run_mmapwatch(["--json", "-o", "-", "--no-dump", *args])
        assert r.returncode == 1, f"{args}: exit {r.returncode}; stderr {r.stderr!r}"
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("mmapwatch: "), r.stderr
        assert what in lines[0] and "--wait" in lines[0], lines[0]
        assert r.stdout == "", r.stdout


def test_target_event_text():
    """Text output: "[PID NAME] target (comm): CMDLINE", a newline inside
    an argument shown as \\x0a (escaped as every byte the target
    controls, docs/mmapwatch.1) so the event stays one line; JSON keeps it
    escaped. --duration 0 detaches at once."""
    name = unique_name()
    path = named("trace_map", name)
    truth = os.path.join(tmpdir(), "tr\nuth")
    p, pid = start_fixture([path, "-w", truth])
    r = run_mmapwatch(["-o", "-", "--no-dump", "--duration", "0", "--comm", name])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    want = f"[{pid} {name}] target (comm): {path} -w {truth.replace(chr(10), chr(92) + 'x0a')}"
    assert len(lines) == 3 and lines[0].endswith(want), lines
    assert lines[1].endswith(f"[{pid} {name}] attached, 1 thread"), lines
    assert lines[2].endswith(f"[{pid} {name}] detached"), lines
    r = run_mmapwatch(["--json", "-o", "-", "--no-dump", "--duration", "0", "--comm", name])
    assert r.returncode == 0, r.stderr
    schema, target = [json.loads(l) for l in r.stdout.splitlines()[:2]]
    assert schema["event"] == "schema", schema
    assert target["event"] == "target" and target["cmdline"] == f"{path} -w {truth}", target
    untraced_and_running(pid)
    send_go(p)
    wait_fixture(p)


# --------------------------------------------------------------------------
# --wait


def test_wait_for_target_then_the_next_one():
    """mmapwatch --wait starts first. The first process (trace_map) is
    found by a rescan: target, attach, its mmaps, its exit; mmapwatch
    keeps waiting and finds the second (dumpw_ctl, another --comm name):
    target, attach, its mmap. SIGTERM: detach, exit 0, and the second
    process runs on untraced and still works."""
    name1, name2 = unique_name(), unique_name()
    sc = Sidecar("--no-dump", "--wait", "--comm", name1, "--comm", name2)
    sc.wait_log("waiting for a target")
    path = named("trace_map", name1)
    truth = os.path.join(tmpdir(), "truth")
    p, pid = start_fixture([path, "-w", truth, str(5 * MIB + 1), str(MIB)])
    sc.wait_attached({pid})
    send_go(p)
    wait_fixture(p)
    sc.wait_event(lambda e: e["event"] == "exit" and e["pid"] == pid, "the first one's exit")
    sc.wait_log("waiting for a target")  # idle again, not ended
    assert sc.proc.poll() is None

    ctl = Ctl(name2)
    sc.wait_attached({ctl.pid})
    rec = ctl.cmd("map", 0, 3 * MIB)
    sc.wait_event(lambda e: e["event"] == "mmap" and e["pid"] == ctl.pid, "the second one's mmap")
    sc.proc.send_signal(signal.SIGTERM)
    rc = sc.finish()
    assert rc == 0, f"exit {rc}: {sc.log}"
    check_target(sc, pid, name1, f"{path} -w {truth} {5 * MIB + 1} {MIB}", "comm")
    check_maps(sc, truth, pid)
    check_target(sc, ctl.pid, name2, ctl.path, "comm")
    maps_event(sc, ctl.pid, rec)
    assert [e["pid"] for e in sc.of("target")] == [pid, ctl.pid], sc.of("target")
    assert [e["pid"] for e in sc.of("detach")] == [ctl.pid], sc.events[-3:]
    assert sc.events[-1]["event"] == "detach", sc.events[-1]
    untraced_and_running(ctl.pid)
    ctl.cmd("map", 1, MIB)  # still does what it is told
    ctl.exit()


def test_followed_child_is_not_a_second_target():
    """A traced process forks a child of the same name: the child is
    followed (its mmap reported under its pid) and no rescan makes it a
    target of its own. A third process of that name, started after the
    child exists, is found by a rescan that saw the child too."""
    name = unique_name()
    sc = Sidecar("--no-dump", "--wait", "--comm", name)
    sc.wait_log("waiting for a target")
    truth = os.path.join(tmpdir(), "truth")
    fork = spawn([named("sidecar_fork", name), truth], stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, bufsize=0)
    fr = LineReader(fork.stdout)
    words = fr.line().split()
    assert words[0] == "ready", words
    parent = int(words[1])
    sc.wait_attached({parent})
    fork.stdin.write(b"f")
    words = fr.line().split()
    assert words[0] == "child", words
    child = int(words[1])
    assert tracer_pid(child) == sc.proc.pid  # followed from the fork on

    third_path = named("trace_map", name)
    third, tpid = start_fixture([third_path, "-w", os.path.join(tmpdir(), "t3")])
    sc.wait_attached({tpid})
    fork.stdin.write(b"q")
    assert fork.wait(timeout=harness.WAIT_S) == 0
    send_go(third)
    wait_fixture(third)
    sc.wait_event(lambda e: e["event"] == "exit" and e["pid"] == tpid, "the third one's exit")
    sc.proc.send_signal(signal.SIGTERM)
    assert sc.finish() == 0, sc.log
    assert sorted(e["pid"] for e in sc.of("target")) == sorted([parent, tpid]), sc.of("target")
    assert len(sc.of("attach")) == 2, sc.of("attach")
    check_maps(sc, truth, child)
    assert {e["pid"] for e in sc.of("exit")} == {parent, child, tpid}, sc.of("exit")


def test_sigterm_while_waiting_exits_0():
    """SIGTERM with --wait and nothing traced yet (a pod shut down before
    its application started): exit 0 at once, no event."""
    sc = Sidecar("--wait", "--comm", unique_name(), "--dump-dir", os.path.join(tmpdir(), "d"))
    sc.wait_log("waiting for a target")
    sc.proc.send_signal(signal.SIGTERM)
    assert sc.finish() == 0, sc.log
    assert sc.events == [], sc.events


def test_sigterm_with_a_pending_dump():
    """At pod shutdown a region's dump is still pending (--delay 1h):
    SIGTERM makes it now (reason "delay", all 16 MiB written), then
    detaches, and mmapwatch exits 0 well inside the kubelet's 30 s grace
    period (default --exit-dump-timeout 10s); the target runs on."""
    name = unique_name()
    dump_dir = os.path.join(tmpdir(), "dumps")
    sc = Sidecar("--wait", "--comm", name, "--delay", "1h", "--dump-dir", dump_dir)
    sc.wait_log("waiting for a target")
    ctl = Ctl(name)
    sc.wait_attached({ctl.pid})
    rec = ctl.cmd("map", 0, 16 * MIB)
    ctl.cmd("fill", 0, 0, 16 * MIB, 3)
    sc.wait_event(lambda e: e["event"] == "mmap" and e["pid"] == ctl.pid, "the mmap")
    assert sc.of("dump") == []
    sent = time.monotonic()
    sc.proc.send_signal(signal.SIGTERM)
    rc = sc.finish(timeout=GRACE_S - 5)
    took = time.monotonic() - sent
    assert rc == 0, f"exit {rc}: {sc.log}"
    # A bound, not a benchmark: the kubelet kills at 30 s.
    assert took < GRACE_S - 5, f"SIGTERM took {took:.1f}s"
    dumps = sc.of("dump")
    assert len(dumps) == 1, sc.events
    d = dumps[0]
    assert hexaddr(d["addr"]) == int(rec["addr"], 16) and d["len"] == 16 * MIB, d
    assert d["reason"] == "delay" and d["bytes_read"] == 16 * MIB, d
    assert os.path.getsize(d["path"]) == 16 * MIB
    detach = sc.of("detach")
    assert len(detach) == 1 and sc.index(d) < sc.index(detach[0]), sc.events
    untraced_and_running(ctl.pid)
    ctl.exit()


# --------------------------------------------------------------------------
# docs/kubernetes.md


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def k8s_bytes(quantity):
    """A Kubernetes quantity in bytes ("4Gi", "512Mi", "1000")."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti)?", str(quantity))
    assert m, f"unexpected quantity {quantity!r}"
    return int(m.group(1)) * {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
                               "Ti": 2**40}[m.group(2)]


def mmapwatch_bytes(size):
    """mmapwatch's SIZE ("3G": powers of 1024), the forms the doc uses."""
    m = re.fullmatch(r"(\d+)([kMGT]?)", size)
    assert m, f"unexpected size {size!r}"
    return int(m.group(1)) * 1024 ** " kMGT".index(m.group(2) or " ")


def test_kubernetes_manifest():
    """The pod in docs/kubernetes.md parses; it shares the process
    namespace, gives the mmapwatch container CAP_SYS_PTRACE and limits; the
    dumps go to an emptyDir on disk whose sizeLimit is above
    --max-dump-bytes; and the real mmapwatch accepts its arguments (run
    with the name made unique, dumps in a scratch directory, --duration 0)."""
    try:
        import yaml
    except ImportError:
        raise Skip("python3-yaml is not installed (scripts/deps.sh installs it)")
    with open(os.path.join(ROOT, "docs", "kubernetes.md"), encoding="utf-8") as f:
        blocks = [b for b in re.findall(r"```yaml\n(.*?)```", f.read(), re.S)
                  if re.search(r"^kind: Pod$", b, re.M)]  # the DaemonSet is test_node's
    assert len(blocks) == 1, f"{len(blocks)} yaml blocks"
    pod = yaml.safe_load(blocks[0])
    assert pod["apiVersion"] == "v1" and pod["kind"] == "Pod", pod
    spec = pod["spec"]
    assert spec["shareProcessNamespace"] is True
    mw = next(c for c in spec["containers"] if c["name"] == "mmapwatch")
    assert "SYS_PTRACE" in mw["securityContext"]["capabilities"]["add"], mw
    assert mw["securityContext"]["runAsUser"] == 0, mw
    assert mw["resources"]["limits"]["memory"] and mw["resources"]["limits"]["cpu"], mw
    args = mw["args"]
    opts = dict(a[2:].split("=", 1) for a in args if "=" in a)
    (mount,) = mw["volumeMounts"]
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert opts["dump-dir"].startswith(mount["mountPath"].rstrip("/") + "/"), (opts, mount)
    empty_dir = volume["emptyDir"]
    assert "medium" not in empty_dir, "a tmpfs emptyDir counts against the pod's memory"
    headroom = k8s_bytes(empty_dir["sizeLimit"]) - mmapwatch_bytes(opts["max-dump-bytes"])
    assert headroom >= 256 * MIB, f"sizeLimit leaves {headroom} bytes above --max-dump-bytes"

    name = unique_name()
    dump_dir = os.path.join(tmpdir(), "dumps")
    run_args = [f"--comm={name}" if a.startswith("--comm=") else
                f"--dump-dir={dump_dir}" if a.startswith("--dump-dir=") else a for a in args]
    assert run_args != args
    r = run_mmapwatch([*run_args, "--duration", "0"])
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r
