"""Node-wide target selection (src/cgroup_match.c, src/discover.c):
--cgroup, --container and --pod against real cgroups and real Docker
containers, with mmapwatch where a DaemonSet's container with hostPID sits:
on the host, seeing every process of the node, or in a container of its
own with --pid=host (docs/kubernetes.md's recipe).

- test_node_cgroup_*: cgroups made by the test (test_cgroup.py's), a
  process in the cgroup given, one in a child cgroup, one in a sibling
  whose name begins with the cgroup's, one outside, and one in the cgroup
  under another name (--comm narrows: AND).
- test_node_container_*: two containers running the same program
  (ct_arenas, test_containers.py's image); mmapwatch selects one by its id
  (a 12-digit prefix, or the full id) and reports only its regions. With
  --wait, a process started in it by docker exec and the container's
  restart (docker restart keeps the id) are picked up; a container that
  replaces it (docker rm + run: a new id) is not, by design.
- test_node_cgroup_v2_*: the cgroup2 hierarchy seen from a cgroup
  namespace of its own, as a DaemonSet's pod on a v2 node sees it.
- test_node_pod_*: containers put where the kubelet puts a pod's (docker's
  --cgroup-parent: /kubepods/burstable/pod<UID> as its cgroupfs driver
  writes it, kubepods-besteffort-pod<UID_>.slice as its systemd driver
  does, under a directory of this run): --pod selects both pods' and not a
  third's, and a container replaced in a selected pod (a new id, the same
  UID) is picked up.

The negative checks ("B is never attached") are made on the whole event
list after mmapwatch exits: without --wait there is one scan, with --wait
B runs from before mmapwatch starts, so every scan saw it; where a
process starts later, two later scans are waited for (each found
something) before the check.
"""
import contextlib
import os
import secrets
import shutil
import signal
import stat
import subprocess
import uuid

import harness
from harness import MMAPWATCH, WAIT_S, fixture, hexaddr, read_truth, tmpdir, truth_of
import test_cgroup as cgt
import test_containers as ct

MIB = 1024 * 1024
PAGE = 4096
# The DaemonSet recipe's arguments (docs/kubernetes.md, checked by
# test_node_docs_recipe): ID is the container's.
DAEMONSET_ARGS = ["--json", "--output=-", "--container=ID", "--comm=ct_arenas", "--wait",
                  "--min-size=1M", "--dump-dir=/dumps/mmapwatch", "--delay=1h"]


# ---------------------------------------------------------------------------
# cgroups made by the test


def _start_in(cg, argv):
    """A -w fixture (ready, then waits for a byte), moved into cgroup cg
    before it maps anything; (Popen, pid)."""
    p, pid = harness.start_fixture(argv)
    cg.add(pid)
    return p, pid


@contextlib.contextmanager
def _cgroup_family():
    """A cgroup P, its child P/child and a sibling named P's name + "x",
    destroyed children first."""
    version = cgt.any_version()
    with cgt.memory_cgroup(version) as parent:
        child = cgt.MemoryCgroup(version, os.path.join(parent.dir, "child"))
        sibling = cgt.MemoryCgroup(version, parent.dir + "x")
        os.mkdir(child.dir)
        try:
            os.mkdir(sibling.dir)
            try:
                yield version, parent, child, sibling
            finally:
                sibling.destroy()
        finally:
            child.destroy()


def _trace_map_copy(name):
    """trace_map under another file name: the same program, another comm."""
    path = os.path.join(tmpdir(), name)
    shutil.copy(fixture("trace_map"), path)
    return path


