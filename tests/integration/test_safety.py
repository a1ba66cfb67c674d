"""The target is someone's production process: mmapwatch must never kill it,
never leave it stopped or traced after it lets go, and never lose, add or
reorder its signals. Each test here proves one of these with a fixture
that writes its own truth (tests/fixtures/sig_*.c).

Attach mode is `mmapwatch --json -o - -p PID` unless a test says otherwise;
its stdout is drained continuously (safety_lib.Watch), since a tracer
blocked on a full pipe would stop the target.

Every test runs with the ptrace source and again with the perf source
(NAME_perf, at the end), where the same promises hold and the target is
never ptraced at all: a stopped target shows 'T', not 't', and "followed"
means mmapwatch holds perf events while every thread's TracerPid stays 0.
"""
import os
import signal
import subprocess
import time

import harness
from safety_lib import (Fixture, Worker, assert_traced_by, assert_untraced,
                        attach, events_of, find_mmap, launch, parse_stops,
                        read_stdout_line, thread_states, wait_all_stopped,
                        wait_group_stop)

SI_USER, SI_KERNEL, SI_QUEUE = 0, 0x80, -1  # <asm-generic/siginfo.h>
MAP_LEN = 3 * 1024 * 1024 + 4096  # the worker's own loop maps 64 KiB


def _perf():
    """Whether this run is the perf source's twin."""
    return harness.DEFAULT_SOURCE == harness.PERF


def _assert_followed(pid, w, tids=None):
    """ptrace: every thread of pid is traced by mmapwatch (w). perf: none is
    traced by anyone, and mmapwatch holds perf events."""
    if not _perf():
        assert_traced_by(pid, w.pid, tids)
        return
    assert_traced_by(pid, 0, tids)
    assert harness.perf_event_fds(w.pid), f"mmapwatch {w.pid} holds no perf event"


def _stopped_look(w):
    """(state letter, TracerPid) of a group-stopped thread of a target w follows."""
    return ("T", 0) if _perf() else ("t", w.pid)


def _assert_sigs(wk, want, when=""):
    """The signals sent to the target arrived, each once, and nothing else
    did; every self-sent signal of the workers was delivered exactly once."""
    got, want = wk.sigs(), {int(k): v for k, v in want.items()}
    assert got == want, f"{when}: target received signals {got}, expected {want} (signo: count)"
    sent, recv, bad = wk.selfsig()
    assert bad == 0 and 0 <= sent - recv <= wk.nworkers and recv > 0, \
        f"{when}: workers' self-sent signals: sent {sent}, received {recv}, " \
        f"{bad} iterations where one was lost or duplicated"


def _one_detach(w, pid):
    dets = events_of(w.events, "detach", pid)
    assert len(dets) == 1, f"expected one detach event for {pid}, got {dets}"
    assert dets[0]["tid"] == pid, dets[0]
    exits = events_of(w.events, "exit", pid)
    assert not exits, f"target reported as exited: {exits}"


def _attach_worker():
    wk = Worker(3)
    w = attach([wk.pid])
    att = events_of(w.events, "attach", wk.pid)
    assert len(att) == 1 and att[0]["threads"] == len(wk.tids), \
        f"attach event {att}, fixture has threads {wk.tids}"
    _assert_followed(wk.pid, w, wk.tids)
    # Tracing is live: an mmap of the main thread is reported.
    tid, addr, ln = wk.mmap(MAP_LEN)
    w.wait_mmap(tid, addr, ln)
    return wk, w


# ---------------------------------------------------------------- 1. detach on a signal

def _detach_on(sig):
    wk, w = _attach_worker()
    wk.iterate(5)  # the workers make progress while traced
    # A signal sent to the target while traced arrives, exactly once.
    os.kill(wk.pid, signal.SIGUSR1)
    _assert_sigs(wk, {signal.SIGUSR1: 1}, "while traced")
    rc = w.stop(sig)
    assert rc == 0, f"mmapwatch exited {rc} on {sig.name}; stderr={w.stderr_text!r}"
    _one_detach(w, wk.pid)
    assert_untraced(wk.pid)
    wk.ping()
    wk.iterate(20)  # every worker thread runs again
    # mmapwatch's own signal was not passed on; nothing was added or lost.
    _assert_sigs(wk, {signal.SIGUSR1: 1}, "after detach")
    assert_untraced(wk.pid)
    wk.finish(0)


