"""End to end on a real JVM running real Netty: the case mmapwatch was built
for (see docs/jvm.md).

The program is tests/java/NettyArenas.java, built by the Makefile into
build/java against Debian's libnetty-java (Netty 4.1.48) and run on the
machine's JDK: an HTTP/2 server and client over 127.0.0.1, with Netty's
pooled allocator (direct buffers, one arena per event loop). In Netty 4.1.48
each direct arena's first allocation makes a chunk of pageSize << maxOrder
(8 KiB << 11 = 16 MiB), which the JDK mallocs and glibc maps with one mmap
of the chunk plus 16 bytes of malloc header, rounded up to a page: 16 MiB +
4 KiB. The program writes its own truth: each event loop's name, tid and
arena, the address of each chunk's memory, and the text it kept in the
arenas (the server keeps the first read of each connection, which begins
with the HTTP/2 preface, and the first request body; the client keeps the
body of its first request on each connection).

Checked, in launch mode, in attach mode (attached after every event-loop
thread exists, before any chunk), and with -Dio.netty.allocator.maxOrder=9
(4 MiB chunks, --min-size 4M):

- every chunk's mmap is reported, once, and no other mmap of that length;
  its address is the chunk's address minus glibc's 16-byte header;
- it is attributed to the event-loop thread bound to that arena (tid and
  thread name);
- its dump (made when the JVM exits: --delay 1h, so no timed dump comes
  first and finds the chunk still empty) holds what that thread kept: the
  preface and the request bodies, as the client sent them;
- the JVM exits 0 by itself, and its stdout and stderr are what they are
  untraced. The program also makes HotSpot use its SIGSEGV handler (10,000
  field reads through null, turned into NullPointerExceptions) and stop at
  safepoints (System.gc()) while traced, and reports both on stdout.

glibc's mmap threshold is pinned (MALLOC_MMAP_THRESHOLD_=131072, its
starting value): left dynamic, it rises past 16 MiB when the JVM frees a
large mmapped block, and a chunk would then come from a malloc heap without
an mmap of its own (DESIGN.md, point 10).

Without java, javac or the Netty jars the tests fail and say to run
scripts/deps.sh, which installs them (CI starts from a clean machine).
"""
import os
import re
import shutil
import signal
import subprocess
import threading

import harness
from harness import (MMAPWATCH, events_of, hexaddr, read_events, read_truth, send_go,
                     spawn, tmpdir, truth_of)

JAVA_DIR = os.path.abspath(os.path.join(harness.FIXTURE_DIR, "..", "java"))
# Quick start-up on a small machine: client compiler only, a small serial heap.
JVM_FLAGS = ["-Xshare:auto", "-XX:TieredStopAtLevel=1", "-Xmx128m", "-XX:+UseSerialGC"]
PAGE = 4096
MIB = 1024 * 1024
GLIBC_MALLOC_HEADER = 16  # an mmapped malloc block starts 2 * sizeof(size_t) in
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# A JVM run, traced or not, takes a few seconds; this bounds a hung one.
RUN_TIMEOUT_S = 100


def jvm_env():
    env = dict(os.environ)
    env["MALLOC_MMAP_THRESHOLD_"] = "131072"
    # The JVM reads these and says so on stderr: keep the runs comparable.
    for name in ("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS"):
        env.pop(name, None)
    return env


def java_command(truth, *args, jvm_flags=()):
    """The command line of one NettyArenas run writing its truth to TRUTH."""
    fix = ("run scripts/deps.sh as root (it installs default-jdk-headless and "
           "libnetty-java), then make test")
    java = shutil.which("java")
    if java is None:
        raise AssertionError(f"no java on PATH: {fix}")
    cpfile = os.path.join(JAVA_DIR, "classpath")
    if not os.path.exists(os.path.join(JAVA_DIR, "NettyArenas.class")) or \
            not os.path.exists(cpfile):
        raise AssertionError(f"{JAVA_DIR}/NettyArenas.class is not built (no javac or "
                             f"libnetty-java when make ran): {fix}")
    with open(cpfile, encoding="utf-8") as f:
        jars = f.read().strip()
    missing = [j for j in jars.split(":") if not os.path.exists(j)]
    if missing:
        raise AssertionError(f"missing {', '.join(missing)}: {fix}")
    return [java, *JVM_FLAGS, *jvm_flags, "-cp", f"{JAVA_DIR}:{jars}", "NettyArenas",
            "--truth", truth, *args]