def _cgroup_run(extra, expected):
    """Five processes waiting to map (P: trace_map 3 MiB and a copy named
    mwnode_other 7 MiB; P/child: 4 MiB; the sibling: 5 MiB; outside: 6
    MiB), then mmapwatch --cgroup P plus extra, to its end. Returns
    (events, {role: pid}, P's path, P/child's path).

    The roles expected to be selected are released first: once mmapwatch
    has reported their exits, its one scan is over (the loop runs after
    it), and it ran while every other process was alive and waiting. Then
    mmapwatch is stopped and the others released."""
    with _cgroup_family() as (version, parent, child, sibling):
        truth = os.path.join(tmpdir(), "truth")
        other = _trace_map_copy("mwnode_other")
        procs = {
            "p": _start_in(parent, [fixture("trace_map"), "-w", truth, str(3 * MIB)]),
            "other": _start_in(parent, [other, "-w", truth, str(7 * MIB)]),
            "child": _start_in(child, [fixture("trace_map"), "-w", truth, str(4 * MIB)]),
            "sibling": _start_in(sibling, [fixture("trace_map"), "-w", truth, str(5 * MIB)]),
            "outside": harness.start_fixture([fixture("trace_map"), "-w", truth,
                                              str(6 * MIB)]),
        }
        pids = {role: pid for role, (_, pid) in procs.items()}
        p_path = cgt.proc_cgroup_path(pids["p"], version)
        child_path = cgt.proc_cgroup_path(pids["child"], version)
        assert child_path == p_path + "/child", (p_path, child_path)
        assert cgt.proc_cgroup_path(pids["sibling"], version) == p_path + "x"
        events = cgt.Events([MMAPWATCH, "--json", "-o", "-", "--no-dump", "--min-size=1M",
                             "--cgroup", p_path, *extra])
        for role in expected:
            events.wait_kind("attach", pid=pids[role])
        for role in expected:
            harness.send_go(procs[role][0])
            harness.wait_fixture(procs[role][0])
        for role in expected:
            events.wait(lambda e, r=role: e["event"] == "exit" and e["pid"] == pids[r],
                        f"the exit of {role}")
        events.p.send_signal(signal.SIGINT)
        assert events.finish() == 0, events.stderr()
        for role, (p, pid) in procs.items():
            if role not in expected:
                assert harness.tracer_pid(pid) == 0, role
                harness.send_go(p)
                harness.wait_fixture(p)
        return events, pids, p_path, child_path


def _selected(events):
    return {e["pid"]: e for e in events.all("target")}


def test_node_cgroup_path_selects_cgroup_and_children():
    """--cgroup P: the processes of P and of P/child, not of the sibling
    P + "x" (whole components) nor outside; each target event names the
    cgroup that matched; only the selected processes' maps are reported."""
    events, pids, p_path, child_path = _cgroup_run([], ("p", "other", "child"))
    sel = _selected(events)
    assert set(sel) == {pids["p"], pids["other"], pids["child"]}, (sel, pids)
    assert sel[pids["p"]]["cgroup"] == p_path and sel[pids["p"]]["matched"] == "cgroup"
    assert sel[pids["child"]]["cgroup"] == child_path, sel
    maps = {(e["pid"], e["len"]) for e in events.all("mmap")}
    assert maps == {(pids["p"], 3 * MIB), (pids["other"], 7 * MIB),
                    (pids["child"], 4 * MIB)}, maps


def test_node_cgroup_and_comm():
    """--cgroup P --comm trace_map: both must match, so the copy named
    mwnode_other in P is left alone, and so is trace_map in the sibling."""
    events, pids, p_path, _ = _cgroup_run(["--comm", "trace_map"], ("p", "child"))
    sel = _selected(events)
    assert set(sel) == {pids["p"], pids["child"]}, (sel, pids)
    assert sel[pids["p"]]["matched"] == "comm" and sel[pids["p"]]["cgroup"] == p_path
    maps = {(e["pid"], e["len"]) for e in events.all("mmap")}
    assert maps == {(pids["p"], 3 * MIB), (pids["child"], 4 * MIB)}, maps


def test_node_cgroup_wait_new_processes():
    """--cgroup P --wait: mmapwatch waits with P empty; a process that
    joins P/child later is attached and its map reported; after it exits,
    the next one in P is attached too."""
    with _cgroup_family() as (version, parent, child, _):
        truth = os.path.join(tmpdir(), "truth")
        first, pid1 = harness.start_fixture([fixture("trace_map"), "-w", truth, str(3 * MIB)])
        events = cgt.Events([MMAPWATCH, "--json", "-o", "-", "--no-dump", "--min-size=1M",
                             "--wait", "-v", "--cgroup", _path_of(parent, version)])
        events.wait_diagnostic("waiting for a target")
        child.add(pid1)
        events.wait_kind("attach", pid=pid1)
        harness.send_go(first)
        assert events.wait_kind("mmap", pid=pid1)["len"] == 3 * MIB
        harness.wait_fixture(first)
        events.wait_kind("exit", pid=pid1)
        second, pid2 = _start_in(parent, [fixture("trace_map"), "-w", truth, str(4 * MIB)])
        events.wait_kind("attach", pid=pid2)
        harness.send_go(second)
        assert events.wait_kind("mmap", pid=pid2)["len"] == 4 * MIB
        harness.wait_fixture(second)
        events.wait_kind("exit", pid=pid2)
        events.p.send_signal(signal.SIGINT)
        assert events.finish() == 0, events.stderr()


