#!/usr/bin/env bash
# bench.sh: what tracing costs the traced program, mmapwatch next to the
# usual tools, on the same machine in one run. Run by `make bench` (which
# builds ./mmapwatch and the fixtures first).
#
#   scripts/bench.sh [--write] [WORKLOAD...]
#
# Prints a markdown report (machine, table, goals) to stdout; progress goes
# to stderr. --write also replaces the part of docs/performance.md between
# <!-- bench:begin --> and <!-- bench:end --> with the report.
#
# Environment:
#   BENCH_RUNS     runs per cell, the median is reported (default 5)
#   BENCH_SLOW     seconds; a cell whose first run takes longer is run only
#                  once, and the table says so (default 5)
#   BENCH_TIMEOUT  seconds before one run is killed and its cell marked
#                  "failed" (default 300)
#   BENCH_MMAPWATCH  the binary to measure (default ./mmapwatch)
#
# Two ways of timing, never mixed in one ratio:
#   launch  the tool starts the program; wall time of the whole command.
#   attach  the program is started with --wait-stdin, prints "ready", the
#           tool attaches, then the program is let go and reports the
#           seconds its own work took (CLOCK_MONOTONIC). Compared with the
#           same program run the same way without a tool.
# A tool that is missing shows "n/a (not installed)"; a run that fails
# (non-zero exit, timeout, no attach) shows "failed"; the bench goes on.
#
# Adding a workload: write workload_NAME (it sets WL_TITLE, WL_PROG and
# WL_ARGS; WL_PROG must accept --wait-stdin first, as the bench_*
# fixtures do), add NAME to WORKLOADS, and extend print_goals if it has goals.

# Most functions here are called through names built at run time
# ("workload_$wl") or from wait_until, which shellcheck cannot follow.
# shellcheck disable=SC2317

set -u
export LC_ALL=C # EPOCHREALTIME and printf with a '.' decimal point

cd "$(dirname "$0")/.." || exit 1

RUNS=${BENCH_RUNS:-5}
SLOW=${BENCH_SLOW:-5}
TIMEOUT=${BENCH_TIMEOUT:-300}
MMAPWATCH=${BENCH_MMAPWATCH:-./mmapwatch}
FIXTURES=build/fixtures
DOC=docs/performance.md

WORKLOADS=(getppid mmap)

# The syscalls mmapwatch's launch-mode filter stops on, for a strace row
# that does the same work (strace -e trace=mmap never sees munmap).
SAME_SYSCALLS=mmap,munmap,mremap,mprotect,pkey_mprotect

# Rows of the report, in order. Kinds: launch, attach (see above).
TOOLS=(untraced strace strace_seccomp strace_seccomp_same mmapwatch mmapwatch_16m
       mmapwatch_dumps perf_trace untraced_work mmapwatch_attach strace_attach bpftrace)

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
is_count "$RUNS" || die "BENCH_RUNS must be a positive integer, not '$RUNS'"
is_count "$SLOW" || die "BENCH_SLOW must be a positive integer (seconds), not '$SLOW'"
is_count "$TIMEOUT" || die "BENCH_TIMEOUT must be a positive integer (seconds), not '$TIMEOUT'"

# ---------------------------------------------------------------- workloads

workload_getppid() {
    WL_TITLE="(a) getppid: 1M calls in 2 threads"
    WL_PROG=$FIXTURES/bench_getppid
    WL_ARGS=(1000000 2)
}

workload_mmap() {
    WL_TITLE="(b) mmap+munmap: 10k pairs of 64 KiB in 2 threads"
    WL_PROG=$FIXTURES/bench_mmap
    WL_ARGS=(10000 2 65536)
}

# -------------------------------------------------------------------- tools

