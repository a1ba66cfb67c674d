"""Growth in place (growth.h): memory that comes from malloc's heaps grown
by mprotect and from brk, not from new mmaps. The fixture (growth_heaps)
moves glibc's mmap threshold first, so its named threads' 16 MiB chunks
come out of their arena heaps; it writes each chunk's address and a text
in its middle, its own truth. With --min-size 16M every chunk must be in a
growth event of its thread (kind malloc heap, a stack through
alloc_chunk, the chunk's text in that event's dump), in launch mode and
in attach mode (arena heaps and brk heap made before the attach, adopted
from /proc/PID/maps); and the main thread's 64 MiB of brk in 1 MiB steps
is reported at each 16 MiB step, 4 times, not 64."""
import os
import signal

import harness
from harness import (events_of, fixture, hexaddr, read_truth, send_go, start_fixture,
                     tmpdir, truth_of, wait_fixture)

THREADS, CHUNKS = 3, 3
MIB = 1 << 20
# Only the path under test dumps: the parts' first dumps come at the exit.
OPTS = ("--min-size", "16M", "-k", "--delay", "1h")


def dumps_of(events, g):
    """The dumps of the part growth event g reported."""
    return [d for d in events_of(events, "dump")
            if d["addr"] == g["new_addr"] and d["len"] == g["new_len"]]


def check(events, truth, attach):
    growth = events_of(events, "growth")
    chunks = truth_of(truth, "chunk")
    assert len(chunks) == THREADS * CHUNKS, f"fixture wrote {len(chunks)} chunks"
    for c in chunks:
        at = hexaddr(c["text_at"])
        mine = [g for g in growth if g["tid"] == c["tid"] and
                hexaddr(g["new_addr"]) <= at < hexaddr(g["new_addr"]) + g["new_len"]]
        assert len(mine) == 1, f"chunk {c}: growth events holding it: {mine}; all: {growth}"
        g = mine[0]
        assert g["comm"] == c["comm"], (g, c)
        assert g["kind"] == "malloc_heap" and g["call"] == "mprotect", g
        assert g["committed"] <= g["reserved"] <= 64 * MIB, g
        assert any("alloc_chunk" in (f.get("symbol") or "") for f in g["stack"]), g["stack"]
        dumps = dumps_of(events, g)
        assert dumps, f"no dump holds chunk {c}"
        with open(dumps[0]["path"], "rb") as f:
            f.seek(at - hexaddr(dumps[0]["addr"]))
            text = f.read(len(c["text"]))
        assert text.decode(errors="replace") == c["text"], (text, c, dumps[0])
    # The brk heap: 64 MiB in 1 MiB steps is 4 steps of 16 MiB.
    brk = truth_of(truth, "brk")[0]
    heap = [g for g in growth if g["kind"] == "brk_heap"]
    assert len(heap) == 4, heap
    assert all(g["tid"] == brk["tid"] and g["call"] == "brk" for g in heap), heap
    assert any("grow_brk" in (f.get("symbol") or "") for f in heap[0]["stack"]), heap[0]
    end = hexaddr(brk["end"])
    last = heap[-1]
    assert hexaddr(last["addr"]) + last["committed"] == end, (last, brk)
    # No growth event names anything else, and nothing was adopted as a new mmap.
    assert len(growth) == THREADS * CHUNKS + 4, growth
    if attach:
        assert not [e for e in events_of(events, "mmap") if e["prot"] == "---"], \
            "the arena heaps made before the attach were reported as new mmaps"


def test_growth_heaps_launch():
    truth = os.path.join(tmpdir(), "truth")
    dumps = os.path.join(tmpdir(), "dumps")
    rc, events, err = harness.run_launch(
        [fixture("growth_heaps"), str(THREADS), str(CHUNKS), truth], *OPTS,
        "--dump-dir", dumps)
    assert rc == 0, f"mmapwatch exited {rc}; stderr={err!r}"
    check(events, read_truth(truth), attach=False)


def test_growth_heaps_attach():
    truth = os.path.join(tmpdir(), "truth")
    dumps = os.path.join(tmpdir(), "dumps")
    p, pid = start_fixture([fixture("growth_heaps"), "-w", str(THREADS), str(CHUNKS), truth])
    w = harness.start_attach_many([pid], *OPTS, "--dump-dir", dumps)
    send_go(p)
    assert p.stdout.readline() == "done\n"
    p.stdin.close()
    rc, events, err = harness.finish_attach_many(w)
    wait_fixture(p, 0)
    assert rc == 0, f"mmapwatch exited {rc}; stderr={err!r}"
    check(events, read_truth(truth), attach=True)