def _path_of(cg, version):
    """A cgroup's path as /proc/PID/cgroup shows it, from its directory
    under a mount of the hierarchy's root."""
    for root, point, fstype, opts in harness.mounts():
        if ((version == 1 and fstype == "cgroup" and "memory" in opts) or
                (version == 2 and fstype == "cgroup2")) and cg.dir.startswith(point + "/"):
            return (root.rstrip("/") + cg.dir[len(point):]) or "/"
    raise AssertionError(f"no mount shows {cg.dir}")


# ---------------------------------------------------------------------------
# real Docker containers


def _cid(name):
    return ct.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()


def _lives(d):
    """DIR/truth split into the lives of the processes that wrote it (each
    begins with its "start" record: a restarted container appends)."""
    path = os.path.join(d, "truth")
    lives = []
    for rec in read_truth(path) if os.path.exists(path) else []:
        if rec["kind"] == "start":
            lives.append([])
        if lives:
            lives[-1].append(rec)
    return lives


def _wait_life(d, n, pred=lambda life: True, what="a start"):
    """Waits until life n (from 1) of DIR/truth exists and satisfies pred;
    returns it."""
    deadline = harness.time.monotonic() + WAIT_S
    while True:
        lives = _lives(d)
        if len(lives) >= n and pred(lives[n - 1]):
            return lives[n - 1]
        if harness.time.monotonic() > deadline:
            raise AssertionError(f"no {what} in life {n} of {d}/truth: {lives}")
        harness.time.sleep(0.02)


def _exec_dir(shared, name):
    """A subdirectory of a container's shared volume for a second
    ct_arenas (its own truth and command FIFO)."""
    sub = os.path.join(shared, name)
    os.mkdir(sub)
    os.chmod(sub, 0o755)
    os.mkfifo(os.path.join(sub, "cmd"), 0o600)
    return sub


def _arenas_caught(events, d, life, host_pid, round_no, nthreads, mib):
    """Round round_no of the ct_arenas whose life `life` DIR/truth holds:
    one mmap event per thread, from host_pid (the pid on the node), at the
    addresses its truth gives, with its threads' names."""
    recs = _wait_life(d, life, lambda lf: any(r["kind"] == "done" and r["round"] == round_no
                                              for r in lf), f"round {round_no}")
    mine = [r for r in truth_of(recs, "mmap") if r["len"] == mib * MIB][-nthreads:]
    assert len(mine) == nthreads, recs
    got = {}
    for _ in mine:
        e = events.wait(lambda e: e["event"] == "mmap" and e["pid"] == host_pid and
                        e["len"] == mib * MIB, f"the arenas of process {host_pid}")
        got[hexaddr(e["addr"])] = e
    for rec in mine:
        e = got.get(hexaddr(rec["addr"]))
        assert e and e["comm"] == rec["comm"], (rec, got)
    return mine


