"""Dumping one region of a running process (src/dump.c), driven outside the
tracer by build/.../tests/dumpdrv against tests/fixtures/dump_target, which
writes a known pattern and records its own layout as truth.

What is checked against the truth: byte-exact contents, holes exactly
where pages were never touched, the target's memory untouched by the dump
(VmRSS, the region's smaps Rss and its pagemap present pages), PROT_NONE
data read through /proc/PID/mem, file and directory modes, no temporary or
partial file on any failure (a real full tmpfs), refused dump directories,
and --strings output.
"""
import ctypes
import errno
import json
import os
import shutil
import stat
import struct
import subprocess

import harness
from harness import TS_RE, Skip, fixture, read_truth, start_fixture, tmpdir, truth_of

PAGE = 4096
MIB = 1024 * 1024
DUMPDRV = os.environ.get("DUMPDRV") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "release", "tests", "dumpdrv")

# --------------------------------------------------------------------------
# helpers

# pattern(off) = ((off & 4095) * 131 + (off >> 12) * 7 + 1) & 0xff, as in
# dump_target.c: one page template shifted per page through a byte table.
_BASE = bytes((i * 131) & 0xFF for i in range(PAGE))
_TABLES = [bytes((b + p * 7 + 1) & 0xFF for b in range(256)) for p in range(256)]


def pattern(off, n):
    out = bytearray()
    pos, end = off, off + n
    while pos < end:
        page = _BASE.translate(_TABLES[(pos >> 12) & 255])
        s = pos & (PAGE - 1)
        e = min(PAGE, s + end - pos)
        out += page[s:e]
        pos += e - s
    return bytes(out)


class Target:
    """A running dump_target with its truth."""

    def __init__(self, mode, *args):
        self.truth_path = os.path.join(tmpdir(), "truth")
        self.proc, self.pid = start_fixture(
            [fixture("dump_target"), self.truth_path, mode, *map(str, args)])
        self.truth = read_truth(self.truth_path)

    def region(self, name):
        regs = [r for r in truth_of(self.truth, "region") if r["name"] == name]
        assert len(regs) == 1, self.truth
        return harness.hexaddr(regs[0]["addr"]), regs[0]["len"]

    def ranges(self, kind, name):
        return [(r["off"], r["off"] + r["len"]) for r in truth_of(self.truth, kind)
                if r["name"] == name]

    def finish(self):
        """Lets it exit; it must exit 0: a dump must not have harmed it."""
        self.proc.stdin.write("g")
        self.proc.stdin.flush()
        harness.wait_fixture(self.proc, 0)


def drv():
    if not os.access(DUMPDRV, os.X_OK):
        raise AssertionError(f"dump driver {DUMPDRV} not built (run through `make test`)")
    return DUMPDRV


def dump(dir_, pid, addr, length, seq=0, *opts, argv_prefix=(), preexec_fn=None,
         driver=None):
    """Runs the driver; returns (exit code, result dict or None, stderr)."""
    argv = [*argv_prefix, driver or drv(), dir_, str(pid), f"{addr:x}", str(length),
            str(seq), *opts]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=harness.WAIT_S * 2, preexec_fn=preexec_fn)
    lines = p.stdout.splitlines()
    result = json.loads(lines[0]) if lines else None
    return p.returncode, result, p.stderr


def dump_ok(dir_, pid, addr, length, seq=0, *opts, **kw):
    rc, res, err = dump(dir_, pid, addr, length, seq, *opts, **kw)
    assert rc == 0 and res and res["rc"] == 0, f"dump failed: rc={rc} {res} stderr={err!r}"
    assert err == "", f"a successful dump logged: {err!r}"
    return res


def read_bin(dir_, res):
    with open(os.path.join(dir_, res["name"]), "rb") as f:
        return f.read()


def read_meta(dir_, res):
    with open(os.path.join(dir_, res["meta_name"]), encoding="utf-8") as f:
        text = f.read()
    assert text.endswith("}\n") and text.count("\n") == 1, text[:200]
    return json.loads(text)


def check_dir_clean(dir_, expect_names):
    """Exactly these files, all 0600 regular files; no temporary left."""
    names = sorted(os.listdir(dir_))
    assert names == sorted(expect_names), f"dump dir holds {names}, expected {expect_names}"
    for n in names:
        st = os.lstat(os.path.join(dir_, n))
        assert stat.S_ISREG(st.st_mode), n
        assert stat.S_IMODE(st.st_mode) == 0o600, f"{n} has mode {oct(st.st_mode)}"


