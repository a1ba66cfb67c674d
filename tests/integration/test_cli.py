"""The command line: usage errors (exit 2, one line), --help/--version,
runtime failures (exit 1, one line naming the pid, target left untouched)
and where events go (-o FILE, -o -, default stderr)."""
import os
import re
import shutil
import stat
import subprocess
import time

import harness
from harness import (events_of, fixture, hexaddr, read_line, read_truth, run_mmapwatch,
                     send_go, spawn, start_fixture, tmpdir, tracer_pid, proc_state,
                     wait_fixture)


def one_line(stderr, what):
    lines = stderr.splitlines()
    assert len(lines) == 1, f"{what}: expected exactly one line on stderr, got {stderr!r}"
    assert lines[0].startswith("mmapwatch: "), f"{what}: line without 'mmapwatch: ': {lines[0]!r}"
    return lines[0]


def mentions(line, number):
    return re.search(rf"(?<!\d){number}(?!\d)", line) is not None


def waiting_target():
    """A fixture blocked on stdin (never mapping anything); (Popen, pid)."""
    return start_fixture([fixture("trace_map"), "-w", os.path.join(tmpdir(), "truth")])


def assert_untouched(p, pid, tracer=0):
    """The target still runs, is traced by TRACER only, is not stopped."""
    assert p.poll() is None, f"target {pid} died: rc={p.returncode}"
    assert tracer_pid(pid) == tracer, f"target {pid} has TracerPid {tracer_pid(pid)}"
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            data = f.read()
        state = data[data.rindex(")") + 2]
        assert state not in "Tt", f"target thread {tid} left stopped (state {state})"


def release(p):
    """The target still works: it takes the go byte and exits 0."""
    send_go(p)
    wait_fixture(p, 0)


def free_pids(n):
    """N distinct pids that no process has: those of children just reaped."""
    pids = set()
    while len(pids) < n:
        p = subprocess.Popen(["true"])
        p.wait()
        pids.add(p.pid)
    return sorted(pids)


def free_pid():
    return free_pids(1)[0]


# --------------------------------------------------------------------------
# usage errors


def test_usage_errors():
    p, pid = waiting_target()
    marker = os.path.join(tmpdir(), "launched")
    cmd = ["sh", "-c", f": > {marker}"]  # proves the command was not run
    cases = [
        ["--bogus", "-p", str(pid)],
        ["-x", "-p", str(pid)],
        ["--min-size", "16Q", "-p", str(pid)],
        ["--min-size", "-1", "-p", str(pid)],
        ["--min-size", "", "-p", str(pid)],
        ["--min-size", "99999999999999999999999", "-p", str(pid)],
        ["--min-size", "16M", "--min-size"],
        ["--duration", "-5s", "-p", str(pid)],
        ["--duration", "5x", "-p", str(pid)],
        ["-p", "abc"],
        ["-p", "0"],
        ["-p", "-5"],
        ["-p", f"{pid}x"],
        ["-p", "99999999999999999999"],
        ["-p"],
        [],
        ["--json"],
        ["-o"],
        ["-p", str(pid), "--", *cmd],
        ["-p", str(pid), *cmd],
        ["--duration", "1s", "--", *cmd],
        ["--duration", "1s", *cmd],
        # 65 distinct pids (duplicates may be merged); gone ones, so that
        # a parser accepting them could not stop anything
        [w for gone in free_pids(65) for w in ("-p", str(gone))],
    ]
    for args in cases:
        r = run_mmapwatch(args, timeout=harness.WAIT_S)
        what = f"mmapwatch {' '.join(args)[:80]!r}"
        assert r.returncode == 2, f"{what}: exit {r.returncode}, expected 2; stderr={r.stderr!r}"
        one_line(r.stderr, what)
        assert r.stdout == "", f"{what}: printed on stdout: {r.stdout!r}"
        assert not os.path.exists(marker), f"{what}: ran the command"
        assert_untouched(p, pid)
    release(p)


SRC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")


def parser_options():
    """The parser's own table (src/options.c long_options and short_options):
    [(long name, short letter or None, takes an argument)], short letters."""
    with open(os.path.join(SRC_DIR, "options.c"), encoding="utf-8") as f:
        src = f.read()
    table = re.search(r"long_options\[\] = \{(.*?)\n\};", src, re.S)
    assert table, "long_options table not found in src/options.c"
    opts = []
    for name, arg, val in re.findall(
            r'\{"([a-z-]+)",\s*(\w+),\s*NULL,\s*([^}]+?)\}', table.group(1)):
        short = val[1] if val.startswith("'") else None
        opts.append((name, short, arg != "no_argument"))
    shorts = re.search(r'short_options\[\] = "([^"]*)"', src)
    assert shorts, "short_options not found in src/options.c"
    letters = set(re.findall(r"[A-Za-z]", shorts.group(1)))
    assert len(opts) >= 25 and letters, (opts, letters)
    return opts, letters