def _check_dumps(events, arenas, top, to_host=lambda path: path):
    """The dumps made at the detach: one per arena and no other, 0600 in a
    0700 directory, each page as the thread wrote it."""
    dumped = {hexaddr(e["addr"]): e for e in events.all("dump")}
    assert set(dumped) == {hexaddr(r["addr"]) for r in arenas}, (dumped, arenas)
    assert stat.S_IMODE(os.stat(top).st_mode) == 0o700, oct(os.stat(top).st_mode)
    for rec in arenas:
        path = to_host(dumped[hexaddr(rec["addr"])]["path"])
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        with open(path, "rb") as f:
            data = f.read()
        assert len(data) == rec["len"], (path, len(data))
        for page in range(len(data) // PAGE):
            want = f"ct_arenas tid={rec['tid']} round=1 page={page}".encode()
            assert data[page * PAGE:page * PAGE + len(want)] == want, (path, page)


def _one_container(p, role, nthreads, mib, opts=()):
    """A container running ct_arenas with a shared directory of its own;
    (name, directory, host pid) once it has started."""
    d = ct.shared_dir()
    name = p.run(role, *opts, "-v", f"{d}:/shared", ct.image("fixtures"), "/ct_arenas",
                 "/shared", str(nthreads), str(mib))
    _wait_life(d, 1)
    return name, d, p.host_pid(name)


def _two_containers(p, nthreads, mib, role_a="a", role_b="b"):
    """Containers a and b running the same program."""
    return _one_container(p, role_a, nthreads, mib), _one_container(p, role_b, nthreads, mib)


def _pids_in(events):
    return {e["pid"] for e in events.events if e.get("pid")}


def test_node_container_selected_by_id():
    """Two containers run the same program; mmapwatch on the node with
    --container and the first one's id cut to 12 digits reports that
    container's arenas (host pid, thread names, addresses), dumps them at
    its detach into 0600 files, and never touches the other container,
    whose arenas are mapped meanwhile."""
    nthreads, mib = 2, 1
    with ct.pod() as p:
        (a, da, ha), (b, db, hb) = _two_containers(p, nthreads, mib)
        ida = _cid(a)
        dumps = tmpdir()
        events = cgt.Events([MMAPWATCH, "--json", "-o", "-", "--min-size=1M",
                             "--container", ida[:12], f"--dump-dir={dumps}/mmapwatch",
                             "--delay=1h"])
        events.wait_kind("attach", pid=ha)
        ct.send(da, "a")
        ct.send(db, "a")
        arenas = _arenas_caught(events, da, 1, ha, 1, nthreads, mib)
        _wait_life(db, 1, lambda lf: any(r["kind"] == "done" for r in lf), "b's round")
        events.p.send_signal(signal.SIGINT)
        assert events.finish() == 0, events.stderr()
        (target,) = events.all("target")
        assert target["pid"] == ha and target["matched"] == "container", target
        assert ida in target["cgroup"], target
        assert _pids_in(events) == {ha}, _pids_in(events)
        _check_dumps(events, arenas, os.path.join(dumps, "mmapwatch"))
        assert harness.tracer_pid(hb) == 0 and harness.tracer_pid(ha) == 0
        ct.send(da, "q")
        ct.send(db, "q")
        assert ct.docker("wait", a).stdout.strip() == "0"


def test_node_container_wait_restart_and_replace():
    """--container ID --comm ct_arenas --wait: a second ct_arenas started
    in the container (docker exec) is attached; after docker restart (same id, new process, new cgroup at
    the same path) the new process is attached and its arenas caught; a
    container that replaces it (docker rm + run, a new id) is not selected:
    --container names one container. A ct_pause exec'd into a selected
    container is not either (--comm)."""
    nthreads, mib = 1, 1
    with ct.pod() as p:
        (a, da, ha), (marker, dm, _) = _two_containers(p, nthreads, mib, "a", "marker")
        ida, idm = _cid(a), _cid(marker)
        events = cgt.Events([MMAPWATCH, "--json", "-o", "-", "--no-dump", "--min-size=1M",
                             "--wait", "--comm", "ct_arenas", "--container", ida,
                             "--container", idm])
        events.wait_kind("attach", pid=ha)
        events.wait_kind("attach", pid=p.host_pid(marker))
        ct.send(da, "a")
        _arenas_caught(events, da, 1, ha, 1, nthreads, mib)

        # A new process in the container.
        sub = _exec_dir(da, "x")
        ct.docker("exec", "-d", a, "/ct_arenas", "/shared/x", "1", "1")
        t = events.wait(lambda e: e["event"] == "target" and "/shared/x" in e["cmdline"],
                        "the exec'd ct_arenas")
        assert t["matched"] == "comm" and ida in t["cgroup"], t
        events.wait_kind("attach", pid=t["pid"])
        ct.send(sub, "a")
        _arenas_caught(events, sub, 1, t["pid"], 1, 1, 1)

        # docker restart: the same container, a new process.
        ct.docker("restart", "-t", str(int(WAIT_S)), a)
        _wait_life(da, 2)
        ha2 = p.host_pid(a)
        events.wait_kind("attach", pid=ha2)
        ct.send(da, "a")
        _arenas_caught(events, da, 2, ha2, 1, nthreads, mib)

        # Replaced: a new container, a new id.
        ct.docker("rm", "-f", a)
        a2, _, ha3 = _one_container(p, "a2", nthreads, mib)
        # And a process of another name in a selected container.
        ct.docker("exec", "-d", marker, "/ct_pause")
        # Two scans that began after both started (each found a process in
        # the marker container) saw them.
        for n in range(2):
            _exec_dir(dm, f"y{n}")
            ct.docker("exec", "-d", marker, "/ct_arenas", f"/shared/y{n}", "1", "1")
            tm = events.wait(lambda e, s=f"/shared/y{n}": e["event"] == "target" and
                             s in e["cmdline"], "the exec'd ct_arenas in the marker")
            events.wait_kind("attach", pid=tm["pid"])
        events.p.send_signal(signal.SIGINT)
        assert events.finish() == 0, events.stderr()
        targets = {e["pid"]: e for e in events.all("target")}
        assert ha3 not in targets and harness.tracer_pid(ha3) == 0, targets
        assert _cid(a2) != ida
        names = [e["comm"] for e in targets.values()]
        assert "ct_pause" not in names, names
        assert len(targets) == 6, targets  # a, marker, a's exec, a restarted, 2 in marker



@contextlib.contextmanager
def _cgroup_top():
    """A directory of this run at the top of every cgroup hierarchy, for
    docker's --cgroup-parent; removed (with what docker left in it) at the
    end."""
    top = f"mmapwatch-test-{ct.RUN_ID}-{secrets.token_hex(3)}"
    try:
        yield "/" + top
    finally:
        for _, point, fstype, _ in harness.mounts():
            path = os.path.join(point, top)
            if fstype not in ("cgroup", "cgroup2") or not os.path.isdir(path):
                continue
            for dirpath, _, _ in os.walk(path, topdown=False):
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)


