"""The documentation tells the truth.

- Every option of every parser (read from the option tables in the
  sources, and each checked against the binary, so a table this test
  cannot read fails rather than passes) is in --help, in the man page's
  section for it, and in the bash completion.
- The README's story runs: each ```console block's commands are run in
  order against the demo program, and their output must have the README's
  lines (numbers, addresses and times aside; "..." stands for lines left
  out). The README's other mmapwatch commands (```sh blocks, and inline
  ones on PID) are run against a waiting process and must succeed.
- make install DESTDIR=... installs what it says and man finds the page;
  make uninstall removes it.
- Claims of the man page that once were wrong: a SIGKILLed process's
  regions are dumped at its end; a dump's metadata holds the stack with -k.
"""
import json
import os
import re
import signal
import subprocess

import harness
from harness import MMAPWATCH, fixture, read_line, start_fixture, send_go, tmpdir, wait_fixture

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def src(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


# --------------------------------------------------------------------------
# options: parser tables -> --help, man page, completion


def option_table(path, min_long):
    """(long names, short letters) of the getopt_long table and short
    option string in a source file."""
    text = src(path)
    m = re.search(r"static const struct option long_options\[\] = \{(.*?)\n\};", text, re.S)
    assert m, f"{path}: no long_options table found"
    longs = re.findall(r'\{"([a-z][a-z-]*)",\s*(?:no|required|optional)_argument', m.group(1))
    shorts = re.findall(r'short_options\[\] = "([^"]*)"', text) or \
        re.findall(r'getopt_long\(argc, argv, "([^"]*)"', text)
    assert len(shorts) == 1, f"{path}: expected one short option string, got {shorts}"
    letters = [c for c in shorts[0] if c not in "+:"]
    assert len(longs) >= min_long and len(letters) >= 5, \
        f"{path}: read {longs} and {letters}: the table was not read"
    return longs, letters


PARSERS = [  # (source, argv prefix, --help argv, man page section, minimum long options)
    ("src/options.c", [], ["--help"], r'\.SH OPTIONS\n(.*?)\n\.SH ', 25),
    ("src/cmd_maps.c", ["maps"], ["maps", "--help"],
     r'\.SS "mmapwatch maps[^\n]*\n(.*?)\n\.S[SH] ', 7),
    ("src/cmd_read.c", ["read"], ["read", "--help"],
     r'\.SS "mmapwatch read[^\n]*\n(.*?)\n\.S[SH] ', 7),
]


def man_text():
    """The man page source with groff's escapes for - and fonts removed."""
    text = src("docs/mmapwatch.1")
    return re.sub(r"\\f[BIRP]", "", text).replace("\\-", "-")


def mentions(text, option):
    """OPTION as a word of its own: -t is not found in -tt, --strings not in
    --strings-x."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def run(argv):
    return subprocess.run([MMAPWATCH, *argv], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=harness.WAIT_S)


def test_every_option_is_documented():
    man = man_text()
    completion = src("scripts/mmapwatch.bash-completion")
    for path, prefix, help_argv, section_re, min_long in PARSERS:
        longs, letters = option_table(path, min_long)
        # What was read is what the binary parses: each one is known to it,
        # and a name not in the table is not. Each is followed by "-p 0",
        # a usage error, so that whatever it means, nothing is ever run,
        # attached to or created.
        stop = ["-p", "0"]
        short = re.findall(r'"(\+:[^"]*)"', src(path))[0]
        for name in longs:
            r = run([*prefix, f"--{name}=x" if name != "help" else "--help", *stop])
            assert r.returncode in (0, 2), f"{path}: --{name}: exit {r.returncode}"
            assert not re.search(r"unknown option|ambiguous", r.stderr), \
                f"{path}: --{name} read from the table, but: {r.stderr!r}"
        for c in letters:
            takes_arg = short[short.index(c) + 1:short.index(c) + 2] == ":"
            r = run([*prefix, f"-{c}", *(["x"] if takes_arg else []), *stop])
            assert r.returncode in (0, 2), f"{path}: -{c}: exit {r.returncode}"
            assert "unknown option" not in r.stderr, f"{path}: -{c}: {r.stderr!r}"
        r = run([*prefix, "--no-such-option-here"])
        assert r.returncode == 2 and "unknown option" in r.stderr, r.stderr

        help_text = run(help_argv).stdout
        m = re.search(section_re, man, re.S)
        assert m, f"the man page has no section for {path} ({section_re})"
        section = m.group(1)
        for name in longs:
            assert mentions(help_text, f"--{name}"), f"--{name} ({path}) not in --help"
            assert mentions(section, f"--{name}"), f"--{name} ({path}) not in its man section"
            assert mentions(completion, f"--{name}") or name in ("help", "version"), \
                f"--{name} ({path}) not in the bash completion"
        for c in letters:
            assert mentions(help_text, f"-{c}"), f"-{c} ({path}) not in --help"
            assert mentions(section, f"-{c}"), f"-{c} ({path}) not in its man section"
        # And --help names no option the parser does not have (the main
        # --help shows the subcommands' usage lines too).
        known = set(longs)
        if not prefix:
            for sub_path, *_ in PARSERS[1:]:
                known |= set(option_table(sub_path, 1)[0])
        for name in re.findall(r"(?<![\w-])--([a-z][a-z-]+)", help_text):
            assert name in known, f"--help of {path} mentions --{name}, which no parser has"


def test_help_names_subcommands_and_dumps():
    text = run(["--help"]).stdout
    for word in ("mmapwatch maps", "mmapwatch read", "mmapwatch report", "mmapwatch-dumps",
                 "Dumps are on by default", "--no-dump"):
        assert word in text, f"--help does not mention {word!r}"


# --------------------------------------------------------------------------
# the README


README_MAX_BYTES = 10 * 1024

HEX0X = r"0x[0-9a-f]+"
HEXBARE = r"(?<![0-9a-zA-Z_])(?=[0-9a-f]*[a-f])[0-9a-f]{6,16}(?![0-9a-zA-Z_])"
NUMBER = r"\d+(?:\.\d+)?"
TOKEN = re.compile(f"{HEX0X}|{HEXBARE}|{NUMBER}")


def normal(line):
    """A line with its numbers, addresses and runs of blanks made alike."""
    def kind(m):
        t = m.group()
        return "<hex>" if t.startswith("0x") or re.search("[a-f]", t) else "<n>"
    return re.sub(r"\s+", " ", TOKEN.sub(kind, line)).strip()


def tokens(line):
    return TOKEN.findall(line)


def console_blocks(text):
    """[(command, [expected output lines])] of every ```console block."""
    steps = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                assert steps, f"output before any command in a console block: {line!r}"
                steps[-1][1].append(line)
    return steps


def match_output(expected, actual, what):
    """EXPECTED's lines in ACTUAL, in order and adjacent except where a
    "..." line stands for any number of lines; returns {README token:
    actual token} for the addresses and pids of the matched lines."""
    segments, cur = [], []
    for line in expected:
        if line.strip() == "...":
            segments.append(cur)
            cur = []
        else:
            cur.append(line)
    segments.append(cur)
    binds, pos = {}, 0
    for n, seg in enumerate(segments):
        if not seg:
            continue
        norm = [normal(l) for l in seg]
        starts = [pos] if n == 0 else range(pos, len(actual) - len(seg) + 1)
        for s in starts:
            if [normal(l) for l in actual[s:s + len(seg)]] == norm:
                for want, got in zip(seg, actual[s:s + len(seg)]):
                    for a, b in zip(tokens(want), tokens(got)):
                        if re.fullmatch(f"{HEX0X}|{HEXBARE}", a) or len(a) >= 3:
                            binds.setdefault(a, b)
                pos = s + len(seg)
                break
        else:
            raise AssertionError(f"{what}: README lines {seg} not found in order in the output:\n"
                                 + "\n".join(actual))
    if segments[-1] and pos != len(actual):
        raise AssertionError(f"{what}: output goes on after the README's last line:\n"
                             + "\n".join(actual[pos:]))
    return binds


def substitute(command, binds):
    for old in sorted(binds, key=len, reverse=True):
        command = re.sub(rf"(?<![0-9a-fA-Fx]){re.escape(old)}(?![0-9a-fA-F])", binds[old],
                         command)
    return command


def shell_env():
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(os.path.abspath(MMAPWATCH)) + os.pathsep + env["PATH"]
    return env


def is_trace(command):
    return re.match(r"mmapwatch (?!maps |read |report )", command) is not None


def test_readme_size_and_links():
    text = src("README.md")
    size = len(text.encode())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes, more than {README_MAX_BYTES}"
    for target in re.findall(r"\]\(([^)#]+)[^)]*\)", text):
        if "://" not in target:
            assert os.path.exists(os.path.join(ROOT, target)), f"README links to {target}: missing"
    assert "docs/mmapwatch.1" in text and "man mmapwatch" in text


def test_readme_story_runs():
    """The README's console blocks, in order, against demo_arenas -w: the
    process the README's first command names. The attach command is let
    run until the process, released once it is attached, exits."""
    steps = console_blocks(src("README.md"))
    assert len(steps) >= 5, f"the README's story has {len(steps)} commands"
    m = re.search(r"\bmaps (\d+)", steps[0][0])
    assert m, f"the story's first command names no pid: {steps[0][0]!r}"
    d = tmpdir()
    demo = harness.spawn([fixture("demo_arenas"), "-w"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    ready = read_line(demo.stdout).split()
    assert ready[0] == "ready", ready
    binds = {m.group(1): ready[1]}
    attached = 0
    for command, expected in steps:
        cmd = substitute(command, binds)
        what = f"README command {command!r} (run as {cmd!r})"
        if is_trace(command):
            p = harness.spawn(["bash", "-c", cmd], cwd=d, env=shell_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            first = first_event_line(p.stdout)
            assert " attached, " in first, f"{what}: {first!r}"
            send_go(demo)
            wait_fixture(demo, 0)
            rest, _ = p.communicate(timeout=harness.WAIT_S * 4)
            out, rc = [first.rstrip("\n"), *rest.splitlines()], p.returncode
            attached += 1
        else:
            r = subprocess.run(["bash", "-c", cmd], cwd=d, env=shell_env(),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=harness.WAIT_S * 2)
            out, rc = r.stdout.splitlines(), r.returncode
        assert rc == 0, f"{what}: exit {rc}:\n" + "\n".join(out)
        for k, v in match_output(expected, out, what).items():
            binds.setdefault(k, v)
    assert attached == 1, f"the story attaches {attached} times, expected once"


def first_event_line(stream):
    """The first line after the note that says which event source follows
    the target (--source auto in attach mode)."""
    line = read_line(stream)
    if line.startswith("mmapwatch: following with "):
        line = read_line(stream)
    return line


def test_readme_other_commands_run():
    """Every other mmapwatch command of the README on PID (```sh blocks,
    and `inline` ones) runs against a waiting process: it must attach or
    print, and stop cleanly (exit 0) at SIGINT, the user's Ctrl-C."""
    text = src("README.md")
    commands = []
    for block in re.findall(r"^\s*```sh\n(.*?)^\s*```", text, re.S | re.M):
        commands += [l.strip() for l in block.splitlines() if l.strip().startswith("mmapwatch ")]
    commands += re.findall(r"`(mmapwatch [^`]*\bPID\b[^`]*)`", text)
    assert len(commands) >= 3, f"only {commands} found"
    for command in commands:
        assert "PID" in command, f"{command!r}: a README command outside the story needs PID"
        p, pid = start_fixture([fixture("trace_map"), "-w", os.path.join(tmpdir(), "truth")])
        cmd = command.replace("PID", str(pid))
        w = harness.spawn(["bash", "-c", f"exec {cmd}"], cwd=tmpdir(), env=shell_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        first = first_event_line(w.stdout)
        assert first and not first.startswith("mmapwatch: "), f"{cmd!r}: {first!r}"
        if w.poll() is None:
            w.send_signal(signal.SIGINT)
        rest, _ = w.communicate(timeout=harness.WAIT_S * 2)
        assert w.returncode == 0, f"{cmd!r}: exit {w.returncode}: {first}{rest}"
        assert harness.tracer_pid(pid) == 0
        send_go(p)
        wait_fixture(p, 0)


# --------------------------------------------------------------------------
# make install


def test_make_install_and_uninstall():
    dest = tmpdir()
    make = ["make", "-s", "--no-print-directory", "-C", ROOT, f"DESTDIR={dest}",
            "PREFIX=/opt/mw", f"BIN={os.path.abspath(MMAPWATCH)}"]
    r = subprocess.run([*make, "install"], capture_output=True, text=True,
                       timeout=harness.WAIT_S * 4)
    assert r.returncode == 0, f"make install: {r.stdout}{r.stderr}"
    want = {
        "opt/mw/bin/mmapwatch": 0o755,
        "opt/mw/share/man/man1/mmapwatch.1": 0o644,
        "opt/mw/share/bash-completion/completions/mmapwatch": 0o644,
        "opt/mw/share/doc/mmapwatch/README.md": 0o644,
        "opt/mw/share/doc/mmapwatch/guide.md": 0o644,
    }
    for rel, mode in want.items():
        path = os.path.join(dest, rel)
        assert os.path.isfile(path), f"make install did not install /{rel}"
        assert os.stat(path).st_mode & 0o7777 == mode, f"/{rel}: mode {os.stat(path).st_mode:o}"
    r = subprocess.run([os.path.join(dest, "opt/mw/bin/mmapwatch"), "--version"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("mmapwatch "), r
    with open(os.path.join(dest, "opt/mw/share/man/man1/mmapwatch.1"), "rb") as f:
        assert f.read() == src("docs/mmapwatch.1").encode()

    # man finds it by MANPATH, renders it without a warning, and bash loads
    # the completion.
    env = {**os.environ, "MANPATH": os.path.join(dest, "opt/mw/share/man"), "MANWIDTH": "80"}
    r = subprocess.run(["man", "-w", "mmapwatch"], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == \
        os.path.join(dest, "opt/mw/share/man/man1/mmapwatch.1"), r
    r = subprocess.run(["man", "--warnings", "-l", os.path.join(ROOT, "docs/mmapwatch.1")],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "" and "mmapwatch maps" in r.stdout, r.stderr
    comp = os.path.join(dest, "opt/mw/share/bash-completion/completions/mmapwatch")
    r = subprocess.run(["bash", "-c", f"source {comp} && complete -p mmapwatch"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "_mmapwatch" in r.stdout, r

    r = subprocess.run([*make, "uninstall"], capture_output=True, text=True,
                       timeout=harness.WAIT_S)
    assert r.returncode == 0, f"make uninstall: {r.stdout}{r.stderr}"
    left = [os.path.join(dp, f) for dp, _, fs in os.walk(dest) for f in fs]
    assert left == [], f"make uninstall left {left}"


# --------------------------------------------------------------------------
# claims of the man page


def test_sigkilled_process_is_dumped_at_its_end():
    """DUMPS says a process killed by SIGKILL (the OOM killer's signal)
    still has its regions dumped at its end, reason exit, byte-exact,
    before its exit event."""
    import test_autodump as ad
    for mode in ("launch", "attach"):
        w, r = ad._exit_case(mode, ("kill", signal.SIGKILL))
        if mode == "launch":
            w.finish(expect_rc=128 + signal.SIGKILL)
        else:
            w.finish(fixture_rc=-signal.SIGKILL)
        ad._check_exit_dump(w, r, 128 + signal.SIGKILL, "SIGKILL")


def test_man_page_claims():
    man = man_text()
    assert "null; reserved" not in man, "the man page still calls the metadata's stack reserved"
    assert "cannot be dumped at its end" not in man
    m = re.search(r"\.B stack\n(.*?)\n\.(?:TP|PP|SH)", man, re.S)
    assert m and "-k" in m.group(1), "the dump metadata's stack is not described with -k"