def test_help():
    """--help lists every option the parser takes (with its short form and
    its argument), and mentions none the parser does not take."""
    opts, letters = parser_options()
    for flag in ("--help", "-h"):
        r = run_mmapwatch([flag])
        assert r.returncode == 0, f"{flag}: exit {r.returncode}"
        assert r.stderr == "", f"{flag} wrote on stderr: {r.stderr!r}"
        text = r.stdout
        assert re.search(r"example", text, re.I), f"{flag}: no examples in {text!r}"
        assert "mmapwatch -p" in text, f"{flag}: no attach example"
        for name, short, takes_arg in opts:
            form = (f"-{short}, --{name}" if short else f"--{name}")
            # A long option without a short form in the table may still be
            # shown beside a short one of strace's that means the same (-s).
            prefix = "" if short else r"(?:-\w, )?"
            line = re.search(rf"^\s+{prefix}{re.escape(form)}(?![\w-])(.*)$", text, re.M)
            assert line, f"{flag}: option {form!r} is not listed at the start of a line"
            if takes_arg and name not in ("strings",):
                assert re.match(r"\s+([A-Z|%]+|[a-z]+(\|[a-z]+)+)(\s|$)", line.group(1)), \
                    f"{flag}: --{name} takes an argument but its line names none: {line.group(0)!r}"
        known = {name for name, _, _ in opts}
        # Lines about the subcommands (mmapwatch maps|read|report ...) name
        # their own options, which their own parsers take.
        own = "\n".join(l for l in text.splitlines()
                        if not re.search(r"mmapwatch (maps|read|report)\b", l))
        for word in set(re.findall(r"(?<![\w-])--([a-z][a-z-]*)", own)):
            assert word in known, f"{flag}: --help mentions --{word}, which the parser refuses"
        for letter in set(re.findall(r"^\s+-([A-Za-z]),", text, re.M)):
            assert letter in letters, f"{flag}: --help lists -{letter}, not a short option"


def test_version():
    for flag in ("--version", "-V"):
        r = run_mmapwatch([flag])
        assert r.returncode == 0, f"{flag}: exit {r.returncode}"
        assert r.stdout == "mmapwatch 0.1.0\n", f"{flag}: {r.stdout!r}"
        assert r.stderr == "", f"{flag}: {r.stderr!r}"


# --------------------------------------------------------------------------
# runtime failures


def test_no_such_process():
    pid = free_pid()
    r = run_mmapwatch(["-p", str(pid)])
    assert r.returncode == 1, f"exit {r.returncode}, expected 1; stderr={r.stderr!r}"
    line = one_line(r.stderr, "no such process")
    assert mentions(line, pid), f"the line does not name pid {pid}: {line!r}"
    assert r.stdout == ""


def test_no_such_process_among_others():
    """One good -p and one gone: exit 1, and the good one is let go."""
    p, pid = waiting_target()
    gone = free_pid()
    # events to a file: stderr is for the diagnostic alone
    out = os.path.join(tmpdir(), "events")
    r = run_mmapwatch(["-o", out, "-p", str(pid), "-p", str(gone)])
    assert r.returncode == 1, f"exit {r.returncode}, expected 1; stderr={r.stderr!r}"
    line = one_line(r.stderr, "one pid gone")
    assert mentions(line, gone), f"the line does not name pid {gone}: {line!r}"
    assert_untouched(p, pid)
    release(p)


def wait_state(pid, states, what):
    """Polls /proc until the state of PID is in STATES (another tracer's
    pace, not ours), failing at the deadline."""
    deadline = time.monotonic() + harness.WAIT_S
    while proc_state(pid) not in states:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: pid {pid} stays in state {proc_state(pid)}")
        time.sleep(0.01)