def test_node_pod_uid_follows_replaced_containers():
    """--pod UID (twice) --comm ct_arenas --wait, with containers where the
    kubelet puts a pod's: one pod as its cgroupfs driver writes it
    (.../pod<UID>/<ID>), one as its systemd driver does
    (...-pod<UID_>.slice/<ID>, the UID given in upper case with dashes),
    a third pod not selected. Both pods' containers are attached, the
    third's never; the first pod's container replaced by a new one (a new
    id, the pod's UID kept) is attached, and its arenas caught."""
    nthreads, mib = 1, 1
    uid1, uid2, uid3 = (str(uuid.uuid4()) for _ in range(3))
    with _cgroup_top() as top, ct.pod() as p:
        par1 = f"{top}/kubepods/burstable/pod{uid1}"
        par2 = f"{top}/kubepods-besteffort-pod{uid2.replace('-', '_')}.slice"
        par3 = f"{top}/kubepods/burstable/pod{uid3}"
        a, da, ha = _one_container(p, "a", nthreads, mib, ("--cgroup-parent", par1))
        _, _, hb = _one_container(p, "b", nthreads, mib, ("--cgroup-parent", par2))
        _, _, hq = _one_container(p, "q", nthreads, mib, ("--cgroup-parent", par3))
        events = cgt.Events([MMAPWATCH, "--json", "-o", "-", "--no-dump", "--min-size=1M",
                             "--wait", "--comm", "ct_arenas", "--pod", uid1,
                             "--pod", uid2.upper()])
        events.wait_kind("attach", pid=ha)
        events.wait_kind("attach", pid=hb)
        ct.send(da, "a")
        _arenas_caught(events, da, 1, ha, 1, nthreads, mib)
        ct.docker("rm", "-f", a)
        a2, da2, ha2 = _one_container(p, "a2", nthreads, mib, ("--cgroup-parent", par1))
        events.wait_kind("attach", pid=ha2)
        ct.send(da2, "a")
        _arenas_caught(events, da2, 1, ha2, 1, nthreads, mib)
        events.p.send_signal(signal.SIGINT)
        assert events.finish() == 0, events.stderr()
        targets = {e["pid"]: e for e in events.all("target")}
        assert set(targets) == {ha, hb, ha2}, (targets, ha, hb, ha2, hq)
        assert targets[ha]["matched"] == "comm" and f"pod{uid1}/" in targets[ha]["cgroup"]
        assert f"pod{uid2.replace('-', '_')}.slice/" in targets[hb]["cgroup"], targets[hb]
        assert targets[ha2]["cgroup"].endswith(_cid(a2)), targets[ha2]
        assert harness.tracer_pid(hq) == 0


