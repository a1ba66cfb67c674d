"""-k call stacks and the -c summary, against fixtures that know their call
chains (tests/fixtures/stack_chain.c, stack_cpp.cc, stack_jit.c)."""
import json
import os
import re
import signal
import subprocess

from harness import (MMAPWATCH, LineReader, Skip, WAIT_S, events_of, fixture, hexaddr, read_truth,
                     run_launch, send_go, spawn, start_attach_many, start_fixture, tmpdir,
                     truth_of, finish_attach_many, wait_fixture)

MIB = 1 << 20
ALPHA_LEN = 16 * MIB + 4096
BETA_LEN = 4 * MIB + 4096


def functions(stack):
    """Function names of a stack, innermost first (None where unknown)."""
    return [f["symbol"].rsplit("+", 1)[0] if f["symbol"] else None for f in stack]


# What named a frame: the ELF symbols of its file, a perf map, or the JVM's
# structures (compiled, interpreted, stub; "jvm" alone: "[java]", unnamed).
JVM_SOURCES = {"jvm", "jvm-compiled", "jvm-inlined", "jvm-interpreted", "jvm-stub"}


def check_frames(stack):
    for f in stack:
        assert set(f) == {"ip", "symbol", "module", "source"}, f
        hexaddr(f["ip"])
        assert f["module"] is None or f["module"].startswith("/") or f["module"] == "[vdso]", f
        if f["source"] in ("elf", "perf-map"):
            assert "+0x" in f["symbol"], f
        elif f["source"] in JVM_SOURCES:
            assert f["module"] is None and "+0x" not in f["symbol"], f
            assert (f["symbol"] == "[java]") == (f["source"] == "jvm"), f
        else:
            assert f["source"] is None and f["symbol"] is None, f


def mmap_event_at(events, addr):
    found = [e for e in events_of(events, "mmap") if hexaddr(e["addr"]) == addr]
    assert len(found) == 1, f"{len(found)} mmap events at {addr:#x}: {events}"
    return found[0]


def check_libc_mmap_frame(frame):
    assert os.path.basename(frame["module"] or "").startswith("libc"), frame
    assert functions([frame])[0] in ("mmap", "mmap64", "__mmap", "__mmap64"), frame


def check_chain(ev, exe):
    stack = ev["stack"]
    check_frames(stack)
    check_libc_mmap_frame(stack[0])
    assert functions(stack)[1:5] == ["chain_inner", "chain_middle", "chain_outer", "main"], \
        functions(stack)
    for f in stack[1:5]:
        assert f["module"] == os.path.realpath(exe), f
    assert "stack_truncated" not in ev


def test_chain_launch():
    truth = os.path.join(tmpdir(), "truth")
    exe = fixture("stack_chain")
    rc, events, err = run_launch([exe, "chain", truth], "-k", "-m", "16M", "--no-dump")
    assert rc == 0, err
    (rec,) = truth_of(read_truth(truth), "mmap")
    ev = mmap_event_at(events, hexaddr(rec["addr"]))
    assert ev["tid"] == rec["tid"] and ev["len"] == rec["len"]
    check_chain(ev, exe)


def test_chain_attach():
    truth = os.path.join(tmpdir(), "truth")
    exe = fixture("stack_chain")
    fx, pid = start_fixture([exe, "-w", "chain", truth])
    p = start_attach_many([pid], "-k", "-m", "16M", "--no-dump")
    send_go(fx)
    wait_fixture(fx)
    rc, events, err = finish_attach_many(p)
    assert rc == 0, err
    (rec,) = truth_of(read_truth(truth), "mmap")
    check_chain(mmap_event_at(events, hexaddr(rec["addr"])), exe)


def test_only_reported_mmaps_are_unwound():
    """Without -k no stack; with -k only events of new regions carry one."""
    truth = os.path.join(tmpdir(), "truth")
    exe = fixture("stack_chain")
    rc, events, err = run_launch([exe, "chain", truth], "-m", "16M", "--no-dump")
    assert rc == 0, err
    assert all("stack" not in e for e in events), events
    rc, events, err = run_launch([exe, "summary", truth], "-k", "-m", "4M", "--no-dump")
    assert rc == 0, err
    assert all("stack" in e for e in events_of(events, "mmap"))
    unmaps = events_of(events, "munmap")
    assert len(unmaps) == 1 and "stack" not in unmaps[0], unmaps