def run_untraced(jvm_flags=()):
    """One run without a tracer: (stdout, stderr), after checking it exits 0."""
    truth = os.path.join(tmpdir(), "truth")
    p = subprocess.run(java_command(truth, jvm_flags=jvm_flags), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=jvm_env(),
                       stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT_S)
    assert p.returncode == 0, f"untraced JVM exited {p.returncode}: {p.stderr!r}"
    return p.stdout, p.stderr


def run_launch(opts, jvm_flags=(), args=()):
    """mmapwatch --json -o FILE OPTS -- java ...: returns (rc, stdout,
    stderr, events, truth). mmapwatch's stdout is the JVM's (events go to
    the file), its stderr the JVM's plus anything mmapwatch says."""
    work = tmpdir()
    truth = os.path.join(work, "truth")
    out = os.path.join(work, "events.jsonl")
    argv = [MMAPWATCH, "--json", "-o", out, *opts, "--",
            *java_command(truth, *args, jvm_flags=jvm_flags)]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=jvm_env(), stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT_S)
    events = read_events(out)
    harness.check_event_fields(events)
    return p.returncode, p.stdout, p.stderr, events, read_truth(truth)


def check_chunks(events, truth, chunk_size, dumps, dump_reason="exit"):
    """Every Netty chunk caught, attributed and (if DUMPS) dumped with the
    text kept in it. Returns the chunks' mmap events."""
    alloc = truth_of(truth, "allocator")
    assert len(alloc) == 1, f"truth without one allocator record: {truth}"
    alloc = alloc[0]
    pid = alloc["pid"]
    assert alloc["chunk_size"] == chunk_size, f"Netty's chunks are not {chunk_size} bytes: {alloc}"
    assert alloc["default_chunks"] == 0, f"Netty's default allocator made chunks too: {alloc}"
    region = chunk_size + PAGE  # what glibc maps for malloc(chunk_size)

    loops = truth_of(truth, "loop")
    workers = [lp for lp in loops if lp["role"] in ("server", "client")]
    arenas = [lp["arena"] for lp in workers]
    assert len(workers) == alloc["direct_arenas"] and sorted(arenas) == list(range(len(workers))), \
        f"each server and client event loop should have a direct arena of its own: {loops}"
    by_arena = {lp["arena"]: lp for lp in workers}

    chunks = truth_of(truth, "chunk")
    assert len(chunks) == alloc["chunks"] and {c["arena"] for c in chunks} == set(arenas), \
        f"every arena should have made a chunk: {chunks}"

    maps = [e for e in events_of(events, "mmap") if e["len"] == region]
    assert len(maps) == len(chunks), \
        f"{len(maps)} mmaps of {region} bytes reported for {len(chunks)} chunks: {maps}"
    caught = []
    for c in chunks:
        addr = hexaddr(c["addr"])
        found = [e for e in maps if hexaddr(e["addr"]) + GLIBC_MALLOC_HEADER == addr]
        assert len(found) == 1, f"chunk {c} has no mmap event of its own: {maps}"
        ev = found[0]
        loop = by_arena[c["arena"]]
        assert (ev["pid"], ev["tid"], ev["comm"]) == (pid, loop["tid"], loop["name"][:15]), \
            f"chunk of arena {c['arena']} should be mapped by {loop}: {ev}"
        assert (ev["prot"], ev["flags"], ev["fd"], ev["offset"]) == \
            ("rw-", "MAP_PRIVATE|MAP_ANONYMOUS", -1, 0), f"not a malloc'd block: {ev}"
        caught.append(ev)
        if dumps:
            check_dump(events, ev, loop, truth_of(truth, "kept"), dump_reason)
    return caught


