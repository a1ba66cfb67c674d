"""cgroup v2, and a second kernel: Debian 12's own kernel (6.1, the LTS
most Debian nodes run) booted under qemu, software-emulated, from an
initramfs built here holding busybox, the static mmapwatch and static
fixtures. This machine binds the memory controller to cgroup v1, so the
cgroup v2 variants of test_cgroup.py skip here; in the VM, cgroup2 has the
memory controller.

One boot runs every scenario of tests/vm/init.sh (core tracing in launch
mode; the threshold with dumps and the OOM kill; the cgroup removed under
the watch; the sidecar, in cgroup and mount namespaces of its own; launch
mode with a command that moves itself into its cgroup) and writes what
happened to a second serial port, read back here. The checks are made
here, with test_cgroup.py's rules: the VM only runs things.

The kernel is Debian's linux-image-amd64 package, fetched with
`apt-get download` and unpacked (scripts/vm-kernel.sh), never installed.
The boot is bounded (BOOT_TIMEOUT_S); its console log is shown on failure.
"""
import base64
import collections
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess

import harness
from harness import hexaddr, tmpdir, truth_of
import test_cgroup as cgt
from test_static import elf_dependencies

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MIB = 1024 * 1024
BOOT_TIMEOUT_S = 105  # within the runner's 120 s for the test that boots
STATIC_FIXTURES = ("cg_grow", "trace_map", "cgns")


# ---------------------------------------------------------------------------
# the initramfs: a newc cpio archive, written here (no cpio tool needed,
# and device nodes need no privilege in an archive)


def _cpio_entry(out, ino, name, mode, data=b"", rdev=(0, 0)):
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
    out.write(b"070701" + b"".join(b"%08X" % f for f in fields))
    out.write(name.encode() + b"\0")
    out.write(b"\0" * (-(110 + len(name) + 1) % 4))
    out.write(data)
    out.write(b"\0" * (-len(data) % 4))


def build_initramfs(path, files):
    """files: archive name -> host path (None: a directory)."""
    buf = io.BytesIO()
    ino = 1
    for name in ("bin", "dev", "fx", "proc", "sys", "tmp"):
        _cpio_entry(buf, ino, name, 0o040755)
        ino += 1
    _cpio_entry(buf, ino, "dev/console", 0o020600, rdev=(5, 1))
    for name, src in files.items():
        ino += 1
        with open(src, "rb") as f:
            _cpio_entry(buf, ino, name, 0o100755, f.read())
    _cpio_entry(buf, ino + 1, "TRAILER!!!", 0)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(buf.getvalue())


