"""Defaults for programs that map many small, short-lived regions
(src/dumper.c): without --max-dumps, at most 100 regions of 1 MiB or less
are dumped; the others get skip events saying how to have them, never
silence, and larger regions are still dumped. tests/fixtures/bench_mmap
maps, touches (one byte) and unmaps one region at a time, so every
region is dumped, or skipped, at its munmap."""
import os

import harness
from harness import fixture, run_launch, tmpdir

SMALL_WHY = ("100 regions of 1 MiB or less dumped already (the limit for them without "
             "--max-dumps): --max-dumps N sets a limit of your own, --min-size SIZE leaves "
             "them out")


def _run(n, size, *opts):
    d = os.path.join(tmpdir(), "dumps")
    rc, events, stderr = run_launch([fixture("bench_mmap"), str(n), "1", str(size)],
                                    "--dump-dir", d, *opts)
    assert rc == 0, stderr
    mmaps = [e for e in events if e["event"] == "mmap" and e["len"] == size]
    # The program's own other regions (its thread's stack, ...) count too:
    # the limit is on all small regions; these tests look at the fixture's.
    dumps = [e for e in events if e["event"] == "dump" and e["len"] == size]
    skips = [e for e in events if e["event"] == "skip" and e["len"] == size]
    others = [e for e in events if e["event"] in ("dump", "skip") and e["len"] != size]
    assert len(others) <= 10, others
    assert len(mmaps) == n, f"{len(mmaps)} mmaps of {size} reported, want {n}"
    return d, mmaps, dumps, skips, stderr


def test_small_regions_limited_by_default():
    """130 regions of 64 KiB: 100 dumps (the first 100 regions, at their
    munmap), 30 skip events giving the reason, one warning on stderr."""
    d, mmaps, dumps, skips, stderr = _run(130, 65536)
    assert len(dumps) == 100 and len(skips) == 30, (len(dumps), len(skips))
    assert all(e["reason"] == "unmap" for e in dumps)
    assert all(e["reason"] == SMALL_WHY and e["len"] == 65536 for e in skips), skips[0]
    assert len({e["path"] for e in dumps}) == 100
    # The program's other small regions come at its exit, after the limit.
    assert len([n for n in os.listdir(d) if "-65536-" in n and n.endswith(".bin")]) == 100
    lines = [l for l in stderr.splitlines() if "warning" in l]
    assert len(lines) == 1 and SMALL_WHY in lines[0], stderr


def test_small_regions_limit_is_yours_with_max_dumps():
    """--max-dumps 1000 replaces the limit: all 130 are dumped."""
    _, _, dumps, skips, stderr = _run(130, 65536, "--max-dumps", "1000")
    assert len(dumps) == 130 and not skips, (len(dumps), len(skips), stderr)


def test_large_regions_not_limited():
    """Past the limit, regions over 1 MiB are still dumped: 120 regions of
    64 KiB, then (the shell execs it) 5 of 2 MiB: all 5 dumped."""
    d = os.path.join(tmpdir(), "dumps")
    mm = fixture("bench_mmap")
    rc, events, stderr = run_launch(
        ["/bin/sh", "-c", f"{mm} 120 1 65536 && exec {mm} 5 1 2097152"], "--dump-dir", d)
    assert rc == 0, stderr
    small = [e for e in events if e["event"] == "skip" and e["len"] == 65536]
    large = [e for e in events if e["event"] in ("dump", "skip") and e["len"] == 2 << 20]
    assert small and all(e["reason"] == SMALL_WHY for e in small), small[:1]
    assert len(large) == 5 and all(e["event"] == "dump" for e in large), large