def check_dump(events, ev, loop, kept, reason="exit"):
    """The one dump of the chunk mapped by EV holds what LOOP kept in it."""
    found = [e for e in events_of(events, "dump")
             if e["addr"] == ev["addr"] and e["len"] == ev["len"]]
    assert len(found) == 1, f"chunk {ev['addr']} dumped {len(found)} times: {found}"
    dump = found[0]
    assert (dump["tid"], dump["comm"], dump["reason"]) == (ev["tid"], ev["comm"], reason), \
        f"dump of {ev} should name its mapping thread and be made at {reason}: {dump}"
    with open(dump["path"], "rb") as f:
        data = f.read()
    assert len(data) == ev["len"], f"{dump['path']} is {len(data)} bytes, not {ev['len']}"
    mine = [k for k in kept if k["tid"] == loop["tid"]]
    # The server keeps a preface and a body, the client a body, per connection.
    wanted = {"server": {"preface", "request"}, "client": {"request"}}[loop["role"]]
    assert {k["what"] for k in mine} == wanted, f"{loop['name']} kept {mine}"
    for k in mine:
        text = PREFACE if k["what"] == "preface" else k["marker"].encode()
        assert text in data, f"{text!r} ({loop['name']}) not in the dump {dump['path']}"


def assert_exit_event(events, pid):
    exits = [e for e in events_of(events, "exit") if e["pid"] == pid]
    assert len(exits) == 1 and exits[0]["status"] == 0 and "signal" not in exits[0], \
        f"the JVM should exit 0 once: {exits}"


# --------------------------------------------------------------------------


def test_jvm_launch():
    """mmapwatch -m 16M -- java: every 16 MiB + 4 KiB Netty chunk caught,
    from the right event loop, its dump holding the client's text; the JVM
    unaffected."""
    want_out, want_err = run_untraced()
    dump_dir = os.path.join(tmpdir(), "dumps")
    rc, out, err, events, truth = run_launch(
        ["-m", "16M", "-k", "--stack-depth", "256", "--delay", "1h", "--dump-dir", dump_dir])
    assert rc == 0, f"mmapwatch (the JVM's status) exited {rc}; stderr={err!r}"
    assert out == want_out, f"stdout traced:\n{out}\nuntraced:\n{want_out}"
    assert err == want_err, f"stderr traced: {err!r}, untraced: {want_err!r}"
    for ev in check_chunks(events, truth, 16 * MIB, dumps=True):
        check_java_stack(ev, check_native_stack(ev))
    assert_exit_event(events, truth_of(truth, "allocator")[0]["pid"])


def check_native_stack(ev):
    """-k: the chunk's mmap shows the allocation path, innermost first:
    glibc's malloc, libjvm.so's os::malloc, then Unsafe_AllocateMemory0
    (ByteBuffer.allocateDirect's native half), then Java code (JIT or
    interpreter frames: anonymous memory, named only by a perf map)."""
    stack = ev["stack"]
    names = [f["symbol"].rsplit("+", 1)[0] if f["symbol"] else None for f in stack]
    modules = [os.path.basename(f["module"]) if f["module"] else None for f in stack]
    assert modules[0].startswith("libc.so") and names.index("malloc") >= 1, (names, modules)
    i = names.index("os::malloc(unsigned long, MEMFLAGS)")
    assert names[i + 1] == "Unsafe_AllocateMemory0", names
    assert modules[i] == modules[i + 1] == "libjvm.so", modules
    assert i > names.index("malloc") and stack[i + 2]["module"] is None, (names, stack)
    return stack[i + 2:]