def test_verbose_says_how_long_unwinding_took():
    """-v counts the stacks it unwound and the time they took in all and
    per stack (a third measure of -k's cost beside the benchmark's run
    times; the figure itself is not checked, only that it is one)."""
    truth = os.path.join(tmpdir(), "truth")
    exe = fixture("stack_chain")
    rc, events, err = run_launch([exe, "summary", truth], "-k", "-v", "-m", "4M", "--no-dump")
    assert rc == 0, err
    m = re.search(r"stacks: (\d+) unwound.*; ([0-9.]+) ms unwinding \(([0-9.]+) us per stack\)", err)
    assert m, err
    stacks, total_ms, per_us = int(m.group(1)), float(m.group(2)), float(m.group(3))
    assert stacks >= len(events_of(events, "mmap")) > 0, (stacks, err)
    assert total_ms > 0 and per_us > 0, err
    # Both are rounded to 0.1: the total by up to 50 us, so per stack by 50 / stacks.
    assert abs(total_ms * 1000 / stacks - per_us) <= 50 / stacks + 0.1, (total_ms, stacks, per_us)


def test_cpp_names_demangled():
    truth = os.path.join(tmpdir(), "truth")
    rc, events, err = run_launch([fixture("stack_cpp"), truth], "-k", "-m", "16M", "--no-dump")
    assert rc == 0, err
    (rec,) = truth_of(read_truth(truth), "mmap")
    ev = mmap_event_at(events, int(rec["addr"], 16))
    check_frames(ev["stack"])
    assert functions(ev["stack"])[1:5] == [
        "arena::ChunkAllocator::allocate_chunk(unsigned long)",
        "arena::Pool<16>::grow(int)",
        "arena::grow_pool(arena::Pool<16>&)",
        "main",
    ], functions(ev["stack"])


def test_stack_depth_limit():
    truth = os.path.join(tmpdir(), "truth")
    exe = fixture("stack_chain")
    for depth in (1, 3):
        rc, events, err = run_launch([exe, "chain", truth], "-k", "--stack-depth", str(depth),
                                     "-m", "16M", "--no-dump")
        assert rc == 0, err
        (ev,) = events_of(events, "mmap")
        assert len(ev["stack"]) == depth, ev
        assert ev.get("stack_truncated") is True, ev
        assert functions(ev["stack"])[1:] == ["chain_inner", "chain_middle"][:depth - 1]
        os.unlink(truth)


def test_text_output_indents_frames():
    d = tmpdir()
    truth, out = os.path.join(d, "truth"), os.path.join(d, "events.txt")
    r = subprocess.run([MMAPWATCH, "-k", "-m", "16M", "--no-dump", "-o", out, "--",
                        fixture("stack_chain"), "chain", truth],
                       stderr=subprocess.PIPE, text=True, timeout=WAIT_S * 4)
    assert r.returncode == 0, r.stderr
    lines = open(out, encoding="utf-8").read().splitlines()
    (i,) = [n for n, line in enumerate(lines) if "mmap(NULL, 17829888," in line]
    frames = []
    for line in lines[i + 1:]:
        if not line.startswith("    #"):
            break
        frames.append(line.split())
    assert [f[0] for f in frames[:5]] == ["#0", "#1", "#2", "#3", "#4"], frames
    assert [f[2].rsplit("+", 1)[0] for f in frames[1:5]] == \
        ["chain_inner", "chain_middle", "chain_outer", "main"], frames
    assert frames[1][3] == f"({os.path.realpath(fixture('stack_chain'))})", frames


def jit_stack(with_map):
    truth = os.path.join(tmpdir(), "truth")
    argv = [fixture("stack_jit"), *(["--perf-map"] if with_map else []), truth]
    rc, events, err = run_launch(argv, "-k", "-m", "16M", "--no-dump")
    assert rc == 0, err
    records = read_truth(truth)
    (code,) = truth_of(records, "jit")
    (rec,) = truth_of(records, "mmap")
    ev = mmap_event_at(events, hexaddr(rec["addr"]))
    check_frames(ev["stack"])
    return ev["stack"], hexaddr(code["addr"]), code["len"]


