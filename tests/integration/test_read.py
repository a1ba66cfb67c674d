"""mmapwatch read: the bytes of a running process, checked against the
pattern the fixture wrote (tests/fixtures/mem_regions.c) and against
/proc/PID/mem read here; unmapped and partial reads, PROT_NONE through the
/proc/PID/mem fallback, --region, --strings (against strings(1)), the
terminal refusal, output file safety, usage errors, and --stop: the target
is never left traced or stopped, keeps its signals, and a group-stopped
target stays stopped."""
import os
import pty
import re
import select
import shutil
import signal
import stat
import subprocess
import threading

import harness
from harness import MMAPWATCH, read_truth, tmpdir, tracer_pid
from safety_lib import Fixture, Worker, assert_untraced

PG = 4096
PLANTED = [(1000, b"PRI * HTTP/2.0"),
           (2000, b"user-agent\tgrpc-c/8.0.0 (linux; chttp2)"),
           (3000, b"short"),
           (4090, b"straddles-a-page-boundary")]


def mem_pattern(seed, n, planted=()):
    """What mem_regions wrote: its mem_pattern() plus the planted text."""
    data = bytearray((i * 131 + seed * 71 + (i >> 8) * 17) & 0xFF for i in range(n))
    for off, text in planted:
        data[off - 1] = 0
        data[off:off + len(text)] = text
        data[off + len(text)] = 0
    return bytes(data)


PATTERN = mem_pattern(0, 4 * PG, PLANTED)
PROTNONE = mem_pattern(1, 2 * PG)


class Regions(Fixture):
    """mem_regions, ready; self.r[name] is its truth record, with "addr" an int."""

    def __init__(self, with_file=False):
        d = tmpdir()
        truth = os.path.join(d, "truth")
        args = [truth]
        if with_file:
            self.file_path = os.path.join(d, "data file with spaces.bin")
            with open(self.file_path, "wb") as f:
                f.write(bytes(range(256)) * 48)  # 3 pages
            args.append(self.file_path)
        super().__init__("mem_regions", *args)
        line = self.expect("ready ")
        assert int(line.split()[1]) == self.pid, line
        self.r = {}
        for rec in read_truth(truth):
            rec["addr"] = int(rec["addr"], 16)
            self.r[rec["name"]] = rec

    def ping(self):
        self.cmd("ping", "pong")

    def assert_hole(self, addr):
        """Nothing is mapped at addr (the fixture's guard pages): the
        premise of the unmapped and partial read checks."""
        with open(f"/proc/{self.pid}/maps") as f:
            for line in f:
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                assert not lo <= addr < hi, f"{addr:#x} is mapped: {line!r}"

    def check_untouched(self):
        """Still answering, not traced, not stopped."""
        self.ping()
        assert_untraced(self.pid)


