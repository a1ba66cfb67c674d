#!/usr/bin/env python3
"""mmapwatch test runner: unit test binaries, then integration tests.

Usage: tests/run_tests.py [NAME ...]   (substring filters on test names)

Environment (set by `make test`): MMAPWATCH (the binary under test),
UNIT_DIR (built unit test binaries), FIXTURE_DIR (built fixtures).

Unit binaries print "PASS: ..." / "FAIL: ..." lines (tests/unit/unit.h).
Integration tests are the functions named test_* in tests/integration/
test_*.py; an AssertionError (or any exception) fails one, harness.Skip
skips it with a reason. Each integration test runs with a time limit so a
hung tracer fails the test instead of the run. Ends with one line:
"N passed, N failed" (", N skipped" when some were skipped).
"""
import importlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))

import harness  # noqa: E402

TEST_TIMEOUT_S = int(os.environ.get("TEST_TIMEOUT", "120"))


def wanted(name, filters):
    return not filters or any(f in name for f in filters)


def run_unit(filters, counts):
    unit_dir = os.environ.get("UNIT_DIR", "")
    if not unit_dir or not os.path.isdir(unit_dir):
        print("FAIL: unit: UNIT_DIR not set or missing (run through `make test`)")
        counts["failed"] += 1
        return
    for exe in sorted(os.listdir(unit_dir)):
        path = os.path.join(unit_dir, exe)
        if not exe.startswith("test_") or not os.access(path, os.X_OK):
            continue
        proc = subprocess.run([path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=TEST_TIMEOUT_S)
        seen = 0
        for line in proc.stdout.splitlines():
            if line.startswith("PASS: ") or line.startswith("FAIL: "):
                name = line.split(" ", 1)[1].split(":")[0:2]
                if not wanted(":".join(name), filters):
                    continue
                seen += 1
                print(line)
                counts["passed" if line.startswith("PASS") else "failed"] += 1
            elif line.strip() and wanted(exe, filters):
                print("  " + line)
        if proc.returncode not in (0, 1) or (proc.returncode == 1 and seen == 0):
            # A crash (sanitizer report, signal) is a failure even if every
            # case printed PASS before it.
            print(f"FAIL: {exe}: exited with {proc.returncode}")
            counts["failed"] += 1


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout(f"test took longer than {TEST_TIMEOUT_S}s")


def run_integration(filters, counts):
    idir = os.path.join(HERE, "integration")
    signal.signal(signal.SIGALRM, on_alarm)
    # mmapwatch writes ./mmapwatch-dumps by default: run every test in a
    # scratch directory so nothing lands in the tree.
    scratch = tempfile.TemporaryDirectory(prefix="mmapwatch-tests-")
    os.chdir(scratch.name)
    for fname in sorted(os.listdir(idir)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        mod = importlib.import_module(fname[:-3])
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            full = f"{fname[:-3]}.{name}"
            fn = getattr(mod, name)
            if not callable(fn) or not wanted(full, filters):
                continue
            start = time.monotonic()
            signal.alarm(TEST_TIMEOUT_S)
            try:
                fn()
                status, detail = "PASS", ""
            except harness.Skip as e:
                status, detail = "SKIP", str(e)
            except Exception as e:  # noqa: BLE001 - every error fails the test
                status = "FAIL"
                detail = f"{type(e).__name__}: {e}"
                tb = traceback.format_exc().rstrip().splitlines()
                detail += "\n" + "\n".join("    " + l for l in tb[-8:])
            finally:
                signal.alarm(0)
                harness.cleanup()
            took = time.monotonic() - start
            line = f"{status}: {full} ({took:.2f}s)"
            if detail:
                line += f": {detail}"
            print(line, flush=True)
            counts[{"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}[status]] += 1


def main():
    filters = sys.argv[1:]
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    run_unit(filters, counts)
    run_integration(filters, counts)
    tail = f", {counts['skipped']} skipped" if counts["skipped"] else ""
    print(f"{counts['passed']} passed, {counts['failed']} failed{tail}")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
