"""mmapwatch under valgrind: no leaks, no invalid accesses on the main paths.

Launch mode (threads, fork, exec, every lifecycle syscall), attach mode with
a detach on SIGINT, and a usage error. Skipped for the sanitizer build
(valgrind and ASan cannot run together) and where valgrind is missing.
"""
import os
import signal
import subprocess

import harness

VALGRIND = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible", "--errors-for-leak-kinds=definite,indirect,possible",
            "--trace-children=no"]


def _need_valgrind():
    harness.require_valgrind()


def test_valgrind_launch_clean():
    _need_valgrind()
    out = os.path.join(harness.tmpdir(), "events.jsonl")
    # /bin/sh -c with a pipeline: fork, exec, threads of its own none, but
    # every mmap/munmap/mprotect of the dynamic loader in several processes.
    p = subprocess.run(VALGRIND + [harness.MMAPWATCH, "--json", "-o", out, "--",
                                   "/bin/sh", "-c", "ls / | cat >/dev/null; exit 7"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    assert p.returncode == 7, f"rc={p.returncode} stderr={p.stderr}"
    events = harness.read_events(out)
    assert len(harness.events_of(events, "exit")) >= 3, events[-3:]


def test_valgrind_attach_detach_clean():
    _need_valgrind()
    target = harness.spawn(["/bin/sh", "-c", "read line; echo done"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    mw = harness.spawn(VALGRIND + [harness.MMAPWATCH, "--json", "-o", "-", "-p", str(target.pid)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = harness.read_line(mw.stdout, 60)
    assert '"schema"' in line, line  # the JSON stream's first line
    line = harness.read_line(mw.stdout, 60)
    assert '"attach"' in line, line
    mw.send_signal(signal.SIGINT)
    out, err = mw.communicate(timeout=60)
    assert mw.returncode == 0, f"rc={mw.returncode} stderr={err}"
    assert '"detach"' in out
    assert harness.tracer_pid(target.pid) == 0
    target.stdin.write("x\n")
    target.stdin.flush()
    assert harness.read_line(target.stdout) == "done\n"


def test_valgrind_bpf_reader_clean():
    """The perf source's BPF reader under valgrind: programs loaded, a
    followed shell's children (forks, execs, maps, exits) read from the
    ring and the exec watch, then everything closed at SIGINT."""
    _need_valgrind()
    harness.require_perf()
    target = harness.spawn(["/bin/sh", "-c", "read line; /bin/true; /bin/true; echo done; "
                            "read line"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True)
    mw = harness.spawn(VALGRIND + [harness.MMAPWATCH, "--source", "perf", "--perf-calls", "bpf",
                                   "--json", "-o", "-", "--no-dump", "-p", str(target.pid)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = harness.read_line(mw.stdout, 60)
    assert '"schema"' in line, line
    line = harness.read_line(mw.stdout, 60)
    assert '"attach"' in line, line
    target.stdin.write("go\n")
    target.stdin.flush()
    assert harness.read_line(target.stdout) == "done\n"
    execs = 0
    while execs < 2:  # both children's execs read before the detach
        line = harness.read_line(mw.stdout, 60)
        assert line, "mmapwatch ended early"
        execs += '"event":"exec"' in line
    mw.send_signal(signal.SIGINT)
    out, err = mw.communicate(timeout=60)
    assert mw.returncode == 0, f"rc={mw.returncode} stderr={err}"
    assert '"detach"' in out
    target.stdin.write("x\n")
    target.stdin.close()
    assert target.wait(timeout=harness.WAIT_S) == 0


def test_valgrind_usage_error_clean():
    _need_valgrind()
    p = subprocess.run(VALGRIND + [harness.MMAPWATCH, "--min-size", "16Q", "-p", "1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 2, p.stderr


def test_valgrind_stacks_and_summary_clean(source="ptrace"):
    """-k, -c and --strings: libunwind, the symbol and page caches,
    demangling, the perf map, the summary and the strings passes after
    the dumps, all freed at the end."""
    _need_valgrind()
    d = harness.tmpdir()
    out = os.path.join(d, "events.jsonl")
    truth = os.path.join(d, "truth")
    p = subprocess.run(VALGRIND + [harness.MMAPWATCH, "--source", source, "--json", "-o", out, "-k", "-c",
                                   "--strings", "-m", "16M", "--delay", "0", "--dump-dir",
                                   os.path.join(d, "dumps"), "--",
                                   "/bin/sh", "-c", f"{harness.fixture('stack_cpp')} {truth} && "
                                   f"{harness.fixture('stack_jit')} --perf-map {truth}"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    assert p.returncode == 0, f"rc={p.returncode} stderr={p.stderr}"
    events = harness.read_events(out)
    stacks = [e["stack"] for e in harness.events_of(events, "mmap")]
    assert len(stacks) == 2 and all(len(s) >= 4 for s in stacks), stacks
    assert events[-1]["event"] == "summary" and events[-1]["mmaps"] == 2
    dumps = harness.events_of(events, "dump")
    strings = harness.events_of(events, "strings")
    # The perf source cannot hold the short-lived fixtures: its dumps may
    # all be skips. Every dump made has its strings pass.
    assert dumps or source == "perf", events
    assert sorted(e["path"][:-len(".bin")] for e in dumps) == \
        sorted(e["path"][:-len(".strings")] for e in strings), (dumps, strings)


def test_valgrind_stacks_and_summary_clean_perf():
    """The same through the perf source: the stacks come from the kernel's
    copies and are walked after the fact (the processes may be gone by
    then: libunwind's fallbacks then read words we cannot give it)."""
    harness.require_perf()
    test_valgrind_stacks_and_summary_clean("perf")
