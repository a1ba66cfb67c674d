#!/bin/sh
# demo.sh: shows in a few seconds what mmapwatch catches. Run by `make demo`,
# which builds ./mmapwatch and build/fixtures/demo_arenas first.
#
# The demo program (tests/fixtures/demo_arenas.c) plays a gRPC server in
# miniature: four threads named grpc-nio-w-1..4 each map two 16 MiB + 4 KiB
# "arenas", the size Netty's pooled allocator asks for, amid the small maps
# every program makes, and write HTTP/2 and gRPC headers into them; one
# arena is unmapped before the program exits.
#
# Five steps: which thread maps the big regions (text events), the same as
# JSON Lines, from where in the code (call stacks and the summary), what
# the regions hold (dumps with --strings), and all of it as one HTML page
# (mmapwatch report). The first three run with
# --no-dump so that they write no files; the last writes its
# dumps into a new scratch directory under build/ and leaves it there for
# the user to look at (it says where; `make clean` removes build/).
set -u

cd "$(dirname "$0")/.." || exit 1

prog=build/fixtures/demo_arenas
for f in ./mmapwatch "$prog"; do
    if [ ! -x "$f" ]; then
        echo "demo: $f is missing; run 'make demo', which builds it" >&2
        exit 1
    fi
done

# Keep the parts apart on a terminal: mmapwatch writes its events to
# stderr, the demo program its one line to stdout.
say() { printf '%s\n' "$@"; }

say "== 1. Which thread maps the big regions?" \
    "" \
    "   ./mmapwatch --min-size 16M --no-dump -- $prog" \
    "" \
    "mmapwatch starts the program under a seccomp filter and reports each mmap" \
    "of at least 16 MiB: time, [pid/tid thread-name], the call as strace would" \
    "print it, and the address it returned. Smaller maps (thread stacks, a" \
    "malloc, 64 KiB buffers) are filtered out in the kernel and cost nothing." \
    "The munmap is reported because it ends a region seen before. mmapwatch" \
    "also reports the command's exec (which ends the regions of the program" \
    "it replaces: none here) and its exit status, which it exits with too." \
    "(--no-dump: by default mmapwatch also saves each region; that is step 4.)" \
    ""
./mmapwatch --min-size 16M --no-dump -- "$prog" 2>&1
status=$?
say "" "(exit status $status)" ""

say "== 2. The same as JSON Lines, for scripts" \
    "" \
    "   ./mmapwatch --min-size 16M --no-dump --json -- $prog" \
    "" \
    "One object per event, flushed as it happens; \"ts\" is UTC, \"len\" is the" \
    "length the caller asked for. Add -o events.jsonl to keep them in a file," \
    "then e.g.  jq -r 'select(.event == \"mmap\") | .comm' events.jsonl | sort | uniq -c" \
    ""
./mmapwatch --min-size 16M --no-dump --json -- "$prog" 2>&1
status2=$?
say "" "(exit status $status2)" ""

# A new directory each time, so that nothing from an earlier run is mixed
# in or removed. mktemp makes it mode 0700; mmapwatch creates "dumps"
# inside it (0700 too).
scratch=$(mkdir -p build && mktemp -d build/demo-dumps.XXXXXX) || {
    echo "demo: cannot create a scratch directory under build/" >&2
    exit 1
}
dir=$scratch/dumps
events=$scratch/events.txt

say "== 3. From where in the code?" \
    "" \
    "   ./mmapwatch --min-size 16M --no-dump -k -c -- $prog" \
    "" \
    "-k unwinds the stack of the thread at each reported mmap (innermost frame" \
    "first: the function, its offset, the file). -c ends with a table by call" \
    "site and thread, the sizes seen and the --min-size that keeps them." \
    ""
./mmapwatch --min-size 16M --no-dump -k -c -- "$prog" 2>&1
status_k=$?
say "" "(exit status $status_k)" ""

say "== 4. What is in them?" \
    "" \
    "   ./mmapwatch --min-size 16M --strings --dump-dir $dir -o $events -- $prog" \
    "" \
    "Each reported region is copied to disk while the program runs: 5 s after" \
    "its mmap by default (--delay), or at once when it is about to go, as here:" \
    "one arena is unmapped and the program exits long before 5 s, so each" \
    "region is dumped at its munmap (reason \"unmap\") or at the exit (\"exit\")," \
    "the thread doing it held until the dump is on disk. Only pages that exist" \
    "are read (16 KiB of each 16 MiB arena here); the rest become holes of a" \
    "sparse file. --strings lists the printable runs and shows the 10 most" \
    "frequent under each dump event. Below: the dump events from $events," \
    "with the top ten of the first only." \
    ""
./mmapwatch --min-size 16M --strings --dump-dir "$dir" -o "$events" -- "$prog"
status3=$?
# Dump lines, and the indented top-ten lines of the first dump only.
awk '/\] dump / { print; n++; next } /^    / && n == 1 { print }' "$events"
say "" "(exit status $status3)" "" \
    "The files: <pid>-<address>-<length>-<seq>.bin (the region, sparse), .json" \
    "(when and why it was dumped, which pages were holes) and .strings; all" \
    "mode 0600, in a directory of mode 0700, since dumps hold whatever the" \
    "program held (tokens, keys, user data)." \
    ""
say "   ls -ld $dir; ls -l $dir; du -sh $dir" ""
ls -ld "$dir"
ls -l "$dir"
say "" "Disk actually used (the .bin files are 16 MiB each, but sparse):"
du -sh "$dir"

say "" "== 5. See it: one HTML page" \
    "" \
    "   ./mmapwatch --min-size 16M -k --strings --json --dump-dir $dir.k -o $scratch/events.jsonl -- $prog" \
    "   ./mmapwatch report $scratch/events.jsonl --dumps $dir.k -o $scratch/report.html" \
    "" \
    "The same run recorded as JSON Lines with stacks (-k), then turned into one" \
    "self-contained page (nothing is loaded from the network): memory over time" \
    "by call site or thread, a flame graph of where it was mapped from, and the" \
    "largest regions with their dumps and top strings." \
    ""
./mmapwatch --min-size 16M -k --strings --json --dump-dir "$dir.k" -o "$scratch/events.jsonl" \
    -- "$prog" >/dev/null
status4=$?
./mmapwatch report "$scratch/events.jsonl" --dumps "$dir.k" -o "$scratch/report.html"
status5=$?
say "" "Open $scratch/report.html in a browser (file:// is enough)."

say "" "The dumps are left in $scratch" \
    "(remove it with: rm -r $scratch)." \
    "" \
    "On a live process the same questions are asked with" \
    "   ./mmapwatch -p PID --min-size 16M --strings" \
    "(see README.md for what attaching costs the target, man mmapwatch for the" \
    "dump options: --delay, --redump, --max-dump-bytes, ...)."

[ "$status" = 0 ] && [ "$status2" = 0 ] && [ "$status_k" = 0 ] && [ "$status3" = 0 ] &&
    [ "$status4" = 0 ] && [ "$status5" = 0 ]
