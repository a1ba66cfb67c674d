"""--attach-above in real Docker containers (test_containers.py's images,
pod layout and helpers): mmapwatch as a sidecar sharing the application's
PID namespace with only --cap-add SYS_PTRACE (so the ptrace source, the
only one allowed there), tracing nothing until the application's memory
cgroup reaches the mark.

- Named-thread arenas (ct_arenas) in a container with --memory: the arenas
  mapped before the attach come as "existing" regions, and the
  --dump-on-threshold dumps, read from the host through the volume, hold
  what those threads wrote.
- The story's OOM loop: cg_grow in a memory-limited container grows until
  the cgroup OOM-kills it, then comes back in a new container; each life
  is watched untraced, attached at the mark, and its threshold dumps hold
  the chunks mapped before the attach.
"""
import os
import shutil
import subprocess

import test_cgroup as cgt
import test_containers as ct
from harness import WAIT_S, hexaddr, read_truth, spawn, tmpdir, truth_of

MIB = ct.MIB
PAGE = ct.PAGE


def _covering(existing, addr, length):
    for e in existing:
        start = hexaddr(e["addr"])
        if start <= addr and addr + length <= start + e["len"]:
            return e
    return None


def _wait_covered(events, pid, ranges):
    """existing events of pid until every (addr, len) of ranges lies in
    one; returns them."""
    existing = []
    while not all(_covering(existing, a, n) for a, n in ranges):
        existing.append(events.wait_kind("existing", pid=pid))
    return existing


def _threshold_dumps(events):
    above = events.wait_kind("threshold", state="above")
    dumps = {}
    for _ in range(above["dumps"]):
        d = events.wait_kind("dump", reason="threshold")
        dumps[hexaddr(d["addr"])] = d
    return above, dumps


def _read_in_dump(dumps, dump_dir, region_addr, addr, length):
    d = dumps.get(region_addr)
    assert d, (hex(region_addr), sorted(map(hex, dumps)))
    path = ct.host_path(d["path"], "/dumps", dump_dir)
    with open(path, "rb") as f:
        f.seek(addr - region_addr)
        return f.read(length)