tool_label() {
    case $1 in
    untraced)         echo "untraced" ;;
    strace)           echo "strace -f -e trace=mmap" ;;
    strace_seccomp)   echo "strace -f --seccomp-bpf -e trace=mmap" ;;
    strace_seccomp_same) echo "strace -f --seccomp-bpf -e trace=$SAME_SYSCALLS" ;;
    mmapwatch)        echo "mmapwatch -- CMD (launch)" ;;
    mmapwatch_16m)    echo "mmapwatch --min-size 16M -- CMD (launch)" ;;
    mmapwatch_dumps)  echo "mmapwatch -- CMD (launch, default dumps on)" ;;
    perf_trace)       echo "perf trace -e mmap" ;;
    untraced_work)    echo "untraced, work only" ;;
    mmapwatch_attach) echo "mmapwatch -p PID (attach)" ;;
    strace_attach)    echo "strace -f -e trace=mmap -p PID" ;;
    bpftrace)         echo "bpftrace, sys_enter_mmap tracepoint" ;;
    esac
}

tool_kind() {
    case $1 in
    untraced_work | mmapwatch_attach | strace_attach | bpftrace) echo attach ;;
    *) echo launch ;;
    esac
}

# The untraced run each tool's ratio is taken against: the same timing.
tool_baseline() {
    if [ "$(tool_kind "$1")" = attach ]; then echo untraced_work; else echo untraced; fi
}

# Prints why a tool cannot run here, or nothing when it can.
tool_missing() {
    case $1 in
    strace | strace_seccomp | strace_seccomp_same | strace_attach)
        command -v strace >/dev/null || echo "n/a (not installed)" ;;
    mmapwatch | mmapwatch_16m | mmapwatch_attach)
        [ -x "$MMAPWATCH" ] || echo "n/a (not built: run make)" ;;
    mmapwatch_dumps)
        if [ ! -x "$MMAPWATCH" ]; then echo "n/a (not built: run make)"
        elif [ "${#NO_DUMP[@]}" = 0 ]; then echo "n/a (this build does not dump)"
        fi ;;
    perf_trace)
        command -v perf >/dev/null || echo "n/a (not installed)" ;;
    bpftrace)
        command -v bpftrace >/dev/null || echo "n/a (not installed)" ;;
    esac
}

# Sets CMD to the launch-mode command prefix of a tool.
launch_prefix() {
    case $1 in
    untraced)       CMD=() ;;
    strace)         CMD=(strace -f -o /dev/null -e trace=mmap --) ;;
    strace_seccomp) CMD=(strace -f -o /dev/null --seccomp-bpf -e trace=mmap --) ;;
    strace_seccomp_same) CMD=(strace -f -o /dev/null --seccomp-bpf -e "trace=$SAME_SYSCALLS" --) ;;
    mmapwatch)      CMD=("$MMAPWATCH" -o /dev/null "${NO_DUMP[@]}" --) ;;
    mmapwatch_16m)  CMD=("$MMAPWATCH" -o /dev/null "${NO_DUMP[@]}" --min-size 16M --) ;;
    mmapwatch_dumps) CMD=("$MMAPWATCH" -o /dev/null --dump-dir "$WORK/dumps" --) ;;
    perf_trace)     CMD=(perf trace -o /dev/null -e mmap --) ;;
    esac
}

# --------------------------------------------------------------- plumbing

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mmapwatch-bench.XXXXXX") || die "cannot create a temporary directory"
TPID='' PPID_RUN='' GOFD=''
cleanup() {
    [ -n "$TPID" ] && kill "$TPID" 2>/dev/null
    [ -n "$PPID_RUN" ] && kill -9 "$PPID_RUN" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Builds that dump region contents by default (into ./mmapwatch-dumps) are
# measured without dumps in the rows the goals are about, and once more
# with their defaults, dumps going to a scratch directory.
NO_DUMP=()
if [ -x "$MMAPWATCH" ] && timeout 5 "$MMAPWATCH" --help 2>/dev/null | grep -q -- '--no-dump'; then
    NO_DUMP=(--no-dump)
fi

# A fifo that nobody writes lets `read -t` sleep without forking.
mkfifo "$WORK/nap" || die "cannot create a fifo in $WORK"
exec {NAPFD}<>"$WORK/nap"
nap() { read -r -t "$1" -u "$NAPFD" _; true; }

now_us() { NOW_US=${EPOCHREALTIME/./}; }

# wait_until SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_until() {
    local limit=$(($1 * 1000000)) start
    shift
    now_us; start=$NOW_US
    until "$@"; do
        now_us
        (( NOW_US - start > limit )) && return 1
        nap 0.02
    done
}