def complement(ranges, length):
    """The gaps between sorted disjoint ranges within [0, length)."""
    out, pos = [], 0
    for s, e in sorted(ranges):
        if s > pos:
            out.append([pos, s])
        pos = max(pos, e)
    if pos < length:
        out.append([pos, length])
    return out


def vm_rss_kb(pid):
    return int(harness.proc_status(pid)["VmRSS"].split()[0])


def smaps_rss_kb(pid, addr):
    """Rss of the mapping that starts at addr (/proc/PID/smaps)."""
    inside = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(" ", 1)[0]
            if "-" in first and all(c in "0123456789abcdef-" for c in first):
                inside = int(first.split("-")[0], 16) == addr
            elif inside and line.startswith("Rss:"):
                return int(line.split()[1])
    raise AssertionError(f"no mapping at {addr:#x} in smaps")


def present_pages(pid, addr, length):
    """Pages of [addr, addr+length) that pagemap says are present or swapped."""
    n = (length + PAGE - 1) // PAGE
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(addr // PAGE * 8)
        data = f.read(n * 8)
    return sum(1 for (v,) in struct.iter_unpack("<Q", data) if v & (3 << 62))


def memory_footprint(pid, regions):
    """Everything a dump must leave unchanged in the target."""
    return {"VmRSS": vm_rss_kb(pid),
            **{f"Rss@{a:#x}": smaps_rss_kb(pid, a) for a, _ in regions},
            **{f"present@{a:#x}": present_pages(pid, a, n) for a, n in regions}}


def read_proc_mem(pid, addr, n):
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as f:
        f.seek(addr)
        return f.read(n)


def is_root():
    return os.geteuid() == 0


# --------------------------------------------------------------------------
# tests


def test_dump_byte_exact_and_metadata():
    """Every byte as the target wrote it; metadata complete; modes exact
    even under a umask that would strip them (0777)."""
    t = Target("pattern", 1 * MIB + 3 * PAGE + 100)
    addr, length = t.region("main")
    base = tmpdir()
    d = os.path.join(base, "dumps")
    res = dump_ok(d, t.pid, addr, length, 0, "--reason", "delay",
                  preexec_fn=lambda: os.umask(0o777))
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, oct(os.stat(d).st_mode)
    assert res["name"] == f"{t.pid}-{addr:x}-{length}-0.bin", res
    assert res["meta_name"] == f"{t.pid}-{addr:x}-{length}-0.json", res
    data = read_bin(d, res)
    assert len(data) == length
    assert data == pattern(0, length), "dump differs from what the target wrote"
    assert res["bytes_read"] == res["resident_bytes"] == length, res
    assert res["holes"] == [] and res["unreadable"] == [], res

    meta = read_meta(d, res)
    assert meta["file"] == res["name"]
    assert meta["pid"] == t.pid and meta["tid"] == t.pid and meta["comm"] == "dump_target"
    assert meta["addr"] == f"0x{addr:x}" and meta["len"] == length
    assert meta["prot"] == "rw-" and meta["flags"] == "MAP_PRIVATE|MAP_ANONYMOUS"
    assert meta["seq"] == 0 and meta["reason"] == "delay" and meta["page_size"] == PAGE
    assert TS_RE.match(meta["mapped_at"]) and TS_RE.match(meta["dumped_at"]), meta
    assert meta["mapped_at"] <= meta["dumped_at"]
    assert meta["bytes_read"] == meta["resident_bytes"] == length
    assert meta["hole_bytes"] == 0 and meta["unreadable_bytes"] == 0
    assert meta["holes"] == [] and meta["unreadable"] == []
    assert meta["holes_truncated"] is False and meta["unreadable_truncated"] is False
    assert meta["stack"] is None
    assert res["meta_bytes"] == os.path.getsize(os.path.join(d, res["meta_name"]))

    # The next dump of the same region gets its own files.
    res1 = dump_ok(d, t.pid, addr, length, 1, "--reason", "redump")
    assert res1["name"] == f"{t.pid}-{addr:x}-{length}-1.bin"
    assert read_bin(d, res1) == data
    check_dir_clean(d, [res["name"], res["meta_name"], res1["name"], res1["meta_name"]])
    t.finish()


def test_dump_sparse_large_region():
    """1 GiB reserved, 16 MiB + 3 pages touched: about 16 MiB on disk,
    holes exactly the untouched ranges, the target's memory unchanged."""
    t = Target("sparse", 1024 * MIB)
    addr, length = t.region("main")
    touched = t.ranges("touched", "main")
    touched_bytes = sum(e - s for s, e in touched)
    d = tmpdir()
    before = memory_footprint(t.pid, [(addr, length)])
    res = dump_ok(d, t.pid, addr, length)
    after = memory_footprint(t.pid, [(addr, length)])
    assert before == after, f"the dump changed the target's memory: {before} -> {after}"
    assert before[f"present@{addr:#x}"] == touched_bytes // PAGE, before

    assert res["resident_bytes"] == res["bytes_read"] == touched_bytes, res
    assert res["hole_bytes"] == length - touched_bytes and res["unreadable"] == []
    meta = read_meta(d, res)
    assert meta["holes"] == complement(touched, length), meta["holes"]
    assert meta["unreadable"] == [] and meta["holes_truncated"] is False

    path = os.path.join(d, res["name"])
    st = os.stat(path)
    assert st.st_size == length
    disk = st.st_blocks * 512
    # A little slack for the file system's own blocks (extent tree).
    assert touched_bytes <= disk <= touched_bytes + 1 * MIB, \
        f"{disk} bytes on disk for {touched_bytes} touched"
    # Data where the target wrote, holes elsewhere (checked without reading
    # a gigabyte of zeros).
    with open(path, "rb") as f:
        fd = f.fileno()
        segments, pos = [], 0
        while pos < length:
            try:
                s = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    break
                raise
            e_ = os.lseek(fd, s, os.SEEK_HOLE)
            segments.append((s, e_))
            pos = e_
        assert segments == sorted(touched), f"data segments {segments} != touched {touched}"
        for s, e_ in touched:
            assert os.pread(fd, e_ - s, s) == pattern(s, e_ - s), f"bytes {s}..{e_} differ"
    check_dir_clean(d, [res["name"], res["meta_name"]])
    t.finish()


def test_dump_does_not_fault_pages_in():
    """VmRSS, each region's smaps Rss and its present pages are unchanged
    by dumps of half-touched anonymous and shared-memory regions. The same
    measurements do move when an untouched page is read (checked at the
    end), so this test can fail."""
    t = Target("rss")
    regions = [t.region("anon"), t.region("shm")]
    d = tmpdir()
    before = memory_footprint(t.pid, regions)
    results = [dump_ok(d, t.pid, a, n, 0) for a, n in regions]
    after = memory_footprint(t.pid, regions)
    assert before == after, f"the dump changed the target's memory: {before} -> {after}"

    for (a, n), res, name in zip(regions, results, ("anon", "shm")):
        touched = t.ranges("touched", name)
        assert res["resident_bytes"] == sum(e - s for s, e in touched), (name, res)
        assert read_meta(d, res)["holes"] == complement(touched, n), name
        data = read_bin(d, res)
        for s, e in touched:
            assert data[s:e] == pattern(s, e - s), f"{name} bytes {s}..{e} differ"
        for s, e in complement(touched, n):
            assert data[s:e] == bytes(e - s)

    # Sensitivity: reading one untouched page (as a careless dumper would)
    # grows the shm region's Rss and the anon region's present pages.
    (anon, _), (shm, _) = regions
    read_proc_mem(t.pid, shm + 100 * PAGE, PAGE)
    read_proc_mem(t.pid, anon + 5 * PAGE, PAGE)
    moved = memory_footprint(t.pid, regions)
    assert moved[f"Rss@{shm:#x}"] == after[f"Rss@{shm:#x}"] + 4, (after, moved)
    assert moved[f"present@{anon:#x}"] == after[f"present@{anon:#x}"] + 1, (after, moved)
    t.finish()


def test_dump_region_with_unmapped_middle():
    """Pages 16..31 unmapped before the dump: recorded as a hole (or
    unreadable), zeros in the file, everything else byte-exact."""
    t = Target("unmapmid")
    addr, length = t.region("main")
    (gs, ge), = t.ranges("unmapped", "main")
    d = tmpdir()
    res = dump_ok(d, t.pid, addr, length)
    meta = read_meta(d, res)
    gaps = [tuple(r) for r in meta["holes"] + meta["unreadable"]]
    assert sorted(gaps) == [(gs, ge)], meta
    assert res["resident_bytes"] == length - (ge - gs), res
    data = read_bin(d, res)
    assert len(data) == length
    assert data[:gs] == pattern(0, gs) and data[ge:] == pattern(ge, length - ge)
    assert data[gs:ge] == bytes(ge - gs)
    check_dir_clean(d, [res["name"], res["meta_name"]])
    t.finish()


def _vm_readv_errno(pid, addr, n):
    """errno of process_vm_readv on [addr, addr+n), 0 if it read it all."""
    libc = ctypes.CDLL(None, use_errno=True)

    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    buf = ctypes.create_string_buffer(n)
    local = IoVec(ctypes.cast(buf, ctypes.c_void_p), n)
    remote = IoVec(addr, n)
    libc.process_vm_readv.restype = ctypes.c_ssize_t
    r = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    return 0 if r == n else (ctypes.get_errno() or -1)


def test_dump_prot_none_through_proc_mem():
    """Data written before mprotect(PROT_NONE) is dumped whole, through the
    /proc/PID/mem fallback (process_vm_readv itself cannot read it), for a
    fully PROT_NONE region and one with PROT_NONE pages in the middle."""
    t = Target("protnone")
    d = tmpdir()
    names = []
    for name, prot in (("none", "0"), ("mixed", "3")):
        addr, length = t.region(name)
        assert _vm_readv_errno(t.pid, addr + 2 * PAGE, PAGE) == errno.EFAULT, \
            "process_vm_readv read PROT_NONE memory: this test would prove nothing"
        before = memory_footprint(t.pid, [(addr, length)])
        res = dump_ok(d, t.pid, addr, length, 0, "--prot", prot)
        assert memory_footprint(t.pid, [(addr, length)]) == before
        assert res["bytes_read"] == res["resident_bytes"] == length, (name, res)
        assert res["unreadable"] == [] and res["holes"] == [], (name, res)
        assert read_bin(d, res) == pattern(0, length), f"{name}: contents differ"
        meta = read_meta(d, res)
        assert meta["prot"] == ("---" if name == "none" else "rw-"), meta
        names += [res["name"], res["meta_name"]]
    check_dir_clean(d, names)
    t.finish()


def test_dump_full_disk_leaves_nothing():
    """A 4 MiB dump into a 1 MiB tmpfs: ENOSPC reported, no .bin, .json or
    temporary left, and the space is free again (a small dump fits)."""
    if not is_root():
        raise Skip("mounting a small tmpfs needs root")
    t = Target("pattern", 4 * MIB)
    addr, length = t.region("main")
    mnt = tmpdir()
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", mnt],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if m.returncode != 0:
        raise Skip(f"cannot mount a tmpfs here (no CAP_SYS_ADMIN?): {m.stderr.strip()}")
    try:
        d = os.path.join(mnt, "dumps")
        rc, res, err = dump(d, t.pid, addr, length)
        assert rc == 1 and res["rc"] == -1, (rc, res, err)
        assert res["error"] == errno.ENOSPC and res["error_op"] == "write", res
        assert err == "", f"dump_region must not log (the caller reports): {err!r}"
        check_dir_clean(d, [])
        # Nothing leaked: the space is back for a dump that fits.
        ok = dump_ok(d, t.pid, addr, 16 * PAGE)
        assert read_bin(d, ok) == pattern(0, 16 * PAGE)
        check_dir_clean(d, [ok["name"], ok["meta_name"]])
    finally:
        subprocess.run(["umount", mnt], check=False)
    t.finish()


def _one_error_line(err, *words):
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mmapwatch: "), f"stderr: {err!r}"
    for w in words:
        assert w in lines[0], f"{w!r} not in {lines[0]!r}"


def test_dump_dir_refused():
    """A symlink, a file, an uncreatable path and (as uid 65534 via
    setpriv) a directory that cannot be opened or written: exit 2 with one
    line naming the path, before any dump."""
    # Above any pid_max: if a refusal were missed, the dump fails on a
    # process that cannot exist instead of reading a real one.
    NO_PID = 2147483647
    base = tmpdir()
    real = os.path.join(base, "real")
    os.mkdir(real, 0o700)
    link = os.path.join(base, "link")
    os.symlink(real, link)
    for path in (link, link + "/"):
        rc, res, err = dump(path, NO_PID, 0x1000, PAGE)
        assert rc == 2 and res is None, (rc, res)
        _one_error_line(err, f'"{path}"', "symbolic link")
    assert os.listdir(real) == []
    afile = os.path.join(base, "file")
    open(afile, "w").close()
    rc, _, err = dump(afile, NO_PID, 0x1000, PAGE)
    assert rc == 2
    _one_error_line(err, f'"{afile}"', "not a directory")
    missing = os.path.join(base, "no", "such")
    rc, _, err = dump(missing, NO_PID, 0x1000, PAGE)
    assert rc == 2
    _one_error_line(err, f'"{missing}"', "cannot create")

    if not is_root():
        raise Skip("changing to uid 65534 needs root (the rest of this test passed)")
    if not shutil.which("setpriv"):
        raise Skip("setpriv (util-linux) is not installed")
    # Everything nobody needs on the way must be reachable by nobody: a
    # copy of the driver in a 0755 directory.
    os.chmod(base, 0o755)
    driver = os.path.join(base, "dumpdrv")
    shutil.copy(drv(), driver)
    os.chmod(driver, 0o755)
    as_nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    private = os.path.join(base, "private")   # root's, 0700: cannot even open
    os.mkdir(private, 0o700)
    readonly = os.path.join(base, "readonly")  # root's, 0755: cannot write
    os.mkdir(readonly, 0o755)
    for path, words in ((private, ("cannot open", "Permission denied")),
                        (readonly, ("cannot write", "Permission denied")),
                        (os.path.join(base, "new"), ("cannot create", "Permission denied"))):
        rc, res, err = dump(path, NO_PID, 0x1000, PAGE, argv_prefix=as_nobody, driver=driver)
        assert rc == 2 and res is None, (path, rc, res, err)
        _one_error_line(err, f'"{path}"', *words)
    assert os.listdir(private) == [] and os.listdir(readonly) == []


# In file order, as dump_target.c mode_strings writes them (runs of at
# least 6 printable bytes; "abc" and "short" are too short).
EXPECTED_STRINGS = (["PRI * HTTP/2.0"] * 5 + ["application/grpc"] * 3 +
                    ["user-agent\tgrpc-c/8.0.0"] * 2 + ["exact6"] * 4 +
                    ["left-side", "right-side", "Z" * 300,
                     "zz-extra-1", "zz-extra-2", "zz-extra-3",
                     "boundary-crossing-string", "end-of-page-seven", "after-the-hole"])
EXPECTED_TOP = [["PRI * HTTP/2.0", 5], ["exact6", 4], ["application/grpc", 3],
                ["user-agent\tgrpc-c/8.0.0", 2], ["after-the-hole", 1],
                ["boundary-crossing-string", 1], ["end-of-page-seven", 1],
                ["left-side", 1], ["right-side", 1], ["zz-extra-1", 1]]


def test_dump_strings():
    """--strings 6: the .strings file lists every printable run in order
    (runs across a page border kept whole, runs never joined across a
    hole), the ten most frequent come back with their counts, and
    strings(1) agrees."""
    t = Target("strings")
    addr, length = t.region("main")
    d = tmpdir()
    res = dump_ok(d, t.pid, addr, length, 0, "--strings", "6")
    base = res["name"][:-len(".bin")]
    with open(os.path.join(d, base + ".strings"), encoding="ascii") as f:
        lines = f.read().split("\n")
    assert lines[-1] == "", "the .strings file must end with a newline"
    assert lines[:-1] == EXPECTED_STRINGS, lines
    assert res["top"] == EXPECTED_TOP, res["top"]
    assert read_meta(d, res)["holes"] == [[8 * PAGE, 10 * PAGE]]
    check_dir_clean(d, [res["name"], res["meta_name"], base + ".strings"])
    if shutil.which("strings"):
        p = subprocess.run(["strings", "-a", "-n", "6", os.path.join(d, res["name"])],
                           stdout=subprocess.PIPE, check=True)
        assert p.stdout.decode("ascii").split("\n")[:-1] == EXPECTED_STRINGS, \
            "strings(1) disagrees"
    t.finish()
