"""mmapwatch report: the HTML page and the folded stacks, from real runs.

The page is opened in Debian's chromium (headless): its script must have
drawn the call sites, threads and totals of the run into the DOM, it must
not have made any network request (chromium is pointed at a local proxy
that records every request it gets, and names resolve to nothing), and a
screenshot is kept under build/report-screenshots/ for a person to look
at. Names from the traced program are untrusted: one that is markup must
show as text. Bad input: one line and exit 2.
"""
import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import harness
from harness import MMAPWATCH, fixture, read_events, events_of, tmpdir, hexaddr

DEMO_ARENA = 16 * 1024 * 1024 + 4096  # tests/fixtures/demo_arenas.c ARENA_LEN
SCREENSHOTS = os.path.join(os.path.dirname(os.path.abspath(harness.FIXTURE_DIR)),
                           "report-screenshots")
EVIL = "</script><img src=x onerror=alert(1)>"
UNIT_EVENTS = os.path.join(os.path.dirname(__file__), "..", "unit", "data",
                           "report_events.jsonl")


# ---- a proxy that fails the test if it hears anything ----------------------

class Listener:
    """A local HTTP proxy that records every request it receives."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def any(self):
                outer.requests.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.end_headers()

            do_GET = do_POST = do_HEAD = do_PUT = do_CONNECT = do_OPTIONS = any

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def chromium(url, action, proxy_port):
    """Runs headless chromium on URL with ACTION (--dump-dom, or
    --screenshot=PATH): every request goes to the proxy, every name fails
    to resolve. Returns stdout."""
    exe = shutil.which("chromium")
    if exe is None:
        raise AssertionError("no chromium on PATH: run scripts/deps.sh as root")
    argv = [exe, "--headless", "--no-sandbox", "--disable-gpu",
            f"--user-data-dir={tmpdir()}", "--window-size=1280,2000",
            f"--proxy-server=http://127.0.0.1:{proxy_port}",
            # Chromium's own services (component updates, sign-in) would ask
            # the proxy too: they go direct, and fail to resolve.
            "--proxy-bypass-list=<-loopback>;update.googleapis.com;accounts.google.com",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", "--disable-extensions", "--no-pings",
            "--disable-domain-reliability", "--disable-client-side-phishing-detection",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,"
            "Translate,AutofillServerCommunication",
            action, url]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=harness.WAIT_S * 2, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"chromium exited {p.returncode}: {p.stderr[-2000:]}"
    return p.stdout


def open_report(path, screenshot=None, views=""):
    """The DOM of the page at PATH (with #VIEWS) after its script ran;
    checks that the script finished and that nothing was requested."""
    url = "file://" + os.path.abspath(path) + (f"#{views}" if views else "")
    with Listener() as net:
        dom = chromium(url, "--dump-dom", net.port)
        if screenshot:
            os.makedirs(SCREENSHOTS, exist_ok=True)
            shot = os.path.join(SCREENSHOTS, screenshot)
            chromium(url, f"--screenshot={shot}", net.port)
            assert os.path.getsize(shot) > 10000, f"screenshot {shot} is (nearly) empty"
    assert net.requests == [], f"the page made network requests: {net.requests}"
    assert '<span id="status">rendered</span>' in dom, \
        f"the page's script did not finish: {re.findall(r'id=.error.[^<]*', dom)}"
    return dom


def report(events, *opts, expect=0):
    out = os.path.join(tmpdir(), "report.html")
    p = subprocess.run([MMAPWATCH, "report", events, "-o", out, *opts], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=harness.WAIT_S)
    assert p.returncode == expect, f"report exited {p.returncode}: {p.stderr}"
    return out, p


def rows(dom, cls):
    return re.findall(rf'<tr class="{cls}">(.*?)</tr>', dom, re.S)


def cells(row):
    return re.findall(r'<td[^>]*>(.*?)</td>', row, re.S)


def bytes_attr(row):
    return [int(b) for b in re.findall(r'data-bytes="(-?\d+)"', row)]


# ---- tests -------------------------------------------------------------------


def demo_run():
    """The demo program under -k with dumps: (events path, dump dir, events)."""
    work = tmpdir()
    events_path = os.path.join(work, "events.jsonl")
    dumps = os.path.join(work, "dumps")
    argv = [MMAPWATCH, "--json", "-o", events_path, "-m", "16M", "-k", "--strings",
            "--dump-dir", dumps, "--", fixture("demo_arenas")]
    p = subprocess.run(harness.with_source(argv),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=harness.WAIT_S * 2)
    assert p.returncode == 0, f"demo run exited {p.returncode}: {p.stderr}"
    return events_path, dumps, read_events(events_path)


def test_report_demo_in_browser():
    """The demo's 8 arenas: call site, threads, sizes, resident bytes and
    dumps drawn by the page; no request; a screenshot kept."""
    events_path, dumps, events = demo_run()
    maps = [e for e in events_of(events, "mmap") if e["len"] == DEMO_ARENA]
    unmapped = {e["addr"] for e in events_of(events, "munmap")}
    assert len(maps) == 8 and len(unmapped) == 1, f"unexpected demo run: {events}"
    held = sum(DEMO_ARENA for e in maps if e["addr"] not in unmapped)
    out, p = report(events_path, "--dumps", dumps)
    assert os.stat(out).st_mode & 0o777 == 0o600, "the report quotes memory: mode 0600"
    assert f"{out} (8 regions" in p.stdout, p.stdout
    dom = open_report(out, "demo.png")

    totals = re.search(r'id="totals" data-count="(\d+)" data-ever="(\d+)" data-held="(\d+)"', dom)
    assert totals and [int(x) for x in totals.groups()] == [8, 8 * DEMO_ARENA, held], \
        f"header totals: {totals and totals.groups()}"
    sites = rows(dom, "site")
    assert len(sites) == 1, f"one call site expected: {sites}"
    assert cells(sites[0])[0] == "event_loop (demo_arenas)", cells(sites[0])
    assert bytes_attr(sites[0]) == [8 * DEMO_ARENA, 8 * DEMO_ARENA, held], sites[0]

    regions = rows(dom, "region")
    assert len(regions) == 8, f"8 region rows expected, got {len(regions)}"
    by_addr = {}
    for r in regions:
        m = re.search(r'title="(0x[0-9a-f]+),', r)
        by_addr[hexaddr(m.group(1))] = r
    dumped = {hexaddr(e["addr"]): e for e in events_of(events, "dump")}
    for e in maps:
        r = by_addr[hexaddr(e["addr"])]
        c = cells(r)
        assert c[0] == f"{e['comm']} ({e['tid']})", c
        assert c[1] == "event_loop (demo_arenas)", c
        assert bytes_attr(r)[:2] == [DEMO_ARENA, dumped[hexaddr(e["addr"])]["resident_bytes"]], r
        assert c[6] == ("munmap" if e["addr"] in unmapped else "exit"), c
        name = os.path.basename(dumped[hexaddr(e["addr"])]["path"])
        assert f'href="file://{os.path.realpath(dumps)}/{name}"' in r, r
        assert ":path /helloworld.Greeter/SayHello" in c[8], c
    # the flame graph: the demo's one stack, outermost frame first
    assert re.search(r"<svg[^>]*>.*event_loop \(demo_arenas\)", dom, re.S), "no flame frames"
    for n in range(1, 5):
        assert f"grpc-nio-w-{n}" in dom
    # the timeline's legend by call site, then by thread: each worker's
    # peak is its two arenas
    bands = rows(dom, "band")
    assert [cells(b)[0].split("</span>")[-1] for b in bands] == ["event_loop (demo_arenas)"], bands
    assert bytes_attr(bands[0])[0] == 8 * DEMO_ARENA, bands
    dom = open_report(out, "demo-threads.png", views="threads,ever")
    bands = {cells(b)[0].split("</span>")[-1]: bytes_attr(b) for b in rows(dom, "band")}
    assert sorted(bands) == [f"grpc-nio-w-{n}" for n in range(1, 5)], bands
    assert all(b[0] == 2 * DEMO_ARENA for b in bands.values()), bands


def test_report_escapes_names():
    """A thread name, a symbol and a dumped string that are markup show
    as text: no element is made of them, no script runs."""
    work = tmpdir()
    events_path = os.path.join(work, "evil.jsonl")
    stack = [{"ip": "0x1", "symbol": EVIL + "+0x1", "module": "/x/" + EVIL},
             {"ip": "0x2", "symbol": "main+0x2", "module": "/bin/prog"}]
    lines = [
        {"event": "exec", "ts": "2026-01-01T00:00:00.000000Z", "pid": 9, "tid": 9, "comm": EVIL},
        {"event": "mmap", "ts": "2026-01-01T00:00:01.000000Z", "pid": 9, "tid": 10, "comm": EVIL,
         "addr": "0x10000000", "len": 1 << 24, "prot": "rw-", "flags": "MAP_PRIVATE",
         "fd": -1, "offset": 0, "stack": stack},
        {"event": "dump", "ts": "2026-01-01T00:00:02.000000Z", "pid": 9, "tid": 10, "comm": EVIL,
         "addr": "0x10000000", "len": 1 << 24, "path": "d/" + EVIL + ".bin", "bytes_read": 4096,
         "resident_bytes": 4096, "reason": "delay"},
        {"event": "strings", "ts": "2026-01-01T00:00:02.000000Z", "pid": 9, "tid": 10,
         "comm": EVIL, "addr": "0x10000000", "len": 1 << 24, "path": "d/" + EVIL + ".strings",
         "strings": [{"text": EVIL, "count": 2}]},
    ]
    with open(events_path, "w", encoding="utf-8") as f:
        for ev in lines:
            f.write(json.dumps(ev) + "\n")
    out, _ = report(events_path)
    with open(out, encoding="utf-8") as f:
        html = f.read()
    assert EVIL not in html and "<img" not in html, "markup from the events file reached the page"
    assert "default-src 'none'" in html, "no Content-Security-Policy"
    dom = open_report(out, "escaping.png")
    shown = EVIL.replace("<", "&lt;").replace(">", "&gt;")
    assert "<img" not in dom, "an element was made of a name"
    region = rows(dom, "region")
    assert len(region) == 1 and cells(region[0])[0] == f"{shown} (10)", region
    assert shown in cells(region[0])[8], "the dumped string is not shown as text"
    assert dom.count(shown) >= 4, "the name should show in header, table, legend, flame graph"


def test_report_folded():
    """--folded: one "frame;frame bytes" line per stack, outermost first,
    held bytes by default and every byte with =ever (the unit test's
    file, whose totals are known)."""
    def folded(*opts):
        p = subprocess.run([MMAPWATCH, "report", UNIT_EVENTS, "--folded", *opts],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=harness.WAIT_S)
        assert p.returncode == 0, p.stderr
        return sorted(p.stdout.splitlines())
    m = 1 << 20
    assert folded() == sorted([
        f"main (prog);alloc_a (prog);__mmap (libc.so.6) {12 * m}",
        f"main (prog);alloc_b (prog);__mmap (libc.so.6) {12 * m}",
        f"(no stack: run with -k) {2 * m}"]), folded()
    assert folded("--folded=ever") == sorted([
        f"main (prog);alloc_a (prog);__mmap (libc.so.6) {20 * m}",
        f"main (prog);alloc_b (prog);__mmap (libc.so.6) {12 * m}",
        f"(no stack: run with -k) {2 * m}"]), folded("--folded=ever")


def test_report_demo_folded_matches_events():
    """--folded=ever on a real run adds up to the bytes of its mmap events."""
    events_path, _, events = demo_run()
    p = subprocess.run([MMAPWATCH, "report", events_path, "--folded=ever"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=harness.WAIT_S)
    assert p.returncode == 0, p.stderr
    # every arena is mapped by event_loop on its own thread: one stack
    total = sum(e["len"] for e in events_of(events, "mmap"))
    assert total == 8 * DEMO_ARENA, f"unexpected demo run: {events}"
    assert p.stdout.splitlines() == [
        "clone3 (libc.so.6);start_thread (libc.so.6);event_loop (demo_arenas);"
        f"__mmap (libc.so.6) {total}"], p.stdout


def test_report_bad_input():
    """Not an events file: one line naming the file and line, exit 2. A
    last line cut short is tolerated and said in the page."""
    work = tmpdir()
    good = open(UNIT_EVENTS, encoding="utf-8").read().splitlines()

    def write(name, text):
        path = os.path.join(work, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    cases = [
        (write("middle.jsonl", "\n".join(good[:3] + [good[3][:40]] + good[4:]) + "\n"),
         "line 4: not JSON"),
        (write("text.jsonl", "00:42:55.780016 [12263/12264 grpc-nio-w-1] mmap(NULL, 16781312, "
                             "PROT_READ|PROT_WRITE, ...) = 0x7ffbb3d1e000\n"), "line 1: not JSON"),
        (write("noaddr.jsonl", '{"event":"mmap","ts":"2026-01-01T00:00:01Z","pid":1,"len":5}\n'),
         'line 1: mmap event without a valid "addr"'),
        (write("empty.jsonl", ""), "is empty"),
        (os.path.join(work, "missing.jsonl"), "cannot open events file"),
    ]
    for path, want in cases:
        _, p = report(path, expect=2)
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("mmapwatch: report: ") and want in lines[0], \
            f"{path}: {p.stderr!r}"
    for argv in (["--frobnicate", UNIT_EVENTS], [], [UNIT_EVENTS, "extra"],
                 [UNIT_EVENTS, "--folded=most"], [UNIT_EVENTS, "--dumps", "/nonexistent"]):
        p = subprocess.run([MMAPWATCH, "report", *argv], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=harness.WAIT_S)
        assert p.returncode == 2 and len(p.stderr.splitlines()) == 1, (argv, p.stderr)

    cut = write("cut.jsonl", "\n".join(good) + "\n" + good[1][:50])
    out, _ = report(cut)
    with open(out, encoding="utf-8") as f:
        html = f.read()
    assert "last line of the events file cut short" in html, "the cut line is not said"


def test_report_valgrind_clean():
    """The report's main paths (events, dump metadata, page, folded, a bad
    line) leak nothing and touch no invalid memory."""
    if not shutil.which("valgrind"):
        raise harness.Skip("valgrind is not installed")
    if "/san/" in MMAPWATCH:
        raise harness.Skip("sanitizer build: valgrind cannot run ASan binaries")
    events_path, dumps, _ = demo_run()
    work = tmpdir()
    bad, cut = os.path.join(work, "bad.jsonl"), os.path.join(work, "cut.jsonl")
    with open(bad, "w", encoding="utf-8") as f:
        f.write(open(events_path, encoding="utf-8").read() + "{\"event\":\n")
    with open(cut, "w", encoding="utf-8") as f:
        f.write(open(events_path, encoding="utf-8").read() + "{\"event\":")
    valgrind = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                "--show-leak-kinds=definite,indirect,possible",
                "--errors-for-leak-kinds=definite,indirect,possible"]
    for argv, want in (([events_path, "--dumps", dumps, "-o", os.path.join(work, "r.html")], 0),
                       ([events_path, "--folded=ever"], 0), ([bad, "-o", "-"], 2),
                       ([cut, "-o", "-"], 0),
                       ([UNIT_EVENTS, "--dumps", "/nonexistent"], 2)):
        p = subprocess.run(valgrind + [MMAPWATCH, "report", *argv], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120)
        assert p.returncode == want, f"{argv}: rc={p.returncode} stderr={p.stderr[-3000:]}"


def test_report_jvm_in_browser():
    """A JVM running Netty under -k: each 16 MiB chunk's region row names
    its event loop thread and the call site its stack gives; the totals
    are the run's; no request; a screenshot kept."""
    import test_jvm  # the JVM test's run and its checks of the chunks
    dump_dir = os.path.join(tmpdir(), "dumps")
    rc, _, err, events, truth = test_jvm.run_launch(
        ["-m", "16M", "-k", "--delay", "1h", "--dump-dir", dump_dir])
    assert rc == 0, f"mmapwatch exited {rc}: {err}"
    chunks = test_jvm.check_chunks(events, truth, test_jvm.MIB * 16, dumps=False)
    # run_launch wrote its events file into the last scratch directory
    events_path = os.path.join(harness._tmpdirs[-1].name, "events.jsonl")
    out, _ = report(events_path, "--dumps", dump_dir)
    dom = open_report(out, "jvm.png")
    maps = events_of(events, "mmap")
    totals = re.search(r'id="totals" data-count="(\d+)" data-ever="(\d+)"', dom)
    assert totals and int(totals.group(1)) == len(maps), (totals and totals.groups(), len(maps))
    by_addr = {}
    for r in rows(dom, "region"):
        m = re.search(r'title="(0x[0-9a-f]+),', r)
        by_addr[hexaddr(m.group(1))] = r
    site_names = [cells(s)[0] for s in rows(dom, "site")]
    for ev in chunks:
        r = by_addr.get(hexaddr(ev["addr"]))
        assert r, f"chunk {ev['addr']} not among the largest regions"
        c = cells(r)
        name = ev["comm"].replace("<", "&lt;").replace(">", "&gt;")
        assert c[0] == f"{name} ({ev['tid']})", c
        assert c[1] in site_names and not c[1].startswith("(no stack"), (c[1], site_names)
        assert c[6] == "exit" and c[7].startswith("<a href=\"file://"), c