is_alive() { kill -0 "$1" 2>/dev/null; }
is_gone() { ! kill -0 "$1" 2>/dev/null; }
has_ready() { [ "$(head -n 1 "$1" 2>/dev/null)" = ready ]; }
is_traced() { # the program (one thread until it is let go) has a tracer
    local key val
    while read -r key val; do
        [ "$key" = TracerPid: ] && { [ "$val" != 0 ]; return; }
    done <"/proc/$1/status"
    return 1
}
has_line() { grep -q "$2" "$1" 2>/dev/null; }

us_to_s() { printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)); }

# Keeps the last lines of a failed run's stderr for the progress output.
fail_run() {
    note "  failed: $*"
    [ -s "$WORK/err" ] && tail -n 3 "$WORK/err" | sed 's/^/bench:    | /' >&2
    return 1
}

# run_launch TOOL: one run; sets RUN_SECS (wall time) or returns 1.
run_launch() {
    local t0 rc
    launch_prefix "$1"
    : >"$WORK/err"
    now_us; t0=$NOW_US
    timeout -k 5 "$TIMEOUT" "${CMD[@]}" "$WL_PROG" "${WL_ARGS[@]}" </dev/null >/dev/null 2>"$WORK/err"
    rc=$?
    now_us
    RUN_SECS=$(us_to_s $((NOW_US - t0)))
    rm -rf "$WORK/dumps"
    case $rc in
    0) return 0 ;;
    124 | 137) fail_run "timed out after ${TIMEOUT}s" ;;
    *) fail_run "exit status $rc" ;;
    esac
}

# start_tracer TOOL PID: starts an attach-mode tool in the background (TPID)
# and waits until it is really watching.
start_tracer() {
    local pid=$2
    : >"$WORK/tracer.out"
    case $1 in
    untraced_work) return 0 ;;
    mmapwatch_attach)
        timeout -k 5 "$TIMEOUT" "$MMAPWATCH" -o /dev/null "${NO_DUMP[@]}" -p "$pid" \
            </dev/null >/dev/null 2>>"$WORK/err" &
        TPID=$! ;;
    strace_attach)
        timeout -k 5 "$TIMEOUT" strace -f -o /dev/null -e trace=mmap -p "$pid" \
            </dev/null >/dev/null 2>>"$WORK/err" &
        TPID=$! ;;
    bpftrace)
        timeout -k 5 "$TIMEOUT" bpftrace -e \
            "tracepoint:syscalls:sys_enter_mmap /pid == $pid/ { @maps[tid] = count(); }" \
            </dev/null >"$WORK/tracer.out" 2>>"$WORK/err" &
        TPID=$! ;;
    esac
    case $1 in
    bpftrace) wait_until 60 has_line "$WORK/tracer.out" '^Attaching' ;;
    *) wait_until 10 is_traced "$pid" ;;
    esac || {
        if is_alive "$TPID"; then fail_run "the tool did not attach in time"; else fail_run "the tool exited before it attached"; fi
        return 1
    }
    # Let the tracer finish its attach stops before the work starts.
    nap 0.2
}

# stop_tracer TOOL: ptrace tools leave by themselves when the program is
# gone; bpftrace is told to. Returns 1 if the tool failed or hung.
stop_tracer() {
    local rc
    [ -z "$TPID" ] && return 0
    [ "$1" = bpftrace ] && kill -INT "$TPID" 2>/dev/null
    if ! wait_until 30 is_gone "$TPID"; then
        kill "$TPID" 2>/dev/null
        wait "$TPID" 2>/dev/null
        TPID=
        fail_run "the tool did not exit within 30 s of the program"
        return 1
    fi
    wait "$TPID"
    rc=$?
    TPID=
    [ "$rc" = 0 ] || fail_run "the tool's exit status was $rc"
}

