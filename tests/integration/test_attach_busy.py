"""Attaching to and detaching from a process whose many threads never stop
making syscalls (tests/fixtures/busy_threads.c): every thread is traced
after the attach, and after the detach every thread runs again, untraced,
with no signal lost or added. How long it takes is measured by
scripts/bench.sh attachtime, never here.

More threads than one batch of stops the ptrace source serves (512): then
there are always more stops pending than one batch holds, and the signal
that asks for the detach must still be seen.
"""
import os
import re
import signal

from safety_lib import (SignalCounter, assert_traced_by, assert_untraced, attach,
                        events_of)

NTHREADS = 600


class Busy(SignalCounter):
    def __init__(self, n):
        super().__init__("busy_threads", n)
        self.expect("ready ")
        line = self.cmd("tids", "tids ")
        self.tids = [int(t) for t in line.split()[1:]]
        assert self.tids[0] == self.pid and len(self.tids) == n + 1, line[:200]


def _assert_signals(fx, want, when):
    got = fx.sigs()
    assert got == want, f"{when}: the target received signals {got}, expected {want}"
    sent, recv, bad = fx.selfsig()
    assert bad == 0, f"{when}: {bad} self-sent signals lost or doubled (sent {sent}, got {recv})"
    assert 0 <= sent - recv <= NTHREADS and recv > 0, f"{when}: sent {sent}, received {recv}"


def test_attach_detach_many_busy_threads():
    fx = Busy(NTHREADS)
    w = attach([fx.pid], "-v")
    att = events_of(w.events, "attach", fx.pid)
    assert len(att) == 1 and att[0]["threads"] == len(fx.tids), \
        f"attach event {att}, the fixture has {len(fx.tids)} threads"
    assert_traced_by(fx.pid, w.pid, fx.tids)
    fx.cmd("iters 3", "iters ok")  # every thread runs while traced
    os.kill(fx.pid, signal.SIGUSR1)
    _assert_signals(fx, {signal.SIGUSR1: 1}, "while traced")

    rc = w.stop(signal.SIGINT)
    assert rc == 0, f"mmapwatch exited {rc}; stderr={w.stderr_text[-2000:]!r}"
    dets = events_of(w.events, "detach", fx.pid)
    assert len(dets) == 1, f"expected one detach event, got {dets}"
    assert "did not stop" not in w.stderr_text, w.stderr_text[-2000:]
    # -v says how long each took; the source saw every thread let go.
    assert re.search(rf"attached to process {fx.pid} \(busy_threads\), {len(fx.tids)} threads, "
                     r"in \d+\.\d+ s", w.stderr_text), w.stderr_text[-2000:]
    assert re.search(r"every thread let go in \d+\.\d+ s", w.stderr_text), \
        w.stderr_text[-2000:]

    assert_untraced(fx.pid)
    # as sets: the ids wrap around at pid_max (32768 here), so creation order is not numeric
    assert sorted(map(int, os.listdir(f"/proc/{fx.pid}/task"))) == sorted(fx.tids)
    fx.cmd("iters 20", "iters ok")  # every thread runs again
    assert_untraced(fx.pid)
    _assert_signals(fx, {signal.SIGUSR1: 1}, "after the detach")
    fx.finish(0)