def test_detach_on_sigint():
    _detach_on(signal.SIGINT)


def test_detach_on_sigterm():
    _detach_on(signal.SIGTERM)


def test_detach_on_sighup():
    _detach_on(signal.SIGHUP)


def test_detach_race_with_pending_signal():
    """Signals in flight as mmapwatch detaches are delivered exactly once,
    whichever stop the detach finds each thread in: a signal sent to the
    process just before the SIGINT to mmapwatch, and the busy workers'
    self-sent signals (some worker is likely in its signal-delivery stop
    when the detach starts). Black-box, this race cannot be forced; 50
    rounds make a dropped or doubled signal at detach show up."""
    wk = Worker(3, busy=True)
    rounds = 10 if _perf() else 50  # a perf attach takes most of a second
    for round_ in range(1, rounds + 1):
        w = attach([wk.pid])
        w.wait_for(lambda evs: len(events_of(evs, "munmap")) >= 5, "worker munmaps")
        os.kill(wk.pid, signal.SIGUSR2)
        os.kill(w.pid, signal.SIGINT)
        rc = w.wait_exit()
        assert rc == 0, f"round {round_}: mmapwatch exited {rc}; stderr={w.stderr_text!r}"
        _one_detach(w, wk.pid)
        assert_untraced(wk.pid)
        _assert_sigs(wk, {signal.SIGUSR2: round_}, f"round {round_}")
    wk.iterate(10)
    wk.finish(0)


# ---------------------------------------------------------------- 2. SIGKILL of mmapwatch

def test_sigkill_of_tracer_leaves_target_running():
    wk, w = _attach_worker()
    w.proc.kill()
    rc = w.wait_exit()
    assert rc == -signal.SIGKILL, rc
    # The kernel detached every thread when the tracer died; nothing of the
    # target may have died with it (no PTRACE_O_EXITKILL in attach mode).
    assert_untraced(wk.pid)
    wk.ping()
    wk.iterate(50)
    tid, addr, ln = wk.mmap(MAP_LEN)
    assert tid == wk.pid and ln == MAP_LEN
    _assert_sigs(wk, {}, "after the tracer was killed")
    assert_untraced(wk.pid)
    wk.finish(0)


# ---------------------------------------------------------------- 3. SIGSTOP / SIGCONT

def _assert_stopped_and_silent(wk, letter, tracer):
    wait_group_stop(wk.pid)
    wait_all_stopped(wk.pid, letter)
    wk.send("ping")
    assert wk.silent_for(0.3), "a stopped target answered"
    states = thread_states(wk.pid)
    assert sorted(states) == sorted(wk.tids), states
    for tid, (state, tr) in states.items():
        assert state == letter and tr == tracer, f"thread {tid}: {states}"


def test_sigstop_sigcont_while_traced():
    wk, w = _attach_worker()
    os.kill(wk.pid, signal.SIGSTOP)
    # Group-stopped under ptrace shows as 't' (tracing stop) on every thread.
    _assert_stopped_and_silent(wk, *_stopped_look(w))
    os.kill(wk.pid, signal.SIGCONT)
    wk.expect("pong")  # the ping sent while stopped
    wk.iterate(10)
    tid, addr, ln = wk.mmap(MAP_LEN + 4096)
    w.wait_mmap(tid, addr, ln)  # still tracing after the stop
    _assert_sigs(wk, {signal.SIGCONT: 1}, "after SIGCONT, traced")
    _assert_followed(wk.pid, w, wk.tids)
    rc = w.stop(signal.SIGINT)
    assert rc == 0, f"rc={rc} stderr={w.stderr_text!r}"
    _one_detach(w, wk.pid)
    assert_untraced(wk.pid)
    wk.iterate(10)
    _assert_sigs(wk, {signal.SIGCONT: 1}, "after detach")
    wk.finish(0)


def test_detach_while_group_stopped():
    wk, w = _attach_worker()
    os.kill(wk.pid, signal.SIGSTOP)
    wait_group_stop(wk.pid)
    wait_all_stopped(wk.pid, _stopped_look(w)[0])
    rc = w.stop(signal.SIGINT)
    assert rc == 0, f"rc={rc} stderr={w.stderr_text!r}"
    _one_detach(w, wk.pid)
    # Detached, the target stays in its group stop, untraced: 'T'.
    _assert_stopped_and_silent(wk, "T", 0)
    os.kill(wk.pid, signal.SIGCONT)
    wk.expect("pong")
    wk.iterate(10)
    _assert_sigs(wk, {signal.SIGCONT: 1}, "after SIGCONT, detached")
    assert_untraced(wk.pid)
    wk.finish(0)