# run_attach TOOL: one run; sets RUN_SECS (the program's own work time).
run_attach() {
    local tool=$1 rc secs
    rm -f "$WORK/go" "$WORK/out"
    : >"$WORK/err"
    mkfifo "$WORK/go" || { fail_run "mkfifo"; return 1; }
    "$WL_PROG" --wait-stdin "${WL_ARGS[@]}" <"$WORK/go" >"$WORK/out" 2>>"$WORK/err" &
    PPID_RUN=$!
    exec {GOFD}>"$WORK/go"
    local ok=1
    if ! wait_until 10 has_ready "$WORK/out"; then
        fail_run "the program never printed ready"
        ok=0
    elif start_tracer "$tool" "$PPID_RUN"; then
        printf x >&"$GOFD"
    else
        ok=0
    fi
    exec {GOFD}>&- # a program still waiting sees EOF and exits

    if ! wait_until "$TIMEOUT" is_gone "$PPID_RUN"; then
        kill -9 "$PPID_RUN" 2>/dev/null
        ((ok)) && fail_run "timed out after ${TIMEOUT}s"
        ok=0
    fi
    wait "$PPID_RUN"
    rc=$?
    PPID_RUN=
    if ((ok)); then
        stop_tracer "$tool" || return 1
    else
        [ -n "$TPID" ] && kill "$TPID" 2>/dev/null && wait "$TPID" 2>/dev/null
        TPID=
        return 1
    fi
    [ "$rc" = 0 ] || { fail_run "the program's exit status was $rc"; return 1; }
    secs=$(sed -n 2p "$WORK/out")
    [[ $secs =~ ^[0-9]+\.[0-9]+$ ]] || { fail_run "the program reported no time"; return 1; }
    RUN_SECS=$secs
}

median() { # median of the arguments
    printf '%s\n' "$@" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ------------------------------------------------------------ measurement

declare -A SECS CELL_RUNS STATUS VALS SLOW_CELL

# One run of one cell; records the time, or marks the cell failed.
run_cell() { # run_cell WORKLOAD TOOL ROUND
    local key="$1:$2"
    note "$1 / $(tool_label "$2"): run $3 of $RUNS"
    if [ "$(tool_kind "$2")" = attach ]; then run_attach "$2"; else run_launch "$2"; fi || {
        STATUS[$key]=failed
        return
    }
    note "  $RUN_SECS s"
    VALS[$key]="${VALS[$key]:-} $RUN_SECS"
    if (($3 == 1 && ${RUN_SECS%.*} >= SLOW && RUNS > 1)); then
        note "  slower than ${SLOW}s: this cell gets one run"
        SLOW_CELL[$key]=1
    fi
}

# Runs go round the tools, one run of each per round, so that a machine
# whose speed drifts (a shared VM) shifts every cell alike.
measure_workload() { # measure_workload WORKLOAD
    local wl=$1 tool key round missing
    for tool in "${TOOLS[@]}"; do
        missing=$(tool_missing "$tool")
        [ -n "$missing" ] && STATUS[$wl:$tool]=$missing
    done
    for ((round = 1; round <= RUNS; round++)); do
        for tool in "${TOOLS[@]}"; do
            key="$wl:$tool"
            if [ -n "${STATUS[$key]:-}" ] || [ -n "${SLOW_CELL[$key]:-}" ]; then continue; fi
            run_cell "$wl" "$tool" "$round"
        done
    done
    for tool in "${TOOLS[@]}"; do
        key="$wl:$tool"
        [ -n "${STATUS[$key]:-}" ] && continue
        # shellcheck disable=SC2086 # the list is split on purpose
        set -- ${VALS[$key]}
        SECS[$key]=$(median "$@")
        CELL_RUNS[$key]=$#
        STATUS[$key]=ok
    done
}

# ----------------------------------------------------------------- report

fmt_secs() { awk -v s="$1" 'BEGIN { if (s < 10) printf "%.3f s", s; else printf "%.1f s", s }'; }
ratio_of() { # ratio_of WORKLOAD TOOL: prints the ratio, or nothing
    local base
    base=$(tool_baseline "$2")
    [ "${STATUS[$1:$2]:-}" = ok ] && [ "${STATUS[$1:$base]:-}" = ok ] || return 0
    awk -v a="${SECS[$1:$2]}" -v b="${SECS[$1:$base]}" 'BEGIN { if (b > 0) printf "%.2f", a / b }'
}
fmt_ratio() { awk -v r="$1" 'BEGIN { if (r >= 10) printf "%.0f×", r; else printf "%.2f×", r }'; }

cell_text() { # cell_text WORKLOAD TOOL
    local key="$1:$2" r text
    case ${STATUS[$key]:-failed} in
    ok)
        text=$(fmt_secs "${SECS[$key]}")
        r=$(ratio_of "$1" "$2")
        [ -n "$r" ] && text="$text ($(fmt_ratio "$r"))"
        [ "${CELL_RUNS[$key]}" = 1 ] && [ "$RUNS" -gt 1 ] && text="$text ¹"
        echo "$text" ;;
    *) echo "${STATUS[$key]}" ;;
    esac
}