# The Netty allocation path, as the JVM's structures name it (with no perf
# map): an arena's chunk is made by PoolArena$DirectArena.newChunk, which
# calls its allocateDirect (the JIT may inline the latter into the former).
NETTY_PATH = re.compile(r"io\.netty\.buffer\.PoolArena(\$DirectArena)?\.(newChunk|allocateDirect)\(")
JVM_SOURCES = ("jvm-compiled", "jvm-inlined", "jvm-interpreted")
# The JDK's and Netty's path from Unsafe.allocateMemory to the arena's new
# chunk, innermost first: every one of them has a frame, interpreted,
# compiled or inlined into a compiled caller (from the nmethod's scopes).
FULL_PATH = ["jdk.internal.misc.Unsafe.allocateMemory0(long)",
             "jdk.internal.misc.Unsafe.allocateMemory(long)",
             "java.nio.DirectByteBuffer.<init>(int)",
             "java.nio.ByteBuffer.allocateDirect(int)",
             "io.netty.buffer.PoolArena$DirectArena.allocateDirect(int)",
             "io.netty.buffer.PoolArena$DirectArena.newChunk(int, int, int, int)",
             "io.netty.buffer.PoolArena.allocateNormal(io.netty.buffer.PooledByteBuf, int, int)"]


def check_java_stack(ev, java_frames, kinds=JVM_SOURCES):
    """The Java part of a chunk's stack (JAVA_FRAMES: the frames above
    Unsafe_AllocateMemory0) named from the JVM's own structures, with no
    perf map: Unsafe.allocateMemory0 first, then the JDK's and Netty's
    allocation path, every frame named, down to the thread's start. Returns
    the source of the frame that names the Netty path."""
    names = [f["symbol"] for f in java_frames]
    assert "stack_truncated" not in ev, f"stack cut short: {names}"
    assert names[:len(FULL_PATH)] == FULL_PATH, f"not the allocation path: {names}"
    assert all(f["source"] in JVM_SOURCES for f in java_frames[:len(FULL_PATH)]), java_frames
    # An inlined frame shares its ip with the compiled frame that holds it.
    for inner, outer in zip(java_frames, java_frames[1:]):
        if inner["source"] == "jvm-inlined":
            assert outer["source"] in ("jvm-inlined", "jvm-compiled") and \
                outer["ip"] == inner["ip"], (inner, outer)
    netty = [f for f in java_frames if f["symbol"] and NETTY_PATH.match(f["symbol"])]
    assert netty and netty[0]["source"] in kinds, \
        f"the Netty allocation path is not named ({kinds}): {java_frames}"
    unnamed = [f for f in java_frames if f["symbol"] in (None, "[java]")]
    assert not unnamed, f"frames left unnamed: {unnamed} in {names}"
    assert names[-1].startswith("clone3") or names[-1].startswith("start_thread"), \
        f"the walk did not reach the thread's start: {names}"
    return netty[0]["source"]


def attach_to_jvm(jvm_args, *opts):
    """A JVM started with --wait-stdin and JVM_ARGS, mmapwatch -m 16M -k
    --delay 1h OPTS attached to it once its event loops run, and the JVM
    let go: (the JVM's Popen, mmapwatch's, the truth file)."""
    work = tmpdir()
    truth = os.path.join(work, "truth")
    p = spawn(java_command(truth, "--wait-stdin", *jvm_args), stdin=subprocess.PIPE,
              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=jvm_env())
    ready = harness.read_line(p.stdout, RUN_TIMEOUT_S / 2)
    assert ready == f"ready {p.pid}\n", f"the JVM did not get ready: {ready!r}, rc={p.poll()}"
    assert not os.path.exists(f"/tmp/perf-{p.pid}.map")
    mw = harness.start_attach_many([p.pid], "-m", "16M", "-k", "--stack-depth", "256",
                                   "--delay", "1h", "--dump-dir", os.path.join(work, "dumps"),
                                   *opts)
    send_go(p)
    return p, mw, truth