def test_already_traced():
    if not shutil.which("strace"):
        raise harness.Skip("strace is not installed (scripts/deps.sh installs it)")
    p, pid = waiting_target()
    st = spawn(["strace", "-p", str(pid), "-o", os.devnull],
               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = read_line(st.stderr)
    assert "attached" in line, f"strace did not attach: {line!r}"
    assert tracer_pid(pid) == st.pid
    wait_state(pid, "SR", "under strace")

    r = run_mmapwatch(["-p", str(pid)])
    assert r.returncode == 1, f"exit {r.returncode}, expected 1; stderr={r.stderr!r}"
    line = one_line(r.stderr, "already traced")
    assert mentions(line, pid), f"the line does not name pid {pid}: {line!r}"
    assert mentions(line, st.pid), f"the line does not name the tracer {st.pid}: {line!r}"
    wait_state(pid, "SR", "after mmapwatch")
    assert_untouched(p, pid, tracer=st.pid)

    st.terminate()  # strace detaches on SIGTERM
    assert st.wait(timeout=harness.WAIT_S) is not None
    assert_untouched(p, pid)
    release(p)


def binary_for_others():
    """MMAPWATCH, or a copy in a world-readable directory if some directory
    on its path is closed to other users."""
    path = os.path.abspath(harness.MMAPWATCH)
    d = path
    while d != "/":
        d = os.path.dirname(d)
        if not os.stat(d).st_mode & stat.S_IXOTH:
            break
    else:
        if os.stat(path).st_mode & stat.S_IXOTH:
            return path
    copy_dir = tmpdir()
    os.chmod(copy_dir, 0o755)
    copy = os.path.join(copy_dir, "mmapwatch")
    shutil.copy(path, copy)
    os.chmod(copy, 0o755)
    return copy


def test_permission_denied():
    if os.geteuid() != 0:
        raise harness.Skip("needs root, to run mmapwatch as another user against a root process")
    if not shutil.which("setpriv"):
        raise harness.Skip("setpriv (util-linux) is not installed")
    p, pid = waiting_target()
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        binary_for_others(), "--source", "ptrace", "--no-dump", "-p", str(pid)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=harness.WAIT_S, cwd="/")
    assert r.returncode == 1, f"exit {r.returncode}, expected 1; stderr={r.stderr!r}"
    line = one_line(r.stderr, "permission denied")
    assert mentions(line, pid), f"the line does not name pid {pid}: {line!r}"
    assert "CAP_SYS_PTRACE" in line, f"the line does not say what to do: {line!r}"
    assert_untouched(p, pid)
    release(p)


def test_source_auto_falls_back_to_ptrace():
    """--source auto (the default) as a user who may not open tracepoints:
    one note says ptrace is used and why, then ptrace's own error."""
    if os.geteuid() != 0:
        raise harness.Skip("needs root, to run mmapwatch as another user against a root process")
    if not shutil.which("setpriv"):
        raise harness.Skip("setpriv (util-linux) is not installed")
    p, pid = waiting_target()
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        binary_for_others(), "--no-dump", "-p", str(pid)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=harness.WAIT_S, cwd="/")
    assert r.returncode == 1, f"exit {r.returncode}, expected 1; stderr={r.stderr!r}"
    lines = r.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("mmapwatch: following with ptrace (perf_event tracepoints "
                               "cannot be used: "), lines
    assert "CAP_SYS_PTRACE" in lines[1], lines
    assert_untouched(p, pid)
    release(p)


# --------------------------------------------------------------------------
# where events go

SIZE = 3 * 1024 * 1024 + 123


def launch_plain(*opts, text_mode=False):
    """mmapwatch OPTS -- trace_map TRUTH SIZE with stdout and stderr kept
    apart; returns (CompletedProcess, the fixture's mmap truth record)."""
    truth = os.path.join(tmpdir(), "truth")
    r = run_mmapwatch([*opts, "--", fixture("trace_map"), truth, str(SIZE)])
    assert r.returncode == 0, f"exit {r.returncode}; stderr={r.stderr!r}"
    recs = read_truth(truth)
    assert len(recs) == 1, recs
    return r, recs[0]


def fixture_line(rec):
    return f"trace_map done pid={rec['pid']} maps=1\n"


def assert_has_map(events, rec):
    hits = [e for e in events_of(events, "mmap")
            if (e["pid"], e["tid"], hexaddr(e["addr"]), e["len"])
            == (rec["pid"], rec["tid"], hexaddr(rec["addr"]), rec["len"])]
    assert len(hits) == 1, f"mmap {rec} reported {len(hits)} times: {events}"