print_machine() {
    local cpu kernel strace_v perf_v mw_v rev
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
    kernel=$(uname -r)
    strace_v=$(timeout 5 strace -V 2>/dev/null | head -n 1)
    perf_v=$(timeout 5 perf --version 2>/dev/null | head -n 1)
    mw_v=$(timeout 5 "$MMAPWATCH" --version 2>/dev/null | head -n 1)
    [ -z "$mw_v" ] && [ -x "$MMAPWATCH" ] && mw_v="$MMAPWATCH (no version)"
    rev=$(git rev-parse --short HEAD 2>/dev/null)
    if [ -n "$rev" ] && [ -n "$(git status --porcelain -- src include Makefile 2>/dev/null)" ]; then
        rev="$rev plus uncommitted changes"
    fi
    echo "Measured $(date -u +%Y-%m-%d) by \`scripts/bench.sh\` on $(nproc) CPUs (${cpu:-unknown CPU}),"
    echo "Linux $kernel; ${mw_v:-mmapwatch not built}${rev:+ (commit $rev)}; ${strace_v:-strace not installed}; ${perf_v:-perf not installed}."
    if [ "$RUNS" = 1 ]; then echo "One run per cell."; else echo "Median of $RUNS runs per cell unless marked."; fi
}

print_table() {
    local wl tool row
    row="| tool |"
    for wl in "${WORKLOADS[@]}"; do
        "workload_$wl"
        row="$row $WL_TITLE |"
    done
    echo "$row"
    row="|---|"
    for wl in "${WORKLOADS[@]}"; do row="$row---|"; done
    echo "$row"
    for tool in "${TOOLS[@]}"; do
        row="| $(tool_label "$tool") |"
        for wl in "${WORKLOADS[@]}"; do row="$row $(cell_text "$wl" "$tool") |"; done
        echo "$row"
    done
    echo
    echo "Ratios are against \"untraced\" for launch rows (wall time of the whole command)"
    echo "and against \"untraced, work only\" for the rows from there down (the program's own"
    echo "CLOCK_MONOTONIC time of its work, started after the tool had attached)."
    if [ "${#NO_DUMP[@]}" != 0 ]; then
        echo "mmapwatch rows run with --no-dump (tracing alone), except \"default dumps on\","
        echo "which keeps the defaults and writes its dumps to a scratch directory."
    fi
    local key
    for key in "${!CELL_RUNS[@]}"; do
        if [ "${CELL_RUNS[$key]}" = 1 ] && [ "$RUNS" -gt 1 ]; then
            echo "¹ one run only: the first run took more than ${SLOW} s."
            break
        fi
    done
}

