"""Shared helpers for mmapwatch integration tests.

Tests run real fixture programs (tests/fixtures) under the real binary and
compare what mmapwatch reports with the truth the fixture writes itself.
Synchronization is by pipes and files, never by bare sleeps: a test that
must wait for something reads a pipe until it appears (with a deadline so a
bug fails the test instead of hanging the run).
"""
import contextlib
import errno
import json
import shutil
import os
import re
import select
import signal
import subprocess
import tempfile
import threading
import time

MMAPWATCH = os.environ.get("MMAPWATCH") or os.path.join(
    os.path.dirname(__file__), "..", "..", "mmapwatch")
FIXTURE_DIR = os.environ.get("FIXTURE_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "fixtures")

# Deadline for any single wait on a pipe; generous for slow sanitizer builds.
WAIT_S = float(os.environ.get("TEST_WAIT", "30"))


class Skip(Exception):
    """Raised to skip a test; the message says why."""


_procs = []    # every Popen a test started, killed by cleanup()
_tmpdirs = []  # TemporaryDirectory objects removed by cleanup()


def fixture(name):
    path = os.path.join(FIXTURE_DIR, name)
    if not os.access(path, os.X_OK):
        raise AssertionError(f"fixture {path} not built")
    return path


def tmpdir():
    d = tempfile.TemporaryDirectory(prefix="mmapwatch-test-")
    _tmpdirs.append(d)
    return d.name


# The event source a tracing run uses unless the test names one: ptrace,
# whose guarantees (holds for dumps, nothing lost) the older tests assert.
# mmapwatch's own default (--source auto) picks perf in attach mode where
# it can; tests of the perf source pass --source perf (or auto) themselves.
DEFAULT_SOURCE = ("--source", "ptrace")
_SUBCOMMANDS = {"maps", "read", "report"}
_NO_TRACING = {"-h", "--help", "-V", "--version"}


def with_source(argv):
    """argv of a tracing run of mmapwatch with DEFAULT_SOURCE added when it
    names no --source; anything else unchanged."""
    argv = list(argv)
    if (not argv or argv[0] != MMAPWATCH or len(argv) < 2 or argv[1] in _SUBCOMMANDS
            or any(a == "--source" or a.startswith("--source=") or a in _NO_TRACING
                   for a in argv[1:])):
        return argv
    return [argv[0], *DEFAULT_SOURCE, *argv[1:]]


def spawn(argv, **kw):
    """Popen that cleanup() will kill if the test leaves it running."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(with_source(argv), **kw)
    _procs.append(p)
    return p


def cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for f in (p.stdin, p.stdout, p.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass
    _procs.clear()
    for d in _tmpdirs:
        d.cleanup()
    _tmpdirs.clear()


# ---------------------------------------------------------------------------
# cgroups made for one test (test_cgroup.py's memory cgroups, test_perf_cgroup.py's
# perf_event ones)


def _unescape_mountinfo(path):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def mounts():
    """(root, mount point, fstype, super options) of every mount we see
    (/proc/self/mountinfo), paths unescaped."""
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            a, b = left.split(), right.split()
            if len(a) >= 5 and len(b) >= 3:
                out.append((_unescape_mountinfo(a[3]), _unescape_mountinfo(a[4]), b[0],
                            b[2].split(",")))
    return out


_cgroup_serial = [0]


def new_cgroup_name(kind):
    """A cgroup name no other test run uses: mmapwatch-KIND-PID-N."""
    _cgroup_serial[0] += 1
    return f"mmapwatch-{kind}-{os.getpid()}-{_cgroup_serial[0]}"


class Cgroup:
    """A cgroup directory made for one test (the caller made it). destroy()
    kills and waits for procs (Popen objects started for it), kills
    whatever else is left in it, and removes it, retrying until WAIT_S
    while killed processes leave."""

    def __init__(self, directory):
        self.dir = directory
        self.name = os.path.basename(directory)
        self.procs = []

    def file(self, name):
        return os.path.join(self.dir, name)

    def add(self, pid):
        with open(self.file("cgroup.procs"), "w", encoding="ascii") as f:
            f.write(str(pid))

    def destroy(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=WAIT_S)
        deadline = time.monotonic() + WAIT_S
        while True:
            with contextlib.suppress(OSError):
                with open(self.file("cgroup.procs"), encoding="ascii") as f:
                    for pid in f.read().split():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(int(pid), signal.SIGKILL)
            try:
                os.rmdir(self.dir)
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # a killed process leaves the cgroup a moment later


def read_line(f, deadline_s=None):
    """One line from a pipe file object ("" at EOF), or AssertionError at
    the deadline. The read runs in a thread: select() on the pipe would not
    see a line already in the file object's buffer."""
    result = []
    reader = threading.Thread(target=lambda: result.append(f.readline()), daemon=True)
    reader.start()
    reader.join(deadline_s or WAIT_S)
    if reader.is_alive():
        raise AssertionError("timed out waiting for a line on a pipe")
    return result[0]


def parse_events(text):
    """JSON Lines -> list of dicts; every non-empty line must be valid JSON."""
    events = []
    for line in text.splitlines():
        if line.strip():
            events.append(json.loads(line))
    return events


def read_events(path):
    with open(path, encoding="utf-8") as f:
        return parse_events(f.read())


def run_launch(command, *opts, timeout=None, env=None):
    """mmapwatch --json -o FILE [opts] -- command; returns (rc, events, stderr)."""
    out = os.path.join(tmpdir(), "events.jsonl")
    argv = [MMAPWATCH, "--json", "-o", out, *opts, "--", *command]
    p = subprocess.run(with_source(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout or WAIT_S * 4, env=env)
    return p.returncode, read_events(out), p.stderr


def proc_status(pid):
    """/proc/PID/status as a dict of str -> str."""
    result = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            result[key] = value.strip()
    return result


def tracer_pid(pid):
    return int(proc_status(pid)["TracerPid"])


def proc_state(pid):
    """Single-letter state from /proc/PID/stat: R, S, T (stopped), t (traced), Z..."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    return data[data.rindex(")") + 2]


def events_of(events, kind, pid=None, addr=None):
    """The events of one kind, optionally of one process and about one
    address (an int; matched against the event's "addr")."""
    return [e for e in events if e.get("event") == kind and
            (pid is None or e.get("pid") == pid) and
            (addr is None or ("addr" in e and int(e["addr"], 16) == addr))]


# ---------------------------------------------------------------------------
# Fixture truth, attach-mode handshake, event checks and strace parsing
# (used by test_tracing.py and test_cli.py).

import re  # noqa: E402

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
HEX_RE = re.compile(r"^0x[0-9a-f]+$")


def hexaddr(text):
    """"0x7f..." (lowercase hex, as in the JSON events) -> int."""
    if not isinstance(text, str) or not HEX_RE.match(text):
        raise AssertionError(f"not a 0x-prefixed lowercase hex address: {text!r}")
    return int(text, 16)


def read_truth(path):
    """A fixture's truth file (tests/fixtures/fixture.h fx_truth): one record
    a line, "KIND key=value ...". Returns dicts with "kind" and the fields;
    decimal values become ints, "0x..." values stay strings (use hexaddr)."""
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            rec = {"kind": words[0]}
            for w in words[1:]:
                key, sep, value = w.partition("=")
                if not sep:
                    raise AssertionError(f"bad truth record {line!r}")
                rec[key] = int(value) if re.fullmatch(r"-?\d+", value) else value
            records.append(rec)
    return records


def truth_of(records, kind):
    return [r for r in records if r["kind"] == kind]


def start_fixture(argv, env=None):
    """Starts a fixture run with -w (it prints "ready PID" and waits for a
    byte on stdin); returns (Popen, pid) once it is ready."""
    p = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    line = read_line(p.stdout)
    words = line.split()
    if len(words) != 2 or words[0] != "ready":
        raise AssertionError(f"fixture {argv[0]} did not get ready: {line!r}, "
                             f"rc={p.poll()}")
    pid = int(words[1])
    if pid != p.pid:
        raise AssertionError(f"fixture says pid {pid}, Popen says {p.pid}")
    return p, pid


def send_go(p):
    """Releases a fixture waiting in fx_ready_wait_go()."""
    p.stdin.write("g")
    p.stdin.flush()


def wait_fixture(p, expect_rc=0, timeout=None):
    """Waits for a fixture started with start_fixture; checks its exit code."""
    rc = p.wait(timeout=timeout or WAIT_S)
    if rc != expect_rc:
        raise AssertionError(f"fixture exited {rc}, expected {expect_rc}")


def check_event_fields(events):
    """Every event has the common fields with the right types."""
    for ev in events:
        for key, typ in (("event", str), ("ts", str), ("pid", int), ("tid", int),
                         ("comm", str)):
            if not isinstance(ev.get(key), typ) or isinstance(ev.get(key), bool):
                raise AssertionError(f"event without a proper {key!r}: {ev}")
        if not TS_RE.match(ev["ts"]):
            raise AssertionError(f"ts is not RFC 3339 UTC with microseconds: {ev}")
        if ev["event"] in ("attach", "exit", "detach") and ev["tid"] != ev["pid"]:
            raise AssertionError(f"{ev['event']} event with tid != pid: {ev}")


def run_mmapwatch(args, timeout=None, **kw):
    """mmapwatch ARGS (no options added); CompletedProcess with text output."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(with_source([MMAPWATCH, *args]), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          timeout=timeout or WAIT_S * 4, **kw)


_STRACE_PREFIX = re.compile(r"^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)?(.*)$")
_STRACE_CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\d+|0x[0-9a-f]+)(?:\s+(E\w+).*)?$")


def parse_strace(path):
    """Syscall lines of `strace -f [-o FILE]` output: "PID call(...) = R",
    "[pid PID] call(...) = R" or "call(...) = R" (pid None), joining
    "<unfinished ...>" with its "<... call resumed>". Returns dicts with
    pid, name, args (list of str), ret (int), error ("ENOMEM" or None)."""
    calls = []
    pending = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            m = _STRACE_PREFIX.match(raw.rstrip("\n"))
            pid = int(m.group(1) or m.group(2)) if (m.group(1) or m.group(2)) else None
            text = m.group(3)
            if text.startswith(("---", "+++")):
                continue
            if text.endswith("<unfinished ...>"):
                pending[pid] = text[: -len("<unfinished ...>")].rstrip()
                continue
            r = re.match(r"^<\.\.\. (\w+) resumed>(.*)$", text)
            if r:
                head = pending.pop(pid, None)
                if head is None:
                    continue  # started before we looked (strace -p)
                text = head + r.group(2)
            # "<pid changed to N ...>" / "(Cannot allocate memory)" tails
            text = re.sub(r"\s*<pid changed to \d+ \.\.\.>", "", text)
            c = _STRACE_CALL.match(text)
            if not c:
                continue
            ret = c.group(3)
            calls.append({
                "pid": pid,
                "name": c.group(1),
                "args": [a.strip() for a in c.group(2).split(", ")],
                "ret": int(ret, 16) if ret.startswith("0x") else int(ret),
                "error": c.group(4),
            })
    return calls


class LineReader:
    """Lines from a pipe with a deadline, without the trap of select() on a
    buffered file object (a readline() may pull two lines into Python's
    buffer, and the second then never wakes select up): reads the raw fd and
    keeps the rest itself. Takes a file object or an fd. line() keeps the
    newline and gives "" at EOF; readline() drops it and gives None at EOF.
    rest() is whatever was read but not returned."""

    def __init__(self, fileobj):
        self.fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        self.buf = b""
        self.eof = False

    def line(self, deadline_s=None):
        deadline = time.monotonic() + (deadline_s or WAIT_S)
        while b"\n" not in self.buf:
            if self.eof:
                line, self.buf = self.buf, b""
                return line.decode()  # "" at EOF
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for a line on a pipe "
                                     f"(have {self.buf[:200]!r})")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self.eof = True
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode() + "\n"

    def readline(self, deadline_s=None):
        line = self.line(deadline_s)
        return line.rstrip("\n") if line else None

    def quiet_for(self, seconds):
        """True if nothing arrives for `seconds` (a negative check)."""
        if b"\n" in self.buf:
            return False
        r, _, _ = select.select([self.fd], [], [], seconds)
        return not r

    def rest(self):
        rest, self.buf = self.buf, b""
        return rest.decode()


class EventReader:
    """mmapwatch's JSON events, read one at a time from a pipe (its stdout
    with -o -, or a pipe given as -o /dev/fd/N), with a deadline on each
    wait. The one driver the integration tests read events with: every
    event read is kept in .events, in order. explain() adds what to say
    when mmapwatch ends before an awaited event (its stderr, say)."""

    def __init__(self, fileobj, explain=None):
        self.reader = LineReader(fileobj)
        self.events = []
        self.explain = explain or (lambda: "")

    def next_event(self, deadline_s=None):
        """The next event, or None once mmapwatch closed its end."""
        line = self.reader.line(deadline_s)
        if not line:
            return None
        ev = json.loads(line)
        self.events.append(ev)
        return ev

    def wait_event(self, pred, what):
        """Reads until an event satisfies pred; returns it."""
        while True:
            ev = self.next_event()
            if ev is None:
                raise AssertionError(f"mmapwatch ended before {what}; last events "
                                     f"{self.events[-10:]} {self.explain()}")
            if pred(ev):
                return ev

    def wait_attached(self, pids):
        """Reads until every pid's "attach" event came."""
        waiting = set(pids)
        while waiting:
            ev = self.wait_event(lambda e: e["event"] == "attach", f"attach of {waiting}")
            waiting.discard(ev["pid"])

    def drain(self):
        """Reads every event until mmapwatch closes its end."""
        while self.next_event() is not None:
            pass
        return self.events

    def of(self, kind, pid=None, addr=None):
        return events_of(self.events, kind, pid=pid, addr=addr)

    def index(self, ev):
        return next(i for i, e in enumerate(self.events) if e is ev)


def start_attach_many(pids, *opts):
    """mmapwatch --json -o - [opts] -p PID...; returns the Popen after the
    "attach" event of every pid has been read from its stdout (so the caller
    knows every thread is seized). From then on its stdout and stderr are
    drained by threads of their own: a pipe left unread fills up (64 KiB
    is a few events with -k), mmapwatch blocks writing, and the threads it
    traces wait at their stops. Finish with finish_attach_many()."""
    argv = [MMAPWATCH, "--json", "-o", "-", *opts]
    for pid in pids:
        argv += ["-p", str(pid)]
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    p.stream = EventReader(p.stdout, explain=lambda: f"rc={p.poll()}")
    p.events = p.stream.events
    p.stream.wait_attached(pids)
    p.drained = {"out": [], "err": []}

    def drain(f, into):
        while True:
            chunk = f.read(65536)
            if not chunk:
                return
            into.append(chunk)

    p.drainers = [threading.Thread(target=drain, args=(p.stdout, p.drained["out"]), daemon=True),
                  threading.Thread(target=drain, args=(p.stderr, p.drained["err"]), daemon=True)]
    for t in p.drainers:
        t.start()
    return p


def finish_attach_many(p, timeout=None):
    """Waits for mmapwatch to exit and reads the rest of its events;
    returns (rc, events, stderr)."""
    p.wait(timeout=timeout or WAIT_S * 4)
    for t in p.drainers:
        t.join(timeout=WAIT_S)
    out = b"".join(p.drained["out"]).decode()
    p.events.extend(parse_events(p.stream.reader.rest() + out))
    return p.returncode, p.events, b"".join(p.drained["err"]).decode()


# ---------------------------------------------------------------- the perf source

PERFDRV = os.environ.get("PERFDRV") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "release", "tests", "perfdrv")
PERF = ("--source", "perf")


def perf_event_fds(pid):
    """The descriptors of process pid that are perf events."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[perf_event]":
                out.append(fd)
        except OSError:
            pass  # closed meanwhile
    return out


def bpf_objects_of(pid):
    """The BPF programs and maps process pid holds: {("prog"|"map", id)},
    from its descriptors' fdinfo."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in ("prog_id", "map_id"):
                        out.add((key[:-3], int(value)))
        except OSError:
            pass  # closed meanwhile
    return out


def bpf_object_exists(kind, ident):
    """Whether the kernel still has BPF program/map ident (bpf(2)
    BPF_PROG_GET_FD_BY_ID / BPF_MAP_GET_FD_BY_ID)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(128)
    ctypes.c_uint32.from_buffer(attr, 0).value = ident
    cmd = 13 if kind == "prog" else 14
    fd = libc.syscall(321, cmd, attr, 128)  # SYS_bpf on x86_64
    if fd >= 0:
        os.close(fd)
        return True
    err = ctypes.get_errno()
    assert err == errno.ENOENT, f"bpf(GET_FD_BY_ID, {kind} {ident}): {os.strerror(err)}"
    return False


def bpf_objects_left(objects):
    """Those of objects ({(kind, id)}) the kernel still has, once it has had
    WAIT_S to free them: a map goes after its last program, from a kernel
    work item that runs after the descriptors are closed."""
    deadline = time.monotonic() + WAIT_S
    left = {o for o in objects if bpf_object_exists(*o)}
    while left and time.monotonic() < deadline:
        time.sleep(0.02)  # polled: the kernel says nothing when it is done
        left = {o for o in left if bpf_object_exists(*o)}
    return left


def require_valgrind():
    """Skips where valgrind cannot run mmapwatch: not installed, or the
    sanitizer build (valgrind cannot run ASan binaries)."""
    if not shutil.which("valgrind"):
        raise Skip("valgrind is not installed")
    if "/san/" in MMAPWATCH:
        raise Skip("sanitizer build: valgrind cannot run ASan binaries")


def require_perf():
    """Skips when this machine cannot open syscall tracepoints at all."""
    p = subprocess.run([PERFDRV, "--probe", str(os.getpid())], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=WAIT_S)
    if p.returncode != 0:
        why = json.loads(p.stdout)["why"] if p.stdout.strip() else p.stderr.strip()
        raise Skip(f"perf_event_open of syscall tracepoints is not allowed here: {why}")


def perf_twin(fn):
    """The test fn again with the perf source (--source perf wherever the
    test names no source): the parametrised run of a tracing test."""
    def twin():
        global DEFAULT_SOURCE
        require_perf()
        saved, DEFAULT_SOURCE = DEFAULT_SOURCE, PERF
        try:
            fn()
        finally:
            DEFAULT_SOURCE = saved
    twin.__doc__ = fn.__doc__
    return twin


def add_perf_twins(namespace, names):
    """Defines NAME_perf = perf_twin(NAME) in a test module for each name."""
    for name in names:
        namespace[name + "_perf"] = perf_twin(namespace[name])