def test_output_stdout():
    r, rec = launch_plain("--json", "-o", "-")
    assert r.stderr == "", f"-o -: stderr {r.stderr!r}"
    lines = r.stdout.splitlines(keepends=True)
    assert fixture_line(rec) in lines, f"the fixture's own line is missing: {r.stdout!r}"
    events = harness.parse_events("".join(l for l in lines if l != fixture_line(rec)))
    harness.check_event_fields(events)
    assert_has_map(events, rec)


def test_output_default_stderr_json():
    r, rec = launch_plain("--json")
    assert r.stdout == fixture_line(rec), f"the command's stdout is not its own: {r.stdout!r}"
    events = harness.parse_events(r.stderr)
    harness.check_event_fields(events)
    assert_has_map(events, rec)


def test_output_default_stderr_text():
    r, rec = launch_plain()
    assert r.stdout == fixture_line(rec), f"the command's stdout is not its own: {r.stdout!r}"
    want = (rf"^\d\d:\d\d:\d\d\.\d{{6}} \[{rec['pid']}/{rec['tid']} trace_map\] "
            rf"mmap\(NULL, {SIZE}, PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\)"
            rf" = {rec['addr']} \(3\.0 MiB\)$")
    hits = [l for l in r.stderr.splitlines() if re.match(want, l)]
    assert len(hits) == 1, f"no text line matching {want!r} in {r.stderr!r}"
    assert not any(l.startswith("{") for l in r.stderr.splitlines()), "JSON without --json"


def test_output_file():
    out = os.path.join(tmpdir(), "events.jsonl")
    r, rec = launch_plain("--json", "-o", out)
    assert r.stdout == fixture_line(rec), f"the command's stdout is not its own: {r.stdout!r}"
    assert r.stderr == "", f"-o FILE: stderr {r.stderr!r}"
    events = harness.read_events(out)
    harness.check_event_fields(events)
    assert_has_map(events, rec)


def test_output_stdout_attach():
    truth = os.path.join(tmpdir(), "truth")
    p, pid = start_fixture([fixture("trace_map"), "-w", truth, str(SIZE)])
    w = harness.start_attach_many([pid])  # reads the attach event from stdout
    send_go(p)
    wait_fixture(p, 0)
    rc, events, err = harness.finish_attach_many(w)
    assert rc == 0 and err == "", f"rc={rc} stderr={err!r}"
    harness.check_event_fields(events)
    rec = read_truth(truth)[0]
    assert len(events_of(events, "mmap")) == 1, events
    assert_has_map(events, rec)


# --------------------------------------------------------------------------
# the text format (default): strace-like lines, checked against the truth

TS = r"\d\d:\d\d:\d\d\.\d{6}"


def text_run(args, expect_rc=0):
    r = run_mmapwatch(args)
    assert r.returncode == expect_rc, f"exit {r.returncode}, expected {expect_rc}: {r.stderr!r}"
    return r.stderr.splitlines()


def assert_line(lines, pattern):
    hits = [l for l in lines if re.fullmatch(pattern, l)]
    assert len(hits) == 1, f"expected one line matching {pattern!r}, got {hits} in:\n" + \
        "\n".join(lines)