# goal_line TEXT A_RATIO OP B_RATIO: one line of the goals list.
goal_line() {
    local verdict
    if [ -z "$2" ] || [ -z "$4" ]; then
        verdict="not measured"
    else
        verdict=$(awk -v a="$2" -v b="$4" -v op="$3" 'BEGIN { ok = (op == "<=") ? a <= b : a < b; print ok ? "met" : "NOT met" }')
        verdict="$verdict ($(fmt_ratio "$2") vs $(fmt_ratio "$4"))"
    fi
    echo "- $1: $verdict"
}

print_goals() {
    local has_a=0 has_b=0 wl
    for wl in "${WORKLOADS[@]}"; do
        [ "$wl" = getppid ] && has_a=1
        [ "$wl" = mmap ] && has_b=1
    done
    echo "Goals:"
    echo
    if ((has_a)); then
        goal_line "launch mode at most 1.3× untraced on (a)" \
            "$(ratio_of getppid mmapwatch)" "<=" "1.30"
        goal_line "attach mode no slower than strace -f -p on (a)" \
            "$(ratio_of getppid mmapwatch_attach)" "<=" "$(ratio_of getppid strace_attach)"
    fi
    if ((has_b)); then
        goal_line "launch mode no slower than strace --seccomp-bpf on (b)" \
            "$(ratio_of mmap mmapwatch)" "<=" "$(ratio_of mmap strace_seccomp)"
        goal_line "attach mode no slower than strace --seccomp-bpf on (b), as ratios" \
            "$(ratio_of mmap mmapwatch_attach)" "<=" "$(ratio_of mmap strace_seccomp)"
    fi
}

print_report() {
    cat "$WORK/machine.md"
    echo
    print_table
    echo
    print_goals
}

# Replaces the text between the markers of $DOC with the file $1.
write_doc() {
    local report=$1 tmp
    [ -f "$DOC" ] || die "$DOC does not exist"
    if ! grep -qx '<!-- bench:begin -->' "$DOC" || ! grep -qx '<!-- bench:end -->' "$DOC"; then
        die "$DOC lacks the lines <!-- bench:begin --> and <!-- bench:end -->"
    fi
    tmp="$DOC.tmp.$$"
    awk -v report="$report" '
        $0 == "<!-- bench:begin -->" { print; while ((getline line < report) > 0) print line; skip = 1; next }
        $0 == "<!-- bench:end -->" { skip = 0 }
        !skip { print }
    ' "$DOC" >"$tmp" || { rm -f "$tmp"; die "could not rewrite $DOC"; }
    mv "$tmp" "$DOC" || { rm -f "$tmp"; die "could not rewrite $DOC"; }
    note "wrote the figures into $DOC"
}

usage() {
    cat <<EOF
usage: scripts/bench.sh [--write] [WORKLOAD...]
Workloads: ${WORKLOADS[*]} (default: all). --write updates $DOC (all workloads only).
Environment: BENCH_RUNS (default 5), BENCH_SLOW (5 s), BENCH_TIMEOUT (300 s),
BENCH_MMAPWATCH (./mmapwatch).
EOF
}

# ------------------------------------------------------------------- main

write=0
selected=()
for arg in "$@"; do
    case $arg in
    --write) write=1 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *)
        declare -F "workload_$arg" >/dev/null || { echo "bench: no workload '$arg'" >&2; usage >&2; exit 2; }
        selected+=("$arg") ;;
    esac
done
if ((${#selected[@]})); then
    ((write)) && { echo "bench: --write needs every workload, so that the table stays whole" >&2; exit 2; }
    WORKLOADS=("${selected[@]}")
fi

for wl in "${WORKLOADS[@]}"; do
    "workload_$wl"
    [ -x "$WL_PROG" ] || die "$WL_PROG is missing: run 'make bench' (or 'make fixtures')"
done
command -v timeout >/dev/null || die "timeout (coreutils) is needed"

# Before measuring: the commit is the one the binary was built from, not
# whatever was committed while the bench ran.
print_machine >"$WORK/machine.md"

for wl in "${WORKLOADS[@]}"; do
    "workload_$wl"
    measure_workload "$wl"
done

print_report >"$WORK/report.md"
cat "$WORK/report.md"
((write)) && write_doc "$WORK/report.md"
exit 0