def test_node_daemonset_container():
    """The DaemonSet recipe on one machine: mmapwatch in a container of its
    own with the node's PID namespace (--pid=host), only SYS_PTRACE added
    to Docker's defaults, dumps into a host directory (a hostPath volume):
    of two containers running the same program it follows the one named
    by --container, dumps its arenas, 0600, readable on the host, and
    never touches the other."""
    nthreads, mib = 2, 1
    with ct.pod() as p:
        (a, da, ha), (_, db, hb) = _two_containers(p, nthreads, mib)
        dumps = tmpdir()
        name = p.name("mmapwatch")
        args = [x.replace("=ID", "=" + _cid(a)) for x in DAEMONSET_ARGS]
        events = cgt.Events([shutil.which("docker"), "run", "--rm", "--name", name,
                             "--pid=host", "--cap-add", "SYS_PTRACE", "-v", f"{dumps}:/dumps",
                             ct.image("mmapwatch"), *args], env=ct.DOCKER_ENV)
        events.wait_kind("attach", pid=ha)
        _check_defaults_only(name)
        ct.send(da, "a")
        ct.send(db, "a")
        arenas = _arenas_caught(events, da, 1, ha, 1, nthreads, mib)
        _wait_life(db, 1, lambda lf: any(r["kind"] == "done" for r in lf), "b's round")
        ct.docker("stop", "-t", str(int(WAIT_S)), name)
        assert events.finish() == 0, events.stderr()
        assert [e["pid"] for e in events.all("target")] == [ha], events.all("target")
        assert _pids_in(events) == {ha}, _pids_in(events)
        _check_dumps(events, arenas, os.path.join(dumps, "mmapwatch"),
                     lambda path: ct.host_path(path, "/dumps", dumps))
        assert harness.tracer_pid(hb) == 0 and harness.tracer_pid(ha) == 0


def _check_defaults_only(name):
    """Docker's default seccomp profile and capabilities, plus SYS_PTRACE.
    --pid=host makes docker add "label=disable" (no SELinux label: the
    process sees the node's), which changes neither."""
    r = ct.docker("inspect", "-f", "{{json .HostConfig.CapAdd}} {{json .HostConfig.SecurityOpt}} "
                  "{{.HostConfig.Privileged}}", name)
    caps, secopt, privileged = r.stdout.split()
    assert caps in ('["SYS_PTRACE"]', '["CAP_SYS_PTRACE"]'), r.stdout
    assert secopt in ("null", '["label=disable"]') and privileged == "false", r.stdout