def run_read(args, **kw):
    """mmapwatch read ARGS with bytes output; CompletedProcess."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([MMAPWATCH, "read", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=harness.WAIT_S * 2, **kw)


def one_line(stderr, what):
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    lines = text.splitlines()
    assert len(lines) == 1, f"{what}: expected one line on stderr, got {text!r}"
    assert lines[0].startswith("mmapwatch: "), f"{what}: {lines[0]!r}"
    return lines[0]


def proc_mem(pid, addr, n):
    with open(f"/proc/{pid}/mem", "rb") as f:
        f.seek(addr)
        return f.read(n)


def printable_runs(data, minimum=6):
    """strings(1) on data: runs of printable ASCII or tab, one per line."""
    return [m.group().decode() for m in re.finditer(rb"[\x20-\x7e\t]{%d,}" % minimum, data)]


# ---------------------------------------------------------------- bytes


def test_read_bytes_match_pattern_and_proc_mem():
    fx = Regions()
    addr = fx.r["pattern"]["addr"]
    out = os.path.join(tmpdir(), "out.bin")
    r = run_read(["-p", str(fx.pid), "--address", hex(addr), "-n", "16k", "-o", out])
    assert r.returncode == 0, f"rc={r.returncode} stderr={r.stderr!r}"
    assert r.stderr == b"" and r.stdout == b""
    with open(out, "rb") as f:
        data = f.read()
    assert data == PATTERN, "file differs from the fixture's pattern"
    assert data == proc_mem(fx.pid, addr, len(data)), "file differs from /proc/PID/mem"

    # To a pipe, decimal address, an offset and odd length, -o - and no -o.
    for extra in (["-o", "-"], []):
        r = run_read(["-p", str(fx.pid), "-a", str(addr + 999), "-n", "5001", *extra])
        assert r.returncode == 0, f"{extra}: rc={r.returncode} stderr={r.stderr!r}"
        assert r.stdout == PATTERN[999:999 + 5001], f"{extra}: wrong bytes"
    fx.check_untouched()


def test_read_region():
    fx = Regions()
    addr = fx.r["pattern"]["addr"]
    for inside in (addr, addr + 3 * PG + 17, addr + 4 * PG - 1):
        r = run_read(["-p", str(fx.pid), "--region", hex(inside), "-o", "-"])
        assert r.returncode == 0, f"rc={r.returncode} stderr={r.stderr!r}"
        assert r.stdout == PATTERN, f"--region {inside:#x}: not the whole mapping"
    # An address in no mapping (the guard page after it).
    hole = addr + 4 * PG
    fx.assert_hole(hole)
    r = run_read(["-p", str(fx.pid), "--region", hex(hole), "-o", "-"])
    assert r.returncode == 1, f"rc={r.returncode}"
    line = one_line(r.stderr, "--region in a hole")
    assert f"{hole:#x}" in line and str(fx.pid) in line, line
    assert r.stdout == b""
    fx.check_untouched()


def test_read_unmapped_address():
    fx = Regions()
    hole = fx.r["pattern"]["addr"] - PG  # the guard page before it
    fx.assert_hole(hole)
    out = os.path.join(tmpdir(), "out.bin")
    r = run_read(["-p", str(fx.pid), "-a", hex(hole), "-n", "100", "-o", out])
    assert r.returncode == 1, f"rc={r.returncode} stderr={r.stderr!r}"
    line = one_line(r.stderr, "unmapped")
    assert f"{hole:#x}" in line, f"the error does not name {hole:#x}: {line!r}"
    assert re.search(rf"\b{fx.pid}\b", line), line
    assert os.path.getsize(out) == 0
    fx.check_untouched()


def test_read_partial():
    """A length past the end of the mapping: what was read is written,
    and stderr says how much, naming the first unreadable address."""
    fx = Regions()
    addr = fx.r["pattern"]["addr"]
    fx.assert_hole(addr + 4 * PG)
    r = run_read(["-p", str(fx.pid), "-a", hex(addr + 100), "-n", str(5 * PG), "-o", "-"])
    assert r.returncode == 1, f"rc={r.returncode} stderr={r.stderr!r}"
    assert r.stdout == PATTERN[100:], f"got {len(r.stdout)} bytes, expected {4 * PG - 100}"
    line = one_line(r.stderr, "partial")
    assert str(4 * PG - 100) in line and str(5 * PG) in line, line
    assert f"{addr + 4 * PG:#x}" in line, line
    fx.check_untouched()


def test_read_prot_none_via_proc_mem():
    fx = Regions()
    addr = fx.r["protnone"]["addr"]
    with open(f"/proc/{fx.pid}/maps") as f:
        perms = [l.split()[1] for l in f if int(l.split("-")[0], 16) == addr]
    assert perms == ["---p"], f"the region is not PROT_NONE: {perms}"
    r = run_read(["-p", str(fx.pid), "-a", hex(addr), "-n", str(2 * PG), "-o", "-"])
    assert r.returncode == 0, f"rc={r.returncode} stderr={r.stderr!r}"
    assert r.stdout == PROTNONE
    # Starting in readable memory is not possible here (guard pages), but
    # starting mid-region and running to its end is.
    r = run_read(["-p", str(fx.pid), "--region", hex(addr + PG), "-o", "-"])
    assert r.returncode == 0 and r.stdout == PROTNONE
    fx.check_untouched()


def test_read_file_mapping_and_deleted():
    fx = Regions(with_file=True)
    with open(fx.file_path, "rb") as f:
        want = f.read()
    r = run_read(["-p", str(fx.pid), "--region", hex(fx.r["file"]["addr"]), "-o", "-"])
    assert r.returncode == 0 and r.stdout == want, f"rc={r.returncode} stderr={r.stderr!r}"
    r = run_read(["-p", str(fx.pid), "-a", hex(fx.r["deleted"]["addr"]), "-n", "15", "-o", "-"])
    assert r.returncode == 0 and r.stdout == b"gone but mapped", r
    fx.check_untouched()


# ---------------------------------------------------------------- --strings


def test_read_strings():
    fx = Regions()
    addr = fx.r["pattern"]["addr"]
    raw = os.path.join(tmpdir(), "raw.bin")
    assert run_read(["-p", str(fx.pid), "--region", hex(addr), "-o", raw]).returncode == 0
    for args, minimum in ((["--strings"], 6), (["-s"], 6), (["--strings=5"], 5),
                          (["--strings=20"], 20), (["-s1"], 1)):
        r = run_read(["-p", str(fx.pid), "--region", hex(addr), *args])
        assert r.returncode == 0, f"{args}: rc={r.returncode} stderr={r.stderr!r}"
        got = r.stdout.decode().splitlines()
        assert got == printable_runs(PATTERN, minimum), f"{args}: differs from the pattern's runs"
        if shutil.which("strings"):
            s = subprocess.run(["strings", "-a", "-n", str(minimum), raw],
                               stdout=subprocess.PIPE, check=True)
            assert got == s.stdout.decode().splitlines(), f"{args}: differs from strings(1)"
    r = run_read(["-p", str(fx.pid), "--region", hex(addr), "--strings"])
    lines = r.stdout.decode().splitlines()
    for _, text in PLANTED:
        present = text.decode() in lines
        assert present == (len(text) >= 6), f"{text!r}: present={present}"
    # A run across the 1 MiB at which reads are cut is one string.
    big = fx.r["big"]["addr"]
    r = run_read(["-p", str(fx.pid), "--region", hex(big), "--strings"])
    assert r.returncode == 0 and r.stdout == b"crosses-the-1MiB-read-chunk\n", r
    fx.check_untouched()


def region_rss(pid, addr):
    with open(f"/proc/{pid}/smaps") as f:
        inside = False
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = int(line.split("-")[0], 16) == addr
            elif inside and line.startswith("Rss:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no mapping at {addr:#x}")


def test_read_does_not_grow_target():
    """Reading untouched anonymous pages does not make them resident (they
    read as zeros), with or without --stop."""
    fx = Regions()
    big = fx.r["big"]["addr"]
    want = bytearray(512 * PG)
    text = b"crosses-the-1MiB-read-chunk\0"
    want[(1 << 20) - 10:(1 << 20) - 10 + len(text)] = text
    assert region_rss(fx.pid, big) == 2 * PG
    for extra in ([], ["--stop"]):
        r = run_read(["-p", str(fx.pid), "--region", hex(big), "-o", "-", *extra])
        assert r.returncode == 0 and r.stdout == bytes(want), f"{extra}: {r.stderr!r}"
        assert region_rss(fx.pid, big) == 2 * PG, f"{extra}: the target grew"
    fx.check_untouched()


# ---------------------------------------------------------------- terminal, files


def run_on_pty(args):
    """mmapwatch read ARGS with a terminal as stdout; (rc, stderr, bytes on the terminal)."""
    master, slave = pty.openpty()
    import tty
    tty.setraw(slave)  # no newline translation: the bytes arrive as written
    got = []

    def drain():
        while True:
            try:
                r, _, _ = select.select([master], [], [], 0.05)
                if r:
                    chunk = os.read(master, 65536)
                    if not chunk:
                        return
                    got.append(chunk)
                elif done.is_set():
                    return
            except OSError:  # EIO once the slave side is closed
                return

    done = threading.Event()
    t = threading.Thread(target=drain, daemon=True)
    t.start()
    try:
        p = subprocess.run([MMAPWATCH, "read", *args], stdin=subprocess.DEVNULL, stdout=slave,
                           stderr=subprocess.PIPE, timeout=harness.WAIT_S)
    finally:
        os.close(slave)
        done.set()
        t.join(harness.WAIT_S)
        os.close(master)
    return p.returncode, p.stderr.decode(), b"".join(got)


def test_read_refuses_terminal():
    fx = Regions()
    addr = fx.r["pattern"]["addr"]
    rc, err, out = run_on_pty(["-p", str(fx.pid), "-a", hex(addr), "-n", "64"])
    assert rc == 1, f"rc={rc} stderr={err!r}"
    assert err == ("mmapwatch: refusing to write raw memory to a terminal; "
                   "use -o FILE, -o -, or --strings\n"), err
    assert out == b"", f"bytes reached the terminal: {out!r}"
    # -o - insists; --strings is text.
    rc, err, out = run_on_pty(["-p", str(fx.pid), "-a", hex(addr), "-n", "64", "-o", "-"])
    assert rc == 0 and out == PATTERN[:64], f"rc={rc} stderr={err!r} out={out!r}"
    rc, err, out = run_on_pty(["-p", str(fx.pid), "--region", hex(addr), "--strings"])
    assert rc == 0 and b"PRI * HTTP/2.0" in out, f"rc={rc} stderr={err!r}"
    fx.check_untouched()


def test_read_output_file_mode_and_symlink():
    fx = Regions()
    addr = fx.r["pattern"]["addr"]
    d = tmpdir()
    old_umask = os.umask(0o022)
    try:
        new = os.path.join(d, "new.bin")
        r = run_read(["-p", str(fx.pid), "-a", hex(addr), "-n", "4k", "-o", new])
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE(os.stat(new).st_mode) == 0o600, oct(os.stat(new).st_mode)

        # An existing file readable by others is truncated and closed to them.
        old = os.path.join(d, "old.bin")
        with open(old, "wb") as f:
            f.write(b"x" * 100000)
        os.chmod(old, 0o644)
        r = run_read(["-p", str(fx.pid), "-a", hex(addr), "-n", "100", "-o", old])
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE(os.stat(old).st_mode) == 0o600, oct(os.stat(old).st_mode)
        with open(old, "rb") as f:
            assert f.read() == PATTERN[:100]

        # A symbolic link is refused and what it points to is left alone.
        target = os.path.join(d, "target")
        with open(target, "wb") as f:
            f.write(b"keep me")
        link = os.path.join(d, "link")
        os.symlink(target, link)
        r = run_read(["-p", str(fx.pid), "-a", hex(addr), "-n", "100", "-o", link])
        assert r.returncode == 1, f"rc={r.returncode}"
        line = one_line(r.stderr, "symlink")
        assert "symbolic link" in line and link in line, line
        with open(target, "rb") as f:
            assert f.read() == b"keep me"
    finally:
        os.umask(old_umask)
    fx.check_untouched()


# ---------------------------------------------------------------- errors


def test_read_usage_errors():
    fx = Regions()
    pid, addr = str(fx.pid), hex(fx.r["pattern"]["addr"])
    cases = [
        [],
        ["-a", addr, "-n", "16"],                      # no -p
        ["-p", pid],                                   # nothing to read
        ["-p", "0", "-a", addr, "-n", "16"],
        ["-p", "12x", "-a", addr, "-n", "16"],
        ["-p", pid, "-a", addr],                       # no -n
        ["-p", pid, "-a", addr, "-n", "0"],
        ["-p", pid, "-a", addr, "-n", "16Q"],
        ["-p", pid, "-a", addr, "-n", "-5"],
        ["-p", pid, "-a", "zz", "-n", "16"],
        ["-p", pid, "-a", "0x", "-n", "16"],
        ["-p", pid, "-a", "7fzz", "-n", "16"],
        ["-p", pid, "-a", "00007f394d702000-", "-n", "16"],  # half a maps range
        ["-p", pid, "-a", "012345678901234567", "-n", "16"],  # hex: 17 digits
        ["-p", pid, "-a", "0xffffffffffff0000", "-n", "1M"],  # past 2^64
        ["-p", pid, "-a", "0x1ffffffffffffffff", "-n", "16"],
        ["-p", pid, "-a", addr, "--region", addr],
        ["-p", pid, "--region", addr, "-n", "16"],
        ["-p", pid, "-a", addr, "-n", "16", "--strings=0"],
        ["-p", pid, "-a", addr, "-n", "16", "--strings=x"],
        ["-p", pid, "-a", addr, "-n", "16", "--bogus"],
        ["-p", pid, "-a", addr, "-n", "16", "-x"],
        ["-p", pid, "-a", addr, "-n", "16", "--stop=1"],
        ["-p", pid, "-a", addr, "-n", "16", "extra"],
        ["-p", pid, "-a", addr, "-n", "16", "-o", ""],
        ["-p", pid, "-a", addr, "-n"],
    ]
    for args in cases:
        r = run_read(args)
        assert r.returncode == 2, f"{args}: rc={r.returncode} stderr={r.stderr!r}"
        one_line(r.stderr, repr(args))
        assert r.stdout == b"", args
    fx.check_untouched()


def test_read_help():
    r = run_read(["--help"])
    assert r.returncode == 0 and r.stderr == b""
    text = r.stdout.decode()
    for word in ("Usage: mmapwatch read", "--region", "--strings", "--stop", "EXAMPLES"):
        assert word in text, word


def test_read_no_such_process():
    p = subprocess.Popen(["true"])
    p.wait()
    for extra in ([], ["--stop"]):
        r = run_read(["-p", str(p.pid), "-a", "0x1000", "-n", "16", "-o", "-", *extra])
        assert r.returncode == 1, f"{extra}: rc={r.returncode} stderr={r.stderr!r}"
        line = one_line(r.stderr, "no such process")
        assert re.search(rf"\b{p.pid}\b", line), line


def kernel_thread():
    """The pid of some kernel thread (PF_KTHREAD in /proc/PID/stat), or
    None in a pid namespace that shows none."""
    for name in sorted(os.listdir("/proc"), key=lambda n: (len(n), n)):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[6]) & 0x00200000:
                return int(name)
    return None


def test_read_zombie_and_kernel_thread():
    """Processes without user memory: a zombie (exited, not reaped) and a
    kernel thread. One line, exit 1, and no hang rescanning a thread that
    cannot be seized."""
    p = subprocess.Popen(["true"])
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # exited, still a zombie
    try:
        kthread = kernel_thread()
        for pid in [p.pid] + ([kthread] if kthread else []):
            for extra in ([], ["--stop"]):
                r = subprocess.run([MMAPWATCH, "read", "-p", str(pid), "-a", "0x1000", "-n",
                                    "16", "-o", "-", *extra], stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=harness.WAIT_S)
                assert r.returncode == 1, f"{pid} {extra}: rc={r.returncode} {r.stderr!r}"
                line = one_line(r.stderr, f"pid {pid} {extra}")
                assert "no user memory" in line and re.search(rf"\b{pid}\b", line), line
            r = subprocess.run([MMAPWATCH, "maps", "-p", str(pid)], capture_output=True,
                               timeout=harness.WAIT_S, stdin=subprocess.DEVNULL)
            assert r.returncode == 1, r.stderr
            one_line(r.stderr, f"maps {pid}")
    finally:
        p.wait()


def test_read_permission_denied():
    if os.geteuid() != 0:
        raise harness.Skip("needs root, to run mmapwatch as another user against a root process")
    if not shutil.which("setpriv"):
        raise harness.Skip("setpriv (util-linux) is not installed")
    from test_cli import binary_for_others
    fx = Regions()
    binary = binary_for_others()
    addr = hex(fx.r["pattern"]["addr"])
    for args in (["read", "-p", str(fx.pid), "-a", addr, "-n", "16", "-o", "-"],
                 ["read", "-p", str(fx.pid), "-a", addr, "-n", "16", "-o", "-", "--stop"],
                 ["maps", "-p", str(fx.pid)]):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            binary, *args], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=harness.WAIT_S, cwd="/")
        assert r.returncode == 1, f"{args}: rc={r.returncode} stderr={r.stderr!r}"
        line = one_line(r.stderr, "permission denied")
        assert "CAP_SYS_PTRACE" in line and str(fx.pid) in line, line
        assert r.stdout == b"", f"{args}: {r.stdout[:100]!r}"
    fx.check_untouched()


# ---------------------------------------------------------------- --stop


def test_read_stop_snapshot():
    fx = Regions()
    addr = fx.r["pattern"]["addr"]
    r = run_read(["-p", str(fx.pid), "--region", hex(addr), "--stop", "-o", "-"])
    assert r.returncode == 0, f"rc={r.returncode} stderr={r.stderr!r}"
    assert r.stdout == PATTERN
    fx.check_untouched()
    # Partial reads and unmapped addresses behave the same while stopped.
    r = run_read(["-p", str(fx.pid), "-a", hex(addr), "-n", str(5 * PG), "--stop", "-o", "-"])
    assert r.returncode == 1 and r.stdout == PATTERN, f"rc={r.returncode} stderr={r.stderr!r}"
    assert f"{addr + 4 * PG:#x}" in one_line(r.stderr, "partial with --stop")
    fx.check_untouched()
    r = run_read(["-p", str(fx.pid), "--region", hex(fx.r["protnone"]["addr"]), "--stop",
                  "--strings=1"])
    assert r.returncode == 0
    assert r.stdout.decode().splitlines() == printable_runs(PROTNONE, 1)
    fx.check_untouched()


def test_read_stop_threads_keep_their_signals():
    """A busy multi-threaded target, stopped and read 30 times: every thread
    runs again untraced, and no signal was lost or added (each worker checks
    that the signal it sends itself arrives exactly once, so one caught in a
    signal-delivery stop at our seize must be re-injected)."""
    wk = Worker(3, busy=True)
    _, addr, length = wk.mmap(256 * 1024)
    for i in range(30):
        r = run_read(["-p", str(wk.pid), "--region", hex(addr), "--stop", "-o", os.devnull])
        assert r.returncode == 0, f"round {i}: rc={r.returncode} stderr={r.stderr!r}"
        assert r.stderr == b"", r.stderr
        assert_untraced(wk.pid)
    wk.iterate(20)
    sent, recv, bad = wk.selfsig()
    assert bad == 0 and recv > 0 and 0 <= sent - recv <= wk.nworkers, (sent, recv, bad)
    assert wk.sigs() == {}, f"the target received signals it was not sent: {wk.sigs()}"
    assert_untraced(wk.pid)
    wk.finish(0)


def test_read_stop_group_stopped_stays_stopped():
    fx = Regions()
    addr = fx.r["pattern"]["addr"]
    os.kill(fx.pid, signal.SIGSTOP)
    _, status = os.waitpid(fx.pid, os.WUNTRACED)  # our child: returns once it is stopped
    assert os.WIFSTOPPED(status), status
    r = run_read(["-p", str(fx.pid), "--region", hex(addr), "--stop", "-o", "-"])
    assert r.returncode == 0, f"rc={r.returncode} stderr={r.stderr!r}"
    assert r.stdout == PATTERN
    assert_untraced(fx.pid, stopped=True)
    os.kill(fx.pid, signal.SIGCONT)
    fx.check_untouched()


def test_read_stop_already_traced():
    if not shutil.which("strace"):
        raise harness.Skip("strace is not installed (scripts/deps.sh installs it)")
    fx = Regions()
    addr = fx.r["pattern"]["addr"]
    st = harness.spawn(["strace", "-p", str(fx.pid), "-o", os.devnull],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = harness.read_line(st.stderr)
    assert "attached" in line, f"strace did not attach: {line!r}"
    assert tracer_pid(fx.pid) == st.pid
    r = run_read(["-p", str(fx.pid), "--region", hex(addr), "--stop", "-o", "-"])
    assert r.returncode == 1, f"rc={r.returncode} stderr={r.stderr!r}"
    line = one_line(r.stderr, "already traced")
    assert re.search(rf"\b{fx.pid}\b", line) and re.search(rf"\b{st.pid}\b", line), line
    assert r.stdout == b""
    assert tracer_pid(fx.pid) == st.pid, "strace lost its tracee"
    # Without --stop it reads fine next to the other tracer.
    r = run_read(["-p", str(fx.pid), "--region", hex(addr), "-o", "-"])
    assert r.returncode == 0 and r.stdout == PATTERN, r.stderr
    st.terminate()
    st.wait(timeout=harness.WAIT_S)
    fx.check_untouched()