def test_jvm_attach():
    """mmapwatch -p on a JVM whose event loops already run: the same
    chunks caught and dumped, Java frames named with no perf map (no
    jcmd); mmapwatch exits 0 when the JVM has."""
    want_out, want_err = run_untraced()
    p, mw, truth = attach_to_jvm(())
    out, err = p.communicate(timeout=RUN_TIMEOUT_S / 2)
    assert p.returncode == 0, f"the JVM exited {p.returncode}; stderr={err!r}"
    assert out == want_out, f"stdout traced:\n{out}\nuntraced:\n{want_out}"
    assert err == want_err, f"stderr traced: {err!r}, untraced: {want_err!r}"
    rc, events, mw_err = harness.finish_attach_many(mw, timeout=RUN_TIMEOUT_S / 2)
    assert rc == 0, f"mmapwatch exited {rc} after the JVM; stderr={mw_err!r}"
    harness.check_event_fields(events)
    truth = read_truth(truth)
    attach = events_of(events, "attach")
    loops = truth_of(truth, "loop")
    assert len(attach) == 1 and attach[0]["pid"] == p.pid and \
        attach[0]["threads"] > len(loops), f"attach should seize every thread: {attach}"
    for ev in check_chunks(events, truth, 16 * MIB, dumps=True):
        check_java_stack(ev, check_native_stack(ev))
    assert_exit_event(events, p.pid)


def test_jvm_attach_perf():
    """The headline use: mmapwatch --source perf -k -p on a JVM whose event
    loops already run, nothing stopped. Every chunk caught with its thread
    and its Java frames named; the chunks are dumped at mmapwatch's SIGINT
    while the JVM holds them (this source cannot hold a thread at its exit
    for a dump, so dumps at exit are skips here: see test_jvm_attach)."""
    harness.require_perf()
    want_out, want_err = run_untraced()
    p, mw, truth = attach_to_jvm(["--hold"], "--source", "perf")
    out = []
    while True:  # the traffic is done and the kept text written once it holds
        line = harness.read_line(p.stdout, RUN_TIMEOUT_S / 2)
        assert line, f"the JVM ended before holding: rc={p.poll()}"
        if line == "holding\n":
            break
        out.append(line)
    mw.send_signal(signal.SIGINT)  # dumps what waits for its delay, then detaches
    rc, events, mw_err = harness.finish_attach_many(mw, timeout=RUN_TIMEOUT_S / 2)
    assert rc == 0, f"mmapwatch exited {rc}; stderr={mw_err!r}"
    rest, err = p.communicate(input="x", timeout=RUN_TIMEOUT_S / 2)
    assert p.returncode == 0, f"the JVM exited {p.returncode}; stderr={err!r}"
    assert "".join(out) + rest == want_out, f"stdout traced:\n{out}{rest}\nuntraced:\n{want_out}"
    assert err == want_err, f"stderr traced: {err!r}, untraced: {want_err!r}"
    harness.check_event_fields(events)
    assert not events_of(events, "lost"), f"records lost: {events_of(events, 'lost')}"
    truth = read_truth(truth)
    for ev in check_chunks(events, truth, 16 * MIB, dumps=True, dump_reason="delay"):
        check_java_stack(ev, check_native_stack(ev))


# Churn: 128 KiB chunks (maxOrder 4), each made and freed CHURN times per
# event loop, so that the allocation path is first interpreted, then
# compiled by C1 (-XX:+PrintCompilation says when). glibc maps each with
# an mmap of the chunk + 4 KiB.
CHURN = 1000
CHURN_FLAGS = ["-Dio.netty.allocator.maxOrder=4", "-XX:+PrintCompilation"]
CHURN_REGION = 128 * 1024 + PAGE
COMPILED_NEW_CHUNK = "io.netty.buffer.PoolArena$DirectArena::newChunk"


