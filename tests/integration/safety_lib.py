"""Helpers for test_safety.py: fixtures driven over pipes, an mmapwatch
whose stdout is drained continuously (a busy target makes more events than
a pipe holds, and a tracer blocked on a full pipe stops its target), and
/proc checks on every thread of a target.

Synchronization is by the fixtures' answers on their pipes; the only polls
wait for a kernel state change no pipe can report (a thread entering a
stop), in 1 ms steps with a deadline.
"""
import json
import os
import re
import select
import signal
import subprocess
import threading
import time

import harness

POLL_STEP_S = 0.001
STATE_DEADLINE_S = 10.0


# ---------------------------------------------------------------- fixtures

# One line reader and one event filter for every test (harness.py).
LineReader = harness.LineReader
events_of = harness.events_of


class Fixture:
    """A fixture process with its stdin and stdout as pipes."""

    def __init__(self, name, *args, **kw):
        self.name = name
        self.proc = harness.spawn([harness.fixture(name), *map(str, args)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  bufsize=0, **kw)
        self.pid = self.proc.pid
        self.reader = LineReader(self.proc.stdout.fileno())

    def send(self, line):
        try:
            self.proc.stdin.write((line + "\n").encode())
        except BrokenPipeError:
            rc = self.proc.wait(timeout=harness.WAIT_S)
            raise AssertionError(f"{self.name} ended (rc={rc}) before {line!r}")

    def read(self, deadline_s=None):
        line = self.reader.readline(deadline_s)
        if line is None:
            rc = self.proc.wait(timeout=harness.WAIT_S)
            raise AssertionError(f"{self.name} ended (rc={rc}) instead of answering")
        return line

    def expect(self, prefix, deadline_s=None):
        line = self.read(deadline_s)
        assert line.startswith(prefix), f"{self.name}: expected {prefix!r}, got {line[:300]!r}"
        return line

    def cmd(self, line, prefix, deadline_s=None):
        self.send(line)
        return self.expect(prefix, deadline_s)

    def silent_for(self, seconds):
        """True if the fixture writes nothing for `seconds` (a negative check,
        used only together with a /proc check that the target is stopped)."""
        return self.reader.quiet_for(seconds)

    def finish(self, rc=0):
        """Sends "exit"; the fixture must exit with rc."""
        self.send("exit")
        got = self.proc.wait(timeout=harness.WAIT_S)
        assert got == rc, f"{self.name} exited {got}, expected {rc}"


class SignalCounter(Fixture):
    """A fixture that counts its signals through fixture.h (sig_worker,
    busy_threads): its "sigs" and "selfsig" answers."""

    def selfsig(self):
        """(sent, received, bad) of the workers' self-sent SIGRTMIN+2."""
        _, sent, recv, bad = self.cmd("selfsig", "selfsig ").split()
        return int(sent), int(recv), int(bad)

    def sigs(self):
        """{signo: count} of the signals the fixture's handlers received."""
        line = self.cmd("sigs", "sigs")
        return {int(a): int(b) for a, b in (kv.split(":") for kv in line.split()[1:])}


class Worker(SignalCounter):
    """sig_worker: threads looping on mmap/munmap/getppid/poll."""

    def __init__(self, nworkers=3, busy=False):
        super().__init__("sig_worker", nworkers, *(["busy"] if busy else []))
        self.nworkers = nworkers
        line = self.cmd("tids", "tids ")
        self.tids = [int(t) for t in line.split()[1:]]
        assert self.tids[0] == self.pid and len(self.tids) == nworkers + 1, line

    def ping(self, deadline_s=None):
        self.cmd("ping", "pong", deadline_s)

    def iterate(self, k=20):
        """Every worker thread completes k more iterations (proves they run)."""
        self.cmd(f"iters {k}", "iters ok")

    def mmap(self, length):
        """Main thread mmaps `length`; returns (tid, addr int, len)."""
        _, tid, addr, ln = self.cmd(f"mmap {length}", "mmap ").split()
        return int(tid), int(addr, 16), int(ln)


# ---------------------------------------------------------------- mmapwatch

class Watch:
    """mmapwatch with --json -o - (or other opts); stdout and stderr are
    drained by threads into self.events / self.stderr_text."""

    def __init__(self, argv, stdin=subprocess.DEVNULL, stdout_events=True, **kw):
        self.argv = argv
        self.proc = harness.spawn(argv, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, **kw)
        self.pid = self.proc.pid
        self.stdout_events = stdout_events
        self.events = []
        self.stdout_lines = []
        self.bad_lines = []
        self._stderr = []
        self._cond = threading.Condition()
        self._eof = False
        self._t_out = threading.Thread(target=self._drain_out, daemon=True)
        self._t_err = threading.Thread(target=self._drain_err, daemon=True)
        self._t_out.start()
        self._t_err.start()

    def _drain_out(self):
        try:
            for line in self.proc.stdout:
                with self._cond:
                    if self.stdout_events and line.strip():
                        try:
                            self.events.append(json.loads(line))
                        except ValueError:
                            self.bad_lines.append(line)
                    else:
                        self.stdout_lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _drain_err(self):
        try:
            for line in self.proc.stderr:
                self._stderr.append(line)
        except (OSError, ValueError):
            pass

    @property
    def stderr_text(self):
        return "".join(self._stderr)

    def wait_for(self, pred, what, deadline_s=None):
        """Waits until pred(events) is true; returns its value."""
        deadline = time.monotonic() + (deadline_s or harness.WAIT_S)
        with self._cond:
            while True:
                v = pred(self.events)
                if v:
                    return v
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    rc = self.proc.poll()
                    raise AssertionError(
                        f"mmapwatch: no {what} (eof={self._eof}, rc={rc}, "
                        f"stderr={self.stderr_text[-2000:]!r}, "
                        f"last events={self.events[-3:]})")
                self._cond.wait(left)

    def wait_attached(self, pids):
        want = set(pids)
        self.wait_for(lambda evs: want <= {e.get("pid") for e in evs
                                           if e.get("event") == "attach"},
                      f"attach event for {sorted(want)}")

    def wait_mmap(self, tid, addr, length):
        return self.wait_for(lambda evs: find_mmap(evs, tid, addr, length),
                             f"mmap event tid={tid} addr={addr:#x} len={length}")

    def wait_exit(self, deadline_s=None):
        """Waits for mmapwatch to exit and its pipes to drain; returns rc."""
        try:
            rc = self.proc.wait(timeout=deadline_s or harness.WAIT_S * 2)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mmapwatch did not exit; stderr={self.stderr_text[-2000:]!r}")
        self._t_out.join(harness.WAIT_S)
        self._t_err.join(harness.WAIT_S)
        assert not self.bad_lines, f"mmapwatch wrote non-JSON lines: {self.bad_lines[:3]}"
        return rc

    def stop(self, sig=signal.SIGINT):
        """Sends sig to mmapwatch; returns its exit code."""
        os.kill(self.pid, sig)
        return self.wait_exit()


def attach(pids, *opts):
    """mmapwatch --json -o - [opts] -p PID...; returns once every pid's
    "attach" event arrived."""
    argv = [harness.MMAPWATCH, "--json", "-o", "-", *opts]
    for pid in pids:
        argv += ["-p", str(pid)]
    w = Watch(argv)
    w.wait_attached(pids)
    return w


def launch(command, *opts, out=None, stdin=subprocess.DEVNULL):
    """mmapwatch --json -o FILE [opts] -- command; the command's stdout is
    mmapwatch's stdout (self.stdout_lines). Returns the Watch; w.out is FILE."""
    out = out or os.path.join(harness.tmpdir(), "events.jsonl")
    argv = [harness.MMAPWATCH, "--json", "-o", out, *opts, "--", *command]
    w = Watch(argv, stdin=stdin, stdout_events=False)
    w.out = out
    return w


def read_stdout_line(w, prefix, deadline_s=None):
    """Next line the launched command wrote that starts with prefix (lines
    are consumed in order; others before it fail the check)."""
    deadline = time.monotonic() + (deadline_s or harness.WAIT_S)
    with w._cond:
        while True:
            if w.stdout_lines:
                line = w.stdout_lines.pop(0)
                assert line.startswith(prefix), f"expected {prefix!r}, got {line!r}"
                return line
            left = deadline - time.monotonic()
            if w._eof or left <= 0:
                raise AssertionError(f"command wrote no {prefix!r} line (eof={w._eof}, "
                                     f"stderr={w.stderr_text[-2000:]!r})")
            w._cond.wait(left)


def find_mmap(events, tid, addr, length):
    for e in events:
        if (e.get("event") == "mmap" and e.get("tid") == tid
                and e.get("len") == length and _addr(e.get("addr")) == addr):
            return e
    return None


def _addr(v):
    try:
        return int(v, 16)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- /proc

def tids(pid):
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        raise AssertionError(f"process {pid} is gone")


def task_status(pid, tid):
    """/proc/PID/task/TID/status as a dict, or None if the thread is gone."""
    result = {}
    try:
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                result[key] = value.strip()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return result


def thread_states(pid):
    """{tid: (state letter, TracerPid)} for every live thread. A thread in
    state X (dead: its exit is done and it is being released, a tracer
    already unlinked) is left out: it is no longer there to be traced."""
    out = {}
    for tid in tids(pid):
        st = task_status(pid, tid)
        if st is not None and st["State"][0] != "X":
            out[tid] = (st["State"][0], int(st["TracerPid"]))
    return out


def assert_alive(pid):
    st = harness.proc_status(pid)  # raises if gone
    assert st["State"][0] not in "ZX", f"target {pid} is {st['State']}"


def assert_untraced(pid, stopped=False):
    """Every thread: TracerPid 0; state 'T' if stopped else neither 't' nor 'T'.
    A group-stopped thread that is detached is woken by the kernel to enter
    the group stop again, so it may show 'R' for a moment: wait for 'T'."""
    assert_alive(pid)
    if stopped:
        wait_all_stopped(pid, "T")
    states = thread_states(pid)
    assert states, f"no threads for {pid}"
    for tid, (state, tracer) in states.items():
        assert tracer == 0, f"thread {tid} of {pid} still traced by {tracer}: {states}"
        if stopped:
            assert state == "T", f"thread {tid} of {pid} should be stopped 'T': {states}"
        else:
            assert state not in "tT", f"thread {tid} of {pid} left stopped: {states}"


def assert_traced_by(pid, tracer, expect_tids=None):
    """Every live thread of pid has TracerPid == tracer; optionally the set
    of threads is exactly expect_tids."""
    states = thread_states(pid)
    bad = {t: s for t, s in states.items() if s[1] != tracer}
    assert not bad, f"threads of {pid} not traced by mmapwatch {tracer}: {bad}"
    if expect_tids is not None:
        assert sorted(states) == sorted(expect_tids), f"threads {sorted(states)} != {sorted(expect_tids)}"


def wait_group_stop(pid, deadline_s=STATE_DEADLINE_S):
    """Waits until the kernel says the group stop of pid (a child of the
    test) is complete: every thread has taken part. Thread states alone
    cannot tell: under ptrace a thread in any tracing stop shows 't', and
    between a thread dequeuing SIGSTOP and the tracer passing it on, the
    others may still run. The real parent is told of the stop whoever
    traces the child; WNOWAIT leaves the stop to be told again."""
    deadline = time.monotonic() + deadline_s
    while True:
        got = os.waitid(os.P_PID, pid, os.WSTOPPED | os.WNOHANG | os.WNOWAIT)
        if got is not None and got.si_code == os.CLD_STOPPED:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the group stop of {pid} did not complete: {thread_states(pid)}")
        time.sleep(POLL_STEP_S)


def wait_all_stopped(pid, letters="tT", deadline_s=STATE_DEADLINE_S):
    """Polls (1 ms steps) until every thread's state is one of letters."""
    deadline = time.monotonic() + deadline_s
    while True:
        states = thread_states(pid)
        if states and all(s[0] in letters for s in states.values()):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"threads of {pid} not all in {letters!r}: {states}")
        time.sleep(POLL_STEP_S)


STOPS_RE = re.compile(r"^mmapwatch: stops: (\d+) total \(syscall (\d+), seccomp (\d+), "
                      r"signal (\d+), other (\d+)\)$", re.M)


def parse_stops(stderr):
    m = STOPS_RE.search(stderr)
    if not m:
        return None
    total, sc, sec, sig, other = map(int, m.groups())
    return {"total": total, "syscall": sc, "seccomp": sec, "signal": sig, "other": other}