def test_growth_max_size_leaves_larger_reservations_out():
    """--max-size 32M: the arena heaps' 64 MiB (and larger) reservations are
    neither reported as mmaps nor watched for growth; the brk heap is."""
    truth = os.path.join(tmpdir(), "truth")
    rc, events, err = harness.run_launch(
        [fixture("growth_heaps"), "2", "1", truth], "--min-size", "16M", "--max-size", "32M",
        "--no-dump")
    assert rc == 0, f"mmapwatch exited {rc}; stderr={err!r}"
    assert not [e for e in events_of(events, "mmap") if e["len"] > 32 * MIB], events
    growth = events_of(events, "growth")
    assert [g["kind"] for g in growth] == ["brk_heap"] * 4, growth
    # The 20 MiB warm-up chunk is within bounds: still reported.
    assert [e["len"] for e in events_of(events, "mmap")] == [20 * MIB + 4096], events


def test_growth_max_size_below_min_size_is_a_usage_error():
    p = harness.run_mmapwatch(["--min-size", "2M", "--max-size", "1M", "--", "true"])
    assert p.returncode == 2, p
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mmapwatch: --max-size"), p.stderr


def _grow_unseen(min_size):
    """mem_grow maps 40 MiB before the attach and touches it after: the
    resident memory grows with no call to report. Returns mmapwatch's
    (rc, events, stderr)."""
    from test_maps import Grow
    g = Grow(10240, 1)
    w = harness.start_attach_many([g.pid], "--min-size", min_size, "--no-dump")
    g.grow(10000)
    g.finish(0)
    return harness.finish_attach_many(w)


def test_growth_unreported_resident_growth_is_said():
    rc, events, err = _grow_unseen("16M")
    assert rc == 0, err
    assert not events_of(events, "growth") and not events_of(events, "mmap"), events
    lines = [ln for ln in err.splitlines() if "nothing was reported" in ln]
    assert len(lines) == 1, err
    assert "resident memory grew by 39." in lines[0] and "maps --watch" in lines[0], lines
    assert "--min-size" in lines[0] and "MALLOC_MMAP_THRESHOLD_" in lines[0], lines


def test_growth_resident_growth_under_min_size_is_not_said():
    rc, events, err = _grow_unseen("64M")
    assert rc == 0, err
    assert "nothing was reported" not in err, err


def test_growth_summary_sorted_by_gained_with_resident():
    """-c after a detach with everything still mapped: growth steps counted
    apart from mmaps, malloc heaps' growth said, rows sorted by memory
    gained (the 128 MiB PROT_NONE reservations gain nothing), resident
    bytes of what is still there, and no mmap-size advice against a table
    led by growth."""
    truth = os.path.join(tmpdir(), "truth")
    p, pid = start_fixture([fixture("growth_heaps"), "-w", str(THREADS), str(CHUNKS), truth])
    w = harness.start_attach_many([pid], "--min-size", "16M", "-k", "-c", "--no-dump")
    send_go(p)
    assert p.stdout.readline() == "done\n"
    w.send_signal(signal.SIGINT)
    rc, events, err = harness.finish_attach_many(w)
    p.stdin.close()
    wait_fixture(p, 0)
    assert rc == 0, err
    (summary,) = events_of(events, "summary")
    steps = THREADS * CHUNKS + 4
    assert summary["growths"] == steps, summary
    assert summary["mmaps"] == len(events_of(events, "mmap")), summary
    grown = sum(g["new_len"] for g in events_of(events, "growth"))
    assert summary["malloc_growth"] == grown and summary["other_growth"] == 0, summary
    gained = [r["gained"] for r in summary["sites"]]
    assert gained == sorted(gained, reverse=True), summary["sites"]
    brk_row = summary["sites"][0]
    assert brk_row["site"].startswith("grow_brk") and brk_row["growths"] == 4, summary["sites"]
    # Each chunk's text page was written: resident, and counted.
    chunk_rows = [r for r in summary["sites"] if r["site"].startswith("alloc_chunk")]
    assert sum(r["growths"] for r in chunk_rows) == THREADS * CHUNKS, chunk_rows
    assert all(r["resident"] >= CHUNKS * 4096 for r in chunk_rows), chunk_rows
    assert summary["resident"] == sum(r["resident"] for r in summary["sites"]), summary
    assert "suggested_min_size" not in summary, summary