def test_node_docs_recipe():
    """docs/kubernetes.md's node-wide section: its docker command gives
    mmapwatch the arguments test_node_daemonset_container gives it, with
    --pid=host and only SYS_PTRACE added; its DaemonSet has hostPID,
    SYS_PTRACE as root, dumps on a hostPath under --dump-dir, and the real
    mmapwatch accepts its arguments (a pod that does not exist, --duration
    0: nothing is attached)."""
    import re
    import shlex
    with open(os.path.join(ct.ROOT, "docs", "kubernetes.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("## A node-wide mmapwatch")
    section = text[start:text.index("\n## ", start + 1)]
    commands = []
    for block in re.findall(r"((?:^ {4}.*\n)+)", section, re.M):
        joined = re.sub(r"\\\n\s*", " ", block)
        commands += [shlex.split(line, comments=True) for line in joined.splitlines()]
    (run,) = [c for c in commands if c[:2] == ["docker", "run"] and "mmapwatch:0.1.0" in c]
    at = run.index("mmapwatch:0.1.0")
    assert run[at + 1:] == DAEMONSET_ARGS, (run[at + 1:], DAEMONSET_ARGS)
    assert "--pid=host" in run[:at] and run[run.index("--cap-add") + 1] == "SYS_PTRACE", run
    assert not [o for o in run[:at] if o.startswith(("--privileged", "--security-opt"))], run

    try:
        import yaml
    except ImportError:
        raise harness.Skip("python3-yaml is not installed (scripts/deps.sh installs it)")
    (ds,) = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    assert ds["kind"] == "DaemonSet", ds
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostPID"] is True, spec
    (mw,) = spec["containers"]
    sc = mw["securityContext"]
    assert sc["capabilities"]["add"] == ["SYS_PTRACE"] and sc["runAsUser"] == 0, sc
    assert sc["capabilities"]["drop"] == ["ALL"] and not sc.get("privileged"), sc
    opts = dict(a[2:].split("=", 1) for a in mw["args"] if "=" in a)
    (mount,) = mw["volumeMounts"]
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["hostPath"]["path"], volume
    assert opts["dump-dir"].startswith(mount["mountPath"].rstrip("/") + "/"), (opts, mount)
    assert "pod" in opts and "comm" in opts and "--wait" in mw["args"], mw["args"]
    dump_dir = os.path.join(tmpdir(), "dumps")
    args = [f"--pod={uuid.uuid4()}" if a.startswith("--pod=") else
            f"--dump-dir={dump_dir}" if a.startswith("--dump-dir=") else a for a in mw["args"]]
    r = harness.run_mmapwatch([*args, "--duration", "0"])
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r


def test_node_container_prefix_names_one_container():
    """A container id prefix must name one container. Cgroups made by the
    test and named as Docker's systemd driver names containers
    (docker-<ID>.scope), two ids sharing their first 12 digits: without
    --wait, --container with those 12 digits attaches to nothing, says so
    in one line and exits 1; with --wait, once the prefix has found one
    container it keeps to it: the other, appearing later, is named in a
    warning and never attached, while new processes of the first are."""
    id_a = "4f3c2b1a09e8" + secrets.token_hex(26)
    id_b = "4f3c2b1a09e8" + secrets.token_hex(26)
    with _cgroup_family() as (version, parent, _, _):
        cg_a = cgt.MemoryCgroup(version, os.path.join(parent.dir, f"docker-{id_a}.scope"))
        cg_b = cgt.MemoryCgroup(version, os.path.join(parent.dir, f"docker-{id_b}.scope"))
        os.mkdir(cg_a.dir)
        os.mkdir(cg_b.dir)
        try:
            truth = os.path.join(tmpdir(), "truth")
            argv = [fixture("trace_map"), "-w", truth, str(3 * MIB)]
            pa, pid_a = _start_in(cg_a, argv)
            pb, pid_b = _start_in(cg_b, argv)
            # (--duration: were both attached, the run would end anyway.)
            r = harness.run_mmapwatch(["--json", "--no-dump", "--duration=5s", "--container",
                                       id_a[:12]])
            assert r.returncode == 1, r
            lines = r.stderr.splitlines()
            assert len(lines) == 1 and "names more than one container" in lines[0] and \
                id_a in lines[0] and id_b in lines[0], r.stderr
            assert '"target"' not in r.stdout and '"attach"' not in r.stdout, r.stdout
            assert harness.tracer_pid(pid_a) == 0 and harness.tracer_pid(pid_b) == 0

            # --wait: b leaves its container for a while; the prefix binds
            # to a's, and b coming back is refused.
            parent.add(pid_b)
            events = cgt.Events([MMAPWATCH, "--json", "-o", "-", "--no-dump",
                                 "--min-size=1M", "--wait", "--container", id_a[:12]])
            events.wait_kind("attach", pid=pid_a)
            cg_b.add(pid_b)
            later = []
            for _ in range(2):  # two scans begun after b's move: they saw it
                p, pid = _start_in(cg_a, argv)
                later.append((p, pid))
                events.wait_kind("attach", pid=pid)
            events.wait_diagnostic(f"also names container {id_b}")
            for p, _ in [(pa, pid_a), *later]:
                harness.send_go(p)
                harness.wait_fixture(p)
            events.p.send_signal(signal.SIGINT)
            assert events.finish() == 0, events.stderr()
            targets = {e["pid"] for e in events.all("target")}
            assert targets == {pid_a, *(pid for _, pid in later)}, targets
            assert harness.tracer_pid(pid_b) == 0
            harness.send_go(pb)
            harness.wait_fixture(pb)
        finally:
            cg_a.destroy()
            cg_b.destroy()


def test_node_bad_selectors():
    """Bad --container, --pod and --cgroup values: exit 2, one line naming
    the value, nothing attached (a process that would be selected by a
    looser parser is left untouched)."""
    p, pid = harness.start_fixture([fixture("trace_map"), "-w",
                                    os.path.join(tmpdir(), "truth")])
    cases = [
        ["--container", "4f3c2b1a09e"],       # 11 digits: could name several
        ["--container", "my-app"],
        ["--container", "4f3c2b1a09e8" * 6],  # 72 digits
        ["--pod", "0b5d8f6e-2c1a-4e3b-9f7d"],
        ["--pod", "shop-api-7d9f8b6c5-x2k4q"],
        ["--cgroup", "/"],
        ["--cgroup", "kubepods/burstable"],
        ["--cgroup", "/sys/fs/cgroup/memory/docker"],
        ["--cgroup", "80%"],
        ["--pod", "0b5d8f6e-2c1a-4e3b-9f7d-6a5c4b3e2d1f", "--", "true"],
    ]
    for args in cases:
        r = harness.run_mmapwatch(args, timeout=WAIT_S)
        lines = r.stderr.splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("mmapwatch: "), \
            (args, r)
        assert f"'{args[1]}'" in lines[0] or args[-1] == "true", (args, lines)
        assert r.stdout == "" and harness.tracer_pid(pid) == 0, (args, r)
    harness.send_go(p)
    harness.wait_fixture(p)


def test_node_cgroup_v2_from_own_cgroup_namespace():
    """cgroup v2 as a DaemonSet's pod sees it on a v2 node: pod and
    container cgroups laid out as the kubelet's systemd driver and
    containerd make them, in the cgroup2 hierarchy, and mmapwatch in a
    cgroup of its own with a cgroup namespace of its own (tests/fixtures/
    cgns), so that the other cgroups' paths begin with "/..". --pod takes
    the pod's two containers and not another pod's; --container (12
    digits) one container; --cgroup, given as mmapwatch sees it, all
    three. (No memory controller is needed: the hybrid hierarchy of a v1
    machine works too.)"""
    v2 = [m for m in harness.mounts() if m[2] == "cgroup2" and m[0] == "/"]
    if os.geteuid() != 0 or not v2:
        raise harness.Skip("no cgroup2 hierarchy mounted at its root, or not root")
    point = v2[0][1]
    uid, other_uid = str(uuid.uuid4()), str(uuid.uuid4())
    c1, c2, c3 = (secrets.token_hex(32) for _ in range(3))
    top = os.path.join(point, f"mmapwatch-test-{os.getpid()}-{secrets.token_hex(3)}")
    slices = os.path.join(top, "kubepods.slice", "kubepods-besteffort.slice")
    pod = os.path.join(slices, f"kubepods-besteffort-pod{uid.replace('-', '_')}.slice")
    other = os.path.join(slices, f"kubepods-besteffort-pod{other_uid.replace('-', '_')}.slice")
    dirs = {"a": os.path.join(pod, f"cri-containerd-{c1}.scope"),
            "c": os.path.join(pod, f"cri-containerd-{c2}.scope"),
            "b": os.path.join(other, f"cri-containerd-{c3}.scope"),
            "mw": os.path.join(top, "mmapwatch.scope")}
    procs = {}
    try:
        for d in dirs.values():
            os.makedirs(d)
        truth = os.path.join(tmpdir(), "truth")
        for role in ("a", "c", "b"):
            p, pid = harness.start_fixture([fixture("trace_map"), "-w", truth, str(3 * MIB)])
            procs[role] = (p, pid)
            with open(os.path.join(dirs[role], "cgroup.procs"), "w", encoding="ascii") as f:
                f.write(str(pid))
        pids = {role: pid for role, (_, pid) in procs.items()}

        def run(selector, expected):
            """One scan (no --wait): once the expected processes are
            attached, SIGINT (handled after the scan) ends the run."""
            events = cgt.Events(["sh", "-c", 'echo $$ >"$0/cgroup.procs" && exec "$@"',
                                 dirs["mw"], fixture("cgns"), MMAPWATCH, "--source", "ptrace",
                                 "--json", "-o", "-", "--no-dump", *selector])
            for role in expected:
                events.wait_kind("attach", pid=pids[role])
            events.p.send_signal(signal.SIGINT)
            assert events.finish() == 0, events.stderr()
            targets = {e["pid"]: e for e in events.all("target")}
            assert set(targets) == {pids[r] for r in expected}, (selector, targets, pids)
            for t in targets.values():
                assert t["cgroup"].startswith("/../kubepods.slice/"), t
            return targets

        targets = run(["--pod", uid], ("a", "c"))
        assert targets[pids["a"]]["cgroup"].endswith(f"pod{uid.replace('-', '_')}.slice/"
                                                     f"cri-containerd-{c1}.scope"), targets
        run(["--container", c1[:12]], ("a",))
        run(["--cgroup", "/../kubepods.slice/kubepods-besteffort.slice"], ("a", "c", "b"))
        for role, (p, pid) in procs.items():
            assert harness.tracer_pid(pid) == 0, role
            harness.send_go(p)
            harness.wait_fixture(p)
    finally:
        for p, _ in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        for dirpath, _, _ in os.walk(top, topdown=False):
            for _ in range(100):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    harness.time.sleep(0.05)  # a process just killed leaves a moment later