# ---------------------------------------------------------------- 3b. attach to a stopped process

def test_attach_to_group_stopped_target():
    wk = Worker(3)
    os.kill(wk.pid, signal.SIGSTOP)
    wait_all_stopped(wk.pid, "T")
    w = attach([wk.pid])
    _assert_followed(wk.pid, w, wk.tids)
    # Attaching did not resume it.
    _assert_stopped_and_silent(wk, *_stopped_look(w))
    os.kill(wk.pid, signal.SIGCONT)
    wk.expect("pong")
    wk.iterate(10)
    tid, addr, ln = wk.mmap(MAP_LEN)
    w.wait_mmap(tid, addr, ln)
    _assert_sigs(wk, {signal.SIGCONT: 1}, "after SIGCONT")
    rc = w.stop(signal.SIGINT)
    assert rc == 0, f"rc={rc} stderr={w.stderr_text!r}"
    _one_detach(w, wk.pid)
    assert_untraced(wk.pid)
    wk.iterate(10)
    wk.finish(0)


# ---------------------------------------------------------------- 4. 200 queued RT signals

NQUEUED, NRT = 200, 4
# The kernel dequeues the lowest pending signal number first, FIFO within
# a number; signal i is SIGRTMIN + rt_index(i) (as in sig_rtqueue.c).
RT_EXPECTED = sorted(((i * 7 + i // 13) % NRT, i) for i in range(NQUEUED))


def _check_rt_round(lines, what):
    assert len(lines) == 2, f"{what}: {lines}"
    assert lines[0] == f"got {NQUEUED} bad 0 pending 0", f"{what}: {lines[0]}"
    assert lines[1].startswith("order"), lines[1]
    order = [tuple(map(int, kv.split(":"))) for kv in lines[1].split()[1:]]
    dups = len(order) - len(set(order))
    assert dups == 0, f"{what}: {dups} duplicated signals"
    missing = sorted(set(RT_EXPECTED) - set(order))
    assert not missing, f"{what}: lost {len(missing)} signals, e.g. {missing[:5]}"
    assert order == RT_EXPECTED, f"{what}: reordered; first difference at " \
        f"{next(i for i, (a, b) in enumerate(zip(order, RT_EXPECTED)) if a != b)}"


def _rt_round(fx, what, send=True):
    if send:
        fx.cmd("send", "sent")
    fx.send("unblock")
    _check_rt_round([fx.expect("got "), fx.expect("order")], what)


def _untraced_rt():
    p = subprocess.run([harness.fixture("sig_rtqueue"), "auto"], stdout=subprocess.PIPE,
                       text=True, timeout=harness.WAIT_S)
    assert p.returncode == 0, p.returncode
    lines = p.stdout.splitlines()
    _check_rt_round(lines, "untraced run")
    return lines


def test_rt_signals_exact_attach():
    untraced = _untraced_rt()
    fx = Fixture("sig_rtqueue", "cmd")
    fx.expect("ready ")
    # Round 1: queued before the attach, delivered while traced.
    fx.cmd("send", "sent")
    w = attach([fx.pid])
    _rt_round(fx, "queued before attach", send=False)
    # Round 2: queued (by a traced child) and delivered while traced.
    _rt_round(fx, "queued while traced")
    rc = w.stop(signal.SIGINT)
    assert rc == 0, f"rc={rc} stderr={w.stderr_text!r}"
    _one_detach(w, fx.pid)
    assert_untraced(fx.pid)
    # Round 3: after the detach nothing is left pending or blocked.
    fx.send("send")
    fx.expect("sent")
    fx.send("unblock")
    lines = [fx.expect("got "), fx.expect("order")]
    _check_rt_round(lines, "after detach")
    assert lines == untraced
    fx.finish(0)


def test_rt_signals_exact_launch():
    untraced = _untraced_rt()
    w = launch([harness.fixture("sig_rtqueue"), "auto"])
    rc = w.wait_exit()
    assert rc == 0, f"rc={rc} stderr={w.stderr_text!r}"
    _check_rt_round(w.stdout_lines, "launch mode")
    assert w.stdout_lines == untraced


# ---------------------------------------------------------------- 5. the target's own SIGSEGVs

SEGV_NFAULTS, SEGV_PAGES = 200, 4
SEGV_OFFS = [(i % SEGV_PAGES) * 4096 + (i * 37) % 4096 for i in range(SEGV_NFAULTS)]


def _check_segv(lines, what):
    assert len(lines) == 2, f"{what}: {lines}"
    head = lines[0].split()
    assert head[0] == "segv" and head[2] == "base" and head[4] == "bad", lines[0]
    assert int(head[1]) == SEGV_NFAULTS, f"{what}: {head[1]} faults handled, expected {SEGV_NFAULTS}"
    assert int(head[5]) == 0, f"{what}: {head[5]} faults with a wrong signo/si_code"
    offs = [int(x) for x in lines[1].split()[1:]]
    assert offs == SEGV_OFFS, f"{what}: si_addr values differ from the accesses made"
    return int(head[3], 16)


def _assert_region_reported(events, tid, base):
    e = find_mmap(events, tid, base, SEGV_PAGES * 4096)
    assert e, f"PROT_NONE region {base:#x} not reported"
    assert e["prot"] == "---", e


def test_own_sigsegv_attach():
    fx = Fixture("sig_segv", "cmd")
    fx.expect("ready ")
    w = attach([fx.pid])
    fx.send("go")
    base = _check_segv([fx.expect("segv "), fx.expect("offs")], "attached")
    w.wait_for(lambda evs: find_mmap(evs, fx.pid, base, SEGV_PAGES * 4096),
               f"mmap of {base:#x}")
    _assert_region_reported(w.events, fx.pid, base)
    rc = w.stop(signal.SIGINT)
    assert rc == 0, f"rc={rc} stderr={w.stderr_text!r}"
    _one_detach(w, fx.pid)
    assert_untraced(fx.pid)
    fx.send("go")
    _check_segv([fx.expect("segv "), fx.expect("offs")], "after detach")
    fx.finish(0)


def test_own_sigsegv_launch():
    w = launch([harness.fixture("sig_segv"), "auto"])
    rc = w.wait_exit()
    assert rc == 0, f"fixture status through mmapwatch: {rc}; stderr={w.stderr_text!r}"
    base = _check_segv(w.stdout_lines, "launch mode")
    events = harness.read_events(w.out)
    mm = [e for e in events if e["event"] == "mmap" and e.get("len") == SEGV_PAGES * 4096
          and int(e["addr"], 16) == base]
    assert len(mm) == 1 and mm[0]["prot"] == "---", mm


# ---------------------------------------------------------------- 6. threads born during the attach

STORM_LEN, FINAL_LEN = 5 * 4096 + 3, 9 * 4096 + 1


def _storm_mmaps(evs):
    return sum(1 for e in evs if e["event"] == "mmap" and e.get("len") == STORM_LEN)


def test_threads_created_during_attach():
    truth = os.path.join(harness.tmpdir(), "truth")
    fx = Fixture("sig_storm", truth)
    fx.expect("ready ")
    # Three attaches mid-storm (the first two detach again while the storm
    # goes on): a thread missed by the attach shows up with TracerPid 0.
    reported = []
    for round_ in range(3):
        w = attach([fx.pid])
        # Right after the attach event: every thread that exists now was
        # seized, or was born of a seized thread.
        _assert_followed(fx.pid, w)
        # Let the storm go on under the tracer: threads born of traced
        # threads must be followed (their mmaps reported).
        w.wait_for(lambda evs: _storm_mmaps(evs) >= 20, "20 storm mmaps after the attach")
        _assert_followed(fx.pid, w)
        if round_ == 2:
            break
        rc = w.stop(signal.SIGINT)
        assert rc == 0, f"rc={rc} stderr={w.stderr_text!r}"
        _one_detach(w, fx.pid)
        assert_untraced(fx.pid)
        reported += w.events
    fx.send("go")
    finals = []
    while True:
        line = fx.read()
        if line.startswith("done "):
            break
        f, tid, addr = line.split()
        assert f == "F", line
        finals.append((int(tid), int(addr, 16)))
    assert len(finals) == int(line.split()[1]) and len(finals) >= 5, line
    live = thread_states(fx.pid)
    for tid, _ in finals:
        assert tid in live, f"final-round thread {tid} is gone"
    _assert_followed(fx.pid, w)
    for tid, addr in finals:
        w.wait_mmap(tid, addr, FINAL_LEN)
    rc = w.stop(signal.SIGINT)
    assert rc == 0, f"rc={rc} stderr={w.stderr_text!r}"
    _one_detach(w, fx.pid)
    assert_untraced(fx.pid)
    # mmapwatch invented nothing: every storm mmap it reported is in the truth.
    with open(truth) as f:
        storm = {(int(t), int(a, 16)) for _, t, a in (ln.split() for ln in f)}
    reported = [(e["tid"], int(e["addr"], 16)) for e in reported + w.events
                if e["event"] == "mmap" and e.get("len") == STORM_LEN]
    bogus = [r for r in reported if r not in storm]
    assert not bogus, f"storm mmaps reported that the fixture never made: {bogus[:5]}"
    fx.finish(0)


# ---------------------------------------------------------------- 7. --duration

def test_duration_1s_attach():
    wk = Worker(3)
    t0 = time.monotonic()
    w = attach([wk.pid], "--duration", "1s")
    rc = w.wait_exit()
    took = time.monotonic() - t0
    assert rc == 0, f"rc={rc} stderr={w.stderr_text!r}"
    assert took >= 1.0, f"detached after {took:.3f}s, before the 1 s duration"
    _one_detach(w, wk.pid)
    assert_untraced(wk.pid)
    wk.ping()
    wk.iterate(20)
    _assert_sigs(wk, {}, "after --duration 1s")
    wk.finish(0)


def test_duration_0_attach():
    wk = Worker(3)
    w = attach([wk.pid], "--duration", "0")
    rc = w.wait_exit()
    assert rc == 0, f"rc={rc} stderr={w.stderr_text!r}"
    assert len(events_of(w.events, "attach", wk.pid)) == 1, w.events
    _one_detach(w, wk.pid)
    assert_untraced(wk.pid)
    wk.ping()
    wk.iterate(20)
    _assert_sigs(wk, {}, "after --duration 0")
    wk.finish(0)


# ---------------------------------------------------------------- 8. launch mode: seccomp

SECCOMP_SMALL_LEN = 8192 + 5


def test_launch_seccomp_avoids_stops():
    w = launch([harness.fixture("sig_seccomp")], "-v", "--min-size", "1M")
    rc = w.wait_exit()
    assert rc == 0, f"rc={rc} stderr={w.stderr_text[-2000:]!r}"
    large, small = [], set()
    for line in w.stdout_lines:
        parts = line.split()
        if parts[0] == "L":
            large.append((int(parts[1]), int(parts[2], 16), int(parts[3])))
        elif parts[0] == "s":
            small.add(int(parts[1], 16))
    assert w.stdout_lines[-1] == "done 10 1000", w.stdout_lines[-1:]
    assert len(large) == 10 and len(small) == 1000
    events = harness.read_events(w.out)
    for tid, addr, ln in large:
        assert find_mmap(events, tid, addr, ln), f"large mmap {tid} {addr:#x} {ln} not reported"
    leaked = [e for e in events if e["event"] == "mmap"
              and (e.get("len") == SECCOMP_SMALL_LEN or int(e["addr"], 16) in small)]
    assert not leaked, f"mmaps below --min-size reported: {leaked[:3]}"
    stops = parse_stops(w.stderr_text)
    assert stops, ("no 'mmapwatch: stops: N total (syscall S, seccomp C, signal G, other O)' "
                   f"line with -v; stderr={w.stderr_text[-2000:]!r}")
    assert stops["total"] == stops["syscall"] + stops["seccomp"] + stops["signal"] + stops["other"], stops
    # 100000 getppid and 1000 small mmaps must not stop the tracee.
    assert stops["total"] < 200, f"too many stops: {stops}"
    assert stops["seccomp"] >= 10, f"the 10 large mmaps must be seccomp stops: {stops}"


# ---------------------------------------------------------------- 9. launch mode: as if untraced

def test_launch_gives_the_command_what_it_would_have_had():
    """The launched command gets the signal dispositions, signal mask and
    open-file limits it would have had without mmapwatch (which ignores
    SIGPIPE and raises its own soft limit for itself)."""
    probe = ["prlimit", "--nofile=1024:8192", "--"]
    show = ["sh", "-c", "ulimit -Sn; ulimit -Hn; grep -E '^Sig(Ign|Blk)' /proc/self/status"]
    want = subprocess.run(probe + show, stdout=subprocess.PIPE, text=True, check=True,
                          timeout=harness.WAIT_S).stdout
    out = os.path.join(harness.tmpdir(), "events.jsonl")
    got = subprocess.run(probe + harness.with_source(
        [harness.MMAPWATCH, "--json", "-o", out, "--no-dump", "--", *show]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=harness.WAIT_S * 2)
    assert got.returncode == 0, got.stderr
    assert got.stdout == want, f"traced:\n{got.stdout}untraced:\n{want}"


# ---------------------------------------------------------------- 10. launch mode: SIGINT forwarded

def test_launch_sigint_forwarded_once():
    w = launch([harness.fixture("sig_sigint")], stdin=subprocess.PIPE)
    pid = int(read_stdout_line(w, "ready ").split()[1])
    os.kill(w.pid, signal.SIGINT)  # to mmapwatch alone
    _, code, sender = read_stdout_line(w, "sigint ").split()
    # Passed on by kill() or sigqueue(), from mmapwatch or on behalf of us.
    assert int(code) in (SI_USER, SI_QUEUE) and int(sender) in (w.pid, os.getpid()), \
        f"forwarded SIGINT has si_code {code}, si_pid {sender}"
    w.proc.stdin.write("count\n")
    w.proc.stdin.flush()
    assert read_stdout_line(w, "count ") == "count 1"
    w.proc.stdin.write("exit 3\n")
    w.proc.stdin.flush()
    rc = w.wait_exit()
    assert rc == 3, f"mmapwatch exited {rc}, the command 3; stderr={w.stderr_text!r}"
    assert not w.stdout_lines, w.stdout_lines
    exits = events_of(harness.read_events(w.out), "exit", pid)
    assert len(exits) == 1 and exits[0]["status"] == 3 and "signal" not in exits[0], exits


def test_launch_ctrl_c_on_terminal_delivered_once():
    """Ctrl-C on the terminal sends SIGINT to the whole foreground process
    group, mmapwatch and the command alike: the command must still get it
    once (mmapwatch must not forward a copy of a signal the kernel already
    sent to the command's process group). A forwarded copy that arrives
    while the terminal's is still pending merges with it, so this catches
    the bug only when the copy comes late; the si_code check still holds."""
    import termios
    master, slave = os.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO  # lflag: no echo, keep ICANON and ISIG
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    out = os.path.join(harness.tmpdir(), "events.jsonl")

    # setsid --ctty: a new session whose controlling terminal is stdin, the
    # pty; not a group leader here, so it execs mmapwatch without a fork.
    argv = ["setsid", "--ctty", harness.MMAPWATCH, "--json", "-o", out, "--",
            harness.fixture("sig_sigint")]
    p = harness.spawn(argv, stdin=slave, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    from safety_lib import LineReader
    rd = LineReader(master)
    try:
        line = rd.readline().strip()
        assert line.startswith("ready "), line
        pid = int(line.split()[1])
        os.write(master, b"\x03")  # the line discipline sends SIGINT to the foreground group
        line = rd.readline().strip()
        assert line == f"sigint {SI_KERNEL} 0", f"expected the terminal's SIGINT, got {line!r}"
        os.write(master, b"count\n")
        assert rd.readline().strip() == "count 1", "SIGINT delivered more than once"
        os.write(master, b"exit 3\n")
        rc = p.wait(timeout=harness.WAIT_S)
    finally:
        os.close(master)
    assert rc == 3, f"mmapwatch exited {rc}; stderr={p.stderr.read()!r}"
    exits = events_of(harness.read_events(out), "exit", pid)
    assert len(exits) == 1 and exits[0]["status"] == 3, exits


harness.add_perf_twins(globals(), [
    "test_detach_on_sigint", "test_detach_on_sigterm", "test_detach_on_sighup",
    "test_detach_race_with_pending_signal", "test_sigkill_of_tracer_leaves_target_running",
    "test_sigstop_sigcont_while_traced", "test_detach_while_group_stopped",
    "test_attach_to_group_stopped_target", "test_rt_signals_exact_attach",
    "test_rt_signals_exact_launch", "test_own_sigsegv_attach", "test_own_sigsegv_launch",
    "test_threads_created_during_attach", "test_duration_1s_attach", "test_duration_0_attach",
    "test_launch_sigint_forwarded_once", "test_launch_gives_the_command_what_it_would_have_had",
])