def test_jit_frame_named_from_perf_map():
    stack, code, length = jit_stack(with_map=True)
    names = functions(stack)
    assert names[1:4] == ["jit_target", "Interpreter::trampoline", "main"], names
    jit = stack[2]
    assert code <= hexaddr(jit["ip"]) < code + length, (jit, hex(code))
    assert jit["module"] is None and jit["symbol"] == "Interpreter::trampoline+0x6", jit
    assert jit["source"] == "perf-map" and stack[1]["source"] == "elf", stack


def test_jit_frame_crossed_without_perf_map():
    """No unwind info and no perf map: the frame-pointer chain still leads
    to main, and the JIT frame is shown unnamed rather than dropped."""
    stack, code, length = jit_stack(with_map=False)
    names = functions(stack)
    assert names[1] == "jit_target" and names[3] == "main", names
    assert stack[2]["symbol"] is None and stack[2]["module"] is None, stack[2]
    assert stack[2]["source"] is None, stack[2]
    assert code <= hexaddr(stack[2]["ip"]) < code + length


def fake_jvm_stack(mode, tables_unusable):
    """stack_fakejvm: a process with a libjvm.so whose structure tables are
    bad in the way MODE says; returns its mmap's stack. TABLES_UNUSABLE:
    whether mmapwatch must warn (once) that the tables cannot be used; a
    frame that well-formed tables fail to name is only shown as [java]."""
    truth = os.path.join(tmpdir(), "truth")
    argv = [fixture("stack_fakejvm"), fixture("fakejvm/libjvm.so"), mode, truth]
    rc, events, err = run_launch(argv, "-k", "-m", "16M", "--no-dump")
    assert rc == 0, f"mmapwatch exited {rc} on a JVM with {mode} tables: {err}"
    warnings = [line for line in err.splitlines() if "cannot be named" in line]
    if tables_unusable:
        assert len(warnings) == 1 and warnings[0].startswith("mmapwatch: warning: ") and \
            "[java]" in warnings[0], f"the unusable tables should be said once: {err!r}"
    else:
        assert not warnings, err
    records = read_truth(truth)
    (code,) = truth_of(records, "jit")
    (rec,) = truth_of(records, "mmap")
    ev = mmap_event_at(events, hexaddr(rec["addr"]))
    check_frames(ev["stack"])
    names = functions(ev["stack"])
    assert names[1:4] == ["jit_target", "[java]", "main"], (mode, names)
    jit = ev["stack"][2]
    assert jit["source"] == "jvm" and jit["module"] is None, jit
    assert hexaddr(code["addr"]) <= hexaddr(jit["ip"]) < hexaddr(code["addr"]) + code["len"]
    return ev["stack"]


def test_fake_jvm_garbage_tables_give_java_frames():
    """A libjvm.so whose gHotSpotVM* symbols hold garbage: the frame in its
    JIT code is "[java]", the walk goes on by frame pointer, no crash."""
    fake_jvm_stack("garbage", tables_unusable=True)


def test_fake_jvm_truncated_table_gives_java_frames():
    """A structure table that runs into an unmapped page without its
    terminating entry."""
    fake_jvm_stack("truncated", tables_unusable=True)


def test_fake_jvm_lying_tables_give_java_frames():
    """Well-formed tables describing the JIT code as an nmethod whose
    Method* leads to names that parse, but that its class does not list:
    "[java]", never a wrong name (and text output says where it came
    from)."""
    fake_jvm_stack("lies", tables_unusable=False)
    truth = os.path.join(tmpdir(), "truth")
    p = subprocess.run([MMAPWATCH, "-k", "-m", "16M", "--no-dump", "--",
                        fixture("stack_fakejvm"), fixture("fakejvm/libjvm.so"), "lies", truth],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=WAIT_S)
    assert p.returncode == 0, p.stderr
    assert " [java] ([java: unknown])\n" in p.stderr + p.stdout, p.stderr


