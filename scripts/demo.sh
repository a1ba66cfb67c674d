#!/bin/sh
# demo.sh: shows in a few seconds what mmapwatch catches. Run by `make demo`,
# which builds ./mmapwatch and build/fixtures/demo_arenas first.
#
# The demo program (tests/fixtures/demo_arenas.c) plays a gRPC server in
# miniature: four threads named grpc-nio-w-1..4 each map two 16 MiB + 4 KiB
# "arenas", the size Netty's pooled allocator asks for, amid the small maps
# every program makes; one arena is unmapped before the program exits.
set -u

cd "$(dirname "$0")/.." || exit 1

prog=build/fixtures/demo_arenas
for f in ./mmapwatch "$prog"; do
    if [ ! -x "$f" ]; then
        echo "demo: $f is missing; run 'make demo', which builds it" >&2
        exit 1
    fi
done

# Keep the two parts apart on a terminal: mmapwatch writes its events to
# stderr, the demo program its one line to stdout.
say() { printf '%s\n' "$@"; }

say "== 1. Which thread maps the big regions?" \
    "" \
    "   ./mmapwatch --min-size 16M -- $prog" \
    "" \
    "mmapwatch starts the program under a seccomp filter and reports each mmap" \
    "of at least 16 MiB: time, [pid/tid thread-name], the call as strace would" \
    "print it, and the address it returned. Smaller maps (thread stacks, a" \
    "malloc, 64 KiB buffers) are filtered out in the kernel and cost nothing." \
    "The munmap is reported because it ends a region seen before. mmapwatch" \
    "also reports the command's exec (which ends the regions of the program" \
    "it replaces: none here) and its exit status, which it exits with too." \
    ""
# Builds with the region-dump feature (in progress, see README.md) save the
# reported regions' contents under ./mmapwatch-dumps by default.
if ./mmapwatch --help 2>/dev/null | grep -q -- '--no-dump'; then
    say "This build also saves each reported region's contents: the \"dump\" lines" \
        "name the files, under ./mmapwatch-dumps (try: strings FILE.bin | head)." \
        ""
fi
./mmapwatch --min-size 16M -- "$prog" 2>&1
status=$?
say "" "(exit status $status)" ""

say "== 2. The same as JSON Lines, for scripts" \
    "" \
    "   ./mmapwatch --min-size 16M --json -- $prog" \
    "" \
    "One object per event, flushed as it happens; \"ts\" is UTC, \"len\" is the" \
    "length the caller asked for. Add -o events.jsonl to keep them in a file," \
    "then e.g.  jq -r 'select(.event == \"mmap\") | .comm' events.jsonl | sort | uniq -c" \
    ""
./mmapwatch --min-size 16M --json -- "$prog" 2>&1
status2=$?
say "" "(exit status $status2)" ""

say "On a live process the same question is asked with" \
    "   ./mmapwatch -p PID --min-size 16M" \
    "(see README.md for permissions and what attaching costs the target)."

[ "$status" = 0 ] && [ "$status2" = 0 ]