def check_churn(events, truth, out):
    """Every churned chunk's stack names the Netty path from the JVM's
    structures: interpreted at first, compiled once C1 has compiled it."""
    assert COMPILED_NEW_CHUNK in out, \
        f"-XX:+PrintCompilation never reported {COMPILED_NEW_CHUNK}: the test's premise failed"
    churn = truth_of(truth, "churn")
    tids = {c["tid"] for c in churn}
    assert len(churn) == 4 and all(c["count"] == CHURN for c in churn), churn
    maps = [e for e in events_of(events, "mmap")
            if e["len"] == CHURN_REGION and e["tid"] in tids]
    # Each churned chunk is mapped once (a few more chunks come from the
    # traffic before the churn)... when glibc maps it. glibc takes a request
    # from a free chunk of the thread's arena before it thinks of mmap (the
    # threshold only chooses between growing the heap and mapping), so a
    # loop whose arena held a free chunk of 132 KiB or more when the churn
    # began makes all its chunks there, without a system call to see (one
    # run in 20 here: 1 chunk mapped of 1,000). Such a loop has next to no
    # churned mmaps; a tracer that lost events would show some part.
    per_loop = {t: sum(1 for e in maps if e["tid"] == t) for t in tids}
    full = [t for t in tids if per_loop[t] >= CHURN]
    from_heap = [t for t in tids if per_loop[t] <= CHURN // 100]
    assert len(full) >= 2 and len(full) + len(from_heap) == len(tids), \
        f"churned chunks reported per event loop (of {CHURN} each): {per_loop}"
    sources = []
    for ev in maps:
        sources.append(check_java_stack(ev, check_native_stack(ev)))
    first = [s for s in sources[:20]]
    assert "jvm-interpreted" in first, f"the first chunks were not interpreted: {first}"
    compiled = [s for s in sources if s in ("jvm-compiled", "jvm-inlined")]
    assert sources[-1] in ("jvm-compiled", "jvm-inlined") and len(compiled) > len(sources) // 2, \
        f"the allocation path never named as compiled code: {sources[-40:]}"
    # C1 inlines ByteBuffer.allocateDirect and DirectArena.allocateDirect
    # into newChunk: the last stacks show them from the scope data.
    assert "jvm-inlined" in sources[-20:], f"no inlined frame named: {sources[-20:]}"


def test_jvm_java_frames_interpreted_then_compiled_launch():
    """mmapwatch -k -- java: the chunk allocation path named from the
    JVM's structures while it is interpreted and after C1 compiled it."""
    rc, out, err, events, truth = run_launch(
        ["-m", "128K", "-k", "--stack-depth", "256", "--no-dump"],
        jvm_flags=CHURN_FLAGS, args=["--churn", str(CHURN)])
    assert rc == 0, f"mmapwatch (the JVM's status) exited {rc}; stderr={err!r}"
    check_churn(events, truth, out)


def test_jvm_java_frames_interpreted_then_compiled_attach():
    """The same, attached to the running JVM (no perf map, no jcmd)."""
    work = tmpdir()
    truth = os.path.join(work, "truth")
    p = spawn(java_command(truth, "--wait-stdin", "--churn", str(CHURN), jvm_flags=CHURN_FLAGS),
              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
              env=jvm_env())
    ready = harness.read_line(p.stdout, RUN_TIMEOUT_S / 2)
    while ready and not ready.startswith("ready "):
        ready = harness.read_line(p.stdout, RUN_TIMEOUT_S / 2)  # -XX:+PrintCompilation lines
    assert ready == f"ready {p.pid}\n", f"the JVM did not get ready: {ready!r}, rc={p.poll()}"
    mw = harness.start_attach_many([p.pid], "-m", "128K", "-k", "--stack-depth", "256",
                                   "--no-dump")
    # Thousands of events with deep stacks: read them while the JVM runs,
    # or mmapwatch (and the threads it holds) would wait on a full pipe.
    finished = []
    drain = threading.Thread(target=lambda: finished.append(
        harness.finish_attach_many(mw, timeout=RUN_TIMEOUT_S)), daemon=True)
    drain.start()
    send_go(p)
    out, err = p.communicate(timeout=RUN_TIMEOUT_S)
    assert p.returncode == 0, f"the JVM exited {p.returncode}; stderr={err!r}"
    drain.join(RUN_TIMEOUT_S / 2)
    assert finished, "mmapwatch did not exit after the JVM"
    rc, events, mw_err = finished[0]
    assert rc == 0, f"mmapwatch exited {rc} after the JVM; stderr={mw_err!r}"
    harness.check_event_fields(events)
    check_churn(events, read_truth(truth), out)


def test_jvm_perf_map_names_compiled_code_not_interpreted_frames():
    """With a perf map (jcmd Compiler.perfmap before attaching), the code
    it lists is named from it (the JVM's own word), but interpreted frames,
    which it calls only "Interpreter", are still named from the JVM's
    structures."""
    work = tmpdir()
    truth = os.path.join(work, "truth")
    p = spawn(java_command(truth, "--wait-stdin"), stdin=subprocess.PIPE,
              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=jvm_env())
    ready = harness.read_line(p.stdout, RUN_TIMEOUT_S / 2)
    assert ready == f"ready {p.pid}\n", f"the JVM did not get ready: {ready!r}, rc={p.poll()}"
    perf_map = f"/tmp/perf-{p.pid}.map"
    jcmd = subprocess.run([os.path.join(os.path.dirname(os.path.realpath(shutil.which("java"))),
                                        "jcmd"), str(p.pid), "Compiler.perfmap"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=RUN_TIMEOUT_S / 2)
    try:
        assert jcmd.returncode == 0 and os.path.getsize(perf_map) > 0, jcmd.stdout
        with open(perf_map, encoding="utf-8", errors="replace") as f:
            assert any(line.rstrip().endswith(" Interpreter") for line in f), \
                "the perf map does not list the interpreter"
        mw = harness.start_attach_many([p.pid], "-m", "16M", "-k", "--stack-depth", "256",
                                       "--no-dump")
        send_go(p)
        out, err = p.communicate(timeout=RUN_TIMEOUT_S / 2)
    finally:
        if os.path.exists(perf_map):
            os.unlink(perf_map)
    assert p.returncode == 0, f"the JVM exited {p.returncode}; stderr={err!r}"
    rc, events, mw_err = harness.finish_attach_many(mw, timeout=RUN_TIMEOUT_S / 2)
    assert rc == 0, f"mmapwatch exited {rc} after the JVM; stderr={mw_err!r}"
    for ev in check_chunks(events, read_truth(truth), 16 * MIB, dumps=False):
        java_frames = check_native_stack(ev)
        sources = [f["source"] for f in java_frames]
        assert "perf-map" in sources, f"nothing named from the perf map: {java_frames}"
        assert "jvm-interpreted" in sources, f"interpreted frames not named: {java_frames}"
        for f in java_frames:
            if f["source"] == "perf-map":
                assert not f["symbol"].startswith("Interpreter"), f


def test_jvm_max_order_9():
    """-Dio.netty.allocator.maxOrder=9 (the chunk size of Netty 4.1.75 and
    later): 4 MiB + 4 KiB chunks, caught with --min-size 4M."""
    rc, out, err, events, truth = run_launch(
        ["-m", "4M", "--no-dump"], jvm_flags=["-Dio.netty.allocator.maxOrder=9"])
    assert rc == 0, f"mmapwatch (the JVM's status) exited {rc}; stderr={err!r}"
    assert "chunks of 4194304 bytes" in out, f"unexpected output: {out!r}"
    check_chunks(events, truth, 4 * MIB, dumps=False)
    big = [e for e in events_of(events, "mmap") if e["len"] == 16 * MIB + PAGE]
    assert not big, f"16 MiB chunks with maxOrder=9: {big}"


def check_regrow(events, truth):
    """Every marker the client loops wrote into chunks made after glibc's
    threshold moved is in a growth event of that loop (its thread name, a
    malloc heap, a stack through the JDK's Unsafe_AllocateMemory0) whose
    dump holds the marker."""
    regrow = truth_of(truth, "regrow")
    assert len(regrow) == 2 * 3, regrow  # two client loops, three buffers each
    growth = events_of(events, "growth")
    for r in regrow:
        at = hexaddr(r["addr"])
        mine = [g for g in growth if g["tid"] == r["tid"] and
                hexaddr(g["new_addr"]) <= at < hexaddr(g["new_addr"]) + g["new_len"]]
        assert len(mine) == 1, f"{r}: {mine}; growth: {[(g['comm'], g['new_addr']) for g in growth]}"
        g = mine[0]
        # Which of malloc's heaps a thread gets is glibc's choice: its own
        # arena, or the main one (the brk heap) when that is free.
        assert g["comm"] == r["thread"] and g["kind"] in ("malloc_heap", "brk_heap"), g
        assert any("Unsafe_AllocateMemory0" in (f.get("symbol") or "") for f in g["stack"]), g
        (dump,) = [d for d in events_of(events, "dump")
                   if d["addr"] == g["new_addr"] and d["len"] == g["new_len"]]
        with open(dump["path"], "rb") as f:
            f.seek(at - hexaddr(dump["addr"]))
            assert f.read(len(r["marker"])) == r["marker"].encode(), (r, dump)


REGROW_FLAGS = ["-XX:MaxDirectMemorySize=512m"]  # room for the huge chunk


def regrow_env():
    env = jvm_env()
    env.pop("MALLOC_MMAP_THRESHOLD_")  # the threshold moves, as in production
    return env


def test_jvm_regrow_after_the_threshold_moved():
    """The case of docs/jvm.md's glibc section, on the real JVM with glibc's
    threshold left to move: each client event loop frees a chunk larger
    than 16 MiB (Netty's unpooled chunk for a huge buffer), which raises
    glibc's threshold, then needs new 16 MiB chunks, which glibc serves
    from the loop's malloc heap by mprotect: no mmap (check_regrow)."""
    work = tmpdir()
    truth = os.path.join(work, "truth")
    out = os.path.join(work, "events.jsonl")
    argv = [MMAPWATCH, "--json", "-o", out, "--min-size", "16M", "-k", "--delay", "1h",
            "--dump-dir", os.path.join(work, "dumps"), "--",
            *java_command(truth, "--regrow", jvm_flags=REGROW_FLAGS)]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=regrow_env(), stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT_S)
    assert p.returncode == 0, f"rc={p.returncode} stderr={p.stderr[-2000:]!r}"
    check_regrow(read_events(out), read_truth(truth))


def test_jvm_regrow_attach():
    """The same, attached to the JVM once its event loops (and their malloc
    heaps) exist: the heaps are adopted from /proc/PID/maps, not reported
    as new mmaps, and their growth since is reported."""
    work = tmpdir()
    truth = os.path.join(work, "truth")
    p = spawn(java_command(truth, "--wait-stdin", "--regrow", jvm_flags=REGROW_FLAGS),
              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
              env=regrow_env())
    ready = harness.read_line(p.stdout, RUN_TIMEOUT_S / 2)
    assert ready == f"ready {p.pid}\n", f"the JVM did not get ready: {ready!r}, rc={p.poll()}"
    mw = harness.start_attach_many([p.pid], "--min-size", "16M", "-k", "--delay", "1h",
                                   "--dump-dir", os.path.join(work, "dumps"))
    send_go(p)
    out, err = p.communicate(timeout=RUN_TIMEOUT_S / 2)
    assert p.returncode == 0, f"the JVM exited {p.returncode}; stderr={err!r}"
    rc, events, mw_err = harness.finish_attach_many(mw, timeout=RUN_TIMEOUT_S / 2)
    assert rc == 0, f"mmapwatch exited {rc} after the JVM; stderr={mw_err!r}"
    check_regrow(events, read_truth(truth))