def test_container_attach_above_adopts_named_arenas():
    nthreads, arena_mib, limit = 3, 4, 128 * MIB
    with ct.pod() as p:
        d, dumps = ct.shared_dir(), tmpdir()
        target = p.run("app", "--memory", str(limit), "--memory-swap", str(limit),
                       "-v", f"{d}:/shared", ct.image("fixtures"), "/ct_arenas", "/shared",
                       str(nthreads), str(arena_mib))
        ct.wait_truth(d, lambda r: r["kind"] == "start", "start")
        cg, _ = ct.container_cgroup(p, target)
        base = cg.usage()
        per_round = nthreads * arena_mib * MIB
        # Round 1 below the mark, round 2 across it, round 3 across the threshold.
        mark, threshold = base + per_round * 3 // 2, base + per_round * 5 // 2
        name, events = ct.sidecar(p, "mmapwatch", target, "--json", "--output=-", "-p", "1",
                                  "--min-size=1M", "--dump-dir=/dumps/mmapwatch", "--delay=1h",
                                  f"--attach-above={mark}", f"--cgroup-threshold={threshold}",
                                  "--dump-on-threshold", volumes=[f"{dumps}:/dumps"])
        events.wait_diagnostic("tracing nothing until")
        ct.check_defaults_only(name)
        ct.send(d, "a")
        ct.wait_truth(d, lambda r: r["kind"] == "done" and r["round"] == 1, "round 1")
        assert cg.usage() < mark, (cg.usage(), mark)
        ct.check_untraced(p, target)
        assert not events.all("attach"), events.events

        ct.send(d, "a")
        att = events.wait_kind("mark", action="attach")
        assert att["attach_mark"] == mark and att["pid"] == 1, att
        events.wait_kind("attach", pid=1)
        truth = os.path.join(d, "truth")
        ct.wait_truth(d, lambda r: r["kind"] == "done" and r["round"] == 2, "round 2")
        round1 = [r for r in truth_of(read_truth(truth), "mmap")
                  if r["len"] == arena_mib * MIB][:nthreads]
        existing = _wait_covered(events, 1, [(hexaddr(r["addr"]), r["len"]) for r in round1])

        ct.send(d, "a")
        above, got = _threshold_dumps(events)
        assert above["usage"] >= threshold, above
        for rec in round1:
            addr = hexaddr(rec["addr"])
            region = hexaddr(_covering(existing, addr, rec["len"])["addr"])
            data = _read_in_dump(got, dumps, region, addr, rec["len"])
            for page in range(rec["len"] // PAGE):
                want = f"ct_arenas tid={rec['tid']} round=1 page={page}".encode()
                assert data[page * PAGE:page * PAGE + len(want)] == want, (rec, page)
        assert all(e["comm"] == "ct_arenas" for e in existing), existing

        ct.docker("stop", "-t", str(int(WAIT_S)), name)
        assert events.finish() == 0, events.stderr()
        events.wait_kind("detach", pid=1)
        ct.check_untraced(p, target)
        ct.send(d, "q")
        assert ct.docker("wait", target).stdout.strip() == "0"


def _one_life(p, role, pause, events, limit, dumps):
    """cg_grow in a new container: untraced below 30% of its limit,
    attached above (its chunks adopted), dumped at 40% with the adopted
    chunks' pages, then OOM-killed."""
    d = tmpdir()
    os.chmod(d, 0o755)
    app = p.name(role)
    proc = spawn([shutil.which("docker"), "run", "-i", "--rm", "--name", app,
                  "--pid", f"container:{pause}", "--memory", str(limit),
                  "--memory-swap", str(limit), "-v", f"{d}:/shared", ct.image("fixtures"),
                  "/cg_grow", "/shared/truth", str(cgt.CHUNK_MIB)],
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=ct.DOCKER_ENV, bufsize=0)
    cg, _ = ct.container_cgroup_when_up(p, app, proc)
    g = cgt.Grower(cg, p=proc, truth=os.path.join(d, "truth"))
    events.wait_kind("target", pid=g.pid)
    mark, threshold = limit * 30 // 100, limit * 40 // 100

    def grow_to(usage):
        for _ in range(64):
            before = dict(g.chunks)
            g.step()
            if cg.usage() >= usage:
                return before
        raise AssertionError(f"usage never reached {usage}")

    # Usage read after each step: the chunks of the steps before the one
    # that reached the mark were mapped before any attach.
    pre_attach = grow_to(mark)
    att = events.wait_kind("mark", action="attach", pid=g.pid)
    assert att["attach_mark"] == mark, att
    events.wait_kind("attach", pid=g.pid)
    existing = _wait_covered(events, g.pid, [(a, cgt.CHUNK) for a in pre_attach.values()])
    complete = grow_to(threshold)
    above, got = _threshold_dumps(events)
    assert above["pid"] == g.pid, above
    for n, addr in pre_attach.items():
        e = _covering(existing, addr, cgt.CHUNK)
        data = _read_in_dump(got, dumps, hexaddr(e["addr"]), addr, cgt.CHUNK)
        for page in range(cgt.CHUNK // PAGE):
            got_page = data[page * PAGE:(page + 1) * PAGE]
            assert got_page == cgt.expected_page(n, page) or n not in complete, (n, page)
    for _ in range(64):
        if not g.command("g"):
            break
    else:
        raise AssertionError("cg_grow was never OOM-killed")
    events.wait_kind("oom", pid=g.pid)
    exit_ev = events.wait_kind("exit", pid=g.pid)
    assert exit_ev.get("signal") == "SIGKILL", exit_ev
    assert proc.wait(timeout=WAIT_S) == 137


def test_container_attach_above_oom_loop():
    limit = 64 * MIB
    with ct.pod() as p:
        dumps = tmpdir()
        pause = p.run("pause", ct.image("fixtures"), "/ct_pause")
        name, events = ct.sidecar(p, "mmapwatch", pause, "--json", "--output=-",
                                  "--comm=cg_grow", "--wait", "--min-size=1M",
                                  "--dump-dir=/dumps/mmapwatch", "--delay=1h",
                                  "--attach-above=30%", "--cgroup-threshold=40%",
                                  "--dump-on-threshold", volumes=[f"{dumps}:/dumps"])
        for role in ("app", "app2"):
            _one_life(p, role, pause, events, limit, dumps)
        ct.docker("stop", "-t", str(int(WAIT_S)), name)
        assert events.finish() == 0, events.stderr()
        marks = [e["action"] for e in events.all("mark")]
        assert marks == ["attach", "attach"], events.all("mark")
        assert len(events.all("attach")) == 2, events.all("attach")
