"""`make static`: build/static/mmapwatch must need nothing from the
filesystem it runs on (a FROM scratch or distroless image), and work.

The ELF is read here, in Python: no program interpreter (PT_INTERP) and
no shared library needed (DT_NEEDED), so the kernel alone can start it.
Then it runs: --version, a launch trace of a fixture compared with the
fixture's truth (libseccomp linked in: the filter works), and, as root,
a run from an otherwise empty root directory with only /proc mounted,
attaching to a process outside it by name, as a sidecar image would.
`make test` builds the binary and passes it as MMAPWATCH_STATIC; run
alone, the test builds it with make.
"""
import json
import os
import secrets
import shutil
import struct
import subprocess

import harness
from harness import (Skip, events_of, fixture, hexaddr, read_truth, send_go, start_fixture,
                     tmpdir, wait_fixture)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

PT_DYNAMIC, PT_INTERP = 2, 3
DT_NULL, DT_NEEDED = 0, 1


def static_binary():
    path = os.environ.get("MMAPWATCH_STATIC")
    if path:
        return path
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    r = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "static"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=600)
    assert r.returncode == 0, f"make static failed:\n{r.stdout}"
    return os.path.join(ROOT, "build", "static", "mmapwatch")


def elf_dependencies(path):
    """(interpreter or None, [DT_NEEDED offsets]) of a 64-bit little-endian
    ELF file."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\x7fELF", f"{path} is not an ELF file"
    assert data[4] == 2 and data[5] == 1, f"{path}: not ELF64 little-endian"
    e_phoff, = struct.unpack_from("<Q", data, 0x20)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 0x36)
    interp, needed = None, []
    for i in range(e_phnum):
        p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == PT_INTERP:
            interp = data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()
        elif p_type == PT_DYNAMIC:
            # static-pie has a dynamic section, but needs no library
            for off in range(p_offset, p_offset + p_filesz, 16):
                tag, val = struct.unpack_from("<qQ", data, off)
                if tag == DT_NULL:
                    break
                if tag == DT_NEEDED:
                    needed.append(val)
    return interp, needed


def test_static_binary_needs_no_library():
    path = static_binary()
    interp, needed = elf_dependencies(path)
    assert interp is None, f"{path} asks for the interpreter {interp}"
    assert needed == [], f"{path} needs {len(needed)} shared libraries"
    # The check itself is sound: the dynamic build has both.
    interp, needed = elf_dependencies(harness.MMAPWATCH)
    assert interp and needed, "the dynamic binary looks static: the ELF reader is wrong"


def test_static_binary_runs():
    path = static_binary()
    r = subprocess.run([path, "--version"], capture_output=True, text=True,
                       timeout=harness.WAIT_S)
    assert r.returncode == 0 and r.stdout.startswith("mmapwatch "), r
    # A launch trace: the seccomp filter (libseccomp) and the whole loop.
    truth = os.path.join(tmpdir(), "truth")
    out = os.path.join(tmpdir(), "events.jsonl")
    sizes = [3 * 1024 * 1024 + 17, 8192]
    r = subprocess.run([path, "--json", "-o", out, "--no-dump", "--",
                        fixture("trace_map"), truth, *map(str, sizes)],
                       capture_output=True, text=True, timeout=harness.WAIT_S * 2)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}"
    events = harness.read_events(out)
    harness.check_event_fields(events)
    recs = read_truth(truth)
    assert [rec["len"] for rec in recs] == sizes, recs
    maps = [(e["tid"], hexaddr(e["addr"]), e["len"]) for e in events_of(events, "mmap")]
    for rec in recs:
        assert maps.count((rec["tid"], hexaddr(rec["addr"]), rec["len"])) == 1, (rec, maps)


def test_static_binary_unwinds_and_demangles():
    """libunwind, libstdc++'s demangler and liblzma linked in statically."""
    path = static_binary()
    truth = os.path.join(tmpdir(), "truth")
    out = os.path.join(tmpdir(), "events.jsonl")
    r = subprocess.run([path, "--json", "-o", out, "--no-dump", "-k", "-m", "16M", "--",
                        fixture("stack_cpp"), truth],
                       capture_output=True, text=True, timeout=harness.WAIT_S * 2)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}"
    (ev,) = events_of(harness.read_events(out), "mmap")
    names = [f["symbol"].rsplit("+", 1)[0] for f in ev["stack"][1:3]]
    assert names == ["arena::ChunkAllocator::allocate_chunk(unsigned long)",
                     "arena::Pool<16>::grow(int)"], ev["stack"]


def test_static_binary_from_an_empty_root():
    """The image case: a root directory holding the binary and an empty
    /proc (mounted in a mount namespace of its own), nothing else; it finds
    a process outside by --comm and attaches (--duration 0 detaches at
    once)."""
    if os.geteuid() != 0:
        raise Skip("needs root: chroot and a proc mount")
    if not shutil.which("unshare"):
        raise Skip("unshare (util-linux) is not installed")
    path = static_binary()
    root = tmpdir()
    os.chmod(root, 0o755)
    os.mkdir(os.path.join(root, "proc"))
    shutil.copy(path, os.path.join(root, "mmapwatch"))
    name = "mwst" + secrets.token_hex(5)
    exe = os.path.join(tmpdir(), name)
    os.symlink(fixture("trace_map"), exe)
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            'mount -t proc proc "$1/proc"', "sh", root],
                           capture_output=True, text=True, timeout=harness.WAIT_S)
    if probe.returncode != 0:  # an unprivileged container, say
        raise Skip(f"cannot mount /proc in a mount namespace here: {probe.stderr.strip()}")
    p, pid = start_fixture([exe, "-w", os.path.join(tmpdir(), "truth")])
    script = ('mount -t proc proc "$1/proc" && exec chroot "$1" /mmapwatch --json -o - '
              '--no-dump --duration 0 --comm "$2"')
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                        "sh", root, name], capture_output=True, text=True,
                       timeout=harness.WAIT_S)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr!r}"
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert [e["event"] for e in events] == ["schema", "target", "attach", "detach"], events
    assert all(e["pid"] == pid for e in events[1:]), events
    assert harness.tracer_pid(pid) == 0
    send_go(p)
    wait_fixture(p)