def test_text_format():
    d = tmpdir()
    # failed and successful mmaps
    truth = os.path.join(d, "failed")
    lines = text_run(["--failed", "--", fixture("trace_failed"), truth])
    recs = read_truth(truth)
    ok = [r for r in recs if r["kind"] == "mmap"][0]
    who = rf"{TS} \[{ok['pid']}/{ok['tid']} trace_failed\]"
    assert_line(lines, rf"{who} mmap\(NULL, {ok['len']}, PROT_READ\|PROT_WRITE, "
                       rf"MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\) = {ok['addr']} \(1\.0 MiB\)")
    assert_line(lines, rf"{who} mmap\(0x7e0000000000, {1 << 50}, PROT_READ\|PROT_WRITE, "
                       rf"MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\) = -1 ENOMEM \(Cannot allocate memory\)")
    assert_line(lines, rf"{who} mmap\(0x200001, 8192, PROT_READ\|PROT_WRITE, "
                       rf"MAP_PRIVATE\|MAP_FIXED\|MAP_ANONYMOUS, -1, 0\) = -1 EINVAL \(Invalid argument\)")
    assert_line(lines, rf"{TS} \[{ok['pid']} trace_failed\] exited with status 0")

    # munmap, mprotect, mremap
    truth = os.path.join(d, "life")
    lines = text_run(["-m", "1M", "--", fixture("trace_lifecycle"), truth])
    recs = read_truth(truth)
    pid = recs[0]["pid"]
    who = rf"{TS} \[{pid}/{pid} trace_lifecycle\]"
    a_unmap = [r for r in recs if r["kind"] == "munmap"][0]
    assert_line(lines, rf"{who} munmap\({a_unmap['addr']}, {a_unmap['len']}\) = 0")
    commit = [r for r in recs if r["kind"] == "mprotect" and r["big"] == 1][0]
    assert_line(lines, rf"{who} mprotect\({commit['addr']}, {commit['len']}, "
                       rf"PROT_READ\|PROT_WRITE\) = 0")
    grow = [r for r in recs if r["kind"] == "mremap" and r["flags"] == "MREMAP_MAYMOVE"][0]
    assert_line(lines, rf"{who} mremap\({grow['old_addr']}, {grow['old_len']}, {grow['len']}, "
                       rf"MREMAP_MAYMOVE\) = {grow['addr']} \(3\.0 MiB\)")

    # a child's exit, and a death by signal
    truth = os.path.join(d, "exit")
    lines = text_run(["-m", "1G", "--", fixture("trace_exit"), truth, "term"], expect_rc=143)
    recs = read_truth(truth)
    child = [r for r in recs if r["kind"] == "child"][0]["pid"]
    me = [r for r in recs if r["kind"] == "self"][0]["pid"]
    assert_line(lines, rf"{TS} \[{child} exit-child\] exited with status 5")
    assert_line(lines, rf"{TS} \[{me} trace_exit\] killed by SIGTERM")


def test_failed_event_write_launch_exits_1():
    """Launch mode, events to a full disk (/dev/full): the command still
    runs to its end (a launched command carries the seccomp filter and is
    never let go), mmapwatch says so, never "detaching", and exits 1."""
    marker = os.path.join(tmpdir(), "ran-to-the-end")
    r = run_mmapwatch(["-o", "/dev/full", "--no-dump", "--", "sh", "-c",
                       f"echo done > {marker}"])
    assert r.returncode == 1, f"exit {r.returncode}; stderr={r.stderr!r}"
    assert os.path.exists(marker), "the command did not run to its end"
    assert "cannot write events" in r.stderr and "runs on to its end" in r.stderr, r.stderr
    assert "detaching" not in r.stderr, r.stderr


def test_failed_event_write_attach_detaches():
    """Attach mode, events to /dev/full: mmapwatch detaches (tracing that
    nobody can read only costs the target), leaves the target running and
    untraced, and exits 1."""
    p, pid = waiting_target()
    try:
        r = run_mmapwatch(["-o", "/dev/full", "--no-dump", "-p", str(pid)])
        assert r.returncode == 1, f"exit {r.returncode}; stderr={r.stderr!r}"
        assert "cannot write events" in r.stderr and "detaching" in r.stderr, r.stderr
        assert_untouched(p, pid)
    finally:
        p.kill()
        p.wait()


def test_output_write_failure():
    """Events nobody can read only cost the target: a write that fails
    (-o /dev/full: ENOSPC) ends the run with exit 1 and one line saying
    so, and the target is let go, running and untraced."""
    p, pid = waiting_target()
    # --duration: a build that ignored the failure would end, with 0
    r = run_mmapwatch(["--json", "-o", "/dev/full", "--duration", "10", "-p", str(pid)])
    line = one_line(r.stderr, "-o /dev/full")
    assert r.returncode == 1, f"-o /dev/full: exit {r.returncode}, stderr {r.stderr!r}"
    assert "cannot write events" in line and "No space left on device" in line, line
    assert tracer_pid(pid) == 0, "target still traced after a failed write"
    assert proc_state(pid) not in "tT", f"target left stopped: {proc_state(pid)}"
    send_go(p)
    wait_fixture(p, 0)