def test_stacks_from_many_threads():
    """8 threads mapping at once: each event's stack is its own thread's."""
    truth = os.path.join(tmpdir(), "truth")
    rc, events, err = run_launch([fixture("stack_chain"), "threads", "8", "10", truth],
                                 "-k", "-m", "16M", "--no-dump")
    assert rc == 0, err
    records = truth_of(read_truth(truth), "mmap")
    assert len(records) == 80
    for rec in records:
        ev = mmap_event_at(events, hexaddr(rec["addr"]))
        assert ev["tid"] == rec["tid"] and ev["comm"] == rec["comm"], (ev, rec)
        names = functions(ev["stack"])
        # mmap <- worker_X <- thread_main
        assert names[1:3] == [rec["func"], "thread_main"], (names, rec)


def test_dump_metadata_carries_the_stack():
    d = tmpdir()
    truth, dumps = os.path.join(d, "truth"), os.path.join(d, "dumps")
    rc, events, err = run_launch([fixture("stack_chain"), "chain", truth], "-k", "-m", "16M",
                                 "--delay", "0", "--dump-dir", dumps)
    assert rc == 0, err
    (ev,) = events_of(events, "mmap")
    (dump,) = events_of(events, "dump")
    meta = json.load(open(dump["path"][:-len(".bin")] + ".json", encoding="utf-8"))
    assert meta["stack"] == ev["stack"], (meta["stack"], ev["stack"])


def summary_rows(summary):
    return {(r["site"], r["comm"]): r for r in summary["sites"]}


def test_summary_totals_attach():
    """-c -k: rows by call site against the fixture's truth, with bytes
    still mapped at the detach and the dumps made."""
    d = tmpdir()
    truth = os.path.join(d, "truth")
    fx, pid = start_fixture([fixture("stack_chain"), "-w", "summary", truth])
    p = start_attach_many([pid], "-k", "-c", "-m", "4M", "--delay", "0",
                          "--dump-dir", os.path.join(d, "dumps"))
    send_go(fx)
    assert fx.stdout.readline() == "done\n"
    p.send_signal(signal.SIGINT)
    rc, events, err = finish_attach_many(p)
    assert rc == 0, err
    records = read_truth(truth)
    alpha = [r for r in truth_of(records, "mmap") if r["func"] == "site_alpha"]
    beta = [r for r in truth_of(records, "mmap") if r["func"] == "site_beta"]
    assert len(alpha) == 3 and len(beta) == 2 and len(truth_of(records, "munmap")) == 1

    (summary,) = events_of(events, "summary")
    assert events[-1] is summary
    rows = summary_rows(summary)
    assert set(rows) == {("site_alpha (stack_chain)", "stack_chain"),
                         ("site_beta (stack_chain)", "stack_chain")}, rows
    a = rows[("site_alpha (stack_chain)", "stack_chain")]
    b = rows[("site_beta (stack_chain)", "stack_chain")]
    assert (a["count"], a["bytes"], a["mapped"], a["dumps"]) == (3, 3 * ALPHA_LEN, 3 * ALPHA_LEN, 3)
    assert (b["count"], b["bytes"], b["mapped"], b["dumps"]) == (2, 2 * BETA_LEN, BETA_LEN, 2)
    assert summary["mmaps"] == 5 and summary["bytes"] == 3 * ALPHA_LEN + 2 * BETA_LEN
    assert summary["mapped"] == 3 * ALPHA_LEN + BETA_LEN and summary["dumps"] == 5
    assert summary["sizes"] == [{"size": ALPHA_LEN, "count": 3}, {"size": BETA_LEN, "count": 2}]
    assert summary["histogram"] == [
        {"from": 4 * MIB, "to": 8 * MIB, "count": 2, "bytes": 2 * BETA_LEN},
        {"from": 16 * MIB, "to": 32 * MIB, "count": 3, "bytes": 3 * ALPHA_LEN}]
    assert summary["suggested_min_size"] == 16 * MIB
    assert summary["suggested_for_size"] == ALPHA_LEN
    fx.stdin.close()
    wait_fixture(fx)