def kernel():
    r = subprocess.run([os.path.join(ROOT, "scripts", "vm-kernel.sh")], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    assert r.returncode == 0, f"scripts/vm-kernel.sh: {r.stdout.strip()}"
    return r.stdout.strip().splitlines()[-1]


_boot = []


def vm():
    """The scenarios' results: {"rc": {name: status}, "files": {name:
    bytes}, "steps": {name: [(n, usage)]}, "pids": {name: pid}}; booted once."""
    if _boot:
        if isinstance(_boot[0], Exception):
            raise AssertionError("the VM run failed: see the first VM test")
        return _boot[0]
    try:
        _boot.append(_run_vm())
    except Exception as e:  # noqa: BLE001 - kept for the other VM tests
        _boot.append(e)
        raise
    return _boot[0]


def _run_vm():
    qemu = shutil.which("qemu-system-x86_64")
    assert qemu, "no qemu-system-x86_64: scripts/deps.sh installs qemu-system-x86"
    assert os.access("/bin/busybox", os.X_OK), "no /bin/busybox: scripts/deps.sh installs " \
        "busybox-static"
    interp, _ = elf_dependencies("/bin/busybox")
    assert interp is None, "/bin/busybox is dynamically linked: install busybox-static"
    vmlinuz = kernel()
    static_dir = os.environ.get("STATIC_FIXTURE_DIR") or os.path.join(ROOT, "build",
                                                                       "fixtures-static")
    mmapwatch = os.environ.get("MMAPWATCH_STATIC") or os.path.join(ROOT, "build", "static",
                                                                   "mmapwatch")
    files = {"init": os.path.join(ROOT, "tests", "vm", "init.sh"), "bin/busybox": "/bin/busybox",
             "mmapwatch": mmapwatch}
    files.update({f"fx/{f}": os.path.join(static_dir, f) for f in STATIC_FIXTURES})
    for src in files.values():
        assert os.access(src, os.R_OK), f"{src} is missing (make static fixtures)"
    d = tmpdir()
    initrd = os.path.join(d, "initrd.gz")
    build_initramfs(initrd, files)
    console, results = os.path.join(d, "console.log"), os.path.join(d, "results.txt")
    # TCG: this VM has no nested KVM. The default CPU model boots here.
    argv = [qemu, "-m", "512", "-smp", "2", "-display", "none", "-monitor", "none",
            "-no-reboot", "-kernel", vmlinuz, "-initrd", initrd,
            "-append", "console=ttyS0 panic=-1 loglevel=3 rdinit=/init",
            "-serial", f"file:{console}", "-serial", f"file:{results}"]
    p = harness.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=BOOT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    text = open(results, encoding="ascii", errors="replace").read() \
        if os.path.exists(results) else ""
    if "@@DONE" not in text:
        log = open(console, errors="replace").read()[-800:] if os.path.exists(console) else ""
        raise AssertionError(f"the VM did not finish within {BOOT_TIMEOUT_S} s "
                             f"(qemu: {out.decode(errors='replace')[-300:]!r}); results, "
                             f"last lines: {text[-600:]!r}; console, last lines: {log!r}")
    return parse_results(text)


def parse_results(text):
    res = {"rc": {}, "files": {}, "steps": collections.defaultdict(list), "pids": {},
           "timeouts": []}
    name = None
    chunks = []
    for line in text.replace("\r", "").splitlines():
        words = line.split()
        if name is not None:
            if line == "@@END":
                res["files"][name] = base64.b64decode("".join(chunks))
                name = None
            else:
                chunks.append(line.strip())
        elif words[:1] == ["@@FILE"]:
            name, chunks = words[1], []
        elif words[:1] == ["@@RC"]:
            res["rc"][words[1]] = int(words[2])
        elif words[:1] == ["@@PID"]:
            res["pids"][words[1]] = int(words[2])
        elif words[:1] == ["@@STEP"] and len(words) == 4:
            res["steps"][words[1]].append((int(words[2]), int(words[3])))
        elif words[:1] == ["@@TIMEOUT"]:
            res["timeouts"].append(" ".join(words[1:]))
    return res


def events(res, name):
    return [json.loads(line) for line in res["files"][f"{name}.ev"].decode().splitlines()
            if line.strip()]


def truth(res, name):
    path = os.path.join(tmpdir(), "truth")
    with open(path, "wb") as f:
        f.write(res["files"][f"{name}.truth"])
    return harness.read_truth(path)


def stderr(res, name):
    return res["files"].get(f"{name}.err", b"").decode(errors="replace")


def one(evs, kind, **fields):
    got = [e for e in evs if e["event"] == kind and all(e.get(k) == v for k, v in fields.items())]
    assert len(got) == 1, (kind, fields, got)
    return got[0]


def crossing_step(res, name, threshold):
    """The first step whose usage reached the threshold; the test sizes
    make it end MARGIN past it (as on the host)."""
    for n, usage in res["steps"][name]:
        if usage >= threshold:
            assert usage >= threshold + cgt.MARGIN, (name, n, usage, threshold)
            return n
    raise AssertionError(f"{name}: usage never reached {threshold}: {res['steps'][name]}")


def chunk_md5(n):
    h = hashlib.md5()
    for p in range(cgt.CHUNK // cgt.PAGE):
        h.update(cgt.expected_page(n, p))
    return h.hexdigest()


# ---------------------------------------------------------------------------
# the checks, one scenario each


def _trace_map_reported(res, name):
    """Scenario name ran trace_map (3145745 and 8192 bytes) and exited 0:
    each map reported once, as the fixture recorded it; its events."""
    assert res["rc"][name] == 0, stderr(res, name)
    evs = events(res, name)
    harness.check_event_fields(evs)
    recs = truth(res, name)
    assert [r["len"] for r in recs] == [3145745, 8192], recs
    maps = [(e["tid"], hexaddr(e["addr"]), e["len"]) for e in evs if e["event"] == "mmap"]
    for rec in recs:
        assert maps.count((rec["tid"], hexaddr(rec["addr"]), rec["len"])) == 1, (rec, maps)
    return evs


def test_vm_smoke_launch_trace():
    """Core tracing on the 6.1 kernel: launch mode (seccomp filter), each
    map reported as the fixture recorded it."""
    _trace_map_reported(vm(), "smoke")


def test_vm_bpf_reader():
    """The perf source's BPF reader on the 6.1 kernel (programs assembled
    from its tracepoint formats): launched under it, each map reported as
    the fixture recorded it, and -v says BPF programs read the calls."""
    res = vm()
    evs = _trace_map_reported(res, "bpf")
    assert "the calls are read by BPF programs" in stderr(res, "bpf"), stderr(res, "bpf")
    assert [e["status"] for e in evs if e["event"] == "exit"] == [0], evs


def test_vm_cgroup_v2_threshold_dump_oom():
    """50% of a 36M memory.max: the crossing is reported once, with the
    chunks mapped then, each dumped with the bytes cg_grow wrote; then the
    OOM kill and the exit by SIGKILL."""
    res = vm()
    limit, threshold = 36 * MIB, 18 * MIB
    assert res["rc"]["oom"] == 0, stderr(res, "oom")
    evs = events(res, "oom")
    harness.check_event_fields(evs)
    pid = res["pids"]["oom"]
    chunks = {r["n"]: hexaddr(r["addr"]) for r in truth_of(truth(res, "oom"), "chunk")}
    n = crossing_step(res, "oom", threshold)
    above = one(evs, "threshold", state="above")
    mapped = {k: a for k, a in chunks.items() if k <= n}
    assert above["pid"] == pid and above["cgroup"] == "/oom", above
    assert above["threshold"] == threshold and above["limit"] == limit, above
    assert above["percent"] == 50 and above["usage"] >= threshold, above
    # The regions are those reported (mmap events) before the crossing's
    # event. Under emulation, mmap events of the last chunks have been
    # seen to come after the threshold event although the chunks were
    # written (and counted in the usage) before it: an open question about
    # attach mode under TCG, not decided by this test, which checks that
    # the event lists and dumps what mmapwatch had reported.
    before = []
    for e in evs:
        if e is above:
            break
        if e["event"] == "mmap" and e["len"] == cgt.CHUNK:
            before.append(hexaddr(e["addr"]))
    assert set(before) <= set(mapped.values()), (before, mapped)
    assert before, (mapped, res["steps"]["oom"])
    assert len(above["regions"]) == min(5, len(before)), (above["regions"], before)
    for r in above["regions"]:
        assert hexaddr(r["addr"]) in before and r["len"] == cgt.CHUNK, r
    dumps = [e for e in evs if e["event"] == "dump" and e["reason"] == "threshold"]
    assert above["dumps"] == len(before) == len(dumps), (above, before, dumps)
    md5 = {}
    for line in res["files"]["oom.md5"].decode().splitlines():
        h, name = line.split()
        md5[os.path.basename(name)] = h
    by_addr = {hexaddr(d["addr"]): os.path.basename(d["path"]) for d in dumps}
    assert set(by_addr) == set(before), (by_addr, before)
    for k, addr in mapped.items():
        if k < n and addr in by_addr:  # complete before the crossing step
            assert md5[by_addr[addr]] == chunk_md5(k), (k, by_addr[addr])
    oom = one(evs, "oom")
    assert oom["pid"] == pid and oom["cgroup"] == "/oom" and oom["new_kills"] >= 1, oom
    assert oom["limit"] == limit, oom
    ex = one(evs, "exit", pid=pid)
    assert ex.get("signal") == "SIGKILL", ex


def test_vm_cgroup_v2_removed_while_watched():
    """The target moved out and its cgroup removed: one warning, tracing
    goes on, no threshold event."""
    res = vm()
    assert res["rc"]["gone"] == 0, stderr(res, "gone")
    err = stderr(res, "gone")
    warned = [l for l in err.splitlines() if "is no longer watched" in l]
    assert len(warned) == 1 and "'/gone'" in warned[0], err
    evs = events(res, "gone")
    pid = res["pids"]["gone"]
    assert [e for e in evs if e["event"] == "mmap" and e["pid"] == pid and
            e["len"] == cgt.CHUNK], evs
    assert not [e for e in evs if e["event"] == "threshold"], evs
    one(evs, "detach", pid=pid)


def test_vm_cgroup_v2_sidecar():
    """mmapwatch and the target in cgroup and mount namespaces of their
    own (two containers of a pod): the target's cgroup, a sibling of
    mmapwatch's, is found through /proc/PID/root; the crossing and the OOM
    kill are reported."""
    res = vm()
    assert res["rc"]["app"] == 0, stderr(res, "app")
    evs = events(res, "app")
    pid = res["pids"]["app"]
    above = one(evs, "threshold", state="above")
    assert above["pid"] == pid and above["cgroup"] == "/../app", above
    assert above["threshold"] == 14 * MIB and above["limit"] == 32 * MIB, above
    assert above["dumps"] >= 1, above
    oom = one(evs, "oom")
    assert oom["pid"] == pid and oom["cgroup"] == "/../app" and oom["new_kills"] >= 1, oom



def test_vm_cgroup_v2_launch_moved():
    """Launch mode, the command moving itself into a cgroup before its
    exec: the watch follows it there (mmapwatch's own cgroup is the root,
    with no memory.max and no memory.current on v2)."""
    res = vm()
    err = stderr(res, "moved")
    evs = events(res, "moved")
    pid = res["pids"].get("moved")
    assert pid, f"the command never started: rc={res['rc'].get('moved')} {err!r}"
    above = one(evs, "threshold", state="above")
    assert above["pid"] == pid and above["cgroup"] == "/moved", above
    assert above["threshold"] == 12 * MIB and above["limit"] == 64 * MIB, above
    assert res["rc"]["moved"] == 0, err


def test_vm_cgroup_v2_attach_above():
    """--attach-above on cgroup v2: nothing traced below the mark; at it,
    attached, the chunks mapped before adopted as existing regions; below
    the lower mark, their munmaps reported and the target let go; SIGINT
    while only watching exits 0."""
    res = vm()
    assert res["rc"]["above"] == 0, stderr(res, "above")
    assert res["rc"]["above_tracer_before"] == 0 and res["rc"]["above_tracer_after"] == 0, res
    evs = events(res, "above")
    harness.check_event_fields(evs)
    pid = res["pids"]["above"]
    chunks = {r["n"]: hexaddr(r["addr"]) for r in truth_of(truth(res, "above"), "chunk")}
    # The step in which usage reached the mark: its chunk and those before
    # were mapped before the attach (its mmap came before the writes that
    # crossed).
    n = next(k for k, usage in res["steps"]["above"] if usage >= 16 * MIB)
    att = one(evs, "mark", action="attach")
    assert att["pid"] == pid and att["cgroup"] == "/above" and att["reason"] == "above", att
    assert att["attach_mark"] == 16 * MIB and att["detach_mark"] == 8 * MIB, att
    existing = [(hexaddr(e["addr"]), e["len"]) for e in evs if e["event"] == "existing"]
    for k in range(1, n + 1):
        assert any(a <= chunks[k] and chunks[k] + cgt.CHUNK <= a + ln for a, ln in existing), \
            (k, hex(chunks[k]), existing)
    det = one(evs, "mark", action="detach")
    assert det["reason"] == "below" and det["usage"] < 8 * MIB, det
    munmaps = {hexaddr(e["addr"]) for e in evs if e["event"] == "munmap"}
    assert munmaps and munmaps <= set(chunks.values()), (munmaps, chunks)
    kinds = [e["event"] for e in evs if e["event"] in ("mark", "attach", "detach")]
    assert kinds == ["mark", "attach", "mark", "detach"], kinds
