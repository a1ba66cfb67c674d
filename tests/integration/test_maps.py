"""mmapwatch maps: the rows and numbers of pmap -x on the same quiet
process (tests/fixtures/mem_regions.c), the fixture's own truth (exact
RSS of a region with known touched pages, names with spaces, deleted
files), --sort/--top/--min-size, the JSON fields, and --watch growth
driven through tests/fixtures/mem_grow.c's stdin: the test waits for
mmapwatch's baseline line before it makes the region grow, so the growth
it must see is exactly what it asked for, however the rounds fall."""
import json
import os
import re
import shutil
import signal
import subprocess

import harness
from harness import MMAPWATCH, LineReader, read_truth, tmpdir
from safety_lib import Fixture, assert_untraced
from test_read import Regions, one_line

PG = 4096
PMAP_ROW = re.compile(r"^([0-9a-f]{16})\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.*)$")
PMAP_TOTAL = re.compile(r"^total kB\s+(\d+)\s+(\d+)\s+(\d+)\s*$")
HEX = re.compile(r"^0x[0-9a-f]+$")
GROW_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} (0x[0-9a-f]+)\s+\+\S+ \S+ \(\+(\d+) bytes\)")


def run_maps(args, timeout=None):
    return subprocess.run([MMAPWATCH, "maps", *args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout or harness.WAIT_S * 2)


def maps_json(pid, *args):
    r = run_maps(["-p", str(pid), "--json", *args])
    assert r.returncode == 0, f"rc={r.returncode} stderr={r.stderr!r}"
    assert r.stderr == ""
    rows = harness.parse_events(r.stdout)
    for row in rows:
        assert set(row) == {"pid", "addr", "len", "rss", "pss", "dirty", "swap", "prot",
                            "shared", "offset", "path"}, row
        assert row["pid"] == pid, row
        assert HEX.match(row["addr"]), row
        for k in ("len", "rss", "pss", "dirty", "swap", "offset"):
            assert isinstance(row[k], int) and not isinstance(row[k], bool) and row[k] >= 0, row
        assert re.fullmatch(r"[r-][w-][x-]", row["prot"]) and isinstance(row["shared"], bool)
        assert row["rss"] <= row["len"] and row["dirty"] <= row["rss"], row
    return rows


def stable(rows):
    """rows without pss, which moves whenever another process maps or
    unmaps a shared library page (mmapwatch itself starting, say)."""
    return [{k: v for k, v in r.items() if k != "pss"} for r in rows]


def by_addr(rows):
    return {int(r["addr"], 16): r for r in rows}


# ---------------------------------------------------------------- listing


def test_maps_matches_pmap():
    if not shutil.which("pmap"):
        raise harness.Skip("pmap (procps) is not installed")
    fx = Regions(with_file=True)
    pm = subprocess.run(["pmap", "-x", str(fx.pid)], stdout=subprocess.PIPE, text=True,
                        check=True, timeout=harness.WAIT_S)
    rows = maps_json(fx.pid, "--sort", "addr")
    pmap_rows, total = [], None
    for line in pm.stdout.splitlines():
        m = PMAP_ROW.match(line)
        if m:
            pmap_rows.append((int(m.group(1), 16), int(m.group(2)) * 1024,
                              int(m.group(3)) * 1024, int(m.group(4)) * 1024))
        t = PMAP_TOTAL.match(line)
        if t:
            total = tuple(int(x) * 1024 for x in t.groups())
    assert pmap_rows and total, f"could not parse pmap -x output:\n{pm.stdout}"
    ours = [(int(r["addr"], 16), r["len"], r["rss"], r["dirty"]) for r in rows]
    assert ours == pmap_rows, "rows differ from pmap -x:\n" + "\n".join(
        f"  ours {a} pmap {b}" for a, b in zip(ours, pmap_rows) if a != b) + \
        f"\n  ({len(ours)} rows vs {len(pmap_rows)})"
    assert (sum(r["len"] for r in rows), sum(r["rss"] for r in rows),
            sum(r["dirty"] for r in rows)) == total

    # And the fixture's own truth.
    m = by_addr(rows)
    t = m[fx.r["touched"]["addr"]]
    assert (t["len"], t["rss"], t["dirty"], t["prot"], t["shared"]) == \
        (64 * PG, 5 * PG, 5 * PG, "rw-", False), t
    assert t["path"] == ("[anon:mmapwatch-test]" if fx.r["touched"]["named"] else "[anon]"), t
    p = m[fx.r["pattern"]["addr"]]
    assert (p["len"], p["rss"], p["path"]) == (4 * PG, 4 * PG, "[anon]"), p
    n = m[fx.r["protnone"]["addr"]]
    assert (n["len"], n["rss"], n["prot"]) == (2 * PG, 2 * PG, "---"), n
    f = m[fx.r["file"]["addr"]]
    # The file's other pages may be resident too (fault-around maps what
    # the page cache holds) and dirty (the test just wrote them).
    assert (f["path"], f["len"], f["prot"]) == (fx.file_path, 3 * PG, "r--"), f
    assert f["rss"] >= PG, f
    d = m[fx.r["deleted"]["addr"]]
    assert d["path"].endswith(".gone (deleted)") and d["shared"], d
    assert any(r["path"] == "[stack]" for r in rows)
    fx.check_untouched()


def test_maps_text_table():
    fx = Regions()
    rows = maps_json(fx.pid)
    r = run_maps(["-p", str(fx.pid)])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["Address", "Size", "RSS", "Dirty", "Swap", "Mode", "Mapping"]
    assert lines[-1].startswith("total ") and lines[-1].endswith(f" {len(rows)} mappings"), \
        lines[-1]
    body = lines[1:-1]
    assert len(body) == len(rows)
    # Same order as --json (default sort: rss), human-readable sizes.
    assert [int(l.split()[0], 16) for l in body] == [int(x["addr"], 16) for x in rows]
    touched = next(l for l in body if int(l.split()[0], 16) == fx.r["touched"]["addr"])
    assert re.match(r"^0x[0-9a-f]+\s+256\.0 KiB\s+20\.0 KiB\s+20\.0 KiB\s+0 B\s+rw-p\s+\[anon",
                    touched), touched
    fx.check_untouched()


def test_maps_sort_top_min_size():
    fx = Regions(with_file=True)
    keys = {"rss": "rss", "size": "len", "dirty": "dirty", "swap": "swap"}
    everything = stable(maps_json(fx.pid, "--sort", "addr"))
    addrs = [int(r["addr"], 16) for r in everything]
    assert addrs == sorted(addrs)
    for key, field in keys.items():
        rows = stable(maps_json(fx.pid, "--sort", key))
        assert sorted(map(json.dumps, rows)) == sorted(map(json.dumps, everything)), key
        order = [(-r[field], int(r["addr"], 16)) for r in rows]
        assert order == sorted(order), f"--sort {key}: not largest first, then by address"
        top = stable(maps_json(fx.pid, "--sort", key, "--top", "3"))
        assert top == rows[:3], f"--sort {key} --top 3"
    # Default is rss; --top larger than the list is the list.
    assert stable(maps_json(fx.pid)) == \
        stable(maps_json(fx.pid, "--sort", "rss", "--top", "100000"))
    big = stable(maps_json(fx.pid, "--min-size", "64k", "--sort", "addr"))
    assert big == [r for r in everything if r["len"] >= 65536], "--min-size 64k"
    assert fx.r["touched"]["addr"] in by_addr(big) and fx.r["pattern"]["addr"] not in by_addr(big)
    # Text: the totals row says how many of how many.
    r = run_maps(["-p", str(fx.pid), "--top", "2"])
    assert r.stdout.splitlines()[-1].endswith(f" 2 of {len(everything)} mappings"), r.stdout
    fx.check_untouched()


def test_maps_usage_errors():
    fx = Regions()
    pid = str(fx.pid)
    cases = [
        [],
        ["--json"],
        ["-p", "x"],
        ["-p", "-3"],
        ["-p", pid, "--sort", "bogus"],
        ["-p", pid, "--sort"],
        ["-p", pid, "--top", "0"],
        ["-p", pid, "--top", "3x"],
        ["-p", pid, "--min-size", "16Q"],
        ["-p", pid, "--watch", "0"],
        ["-p", pid, "--watch", "fast"],
        ["-p", pid, "--rounds", "3"],
        ["-p", pid, "--watch", "1s", "--rounds", "0"],
        ["-p", pid, "--watch", "1s", "--sort", "size"],
        ["-p", pid, "--bogus"],
        ["-p", pid, "-x"],
        ["-p", pid, "--json=yes"],
        ["-p", pid, "extra"],
    ]
    for args in cases:
        r = run_maps(args)
        assert r.returncode == 2, f"{args}: rc={r.returncode} stderr={r.stderr!r}"
        one_line(r.stderr, repr(args))
        assert r.stdout == "", args
    fx.check_untouched()


def test_maps_help_and_no_such_process():
    r = run_maps(["--help"])
    assert r.returncode == 0 and r.stderr == ""
    for word in ("Usage: mmapwatch maps", "--sort", "--watch", "--rounds", "JSON FIELDS",
                 "EXAMPLES"):
        assert word in r.stdout, word
    p = subprocess.Popen(["true"])
    p.wait()
    for extra in ([], ["--watch", "10ms"]):
        r = run_maps(["-p", str(p.pid), *extra])
        assert r.returncode == 1, f"{extra}: rc={r.returncode} stderr={r.stderr!r}"
        line = one_line(r.stderr, "no such process")
        assert re.search(rf"\b{p.pid}\b", line), line


# ---------------------------------------------------------------- --watch


class Grow(Fixture):
    def __init__(self, pages, initial):
        truth = os.path.join(tmpdir(), "truth")
        super().__init__("mem_grow", truth, pages, initial)
        self.expect("ready ")
        rec = read_truth(truth)[0]
        self.addr = int(rec["addr"], 16)
        self.len = rec["len"]

    def grow(self, n):
        self.cmd(f"grow {n}", f"grown {n} ")


def start_watch(pid, *args):
    w = harness.spawn([MMAPWATCH, "maps", "-p", str(pid), *args], stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
    w.reader = LineReader(w.stdout)
    return w


def test_maps_watch_growth_text():
    g = Grow(256, 3)
    w = start_watch(g.pid, "--watch", "20ms")
    base = w.reader.line()
    assert re.search(rf"watching process {g.pid} every 20ms: \d+ mappings, .* \(baseline\)",
                     base), base
    # Only now, after the baseline, does the region grow: every byte of
    # growth reported for it must be what we ask for here, whichever
    # rounds it falls in (the 3 pages touched before do not count).
    seen, want = 0, 0
    for pages in (5, 2):
        g.grow(pages)
        want += pages * PG
        while seen < want:
            line = w.reader.line()
            m = GROW_LINE.match(line)
            assert m, f"not a growth line: {line!r}"
            if int(m.group(1), 16) == g.addr:
                seen += int(m.group(2))
                assert f" of 1.0 MiB  rw-p  [anon]" in line, line
        assert seen == want, f"growth reported {seen} bytes, {want} asked for"
    w.send_signal(signal.SIGINT)
    out, err = w.communicate(timeout=harness.WAIT_S)
    assert w.returncode == 0, f"rc={w.returncode} stderr={err!r}"
    for line in (w.reader.rest() + out.decode()).splitlines():
        m = GROW_LINE.match(line)
        assert m, line
        if int(m.group(1), 16) == g.addr:
            seen += int(m.group(2))
    assert seen == 7 * PG, f"growth reported {seen} bytes in all, {7 * PG} asked for"
    g.cmd("ping", "pong")
    assert_untraced(g.pid)
    g.finish(0)


def test_maps_watch_growth_json():
    g = Grow(64, 1)
    w = start_watch(g.pid, "--watch", "10ms", "--json", "--rounds", "1000000")
    base = json.loads(w.reader.line())
    assert base["event"] == "baseline" and base["pid"] == g.pid and base["round"] == 1, base
    assert base["mappings"] > 0 and base["rss"] > 0, base
    g.grow(9)
    seen, last_round = 0, 1
    while seen < 9 * PG:
        ev = json.loads(w.reader.line())
        assert ev["event"] == "grow" and ev["pid"] == g.pid, ev
        assert ev["round"] >= last_round and ev["round"] > 1, ev
        last_round = ev["round"]
        assert harness.TS_RE.match(ev["ts"]), ev
        if int(ev["addr"], 16) == g.addr:
            seen += ev["growth"]
            assert ev["len"] == g.len and ev["prot"] == "rw-" and ev["path"] == "[anon]", ev
            last = ev
    assert seen == 9 * PG, seen
    assert last["rss"] == (1 + 9) * PG and last["dirty"] == last["rss"], last
    w.send_signal(signal.SIGTERM)
    out, err = w.communicate(timeout=harness.WAIT_S)
    assert w.returncode == 0, f"rc={w.returncode} stderr={err!r}"
    for ev in harness.parse_events(w.reader.rest() + out.decode()):
        assert not (ev["event"] == "grow" and int(ev["addr"], 16) == g.addr), ev
    g.finish(0)


def test_maps_watch_rounds_baseline_first():
    """Growth before mmapwatch starts is in the baseline, not reported; with
    --rounds it stops by itself and exits 0."""
    g = Grow(64, 2)
    g.grow(6)
    for args in (["--json"], []):
        r = run_maps(["-p", str(g.pid), "--watch", "10ms", "--rounds", "3", *args])
        assert r.returncode == 0, f"{args}: rc={r.returncode} stderr={r.stderr!r}"
        lines = r.stdout.splitlines()
        assert len(lines) == 1, f"{args}: expected only the baseline, got {lines}"
        if args:
            assert json.loads(lines[0])["event"] == "baseline"
        else:
            assert "(baseline)" in lines[0]
    r = run_maps(["-p", str(g.pid), "--watch", "10ms", "--rounds", "1", "--json"])
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1, r
    g.finish(0)


def test_maps_watch_ends_when_process_exits():
    g = Grow(16, 1)
    w = start_watch(g.pid, "--watch", "10ms", "--json")
    assert json.loads(w.reader.line())["event"] == "baseline"
    g.finish(0)  # exits and is reaped
    out, err = w.communicate(timeout=harness.WAIT_S)
    assert w.returncode == 0, f"rc={w.returncode} stderr={err!r}"
    evs = harness.parse_events(w.reader.rest() + out.decode())
    assert evs and evs[-1]["event"] == "exit" and evs[-1]["pid"] == g.pid, evs