def test_summary_by_thread_without_stacks():
    """-c alone: rows by thread (no call site), totals from the truth; the
    text table ends with the --min-size advice."""
    d = tmpdir()
    truth, out = os.path.join(d, "truth"), os.path.join(d, "events.txt")
    r = subprocess.run([MMAPWATCH, "-c", "-m", "16M", "--no-dump", "-o", out, "--",
                        fixture("stack_chain"), "threads", "4", "2", truth],
                       stderr=subprocess.PIPE, text=True, timeout=WAIT_S * 4)
    assert r.returncode == 0, r.stderr
    text = open(out, encoding="utf-8").read()
    records = truth_of(read_truth(truth), "mmap")
    total = sum(-(-rec["len"] // 4096) * 4096 for rec in records)
    head = [line for line in text.splitlines() if line.startswith("summary: ")]
    assert head == [f"summary: 8 reported mmaps, {total / MIB:.1f} MiB, 0 B still mapped, "
                    "0 dumps"], head
    for i in range(4):
        row = [line for line in text.splitlines() if f"  stk-{i} " in line]
        assert len(row) == 1 and row[0].split()[0] == "2" and row[0].rstrip().endswith("-"), row
    assert "call site (use -k)" in text
    assert "--min-size 16M reports those and larger ones only" in text


def test_summary_json_is_last_event_in_launch_mode():
    truth = os.path.join(tmpdir(), "truth")
    rc, events, err = run_launch([fixture("stack_chain"), "chain", truth], "-c", "-k", "-m",
                                 "16M", "--no-dump")
    assert rc == 0, err
    summary = events[-1]
    assert summary["event"] == "summary", events[-1]
    (row,) = summary["sites"]
    assert row["site"] == "chain_inner (stack_chain)" and row["count"] == 1
    assert row["mapped"] == 0, "the process exited: nothing is still mapped"


def test_library_replaced_at_same_address():
    """dlclose of one library and dlopen of another where it was: the
    cached code, tables and symbols of the first must not name the second."""
    truth = os.path.join(tmpdir(), "truth")
    libdir = os.path.dirname(fixture("stack_dlopen"))
    for mode in ("launch", "attach"):
        if os.path.exists(truth):
            os.unlink(truth)
        argv = [fixture("stack_dlopen"), libdir, truth]
        if mode == "launch":
            rc, events, err = run_launch(argv, "-k", "-m", "16M", "--no-dump")
        else:
            # Attach at the first instruction of the shell's exec'd child:
            # a shell that waits for a byte then execs the fixture.
            sh = spawn(["/bin/sh", "-c", 'read go; exec "$@"', "sh", *argv],
                       stdin=subprocess.PIPE, text=True)
            p = start_attach_many([sh.pid], "-k", "-m", "16M", "--no-dump")
            sh.stdin.write("g\n")
            sh.stdin.close()
            assert sh.wait(timeout=WAIT_S) == 0
            rc, events, err = finish_attach_many(p)
        assert rc == 0, (mode, err)
        for rec in truth_of(read_truth(truth), "mmap"):
            ev = mmap_event_at(events, hexaddr(rec["addr"]))
            lib = rec["lib"]
            names = functions(ev["stack"])
            assert names[1:3] == [f"{lib}_inner_map", "stack_lib_map"], (mode, names)
            assert ev["stack"][1]["module"].endswith(f"/libstack_{lib}.so"), ev["stack"][1]


def _elf_sections(path):
    """{name: (file offset, size)} of an ELF64 file's sections."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
               for i in range(shnum)]
    names = data[headers[shstrndx][4]:headers[shstrndx][4] + headers[shstrndx][5]]
    return {names[h[0]:names.index(b"\0", h[0])].decode(): (h[4], h[5]) for h in headers}


def _present_pages(pid, pages):
    import struct
    fd = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY)
    try:
        return {p for p in pages
                if struct.unpack("<Q", os.pread(fd, 8, p // 4096 * 8))[0] >> 63 & 1}
    finally:
        os.close(fd)


def test_unwinding_faults_nothing_into_the_target():
    """The unwind tables libunwind reads (.eh_frame_hdr, .eh_frame of libc)
    come from the file, not through the target: a page of them that was
    not in the target's memory before the stacks is not there after."""
    truth = os.path.join(tmpdir(), "truth")
    fx, pid = start_fixture([fixture("stack_chain"), "-w", "summary", truth])
    libc = []
    for line in open(f"/proc/{pid}/maps", encoding="utf-8"):
        w = line.split()
        if len(w) > 5 and os.path.basename(w[5]).startswith("libc.so"):
            start, end = (int(x, 16) for x in w[0].split("-"))
            libc.append((start, end, int(w[2], 16), w[5]))
    sections = _elf_sections(libc[0][3])
    pages = set()
    for name in (".eh_frame_hdr", ".eh_frame"):
        off, size = sections[name]
        for start, end, map_off, _ in libc:
            if map_off <= off < map_off + (end - start):
                addr = start + off - map_off
                pages.update(range(addr & ~4095, addr + size, 4096))
    absent = pages - _present_pages(pid, pages)
    assert absent, "libc's unwind tables are all in memory already: nothing to check"
    p = start_attach_many([pid], "-k", "-m", "4M", "--no-dump")
    send_go(fx)
    assert fx.stdout.readline() == "done\n"
    faulted = absent & _present_pages(pid, pages)
    fx.stdin.close()
    wait_fixture(fx)
    rc, events, err = finish_attach_many(p)
    assert rc == 0, err
    mmaps = events_of(events, "mmap")
    assert len(mmaps) == 5 and all(functions(e["stack"])[1] in ("site_alpha", "site_beta")
                                   for e in mmaps), mmaps
    assert not faulted, f"{len(faulted)} of {len(absent)} absent pages were faulted in"


def test_stripped_program_named_from_its_debuglink():
    """A program stripped of .symtab (as distributions ship them) with its
    symbols in a separate file named by .gnu_debuglink: the static
    functions are named from that file."""
    truth = os.path.join(tmpdir(), "truth")
    exe = fixture("stack_chain_stripped")
    rc, events, err = run_launch([exe, "chain", truth], "-k", "-m", "16M", "--no-dump")
    assert rc == 0, err
    (ev,) = events_of(events, "mmap")
    assert functions(ev["stack"])[1:5] == ["chain_inner", "chain_middle", "chain_outer",
                                           "main"], ev["stack"]


def test_stripped_program_named_by_build_id_in_its_own_namespace():
    """The debug file found by build ID under /usr/lib/debug/.build-id, as
    the target sees it: here a private mount namespace puts it there (a
    container with its own debug packages), and mmapwatch, outside, must
    look through the target's root."""
    import re
    import shutil
    if os.geteuid() != 0 or not shutil.which("unshare"):
        raise Skip("needs root and unshare (util-linux) for a mount namespace")
    exe = fixture("stack_chain_buildid")
    notes = subprocess.run(["readelf", "-n", exe], capture_output=True, text=True).stdout
    build_id = re.search(r"Build ID: ([0-9a-f]+)", notes).group(1)
    truth = os.path.join(tmpdir(), "truth")
    debug_dir = f"/usr/lib/debug/.build-id/{build_id[:2]}"
    script = (f'mount -t tmpfs tmpfs /usr/lib/debug && mkdir -p {debug_dir} && '
              f'cp "$1.debug" {debug_dir}/{build_id[2:]}.debug && exec "$1" chain "$2"')
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        raise Skip(f"cannot make a mount namespace: {probe.stderr!r}")
    if not os.path.isdir("/usr/lib/debug"):
        raise Skip("no /usr/lib/debug to mount over")
    rc, events, err = run_launch(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                  script, "sh", exe, truth], "-k", "-m", "16M", "--no-dump")
    assert rc == 0, err
    (ev,) = [e for e in events_of(events, "mmap") if e["comm"].startswith("stack_chain")]
    assert functions(ev["stack"])[1:5] == ["chain_inner", "chain_middle", "chain_outer",
                                           "main"], ev["stack"]
    assert not os.path.exists(f"{debug_dir}/{build_id[2:]}.debug"), "leaked out of the namespace"
