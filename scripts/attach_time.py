#!/usr/bin/env python3
"""attach_time.py: how long mmapwatch takes to attach to, and detach from,
a process whose threads never stop making syscalls (build/fixtures/
busy_threads, each thread looping on getppid).

    scripts/attach_time.py [-n THREADS] [-r RUNS] MMAPWATCH [MMAPWATCH...] [-- OPTION...]

Each run starts busy_threads THREADS, starts MMAPWATCH --json -o - --no-dump
-v OPTION... -p PID, and times from that start to the "attach" event, and
from a SIGINT to mmapwatch's exit; then checks that every thread of the
target is untraced and not stopped, and that no signal was lost or added.
Several binaries are run round-robin (one run of each, then the next
round), so that a change in the machine's load touches each alike. Also
prints mmapwatch's own -v lines on how long it took.

This script runs itself at nice -20 where it may, and starts the fixture
and mmapwatch at nice 0: otherwise the script's own wait for the events is
what gets measured on a machine full of busy threads. Timing only: never
a pass/fail test (tests/integration/test_attach_busy.py checks the rest).
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURE = os.path.join(ROOT, "build", "fixtures", "busy_threads")
KILL_AFTER_S = 300


def at_nice_0():
    os.setpriority(os.PRIO_PROCESS, 0, 0)


def one_run(mmapwatch, nthreads, options):
    fx = subprocess.Popen([FIXTURE, str(nthreads)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, bufsize=1, preexec_fn=at_nice_0)
    try:
        ready = fx.stdout.readline()
        if not ready.startswith("ready"):
            return f"fixture failed: {ready!r}"
        t0 = time.monotonic()
        w = subprocess.Popen([mmapwatch, "--json", "-o", "-", "--no-dump", "-v", *options,
                              "-p", str(fx.pid)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=at_nice_0)
        killer = threading.Timer(KILL_AFTER_S, lambda: w.kill())
        killer.daemon = True
        killer.start()
        said = []
        reader = threading.Thread(target=lambda: said.extend(w.stderr), daemon=True)
        reader.start()
        attach_s = None
        for line in w.stdout:
            if re.search(r'"event": ?"attach"', line):
                attach_s = time.monotonic() - t0
                break
        t1 = time.monotonic()
        if attach_s is not None:
            w.send_signal(signal.SIGINT)
        for _ in w.stdout:
            pass
        rc = w.wait()
        detach_s = time.monotonic() - t1
        killer.cancel()
        reader.join(10)
        left = []
        for tid in os.listdir(f"/proc/{fx.pid}/task"):
            with open(f"/proc/{fx.pid}/task/{tid}/status") as f:
                st = dict(l.split(":", 1) for l in f if ":" in l)
            if st["TracerPid"].strip() != "0" or st["State"].split()[0] in "tT":
                left.append(tid)
        fx.stdin.write("selfsig\n")
        selfsig = fx.stdout.readline().split()
        fx.stdin.write("sigs\n")
        sigs = fx.stdout.readline().strip()
        fx.stdin.write("exit\n")
        fx.wait(60)
        own = "; ".join(l.strip().removeprefix("mmapwatch: ") for l in said
                        if re.search(r"attached to|let go in|cannot raise", l))
        att = f"{attach_s:.2f} s" if attach_s is not None else "never"
        return (f"attach {att}, detach {detach_s:.2f} s, rc {rc}, threads left traced or "
                f"stopped {len(left)}, self-signals lost or doubled {selfsig[3]}, "
                f"signals received {sigs!r}, load {os.getloadavg()[0]:.0f} [{own}]")
    finally:
        if fx.poll() is None:
            fx.kill()
            fx.wait()


def main():
    argv = sys.argv[1:]
    options = []
    if "--" in argv:
        i = argv.index("--")
        argv, options = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--threads", type=int, default=1500)
    ap.add_argument("-r", "--runs", type=int, default=2)
    ap.add_argument("mmapwatch", nargs="+")
    args = ap.parse_args(argv)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -20)
    except OSError as e:
        print(f"attach_time: cannot run at nice -20 ({e}): figures include our own waits",
              file=sys.stderr)
    print(f"busy_threads {args.threads}, options {' '.join(options) or '(none)'}")
    for r in range(args.runs):
        for mw in args.mmapwatch:
            print(f"run {r + 1} {mw}: {one_run(mw, args.threads, options)}", flush=True)


if __name__ == "__main__":
    main()