def test_output_symlink_refused():
    """-o through a symbolic link planted by another user: refused with one
    line, and the file it points to (ours: root's, as /etc/shadow would be)
    is not truncated. The user's own link is followed, as is /dev/fd/N of
    a shell's >(...), which the dump tests use."""
    d = tmpdir()
    # Writable by anyone but not sticky: in a sticky /tmp the kernel's
    # fs.protected_symlinks already refuses to follow another user's link.
    os.chmod(d, 0o777)
    victim = os.path.join(d, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    link = os.path.join(d, "events.jsonl")
    os.symlink(victim, link)
    os.lchown(link, 65534, 65534)  # planted by nobody
    r = run_mmapwatch(["--json", "-o", link, "--", "true"])
    line = one_line(r.stderr, "-o LINK")
    assert r.returncode == 1, f"-o LINK: exit {r.returncode}"
    assert "symbolic link" in line and link in line and "65534" in line, line
    with open(victim) as f:
        assert f.read() == "precious\n", "the planted link's target was written"
    # a planted link to a file not there yet: nothing is created either
    ghost = os.path.join(d, "ghost")
    other = os.path.join(d, "other.jsonl")
    os.symlink(ghost, other)
    os.lchown(other, 65534, 65534)
    r = run_mmapwatch(["-o", other, "--", "true"])
    assert r.returncode == 1 and "symbolic link" in one_line(r.stderr, other), r.stderr
    assert not os.path.exists(ghost), "a planted dangling link made us create its target"
    # the user's own link: followed, its file emptied and written
    os.lchown(link, os.geteuid(), os.getegid())
    r = run_mmapwatch(["--json", "-o", link, "--", "true"])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    events = harness.read_events(victim)
    assert events and events[-1]["event"] == "exit", events
    assert os.path.islink(link)


def kernel_thread():
    """A pid with PF_KTHREAD in its stat flags, other than 2 when one is
    visible (the check must not be "pid 2"); None if none is visible."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[6]) & 0x00200000:
            found.append(int(name))
    others = [p for p in found if p != 2]
    return (others or found or [None])[0]


def test_pid_of_kernel_thread():
    pid = kernel_thread()
    if pid is None:
        raise harness.Skip("no kernel thread is visible in this pid namespace")
    r = run_mmapwatch(["-p", str(pid)])
    line = one_line(r.stderr, f"-p {pid}")
    assert r.returncode == 1, r.returncode
    assert mentions(line, pid) and "kernel thread" in line, line
    assert "root" not in line and "permitted" not in line, line


def test_pid_of_zombie():
    z = spawn(["true"])
    os.waitid(os.P_PID, z.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
    r = run_mmapwatch(["-p", str(z.pid)])
    line = one_line(r.stderr, "-p ZOMBIE")
    assert r.returncode == 1, r.returncode
    assert mentions(line, z.pid) and "zombie" in line, line
    assert "root" not in line and "permitted" not in line, line
    z.wait()


def test_pid_of_mmapwatch_itself():
    r = subprocess.run(["sh", "-c", 'exec "$0" -p $$', harness.MMAPWATCH],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=harness.WAIT_S)
    line = one_line(r.stderr, "-p SELF")
    assert r.returncode == 1, r.returncode
    assert "mmapwatch itself" in line, line


def test_json_schema_line():
    """Every JSON events stream starts with the schema line (to a file,
    stdout or stderr); text output has none."""
    out = os.path.join(tmpdir(), "events.jsonl")
    for argv, where in ((["-o", out], "file"), (["-o", "-"], "stdout"), ([], "stderr")):
        r = run_mmapwatch(["--json", *argv, "--", "true"])
        assert r.returncode == 0, r.stderr
        text = {"file": lambda: open(out).read(), "stdout": lambda: r.stdout,
                "stderr": lambda: r.stderr}[where]()
        first = harness.parse_events(text)[0]
        assert first["event"] == "schema" and first["schema"] == 3 and \
            first["program"] == "mmapwatch", f"{where}: {first}"
        assert len([e for e in harness.parse_events(text) if e["event"] == "schema"]) == 1
    r = run_mmapwatch(["--", "true"])
    assert "schema" not in r.stderr, r.stderr


def test_file_backed_mmap_path():
    """A file-backed mmap names its file: "path" in JSON, N</path> in
    text; anonymous ones have neither. The dynamic loader maps
    /etc/ld.so.cache and libc through descriptors."""
    r = run_mmapwatch(["--json", "-o", "-", "--", "true"])
    events = [e for e in harness.parse_events(r.stdout) if e["event"] == "mmap"]
    backed = [e for e in events if e["fd"] >= 0 and "MAP_ANONYMOUS" not in e["flags"]]
    assert backed, events
    for e in backed:
        assert e.get("path") and os.path.exists(e["path"]), e
    assert any(e["path"].endswith("libc.so.6") for e in backed), backed
    assert all("path" not in e for e in events if e["fd"] < 0), events
    r = run_mmapwatch(["--", "true"])
    assert re.search(r", \d+<[^>]*libc\.so\.6>, 0x[0-9a-f]+\) = 0x", r.stderr), r.stderr
