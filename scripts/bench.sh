#!/usr/bin/env bash
# bench.sh: what tracing costs the traced program, mmapwatch next to the
# usual tools, on the same machine in one run. Run by `make bench` (which
# builds ./mmapwatch and the fixtures first).
#
#   scripts/bench.sh [--write] [WORKLOAD...]
#
# Prints a markdown report (machine, table, goals) to stdout; progress goes
# to stderr. --write also puts the report into docs/performance.md: the
# tracing table (workloads getppid and mmap, always both) between
# <!-- bench:begin --> and <!-- bench:end -->, each other workload between
# <!-- bench-NAME:begin --> and <!-- bench-NAME:end --> (dumps, jvm, stacks,
# javastacks).
#
# Environment:
#   BENCH_RUNS     runs per cell, the median is reported (default 5)
#   BENCH_SLOW     seconds; a cell whose first run takes longer is run only
#                  once, and the table says so (default 5)
#   BENCH_TIMEOUT  seconds before one run is killed and its cell marked
#                  "failed" (default 300)
#   BENCH_MMAPWATCH  the binary to measure (default ./mmapwatch)
#   BENCH_BEFORE   another mmapwatch binary (say, the build before a change)
#                  measured in the same rounds as BENCH_MMAPWATCH: rows
#                  "before" in the grow table and in the echo table
#                  (default: none); BENCH_BEFORE_FROM names it in the echo
#                  rows (default: its path)
#   BENCH_BUILT_FROM what the report says that binary was built from
#                  (default: the commit of the work tree for ./mmapwatch,
#                  the path for any other)
#   BENCH_DUMP_WARM  0: no memory warm-up before the dumps runs (see below)
#   BENCH_DUMP_SETTLE  seconds to wait before each warm-up (3; see below)
#   BENCH_JVM_REQUESTS  requests per connection in the jvm workload (10000)
#   BENCH_ECHO_RUNS  repetitions of the echo workload (3), each one JVM;
#   BENCH_ECHO_ROWS  the echo rows to run (default: all), e.g. "perf_trace mmapwatch_perf_kd"
#   BENCH_ECHO_WARMUP, BENCH_ECHO_WINDOW  its warm-up and its windows (10 s, 4 s)
#   BENCH_K_PAIRS  paired runs without and with -k in the stacks workload (8)
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
# fixtures do), add NAME to WORKLOADS and TABLE_WORKLOADS, and extend
# print_goals if it has goals.
#
# The "dumps" workload is not a column of that table: it measures what
# writing region dumps costs (throughput, sparse regions, how long a
# target is held), with its own table and goals (see measure_dumps).
# Nor is "jvm": requests per second of a real JVM running Netty, untraced
# and traced (see measure_jvm). Nor are "stacks" (what -k costs), "echo"
# (a Netty echo server with each tool attached in turn), "attach" ((a) and
# (b) with every attaching tool, quiet and with a CPU hog) and "grow"
# (growth by brk and mprotect). Such a workload NAME has measure_NAME and
# report_NAME. bpftrace and perf are optional: a row whose tool is missing
# says how to install it.

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

WORKLOADS=(getppid mmap dumps jvm stacks javastacks report echo attach grow)
# The workloads that are columns of the tools table; the others measure
# and report on their own (measure_NAME, report_NAME).
TABLE_WORKLOADS=(getppid mmap)

# The syscalls mmapwatch's launch-mode filter stops on, for a strace row
# that does the same work (strace -e trace=mmap never sees munmap).
SAME_SYSCALLS=mmap,munmap,mremap,mprotect,pkey_mprotect

# Rows of the report, in order. Kinds: launch, attach (see above).
TOOLS=(untraced strace strace_seccomp strace_seccomp_same mmapwatch mmapwatch_16m
       mmapwatch_dumps perf_trace untraced_work mmapwatch_attach strace_attach bpftrace)

# timeout(1) passes our SIGINT on to the tool and SIGKILLs it after its
# -k delay: bpftrace takes more than 5 s to detach and exit on a busy
# machine.
SLOW_EXIT=25

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

# Not columns of the tools table: measure_NAME and report_NAME.
workload_javastacks() {
    WL_TITLE="(f) Java stacks: a Netty JVM making and freeing $JSTACK_CHURN chunks of 128 KiB per event loop (4 loops), each mmap unwound and its Java frames named"
    WL_PROG=$(command -v java || echo java)
    WL_ARGS=()
}

workload_stacks() {
    WL_TITLE="(e) stacks: 10k mmap+munmap pairs of 64 KiB in 2 threads, each mmap unwound"
    WL_PROG=$FIXTURES/bench_mmap
    WL_ARGS=(10000 2 65536)
}

workload_dumps() {
    WL_TITLE="(c) dumps: 256 MiB, 16 MiB, 1 GiB with 16 MiB written, 64 KiB, --strings, (b) with dumps"
    WL_PROG=$FIXTURES/bench_dump
    WL_ARGS=()
    WL_HELPER=$FIXTURES/bench_dump_copy
}

workload_report() {
    WL_TITLE="(f) mmapwatch report on a $REPORT_EVENTS-event file (scripts/report_events.py)"
    WL_PROG=$MMAPWATCH
    WL_ARGS=()
}

workload_echo() {
    WL_TITLE="(f) Netty echo server, attached after a warm-up"
    WL_PROG=$FIXTURES/bench_echo_client
    WL_ARGS=()
}

workload_attach() {
    WL_TITLE="(a) and (b) in attach mode, quiet and with a CPU hog"
    WL_PROG=$FIXTURES/bench_getppid
    WL_ARGS=()
}

workload_grow() {
    WL_TITLE="(g) growth by brk and by mprotect commits"
    WL_PROG=$FIXTURES/bench_grow
    WL_ARGS=()
}

workload_jvm() {
    WL_TITLE="(d) JVM: Netty HTTP/2, $JVM_CONNECTIONS connections × $JVM_REQUESTS requests"
    WL_PROG=$(command -v java || echo java)
    WL_ARGS=()
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
    before)           echo "before: mmapwatch -- CMD (launch)" ;;
    before_16m)       echo "before: mmapwatch --min-size 16M -- CMD (launch)" ;;
    mmapwatch_dumps)  echo "mmapwatch -- CMD (launch, default dumps on)" ;;
    perf_trace)       echo "perf trace -e mmap" ;;
    untraced_work)    echo "untraced, work only" ;;
    mmapwatch_attach) echo "mmapwatch --source ptrace -p PID (attach)" ;;
    strace_attach)    echo "strace -f -e trace=mmap -p PID" ;;
    bpftrace)         echo "bpftrace, sys_enter_mmap tracepoint" ;;
    perf_trace_attach) echo "perf trace -e mmap -p PID" ;;
    mmapwatch_perf_attach) echo "mmapwatch --source perf -p PID (BPF reader)" ;;
    mmapwatch_perf_raw_attach) echo "mmapwatch --source perf --perf-calls raw -p PID" ;;
    strace_grow)      echo "strace -f -e trace=brk,mprotect" ;;
    strace_grow_attach) echo "strace -f -e trace=brk,mprotect -p PID" ;;
    esac
}

tool_kind() {
    case $1 in
    untraced_work | mmapwatch_attach | strace_attach | bpftrace | perf_trace_attach | \
        mmapwatch_perf_attach | mmapwatch_perf_raw_attach | strace_grow_attach) echo attach ;;
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
    strace | strace_seccomp | strace_seccomp_same | strace_attach | strace_grow | strace_grow_attach)
        command -v strace >/dev/null || echo "n/a (not installed)" ;;
    mmapwatch | mmapwatch_16m | mmapwatch_attach)
        [ -x "$MMAPWATCH" ] || echo "n/a (not built: run make)" ;;
    before | before_16m)
        [ -x "${BENCH_BEFORE:-}" ] || echo "n/a (BENCH_BEFORE is not an executable)" ;;
    mmapwatch_dumps)
        if [ ! -x "$MMAPWATCH" ]; then echo "n/a (not built: run make)"
        elif [ "${#NO_DUMP[@]}" = 0 ]; then echo "n/a (this build does not dump)"
        fi ;;
    perf_trace | perf_trace_attach)
        command -v perf >/dev/null || echo "n/a (not installed: scripts/deps.sh --bench)" ;;
    bpftrace)
        command -v bpftrace >/dev/null || echo "n/a (not installed: scripts/deps.sh --bench)" ;;
    mmapwatch_perf_attach)
        if [ ! -x "$MMAPWATCH" ]; then echo "n/a (not built: run make)"
        elif ! has_source_option; then echo "n/a (no --source option in this build)"
        fi ;;
    mmapwatch_perf_raw_attach)
        if [ ! -x "$MMAPWATCH" ]; then echo "n/a (not built: run make)"
        elif ! "$MMAPWATCH" --help 2>/dev/null | grep -q -- '--perf-calls bpf'; then
            echo "n/a (no BPF reader in this build)"
        fi ;;
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
    before)         CMD=("$BENCH_BEFORE" -o /dev/null "${NO_DUMP[@]}" --) ;;
    before_16m)     CMD=("$BENCH_BEFORE" -o /dev/null "${NO_DUMP[@]}" --min-size 16M --) ;;
    mmapwatch_dumps) CMD=("$MMAPWATCH" -o /dev/null --dump-dir "$WORK/dumps" --) ;;
    perf_trace)     CMD=(perf trace -o /dev/null -e mmap --) ;;
    strace_k)       CMD=(strace -f -k -o /dev/null -e trace=mmap --) ;;
    mmapwatch_k)    CMD=("$MMAPWATCH" -o /dev/null "${NO_DUMP[@]}" -k --) ;;
    strace_grow)    CMD=(strace -f -o /dev/null -e "trace=brk,mprotect" --) ;;
    esac
}

# --------------------------------------------------------------- plumbing

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mmapwatch-bench.XXXXXX") || die "cannot create a temporary directory"
TPID='' PPID_RUN='' GOFD=''
HOG_PIDS=() # the CPU hogs of hogs_start
cleanup() {
    [ -n "$TPID" ] && kill "$TPID" 2>/dev/null
    [ -n "$PPID_RUN" ] && kill -9 "$PPID_RUN" 2>/dev/null
    local p # the echo server and client, the CPU hogs: started here
    for p in ${ECHO_CPID:-} ${ECHO_SPID:-} "${HOG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    if [ -n "${ECHO_CGROUP:-}" ]; then
        for p in ${ECHO_SPID:-}; do wait "$p" 2>/dev/null; done
        rmdir "$ECHO_CGROUP" 2>/dev/null
    fi
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
# The perf_event tools (perf trace, mmapwatch --source perf) are watching
# once they hold perf_event file descriptors; they stop nobody. $1 is
# the tool's pid or that of timeout(1) running it.
has_perf_events() {
    local pid fd kids=''
    read -r kids <"/proc/$1/task/$1/children" 2>/dev/null
    for pid in "$1" $kids; do
        for fd in /proc/"$pid"/fd/*; do
            [ "$(readlink "$fd" 2>/dev/null)" = 'anon_inode:[perf_event]' ] && return 0
        done
    done
    return 1
}
# The perf_event source glued into mmapwatch is chosen with --source.
has_source_option() {
    [ -x "$MMAPWATCH" ] && timeout 5 "$MMAPWATCH" --help 2>&1 | grep -q -- --source
}

# The ptrace rows of attach mode: a build with --source follows with perf
# by default, so they name ptrace.
ptrace_source() {
    PTRACE_SOURCE=()
    if has_source_option; then PTRACE_SOURCE=(--source ptrace); fi
}

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
        ptrace_source
        timeout -k 5 "$TIMEOUT" "$MMAPWATCH" "${PTRACE_SOURCE[@]}" -o /dev/null "${NO_DUMP[@]}" -p "$pid" \
            </dev/null >/dev/null 2>>"$WORK/err" &
        TPID=$! ;;
    strace_attach)
        timeout -k 5 "$TIMEOUT" strace -f -o /dev/null -e trace=mmap -p "$pid" \
            </dev/null >/dev/null 2>>"$WORK/err" &
        TPID=$! ;;
    bpftrace)
        timeout -k "$SLOW_EXIT" "$TIMEOUT" bpftrace -e \
            "tracepoint:syscalls:sys_enter_mmap /pid == $pid/ { @maps[tid] = count(); }" \
            </dev/null >"$WORK/tracer.out" 2>>"$WORK/err" &
        TPID=$! ;;
    perf_trace_attach)
        timeout -k "$SLOW_EXIT" "$TIMEOUT" perf trace -o /dev/null -e mmap -p "$pid" \
            </dev/null >/dev/null 2>>"$WORK/err" &
        TPID=$! ;;
    mmapwatch_perf_attach)
        timeout -k 5 "$TIMEOUT" "$MMAPWATCH" --source perf -o /dev/null "${NO_DUMP[@]}" -p "$pid" \
            </dev/null >/dev/null 2>>"$WORK/err" &
        TPID=$! ;;
    mmapwatch_perf_raw_attach)
        timeout -k 5 "$TIMEOUT" "$MMAPWATCH" --source perf --perf-calls raw -o /dev/null \
            "${NO_DUMP[@]}" -p "$pid" </dev/null >/dev/null 2>>"$WORK/err" &
        TPID=$! ;;
    strace_grow_attach)
        timeout -k 5 "$TIMEOUT" strace -f -o /dev/null -e trace=brk,mprotect -p "$pid" \
            </dev/null >/dev/null 2>>"$WORK/err" &
        TPID=$! ;;
    esac
    case $1 in
    bpftrace) wait_until 60 has_line "$WORK/tracer.out" '^Attaching' ;;
    perf_trace_attach | mmapwatch_perf_attach | mmapwatch_perf_raw_attach)
        wait_until 30 has_perf_events "$TPID" ;;
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
    # perf trace -p and a perf_event source may outlive the program.
    case $1 in
    bpftrace | perf_trace_attach | mmapwatch_perf_attach | mmapwatch_perf_raw_attach)
        kill -INT "$TPID" 2>/dev/null ;;
    esac
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

# end_attached_run TOOL OK WHAT: the end of an attach-mode run whose
# program ($PPID_RUN) was let go through $GOFD (OK=1) or not (OK=0, a
# failure already reported): closes $GOFD (a program still waiting sees
# EOF and exits), waits for it within $TIMEOUT, stops the tool, and checks
# WHAT ("the program") exited 0. Returns 1 on any failure.
end_attached_run() {
    local tool=$1 ok=$2 what=$3 rc
    exec {GOFD}>&-
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
    [ "$rc" = 0 ] || { fail_run "$what's exit status was $rc"; return 1; }
}

# run_attach TOOL: one run; sets RUN_SECS (the program's own work time).
run_attach() {
    local tool=$1 secs
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
    end_attached_run "$tool" "$ok" "the program" || return 1
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

# ------------------------------------------------------------------ dumps
#
# What writing region dumps costs, measured on mmapwatch itself, end to
# end, twice: on the machine as it is ("quiet") and with a CPU-bound
# competitor on every core ("loaded": one busy shell loop per CPU, started
# by the script and ended after the run; a production machine about to
# run out of memory is rarely idle). Each run is made in both conditions,
# round-robin, so the yardsticks and the dumps of one column come from the
# same minutes.
#
# The target is tests/fixtures/bench_dump: it maps one private anonymous
# region, writes part of it (the rest never gets a page), then munmaps it
# and times that munmap on CLOCK_MONOTONIC. mmapwatch launches it with
# --delay 1h, so no timed dump is due before the munmap: the region is
# dumped at the munmap's entry, reason "unmap".
#
# Each such run gives two times:
#   dump time  from "dumped_at" in the dump's .json (the worker's clock
#              when it started: pagemap is read first) to "ts" of the dump
#              event (the loop's clock when it took the finished dump back
#              and wrote the event). In between: pagemap reads, the reads
#              of the target and the writes into the page cache (at the
#              same time, on two threads), ftruncate and close, the .json,
#              the renames, and the hand-back to the loop (an eventfd in its poll set). Both are
#              CLOCK_REALTIME, microseconds, in one process. Dump speed is
#              the resident bytes over this time.
#   held       the munmap's duration as the target measured it: the
#              seccomp stop, the dump (or, for a region of 1 MiB or less,
#              the copy taken before the thread goes on), the munmap itself
#              and its exit stop. Shown beside the same munmap untraced
#              and traced with --no-dump.
#
# Cases: 256 MiB all written (one letter per page), 16 MiB, 1 GiB with
# 16 MiB written in 16 runs (sparse), 64 KiB (the hold of a small region,
# --min-size 64K), and 256 MiB of heap-like data ("mixed": a text token and
# binary every 64 bytes) dumped without and with --strings: the strings
# cost.
#
# Yardsticks, without mmapwatch (tests/fixtures/bench_dump_copy), 256 MiB
# each: memcpy, process_vm_readv 1 MiB per call (a dump's reading) and
# pwrite 1 MiB per call into a new file in the directory the dumps go to
# (a dump's writing, into the page cache: dumps are not fsynced).
#
# Workload (b) (bench_mmap: 10,000 mmap+munmap pairs of 64 KiB in 2
# threads, every region dumped at its munmap with the defaults) is run
# with --no-dump and with the defaults, dumps going to the scratch
# directory (the file system of $TMPDIR) and, when /dev/shm is a tmpfs,
# there too: creating 20,000 files costs what the file system makes it
# cost, and the tmpfs row shows what is left when it costs little.
#
# Every cell runs BENCH_RUNS times and the median is reported, with the
# best run beside the dump times. Before each 256 MiB run, "bench_dump_copy
# warm" writes and removes a file of twice the run's size beside the dump
# directory, then touches as much anonymous memory (BENCH_DUMP_WARM=0:
# not): without it, on the VM these figures come from, the first
# page-cache write after a pause ran several times slower than the same
# write repeated (see bench_dump_copy.c). And before the warm-up the script
# waits BENCH_DUMP_SETTLE seconds (3): that VM's balloon reports free
# memory back to the host 2 s after it is freed (free page reporting), and
# the host must fault it in again at its next use. Without the wait, the
# report of what the run before freed could come during the next run and
# take the warm-up's pages with it: every other 256 MiB dump took 120 to
# 200 ms instead of 65, its time in the copy into new page-cache pages.

DUMP_LOADS=(quiet loaded)
DUMP_YARDS=(memcpy readv write)
DUMP_CASES=(c256 c16 c1g c64k c256m c256s)
DUMP_YARD_SIZE=$((256 << 20))
DUMP_WARM=${BENCH_DUMP_WARM:-1}
DUMP_SETTLE=${BENCH_DUMP_SETTLE:-3}
[[ $DUMP_SETTLE =~ ^[0-9]+$ ]] || die "BENCH_DUMP_SETTLE must be a whole number of seconds, not '$DUMP_SETTLE'"
DUMP_B_MODES=(nodump defaults shm)
declare -A DVALS DSTATUS DLAST # DLAST[LOAD:CASE]: the dump time of its latest run

dump_load_label() {
    case $1 in
    quiet) echo "as it is" ;;
    loaded) echo "with $(nproc) CPU hogs" ;;
    esac
}

hogs_start() { # one busy loop pinned to each CPU, ours to end
    local cpu pin
    HOG_PIDS=()
    for ((cpu = 0; cpu < $(nproc); cpu++)); do
        pin=()
        command -v taskset >/dev/null && pin=(taskset -c "$cpu")
        "${pin[@]}" bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
        HOG_PIDS+=($!)
    done
}

hogs_stop() {
    local p
    for p in "${HOG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${HOG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    HOG_PIDS=()
}

dump_yard_label() {
    case $1 in
    memcpy) echo "memcpy into another 256 MiB" ;;
    readv)  echo "process_vm_readv, 1 MiB per call" ;;
    write)  echo "pwrite into a new file in the dump directory, 1 MiB per call" ;;
    esac
}

# Sets CASE_ARGS (bench_dump's SIZE TOUCH RUNS [mixed]), CASE_TOUCH,
# CASE_LABEL, CASE_MODES (which runs it gets) and CASE_OPTS (mmapwatch's).
dump_case() {
    CASE_MODES=(untraced nodump dump)
    CASE_OPTS=(--min-size 16M)
    case $1 in
    c256) CASE_ARGS=($((256 << 20)) $((256 << 20)) 1); CASE_LABEL="256 MiB, all written" ;;
    c16)  CASE_ARGS=($((16 << 20)) $((16 << 20)) 1); CASE_LABEL="16 MiB, all written" ;;
    c1g)  CASE_ARGS=($((1 << 30)) $((16 << 20)) 16); CASE_LABEL="1 GiB, 16 MiB written (16 runs of 1 MiB, spread)" ;;
    c64k) CASE_ARGS=(65536 65536 1); CASE_LABEL="64 KiB, all written"; CASE_OPTS=(--min-size 64K) ;;
    c256m) CASE_ARGS=($((256 << 20)) $((256 << 20)) 1 mixed); CASE_LABEL="256 MiB of heap-like data"
           CASE_MODES=(dump) ;;
    c256s) CASE_ARGS=($((256 << 20)) $((256 << 20)) 1 mixed); CASE_LABEL="256 MiB of heap-like data, --strings"
           CASE_MODES=(dump); CASE_OPTS=(--min-size 16M --strings) ;;
    esac
    CASE_TOUCH=${CASE_ARGS[1]}
}

dump_add() { DVALS[$1]="${DVALS[$1]:-} $2"; } # dump_add KEY VALUE

dump_warm() { # dump_warm BYTES: see "warm" above
    [ "$DUMP_WARM" = 0 ] && return 0
    (($1 < (64 << 20))) && return 0
    sleep "$DUMP_SETTLE"
    rm -f "$WORK/warm"
    timeout -k 5 "$TIMEOUT" "$DUMP_HELPER" warm "$1" "$WORK/warm" </dev/null >/dev/null 2>>"$WORK/err" ||
        note "  warming up failed; measuring anyway"
    rm -f "$WORK/warm"
}

# secs_between RFC3339 RFC3339: seconds from the first to the second (the
# same day or the next).
secs_between() {
    awk -v a="$1" -v b="$2" '
        function tod(s, f) { split(s, f, /[T:Z]/); return f[2] * 3600 + f[3] * 60 + f[4] }
        BEGIN { d = tod(b) - tod(a); if (d < 0) d += 86400; printf "%.6f", d }'
}

json_field() { # json_field NAME LINE: a string or number field of one JSON line
    local re="\"$1\":\"?([^\",}]*)"
    [[ $2 =~ $re ]] && echo "${BASH_REMATCH[1]}"
}

# run_dump_yard LOAD KIND: one yardstick run; records its speed.
run_dump_yard() {
    local line rc re='gbps=([0-9.]+)' args=("$2" "$DUMP_YARD_SIZE")
    [ "$2" = write ] && args+=("$WORK/dumps/yardstick")
    : >"$WORK/err"
    dump_warm $((2 * DUMP_YARD_SIZE))
    mkdir -p "$WORK/dumps"
    line=$(timeout -k 5 "$TIMEOUT" "$DUMP_HELPER" "${args[@]}" </dev/null 2>"$WORK/err")
    rc=$?
    rm -rf "$WORK/dumps"
    [ "$rc" = 0 ] || { fail_run "exit status $rc"; return 1; }
    [[ $line =~ $re ]] || { fail_run "no speed in '$line'"; return 1; }
    note "  ${BASH_REMATCH[1]} GB/s"
    dump_add "$1:y:$2" "${BASH_REMATCH[1]}"
}

# run_dump_case LOAD CASE MODE: one run of bench_dump; records the held
# time, and in mode dump the dump time and the .bin's size on disk.
run_dump_case() {
    local load=$1 cs=$2 mode=$3 line rc re='munmap_ns=([0-9]+)$' held
    dump_case "$cs"
    case $mode in
    untraced) CMD=() ;;
    nodump)   CMD=("$MMAPWATCH" -o /dev/null --no-dump "${CASE_OPTS[@]}" --) ;;
    dump)     CMD=("$MMAPWATCH" --json -o "$WORK/events.jsonl" "${CASE_OPTS[@]}" --delay 1h
                   --dump-dir "$WORK/dumps" --) ;;
    esac
    [ "$mode" = dump ] && unset "DLAST[$load:$cs]"
    : >"$WORK/err"
    : >"$WORK/events.jsonl"
    rm -rf "$WORK/dumps"
    dump_warm $((2 * CASE_TOUCH))
    line=$(timeout -k 5 "$TIMEOUT" "${CMD[@]}" "$WL_PROG" "${CASE_ARGS[@]}" </dev/null 2>"$WORK/err")
    rc=$?
    if [ "$rc" != 0 ]; then
        rm -rf "$WORK/dumps"
        case $rc in
        124 | 137) fail_run "timed out after ${TIMEOUT}s" ;;
        *) fail_run "exit status $rc" ;;
        esac
        return 1
    fi
    [[ $line =~ $re ]] || { fail_run "no munmap time in '$line'"; return 1; }
    held=$(awk -v n="${BASH_REMATCH[1]}" 'BEGIN { printf "%.6f", n / 1e9 }')
    if [ "$mode" = dump ]; then
        local ev n reason resident bin meta dumped_at ts secs disk
        # The region's dump is the one made at its munmap; the program's
        # heap (brk, reported with the regions it grew) may be dumped at
        # its exit too, before or after it.
        n=$(grep '"event":"dump"' "$WORK/events.jsonl" | grep -c '"reason":"unmap"')
        ev=$(grep '"event":"dump"' "$WORK/events.jsonl" | grep '"reason":"unmap"' | head -n 1)
        reason=$(json_field reason "$ev")
        resident=$(json_field resident_bytes "$ev")
        bin=$(json_field path "$ev")
        meta=${bin%.bin}.json
        if [ "$n" != 1 ] || [ "$reason" != unmap ] || [ "$resident" != "$CASE_TOUCH" ] || [ ! -f "$meta" ]; then
            rm -rf "$WORK/dumps"
            fail_run "expected one dump, reason unmap, $CASE_TOUCH bytes resident; got $n, '$reason', '$resident'"
            return 1
        fi
        dumped_at=$(json_field dumped_at "$(cat "$meta")")
        ts=$(json_field ts "$ev")
        secs=$(secs_between "$dumped_at" "$ts")
        disk=$(stat -c '%b %B' "$bin" | awk '{ print $1 * $2 }')
        dump_add "$load:$cs:dump:secs" "$secs"
        DLAST[$load:$cs]=$secs
        if [ "$cs" = c256s ] && [ -n "${DLAST[$load:c256m]:-}" ]; then
            # Paired with the same round's run without --strings, just
            # before it: the same dump code, so only the machine differs.
            dump_add "$load:c256s:dump:vsplain" "$(awk -v a="${DLAST[$load:c256m]}" -v b="$secs" \
                'BEGIN { if (a > 0) printf "%.4f", b / a }')"
        fi
        dump_add "$load:$cs:dump:disk" "$disk"
        note "  dump $secs s, held $held s"
        if [[ " ${CASE_OPTS[*]} " == *" --strings "* ]]; then
            # The strings pass reads the finished .bin after the dump event;
            # its own event says when it is done.
            local sev addr
            addr=$(json_field addr "$ev")
            sev=$(grep '"event":"strings"' "$WORK/events.jsonl" | grep "\"addr\":\"$addr\"" | head -n 1)
            if [ -z "$sev" ]; then
                rm -rf "$WORK/dumps"
                fail_run "no strings event for the dump at $addr"
                return 1
            fi
            secs=$(secs_between "$ts" "$(json_field ts "$sev")")
            dump_add "$load:$cs:dump:scan" "$secs"
            note "  strings pass $secs s after the dump"
        fi
    else
        note "  munmap $held s"
    fi
    rm -rf "$WORK/dumps"
    dump_add "$load:$cs:$mode:held" "$held"
}

# run_dump_b LOAD MODE: workload (b) launched under mmapwatch; wall time.
run_dump_b() {
    local load=$1 mode=$2 t0 rc dir
    case $mode in
    nodump)   CMD=("$MMAPWATCH" -o /dev/null --no-dump --) ;;
    defaults) dir="$WORK/dumps"; CMD=("$MMAPWATCH" -o /dev/null --dump-dir "$dir" --) ;;
    shm)      dir="$SHM_DIR/dumps"; CMD=("$MMAPWATCH" -o /dev/null --dump-dir "$dir" --) ;;
    esac
    : >"$WORK/err"
    now_us; t0=$NOW_US
    timeout -k 5 "$TIMEOUT" "${CMD[@]}" "$FIXTURES/bench_mmap" 10000 2 65536 </dev/null >/dev/null 2>"$WORK/err"
    rc=$?
    now_us
    [ -n "${dir:-}" ] && rm -rf "$dir"
    [ "$rc" = 0 ] || { fail_run "exit status $rc"; return 1; }
    RUN_SECS=$(us_to_s $((NOW_US - t0)))
    note "  $RUN_SECS s"
    dump_add "$load:b:$mode" "$RUN_SECS"
}

measure_dumps() {
    local round y c m load missing=''
    workload_dumps
    DUMP_HELPER=$WL_HELPER
    if [ ! -x "$MMAPWATCH" ]; then missing="n/a (not built: run make)"
    elif [ "${#NO_DUMP[@]}" = 0 ]; then missing="n/a (this build does not dump)"
    fi
    SHM_DIR=''
    if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
        SHM_DIR=$(mktemp -d /dev/shm/mmapwatch-bench.XXXXXX 2>/dev/null) || SHM_DIR=''
    fi
    trap 'hogs_stop; [ -n "$SHM_DIR" ] && rm -rf "$SHM_DIR"; cleanup' EXIT
    for ((round = 1; round <= RUNS; round++)); do
        for load in "${DUMP_LOADS[@]}"; do
            [ "$load" = loaded ] && hogs_start
            for y in "${DUMP_YARDS[@]}"; do
                [ -n "${DSTATUS[$load:y:$y]:-}" ] && continue
                note "dumps ($load) / yardstick $y: run $round of $RUNS"
                run_dump_yard "$load" "$y" || DSTATUS[$load:y:$y]=failed
            done
            for c in "${DUMP_CASES[@]}"; do
                dump_case "$c"
                for m in "${CASE_MODES[@]}"; do
                    [ "$m" != untraced ] && [ -n "$missing" ] && DSTATUS[$load:$c:$m]=$missing
                    [ -n "${DSTATUS[$load:$c:$m]:-}" ] && continue
                    dump_case "$c"
                    note "dumps ($load) / $CASE_LABEL / $m: run $round of $RUNS"
                    run_dump_case "$load" "$c" "$m" || DSTATUS[$load:$c:$m]=failed
                done
            done
            for m in "${DUMP_B_MODES[@]}"; do
                [ -n "$missing" ] && DSTATUS[$load:b:$m]=$missing
                [ "$m" = shm ] && [ -z "$SHM_DIR" ] && DSTATUS[$load:b:$m]="n/a (/dev/shm is not a tmpfs)"
                [ -n "${DSTATUS[$load:b:$m]:-}" ] && continue
                note "dumps ($load) / (b) $m: run $round of $RUNS"
                run_dump_b "$load" "$m" || DSTATUS[$load:b:$m]=failed
            done
            [ "$load" = loaded ] && hogs_stop
        done
    done
    [ -n "$SHM_DIR" ] && rm -rf "$SHM_DIR"
    trap cleanup EXIT
}

dmedian() { # dmedian KEY: median of the values recorded under KEY, or nothing
    [ -n "${DVALS[$1]:-}" ] || return 0
    # shellcheck disable=SC2086 # the list is split on purpose
    median ${DVALS[$1]}
}

dbest() { # dbest KEY max|min: the best value recorded under KEY, or nothing
    [ -n "${DVALS[$1]:-}" ] || return 0
    # shellcheck disable=SC2086 # the list is split on purpose
    printf '%s\n' ${DVALS[$1]} | sort -g | if [ "$2" = max ]; then tail -n 1; else head -n 1; fi
}

fmt_dur() { awk -v s="$1" 'BEGIN { if (s < 0.001) printf "%.0f us", s * 1e6; else if (s < 1) printf "%.1f ms", s * 1000; else printf "%.3f s", s }'; }
fmt_mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
gbps_of() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.2f", b / s / 1e9 }'; } # BYTES SECS

dstat_ok() { [ "${DSTATUS[$1]:-ok}" = ok ]; } # dstat_ok CELL

dump_cell() { # dump_cell CELL METRIC: the median as text, or why there is none
    local v
    dstat_ok "$1" || { echo "${DSTATUS[$1]}"; return; }
    v=$(dmedian "$1:$2")
    if [ -z "$v" ]; then echo "failed"; return; fi
    case $2 in
    held | secs) fmt_dur "$v" ;;
    disk) fmt_mib "$v" ;;
    esac
}

# The dump of a case in one load: "time (best), speed (× pwrite)".
dump_speed_cell() { # dump_speed_cell LOAD CASE
    local secs best yard
    dump_case "$2"
    dstat_ok "$1:$2:dump" || { echo "${DSTATUS[$1:$2:dump]}"; return; }
    secs=$(dmedian "$1:$2:dump:secs")
    [ -n "$secs" ] || { echo failed; return; }
    best=$(dbest "$1:$2:dump:secs" min)
    yard=$(dmedian "$1:y:write")
    printf '%s (%s), %s GB/s' "$(fmt_dur "$secs")" "$(fmt_dur "$best")" "$(gbps_of "$CASE_TOUCH" "$secs")"
    [ -n "$yard" ] && awk -v s="$(gbps_of "$CASE_TOUCH" "$secs")" -v y="$yard" 'BEGIN { if (y > 0) printf " (%.2f× pwrite)", s / y }'
    echo
}

held_cell() { # held_cell LOAD CASE: "untraced / --no-dump / dump"
    echo "$(dump_cell "$1:$2:untraced" held) / $(dump_cell "$1:$2:nodump" held) / $(dump_cell "$1:$2:dump" held)"
}

b_cell() { # b_cell LOAD MODE: wall time (× --no-dump)
    local v base
    dstat_ok "$1:b:$2" || { echo "${DSTATUS[$1:b:$2]}"; return; }
    v=$(dmedian "$1:b:$2")
    [ -n "$v" ] || { echo failed; return; }
    base=$(dmedian "$1:b:nodump")
    printf '%s' "$(fmt_secs "$v")"
    [ -n "$base" ] && [ "$2" != nodump ] && awk -v a="$v" -v b="$base" 'BEGIN { if (b > 0) printf " (%.2f×)", a / b }'
    echo
}

# Goal verdicts, one per load.
goal_speed() { # goal_speed LOAD: 256 MiB dump speed >= 0.8 x pwrite
    local secs yard
    secs=$(dmedian "$1:c256:dump:secs")
    yard=$(dmedian "$1:y:write")
    if [ -z "$secs" ] || [ -z "$yard" ] || ! dstat_ok "$1:c256:dump"; then echo "not measured"; return; fi
    awk -v s="$(gbps_of $((256 << 20)) "$secs")" -v y="$yard" \
        'BEGIN { r = s / y; printf "%s (%.2f×: %.2f GB/s vs %.2f)", (r >= 0.8) ? "met" : "NOT met", r, s, y }'
}

# Judged on the median of the paired ratios (each --strings run over the
# run without it just before, in the same round and load); the medians of
# the two rows are shown beside it.
goal_strings() { # goal_strings LOAD: --strings adds at most 10%, its pass at 1 GB/s or more
    local a b scan pair lo hi
    a=$(dmedian "$1:c256m:dump:secs")
    b=$(dmedian "$1:c256s:dump:secs")
    scan=$(dmedian "$1:c256s:dump:scan")
    pair=$(dmedian "$1:c256s:dump:vsplain")
    if [ -z "$a" ] || [ -z "$b" ] || [ -z "$pair" ]; then echo "not measured"; return; fi
    lo=$(dbest "$1:c256s:dump:vsplain" min)
    hi=$(dbest "$1:c256s:dump:vsplain" max)
    awk -v a="$a" -v b="$b" -v s="${scan:-0}" -v p="$pair" -v lo="$lo" -v hi="$hi" 'BEGIN {
        r = p - 1
        printf "%s (%+.0f%%, paired, %+.0f%% to %+.0f%%; medians %.1f ms vs %.1f ms)", (r <= 0.10) ? "met" : "NOT met", r * 100, (lo - 1) * 100, (hi - 1) * 100, b * 1000, a * 1000
        if (s > 0)
            printf "; the strings pass after it: %.1f ms, %.2f GB/s (goal 1 GB/s: %s)", s * 1000, 268435456 / s / 1e9, (268435456 / s / 1e9 >= 1) ? "met" : "NOT met" }'
}

goal_hold() { # goal_hold LOAD: a 64 KiB dump costs the held thread <= 100 us
    local d n
    d=$(dmedian "$1:c64k:dump:held")
    n=$(dmedian "$1:c64k:nodump:held")
    if [ -z "$d" ] || [ -z "$n" ]; then echo "not measured"; return; fi
    awk -v d="$d" -v n="$n" 'BEGIN { x = d - n; printf "%s (%.0f us more than the munmap traced without dumps)", (x <= 100e-6) ? "met" : "NOT met", x * 1e6 }'
}

goal_b() { # goal_b LOAD MODE: (b) with the defaults within 2x of --no-dump
    local d n
    d=$(dmedian "$1:b:$2")
    n=$(dmedian "$1:b:nodump")
    if [ -z "$d" ] || [ -z "$n" ]; then echo "not measured"; return; fi
    awk -v d="$d" -v n="$n" 'BEGIN { r = d / n; printf "%s (%.2f×)", (r <= 2) ? "met" : "NOT met", r }'
}

report_dumps() {
    local y c load fs shmfs row
    fs=$(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK" 2>/dev/null)
    echo "Dumps of one region, made at its munmap (launched with \`--delay 1h --min-size 16M\`,"
    echo "64 KiB with \`--min-size 64K\`), into a directory on ${fs:-an unknown file system}"
    echo "(written into the page cache; dumps are not synced). Each run was made as the machine was,"
    echo "and with one busy loop per CPU beside it, in turns; medians, best run in brackets."
    if [ "$DUMP_WARM" = 0 ]; then
        echo "No warm-up before the runs (BENCH_DUMP_WARM=0)."
    else
        echo "Before each 256 MiB run, after a wait of ${DUMP_SETTLE} s (free page reporting of this VM, see bench.sh), a file of twice its size was written and removed, and as much memory touched and freed"
        echo "(\"warm\" in tests/fixtures/bench_dump_copy.c: without it the first page-cache write after a pause is slow on this VM)."
    fi
    echo
    row="| |"
    for load in "${DUMP_LOADS[@]}"; do row="$row $(dump_load_label "$load") |"; done
    echo "$row"
    echo "|---|---|---|"
    for y in "${DUMP_YARDS[@]}"; do
        row="| yardstick: $(dump_yard_label "$y"), 256 MiB |"
        for load in "${DUMP_LOADS[@]}"; do
            if dstat_ok "$load:y:$y" && [ -n "$(dmedian "$load:y:$y")" ]; then
                row="$row $(awk -v m="$(dmedian "$load:y:$y")" -v b="$(dbest "$load:y:$y" max)" 'BEGIN { printf "%.2f GB/s (%.2f)", m, b }') |"
            else
                row="$row ${DSTATUS[$load:y:$y]:-failed} |"
            fi
        done
        echo "$row"
    done
    for c in c256 c16 c1g c64k c256m c256s; do
        dump_case "$c"
        row="| dump: $CASE_LABEL |"
        for load in "${DUMP_LOADS[@]}"; do row="$row $(dump_speed_cell "$load" "$c") |"; done
        echo "$row"
    done
    for c in c16 c64k; do
        dump_case "$c"
        row="| munmap of $CASE_LABEL: untraced / traced, --no-dump / held for the dump |"
        for load in "${DUMP_LOADS[@]}"; do row="$row $(held_cell "$load" "$c") |"; done
        echo "$row"
    done
    shmfs=${SHM_DIR:+tmpfs}
    row="| (b) 10k mmap+munmap of 64 KiB in 2 threads, --no-dump / defaults, dumps on $fs / defaults, dumps on ${shmfs:-tmpfs} |"
    for load in "${DUMP_LOADS[@]}"; do row="$row $(b_cell "$load" nodump) / $(b_cell "$load" defaults) / $(b_cell "$load" shm) |"; done
    echo "$row"
    echo
    echo "Dump time: from \"dumped_at\" in the dump's .json to the \"ts\" of its dump event"
    echo "(with --strings the .strings is written after that: its pass is timed from the dump event to the strings event);"
    echo "dump speed: the bytes written (resident) over that time, and its ratio to the pwrite"
    echo "yardstick of the same column (the --strings goal below is judged on pairs: each run with --strings"
    echo "over the run without it just before). munmap times are the target's own (CLOCK_MONOTONIC);"
    echo "\"held for the dump\" includes the dump (for 64 KiB: the copy taken before the thread goes on)."
    echo "(b): wall time of the whole command, dumps included (mmapwatch exits when they are written)."
    echo
    echo "Goals:"
    echo
    for load in "${DUMP_LOADS[@]}"; do
        echo "- $(dump_load_label "$load"): a resident 256 MiB dump at 0.8× the pwrite yardstick or more: $(goal_speed "$load")"
    done
    for load in "${DUMP_LOADS[@]}"; do
        echo "- $(dump_load_label "$load"): --strings adds at most 10% to a dump: $(goal_strings "$load")"
    done
    for load in "${DUMP_LOADS[@]}"; do
        echo "- $(dump_load_label "$load"): a 64 KiB dump costs the held thread at most 100 us: $(goal_hold "$load")"
    done
    for load in "${DUMP_LOADS[@]}"; do
        echo "- $(dump_load_label "$load"): (b) with the defaults within 2× of --no-dump: dumps on $fs $(goal_b "$load" defaults); on tmpfs $(goal_b "$load" shm)"
    done
    local sparse full
    sparse=$(dmedian "quiet:c1g:dump:secs")
    full=$(dmedian "quiet:c16:dump:secs")
    if [ -n "$sparse" ] && [ -n "$full" ]; then
        echo "- $(dump_load_label quiet): 1 GiB with 16 MiB written dumped within 2× the time of 16 MiB all written:" \
             "$(awk -v a="$sparse" -v b="$full" 'BEGIN { r = a / b; printf "%s (%.2f×: %.1f ms vs %.1f ms)", (r <= 2) ? "met" : "NOT met", r, a * 1000, b * 1000 }')"
    fi
}

# -------------------------------------------------------------------- jvm
#
# What tracing costs a real JVM: tests/java/NettyArenas.java, the program
# of the JVM tests (Netty 4.1.48 from libnetty-java, an HTTP/2 server and
# client over 127.0.0.1, two event loops each), run with --bench:
# JVM_CONNECTIONS connections each make JVM_REQUESTS requests one after
# the other, and the program prints "bench: N requests in S s: R
# requests/s", timed around the traffic only (not the JVM's start-up; its
# Netty chunks are made during the traffic). Rows:
#   untraced          started with --wait-stdin and let go at once
#   mmapwatch_attach  mmapwatch -p PID --min-size 16M --no-dump, attached
#   strace_attach     strace -f -qq -e trace=mmap,munmap -p PID, attached
#                     after "ready" (every event-loop thread exists) and
#                     before the go-ahead: the attach itself is not timed
#   mmapwatch_launch  mmapwatch --min-size 16M --no-dump -- java ...: the
#                     seccomp filter, so only the JVM's large maps, its
#                     munmaps and mprotects stop
# The JVM's flags are the tests' (quick start-up, C1 only), and glibc's
# mmap threshold is pinned as in the tests. Cells: the median of
# BENCH_RUNS runs, round-robin, with the slowest and fastest beside it.

JVM_ROWS=(untraced mmapwatch_attach strace_attach mmapwatch_launch)
JVM_CONNECTIONS=4
JVM_REQUESTS=${BENCH_JVM_REQUESTS:-10000}
is_count "$JVM_REQUESTS" || die "BENCH_JVM_REQUESTS must be a positive integer, not '$JVM_REQUESTS'"
declare -A JVALS JSTATUS

jvm_label() {
    case $1 in
    untraced)         echo "untraced" ;;
    mmapwatch_attach) echo "mmapwatch -p PID --min-size 16M --no-dump" ;;
    strace_attach)    echo "strace -f -e trace=mmap,munmap -p PID" ;;
    mmapwatch_launch) echo "mmapwatch --min-size 16M --no-dump -- java (launch)" ;;
    esac
}

all_traced() { # every thread of process $1 has a tracer
    local st n=0
    for st in /proc/"$1"/task/*/status; do
        [ -r "$st" ] || continue
        grep -q '^TracerPid:[[:space:]]*0$' "$st" 2>/dev/null && return 1
        n=$((n + 1))
    done
    ((n > 0))
}
has_ready_pid() { [[ $(head -n 1 "$1" 2>/dev/null) =~ ^ready\ [0-9]+$ ]]; }

# run_jvm ROW: one run; records the requests per second.
run_jvm() {
    local row=$1 rc ok=1 line re='requests in [0-9.]+ s: ([0-9.]+) requests/s'
    local cmd=(env MALLOC_MMAP_THRESHOLD_=131072 "$WL_PROG" -Xshare:auto -XX:TieredStopAtLevel=1
               -Xmx128m -XX:+UseSerialGC -cp "build/java:$JVM_CP" NettyArenas --bench
               --connections "$JVM_CONNECTIONS" --requests "$JVM_REQUESTS")
    : >"$WORK/err"
    rm -f "$WORK/go" "$WORK/out"
    if [ "$row" = mmapwatch_launch ]; then
        timeout -k 5 "$TIMEOUT" "$MMAPWATCH" -o /dev/null --min-size 16M --no-dump -- "${cmd[@]}" \
            </dev/null >"$WORK/out" 2>"$WORK/err"
        rc=$?
        case $rc in
        0) ;;
        124 | 137) fail_run "timed out after ${TIMEOUT}s"; return 1 ;;
        *) fail_run "exit status $rc"; return 1 ;;
        esac
    else
        mkfifo "$WORK/go" || { fail_run "mkfifo"; return 1; }
        "${cmd[@]}" --wait-stdin <"$WORK/go" >"$WORK/out" 2>>"$WORK/err" &
        PPID_RUN=$!
        exec {GOFD}>"$WORK/go"
        if ! wait_until 60 has_ready_pid "$WORK/out"; then
            fail_run "the JVM never printed ready"
            ok=0
        else
            case $row in
            mmapwatch_attach)
                ptrace_source
                timeout -k 5 "$TIMEOUT" "$MMAPWATCH" "${PTRACE_SOURCE[@]}" -o /dev/null --min-size 16M --no-dump \
                    -p "$PPID_RUN" </dev/null >/dev/null 2>>"$WORK/err" &
                TPID=$! ;;
            strace_attach)
                timeout -k 5 "$TIMEOUT" strace -f -qq -o /dev/null -e trace=mmap,munmap \
                    -p "$PPID_RUN" </dev/null >/dev/null 2>>"$WORK/err" &
                TPID=$! ;;
            esac
            if [ -n "$TPID" ] && ! wait_until 30 all_traced "$PPID_RUN"; then
                fail_run "the tool did not attach to every thread in time"
                ok=0
            fi
            # Let the tracer finish its attach stops before the work starts.
            ((ok)) && [ -n "$TPID" ] && nap 0.2
            ((ok)) && printf x >&"$GOFD"
        fi
        end_attached_run "$row" "$ok" "the JVM" || return 1
    fi
    line=$(grep '^bench:' "$WORK/out")
    [[ $line =~ $re ]] || { fail_run "no rate in the JVM's output"; return 1; }
    note "  ${BASH_REMATCH[1]} requests/s"
    JVALS[$row]="${JVALS[$row]:-} ${BASH_REMATCH[1]}"
}

measure_jvm() {
    local round row
    workload_jvm
    if [ ! -r build/java/classpath ] || [ ! -r build/java/NettyArenas.class ]; then
        die "build/java/NettyArenas.class is not built: run scripts/deps.sh (a JDK and libnetty-java), then make bench"
    fi
    JVM_CP=$(cat build/java/classpath)
    for row in "${JVM_ROWS[@]}"; do
        case $row in
        mmapwatch_*) [ -x "$MMAPWATCH" ] || JSTATUS[$row]="n/a (not built: run make)" ;;
        strace_*) command -v strace >/dev/null || JSTATUS[$row]="n/a (not installed)" ;;
        esac
    done
    for ((round = 1; round <= RUNS; round++)); do
        for row in "${JVM_ROWS[@]}"; do
            [ -n "${JSTATUS[$row]:-}" ] && continue
            note "jvm / $(jvm_label "$row"): run $round of $RUNS"
            run_jvm "$row" || JSTATUS[$row]=failed
        done
    done
}

# shellcheck disable=SC2086 # the lists of rates are split on purpose
report_jvm() {
    local row v lo hi base ratio
    workload_jvm
    local jdk netty
    jdk=$(timeout 5 "$WL_PROG" -version 2>&1 | head -n 1)
    netty=$(dpkg-query -W -f '${Version}' libnetty-java 2>/dev/null)
    echo "$WL_TITLE: \`tests/java/NettyArenas.java --bench\`"
    echo "on ${jdk:-an unknown JVM} with libnetty-java ${netty:-(version unknown)},"
    echo "flags -XX:TieredStopAtLevel=1 -Xmx128m -XX:+UseSerialGC."
    echo "Requests per second over the traffic, as the program timed it (the JVM's start-up excluded)."
    echo
    echo "| run | requests/s, median (slowest, fastest) | time per request vs untraced |"
    echo "|---|---|---|"
    base=''
    [ -n "${JVALS[untraced]:-}" ] && [ -z "${JSTATUS[untraced]:-}" ] && base=$(median ${JVALS[untraced]})
    for row in "${JVM_ROWS[@]}"; do
        if [ -n "${JSTATUS[$row]:-}" ] || [ -z "${JVALS[$row]:-}" ]; then
            echo "| $(jvm_label "$row") | ${JSTATUS[$row]:-failed} | |"
            continue
        fi
        v=$(median ${JVALS[$row]})
        lo=$(printf '%s\n' ${JVALS[$row]} | sort -g | head -n 1)
        hi=$(printf '%s\n' ${JVALS[$row]} | sort -g | tail -n 1)
        ratio=''
        [ -n "$base" ] && ratio=$(awk -v b="$base" -v r="$v" 'BEGIN { if (r > 0) printf "%.2f", b / r }')
        echo "| $(jvm_label "$row") | $(awk -v m="$v" -v a="$lo" -v b="$hi" 'BEGIN { printf "%.0f (%.0f, %.0f)", m, a, b }') |" \
             "${ratio:+$(fmt_ratio "$ratio")} |"
    done
}

# ------------------------------------------------------------------- echo
#
# What each tool costs a busy server it is attached to, the headline use
# (`mmapwatch -p PID --min-size 16M` on a production JVM): the Netty echo
# server of tests/java/EchoServer.java on 127.0.0.1, loaded by
# tests/fixtures/bench_echo_client (ECHO_CONNECTIONS connections, one
# 64-byte request in flight each). Per repetition one JVM is started and
# warmed up for ECHO_WARMUP seconds under load; then, for each row in
# turn, the client's count gives the requests/s of a window of
# ECHO_WINDOW seconds untraced (the control), the tool is attached and,
# once it is watching, a second window gives the rate traced; the tool is
# stopped (SIGINT: every one of them detaches) and the next row begins once
# nothing is attached any more. A row's figure is the traced rate over its
# own control, so a drift of the machine's speed over the repetition
# touches it little; the "no tracer" row is two untraced windows, the
# noise floor. The row order turns by one each repetition. Repetitions:
# BENCH_ECHO_RUNS (3); median and range of the ratios.
#
# The ratio of rates depends on what else the machine runs; three figures
# per row depend on it much less, and say where the cost is:
#   server CPU per request, traced over untraced (utime+stime of the JVM
#     from /proc/PID/stat over each window, divided by the requests): what
#     tracing costs the server's own threads, in the kernel mostly;
#   tool CPU: the attached tool's utime+stime over the traced window, in
#     ms per second (the tool under timeout(1) and its descendants), CPU
#     the server cannot have on a small machine;
#   tool wake-ups: its context switches per second over that window
#     (voluntary + involuntary, every thread), each one a moment the
#     tool runs and the server may not.

ECHO_ROWS=(control strace perf_trace bpftrace mmapwatch mmapwatch_perf mmapwatch_perf_kd
           mmapwatch_perf_raw_kd mmapwatch_perf_syscalls_kd mmapwatch_perf_thread_kd)
# BENCH_ECHO_ROWS="row ..." runs only those rows (control is always run).
if [ -n "${BENCH_ECHO_ROWS:-}" ]; then
    read -r -a ECHO_ROWS <<<"control ${BENCH_ECHO_ROWS//control/}"
fi
# BENCH_BEFORE=path adds its perf-source rows, run in the same rotation,
# so that a change is measured before/after under the same load.
[ -n "${BENCH_BEFORE:-}" ] && ECHO_ROWS+=(before_perf before_perf_kd before_perf_thread_kd)
ECHO_CONNECTIONS=8
ECHO_WARMUP=${BENCH_ECHO_WARMUP:-10}
ECHO_WINDOW=${BENCH_ECHO_WINDOW:-4}
ECHO_RUNS=${BENCH_ECHO_RUNS:-3}
is_count "$ECHO_RUNS" || die "BENCH_ECHO_RUNS must be a positive integer, not '$ECHO_RUNS'"
is_count "$ECHO_WARMUP" || die "BENCH_ECHO_WARMUP must be a positive integer (seconds), not '$ECHO_WARMUP'"
is_count "$ECHO_WINDOW" || die "BENCH_ECHO_WINDOW must be a positive integer (seconds), not '$ECHO_WINDOW'"
ECHO_JVM_FLAGS=(-Xmx256m -XX:+UseSerialGC)
declare -A EVALS ESTATUS
ECHO_CONTROLS=''
ECHO_SPID='' ECHO_CPID='' ECHO_SFD='' ECHO_QFD='' ECHO_AFD=''

echo_label() {
    case $1 in
    control)        echo "no tracer (a second untraced window)" ;;
    strace)         echo "strace -f -e trace=mmap -p PID" ;;
    perf_trace)     echo "perf trace -e mmap -p PID" ;;
    bpftrace)       echo "bpftrace, sys_enter_mmap tracepoint, /pid == PID/" ;;
    mmapwatch)      echo "mmapwatch -p PID --min-size 16M --no-dump (ptrace)" ;;
    mmapwatch_perf) echo "mmapwatch --source perf -p PID --min-size 16M --no-dump" ;;
    mmapwatch_perf_kd) echo "mmapwatch --source perf -p PID --min-size 16M -k, dumps on" ;;
    mmapwatch_perf_raw_kd) echo "the same with --perf-calls raw (raw_syscalls events per CPU for its cgroup)" ;;
    mmapwatch_perf_syscalls_kd) echo "the same with --perf-calls syscalls (a perf event per call's tracepoint)" ;;
    mmapwatch_perf_thread_kd) echo "the same with --perf-layout thread (events per thread, not per cgroup)" ;;
    before_perf)    echo "before ($(before_name)): mmapwatch --source perf -p PID --min-size 16M --no-dump" ;;
    before_perf_kd) echo "before ($(before_name)): the same with -k, dumps on" ;;
    before_perf_thread_kd) echo "before ($(before_name)): -k, dumps on, --perf-layout thread" ;;
    esac
}

# What BENCH_BEFORE was built from: BENCH_BEFORE_FROM, or its path.
before_name() {
    echo "${BENCH_BEFORE_FROM:-${BENCH_BEFORE:-}}"
}

echo_missing() {
    case $1 in
    strace) tool_missing strace_attach ;;
    perf_trace) tool_missing perf_trace_attach ;;
    bpftrace) tool_missing bpftrace ;;
    mmapwatch) tool_missing mmapwatch_attach ;;
    mmapwatch_perf | mmapwatch_perf_kd | mmapwatch_perf_raw_kd | mmapwatch_perf_syscalls_kd) tool_missing mmapwatch_perf_attach ;;
    mmapwatch_perf_thread_kd)
        tool_missing mmapwatch_perf_attach
        "$MMAPWATCH" --help 2>/dev/null | grep -q -- '--perf-layout' ||
            echo "n/a (no --perf-layout in this build)" ;;
    before_perf | before_perf_kd | before_perf_thread_kd)
        tool_missing before ;;
    esac
}

# The server runs in a cgroup of its own, as in a container: mmapwatch's
# perf source then takes events per CPU for that cgroup (--perf-layout
# auto), and the row with --perf-layout thread shows the other layout.
# ECHO_CGROUP: that cgroup's directory, or empty where none can be made
# (no cgroup2 mount, not root): the server then stays where the script is.
ECHO_CGROUP='' ECHO_CGROUP_SAID=''
echo_cgroup_make() {
    local mnt
    mnt=$(awk '$9 == "cgroup2" && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
    [ -n "$mnt" ] && [ -w "$mnt" ] || return 0
    ECHO_CGROUP="$mnt/mmapwatch-bench-echo.$$"
    mkdir "$ECHO_CGROUP" 2>/dev/null || ECHO_CGROUP=''
    ECHO_CGROUP_SAID=$ECHO_CGROUP
}
echo_cgroup_remove() {
    [ -n "$ECHO_CGROUP" ] && rmdir "$ECHO_CGROUP" 2>/dev/null
    ECHO_CGROUP=''
}

none_traced() { # no thread of process $1 has a tracer
    local st
    for st in /proc/"$1"/task/*/status; do
        grep -q '^TracerPid:[[:space:]]*0$' "$st" 2>/dev/null || { [ -r "$st" ] || continue; return 1; }
    done
}

# echo_count: asks the client for its count; sets ECHO_T and ECHO_N.
echo_count() {
    local t n
    printf '\n' >&"$ECHO_QFD" || return 1
    read -r -t 10 t n <&"$ECHO_AFD" || return 1
    [[ $n =~ ^[0-9]+$ ]] || return 1
    ECHO_T=$t ECHO_N=$n
}

# echo_window: requests/s over ECHO_WINDOW seconds; sets ECHO_RATE.
echo_window() {
    local t0 n0
    echo_count || return 1
    t0=$ECHO_T n0=$ECHO_N
    nap "$ECHO_WINDOW"
    echo_count || return 1
    ECHO_RATE=$(awk -v a="$n0" -v b="$ECHO_N" -v s="$t0" -v e="$ECHO_T" 'BEGIN { if (e > s) printf "%.1f", (b - a) / (e - s) }')
    [ -n "$ECHO_RATE" ]
}

# tool_pids PID: PID and its descendants (the tool and what it started).
tool_pids() {
    local p kids=''
    read -r kids <"/proc/$1/task/$1/children" 2>/dev/null
    echo "$1"
    for p in $kids; do tool_pids "$p"; done
}

# cpu_ticks PID...: utime+stime of the processes, in clock ticks.
cpu_ticks() {
    local p line rest sum=0 f
    for p in "$@"; do
        read -r line <"/proc/$p/stat" 2>/dev/null || continue
        rest=${line##*) } # the fields after comm, which may hold spaces
        read -r -a f <<<"$rest"
        sum=$((sum + f[11] + f[12])) # utime and stime: fields 14 and 15
    done
    echo "$sum"
}

# switches PID...: context switches of every thread of the processes.
switches() {
    local p
    for p in "$@"; do cat /proc/"$p"/task/*/status 2>/dev/null; done |
        awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# echo_measured_window: echo_window, plus the server's CPU per request
# (ECHO_SCPU, us) and, with TPID set, the tool's CPU (ECHO_TCPU, ms per s)
# and wake-ups (ECHO_TWAKE, per s) over it.
echo_measured_window() {
    local hz s0 s1 n0 t0 tc0=0 tc1=0 tw0=0 tw1=0 pids=()
    hz=$(getconf CLK_TCK)
    [ -n "$TPID" ] && mapfile -t pids < <(tool_pids "$TPID")
    s0=$(cpu_ticks "$ECHO_SPID")
    if ((${#pids[@]})); then tc0=$(cpu_ticks "${pids[@]}"); tw0=$(switches "${pids[@]}"); fi
    echo_count || return 1
    t0=$ECHO_T n0=$ECHO_N
    nap "$ECHO_WINDOW"
    echo_count || return 1
    s1=$(cpu_ticks "$ECHO_SPID")
    if ((${#pids[@]})); then tc1=$(cpu_ticks "${pids[@]}"); tw1=$(switches "${pids[@]}"); fi
    ECHO_RATE=$(awk -v a="$n0" -v b="$ECHO_N" -v s="$t0" -v e="$ECHO_T" 'BEGIN { if (e > s) printf "%.1f", (b - a) / (e - s) }')
    ECHO_SCPU=$(awk -v a="$n0" -v b="$ECHO_N" -v c="$((s1 - s0))" -v hz="$hz" 'BEGIN { if (b > a) printf "%.2f", c / hz / (b - a) * 1e6 }')
    ECHO_TCPU='' ECHO_TWAKE=''
    if ((${#pids[@]})); then
        ECHO_TCPU=$(awk -v c="$((tc1 - tc0))" -v hz="$hz" -v s="$t0" -v e="$ECHO_T" 'BEGIN { if (e > s) printf "%.1f", c / hz * 1000 / (e - s) }')
        ECHO_TWAKE=$(awk -v w="$((tw1 - tw0))" -v s="$t0" -v e="$ECHO_T" 'BEGIN { if (e > s) printf "%.0f", w / (e - s) }')
    fi
    [ -n "$ECHO_RATE" ]
}

# echo_start: the server and the client, warmed up. Returns 1 on failure.
echo_start() {
    local port
    rm -f "$WORK/echo.in" "$WORK/echo.out" "$WORK/echo.q" "$WORK/echo.a"
    mkfifo "$WORK/echo.in" "$WORK/echo.q" "$WORK/echo.a" || { fail_run "mkfifo"; return 1; }
    "$ECHO_JAVA" "${ECHO_JVM_FLAGS[@]}" -cp "build/java:$ECHO_CP" EchoServer \
        <"$WORK/echo.in" >"$WORK/echo.out" 2>>"$WORK/err" &
    ECHO_SPID=$!
    [ -n "$ECHO_CGROUP" ] && echo "$ECHO_SPID" >"$ECHO_CGROUP/cgroup.procs"
    exec {ECHO_SFD}>"$WORK/echo.in"
    wait_until 60 has_line "$WORK/echo.out" '^port [0-9]' || { fail_run "the echo server printed no port"; return 1; }
    port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$WORK/echo.out")
    "$FIXTURES/bench_echo_client" "$port" "$ECHO_CONNECTIONS" <"$WORK/echo.q" >"$WORK/echo.a" 2>>"$WORK/err" &
    ECHO_CPID=$!
    exec {ECHO_QFD}>"$WORK/echo.q" {ECHO_AFD}<"$WORK/echo.a"
    local line
    if ! read -r -t 30 line <&"$ECHO_AFD" || [ "$line" != ready ]; then
        fail_run "the echo client did not connect"
        return 1
    fi
    note "echo: warming up for ${ECHO_WARMUP}s"
    nap "$ECHO_WARMUP"
}

echo_stop() {
    [ -n "$ECHO_QFD" ] && exec {ECHO_QFD}>&- && ECHO_QFD=''
    [ -n "$ECHO_AFD" ] && exec {ECHO_AFD}<&- && ECHO_AFD=''
    [ -n "$ECHO_SFD" ] && exec {ECHO_SFD}>&- && ECHO_SFD=''
    local p
    for p in $ECHO_CPID $ECHO_SPID; do
        wait_until 30 is_gone "$p" || kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    ECHO_CPID='' ECHO_SPID=''
}

# echo_attach ROW: starts the row's tool on the server (TPID) and waits
# until it is watching every thread.
echo_attach() {
    local pid=$ECHO_SPID
    case $1 in
    strace)
        timeout -k 5 "$TIMEOUT" strace -f -qq -o /dev/null -e trace=mmap -p "$pid" </dev/null >/dev/null 2>>"$WORK/err" & ;;
    perf_trace)
        timeout -k "$SLOW_EXIT" "$TIMEOUT" perf trace -o /dev/null -e mmap -p "$pid" </dev/null >/dev/null 2>>"$WORK/err" & ;;
    bpftrace)
        : >"$WORK/tracer.out"
        timeout -k "$SLOW_EXIT" "$TIMEOUT" bpftrace -e \
            "tracepoint:syscalls:sys_enter_mmap /pid == $pid/ { @maps[tid] = count(); }" \
            </dev/null >"$WORK/tracer.out" 2>>"$WORK/err" & ;;
    mmapwatch)
        ptrace_source
        timeout -k 5 "$TIMEOUT" "$MMAPWATCH" "${PTRACE_SOURCE[@]}" -o /dev/null --min-size 16M "${NO_DUMP[@]}" -p "$pid" \
            </dev/null >/dev/null 2>>"$WORK/err" & ;;
    mmapwatch_perf* | before_perf*)
        # The same three perf-source rows for this build and BENCH_BEFORE's.
        local bin=$MMAPWATCH opts=(--source perf -o /dev/null --min-size 16M)
        [[ $1 == before_* ]] && bin=$BENCH_BEFORE
        case $1 in
        *_perf) opts+=("${NO_DUMP[@]}") ;;
        *_perf_kd) opts+=(-k --dump-dir "$WORK/dumps") ;;
        *_perf_raw_kd) opts+=(--perf-calls raw -k --dump-dir "$WORK/dumps") ;;
        *_perf_syscalls_kd) opts+=(--perf-calls syscalls -k --dump-dir "$WORK/dumps") ;;
        *_perf_thread_kd) opts+=(--perf-layout thread -k --dump-dir "$WORK/dumps") ;;
        esac
        timeout -k 5 "$TIMEOUT" "$bin" "${opts[@]}" -p "$pid" </dev/null >/dev/null 2>>"$WORK/err" & ;;
    *) return 0 ;;
    esac
    TPID=$!
    case $1 in
    strace | mmapwatch) wait_until 30 all_traced "$pid" ;;
    bpftrace) wait_until 60 has_line "$WORK/tracer.out" '^Attaching' ;;
    *) wait_until 30 has_perf_events "$TPID" ;;
    esac || { fail_run "$(echo_label "$1") did not attach in time"; return 1; }
    nap 1 # the attach itself (a stop of every thread) is not the steady state
}

# echo_detach: SIGINT to the tool, then waits until it is gone and no
# thread of the server is traced.
echo_detach() {
    [ -z "$TPID" ] && return 0
    kill -INT "$TPID" 2>/dev/null
    local ok=1
    wait_until 30 is_gone "$TPID" || { kill -9 "$TPID" 2>/dev/null; fail_run "the tool did not exit within 30 s of SIGINT"; ok=0; }
    wait "$TPID" 2>/dev/null
    TPID=''
    rm -rf "$WORK/dumps"
    wait_until 30 none_traced "$ECHO_SPID" || { fail_run "a thread of the server stayed traced"; ok=0; }
    is_alive "$ECHO_SPID" || { fail_run "the echo server died"; ok=0; }
    nap 1
    ((ok))
}

measure_echo() {
    local round row i n=${#ECHO_ROWS[@]} control control_cpu
    ECHO_JAVA=$(command -v java) || die "java is not installed: run scripts/deps.sh"
    if [ ! -r build/java/classpath ] || [ ! -r build/java/EchoServer.class ]; then
        die "build/java/EchoServer.class is not built: run scripts/deps.sh (a JDK and libnetty-java), then make bench"
    fi
    ECHO_CP=$(cat build/java/classpath)
    for row in "${ECHO_ROWS[@]}"; do
        ESTATUS[$row]=$(echo_missing "$row")
        [ -z "${ESTATUS[$row]}" ] && unset "ESTATUS[$row]"
    done
    echo_cgroup_make
    for ((round = 1; round <= ECHO_RUNS; round++)); do
        note "echo: repetition $round of $ECHO_RUNS"
        : >"$WORK/err"
        if ! echo_start; then
            echo_stop
            continue
        fi
        for ((i = 0; i < n; i++)); do
            row=${ECHO_ROWS[(i + round - 1) % n]}
            [ -n "${ESTATUS[$row]:-}" ] && continue
            is_alive "$ECHO_SPID" || { fail_run "the echo server is gone"; break; }
            echo_measured_window || { fail_run "no count from the client"; break; }
            control=$ECHO_RATE control_cpu=$ECHO_SCPU
            ECHO_CONTROLS="$ECHO_CONTROLS $control"
            if ! echo_attach "$row"; then
                echo_detach
                ESTATUS[$row]=failed
                continue
            fi
            if ! echo_measured_window; then
                fail_run "no count from the client"
                echo_detach
                break
            fi
            echo_detach || ESTATUS[$row]=failed
            note "  $(echo_label "$row"): $ECHO_RATE requests/s vs $control untraced;" \
                "server $ECHO_SCPU vs $control_cpu us CPU per request;" \
                "tool ${ECHO_TCPU:-0} ms CPU per s, ${ECHO_TWAKE:-0} wake-ups per s"
            EVALS[$row]="${EVALS[$row]:-} $(awk -v t="$ECHO_RATE" -v c="$control" 'BEGIN { printf "%.4f", t / c }')"
            if [ -n "$ECHO_SCPU" ] && [ -n "$control_cpu" ]; then
                EVALS[$row:scpu]="${EVALS[$row:scpu]:-} $(awk -v t="$ECHO_SCPU" -v c="$control_cpu" 'BEGIN { if (c > 0) printf "%.4f", t / c }')"
            fi
            [ -n "$ECHO_TCPU" ] && EVALS[$row:tcpu]="${EVALS[$row:tcpu]:-} $ECHO_TCPU"
            [ -n "$ECHO_TWAKE" ] && EVALS[$row:twake]="${EVALS[$row:twake]:-} $ECHO_TWAKE"
        done
        echo_stop
    done
    echo_cgroup_remove
}

# shellcheck disable=SC2086 # the lists of ratios are split on purpose
report_echo() {
    local row jdk netty
    jdk=$(timeout 5 java -version 2>&1 | head -n 1)
    netty=$(dpkg-query -W -f '${Version}' libnetty-java 2>/dev/null)
    echo "(f) Netty echo server (\`tests/java/EchoServer.java\`, 2 event loops, ${ECHO_JVM_FLAGS[*]})"
    echo "on ${jdk:-an unknown JVM} with libnetty-java ${netty:-(version unknown)}; load: \`bench_echo_client\`,"
    echo "$ECHO_CONNECTIONS connections on 127.0.0.1, 64-byte requests, one in flight each; ${ECHO_WARMUP} s warm-up,"
    echo "then per row a ${ECHO_WINDOW} s window untraced and a ${ECHO_WINDOW} s window with the tool attached; $ECHO_RUNS repetitions."
    if [ -n "$ECHO_CGROUP_SAID" ]; then
        echo "The server runs alone in a cgroup of its own, as in a container (mmapwatch's perf source then opens its events per CPU for that cgroup)."
    else
        echo "The server runs in the script's own cgroup (no cgroup2 mount could take it): mmapwatch's perf source opens its events per thread."
    fi
    [ -n "$ECHO_CONTROLS" ] && echo "Untraced rate, median of the control windows: $(median $ECHO_CONTROLS | awk '{ printf "%.0f", $1 }') requests/s."
    echo
    echo "| attached tool | keeps: requests/s traced / untraced | server CPU per request, traced / untraced | tool CPU, ms per s | tool wake-ups per s |"
    echo "|---|---|---|---|---|"
    for row in "${ECHO_ROWS[@]}"; do
        if [ -n "${ESTATUS[$row]:-}" ] || [ -z "${EVALS[$row]:-}" ]; then
            echo "| $(echo_label "$row") | ${ESTATUS[$row]:-failed} | | | |"
            continue
        fi
        echo "| $(echo_label "$row") | $(echo_stat "$row" pct) | $(echo_stat "$row:scpu" pct) |" \
            "$(echo_stat "$row:tcpu") | $(echo_stat "$row:twake") |"
    done
    echo
    echo "Each cell: median (lowest, highest) over the repetitions. Server CPU per request: the JVM's utime+stime"
    echo "over a window divided by the requests answered in it, traced over its own control window. Tool CPU and"
    echo "wake-ups: the attached tool's processes (utime+stime; voluntary and involuntary context switches of all"
    echo "their threads) over the traced window."
    echo_goals
}

# echo_goals: the -k row against its goals. "No less than perf trace" is
# judged on pairs: in each repetition both rows ran within a minute of
# each other, each over its own control, so the pair's difference leaves
# out most of what the machine did that minute; the goal is met when the
# median difference is not below zero.
# shellcheck disable=SC2086 # the lists of ratios are split on purpose
echo_goals() {
    local k=mmapwatch_perf_kd p=perf_trace
    [ -n "${EVALS[$k]:-}" ] && [ -z "${ESTATUS[$k]:-}" ] || return 0
    local kept verdict
    kept=$(median ${EVALS[$k]})
    verdict=$(awk -v m="$kept" 'BEGIN { print (m >= 0.90 ? "met" : "NOT met") }')
    echo
    echo "Goals:"
    echo
    echo "- attached with -k and dumps on, the server keeps at least 90%: $verdict ($(awk -v m="$kept" 'BEGIN { printf "%.0f%%", m * 100 }'), median)"
    [ -n "${EVALS[$p]:-}" ] && [ -z "${ESTATUS[$p]:-}" ] || return 0
    local -a kv pv
    read -r -a kv <<<"${EVALS[$k]}"
    read -r -a pv <<<"${EVALS[$p]}"
    ((${#kv[@]} == ${#pv[@]})) || return 0
    local i ahead=0 key="$k-$p"
    EVALS[$key]=''
    for ((i = 0; i < ${#kv[@]}; i++)); do
        EVALS[$key]="${EVALS[$key]} $(awk -v a="${kv[i]}" -v b="${pv[i]}" 'BEGIN { printf "%.4f", a - b }')"
        awk -v a="${kv[i]}" -v b="${pv[i]}" 'BEGIN { exit !(a >= b) }' && ahead=$((ahead + 1))
    done
    verdict=$(awk -v d="$(median ${EVALS[$key]})" 'BEGIN { print (d >= 0 ? "met" : "NOT met") }')
    echo "- and no less than perf trace -p keeps: $verdict (the -k row minus perf trace, paired by" \
        "repetition, median (lowest, highest): $(echo_stat "$key" points);" \
        "ahead or level in $ahead of ${#kv[@]} repetitions)"
}

# echo_stat KEY [pct|points]: "median (lowest, highest)" of EVALS[KEY] (ratios
# as percents, or differences of ratios as signed points), or nothing.
# shellcheck disable=SC2086 # the lists of values are split on purpose
echo_stat() {
    [ -n "${EVALS[$1]:-}" ] || return 0
    local v lo hi
    v=$(median ${EVALS[$1]})
    lo=$(printf '%s\n' ${EVALS[$1]} | sort -g | head -n 1)
    hi=$(printf '%s\n' ${EVALS[$1]} | sort -g | tail -n 1)
    if [ "${2:-}" = pct ]; then
        awk -v m="$v" -v a="$lo" -v b="$hi" 'BEGIN { printf "%.0f%% (%.0f%%, %.0f%%)", m * 100, a * 100, b * 100 }'
    elif [ "${2:-}" = points ]; then
        awk -v m="$v" -v a="$lo" -v b="$hi" 'BEGIN { printf "%+.0f points (%+.0f, %+.0f)", m * 100, a * 100, b * 100 }'
    else
        awk -v m="$v" -v a="$lo" -v b="$hi" 'BEGIN { printf "%g (%g, %g)", m, a, b }'
    fi
}

# ----------------------------------------------------------------- attach
#
# Workloads (a) and (b) in attach mode with every attaching tool side by
# side, on a quiet machine and with a CPU hog on each core (one busy shell
# loop pinned to each CPU, started before and killed after the pass): a
# tracer that needs the CPU to let its target go on (ptrace) suffers from
# a busy machine more than one that does its work in the kernel
# (tracepoints). Cells as in the tools table (run_attach: the program's own
# time of its work, the median of BENCH_RUNS runs, one run for a cell
# whose first run takes longer than BENCH_SLOW), ratios against the
# untraced run of the same pass.

ATTACH_TOOLS=(untraced_work strace_attach perf_trace_attach bpftrace mmapwatch_attach mmapwatch_perf_attach
              mmapwatch_perf_raw_attach)
ATTACH_PASSES=(quiet hog)
ATTACH_WLS=(getppid mmap)
measure_attach() {
    local pass wl
    local TOOLS=("${ATTACH_TOOLS[@]}") # what measure_workload goes over
    for pass in "${ATTACH_PASSES[@]}"; do
        [ "$pass" = hog ] && hogs_start
        for wl in "${ATTACH_WLS[@]}"; do
            "workload_$wl"
            measure_workload "$pass-$wl"
        done
        [ "$pass" = hog ] && hogs_stop
    done
}

report_attach() {
    local tool wl pass row
    echo "Attach mode, the program's own time of its work; ratios against \"untraced, work only\" of the same column."
    echo "hog: a busy shell loop pinned to each of the $(nproc) CPUs for the whole column."
    echo
    row="| tool |"
    for wl in "${ATTACH_WLS[@]}"; do
        "workload_$wl"
        for pass in "${ATTACH_PASSES[@]}"; do row="$row ${WL_TITLE%%:*}, $pass |"; done
    done
    echo "$row"
    row="|---|"
    for wl in "${ATTACH_WLS[@]}"; do for pass in "${ATTACH_PASSES[@]}"; do row="$row---|"; done; done
    echo "$row"
    for tool in "${ATTACH_TOOLS[@]}"; do
        row="| $(tool_label "$tool") |"
        for wl in "${ATTACH_WLS[@]}"; do
            for pass in "${ATTACH_PASSES[@]}"; do row="$row $(cell_text "$pass-$wl" "$tool") |"; done
        done
        echo "$row"
    done
    echo
    workload_getppid; echo "${WL_TITLE}; $(workload_mmap; echo "$WL_TITLE")."
    echo "perf trace -p follows only the threads that exist when it attaches: here the"
    echo "program's work threads start after the attach, so perf trace sees none of their"
    echo "syscalls (it still costs them the machine-wide tracepoint slow path)."
    local key
    for key in "${!CELL_RUNS[@]}"; do
        if [ "${CELL_RUNS[$key]}" = 1 ] && [ "$RUNS" -gt 1 ]; then
            echo "¹ one run only: the first run took more than ${SLOW} s."
            break
        fi
    done
}

# ------------------------------------------------------------------- grow
#
# Memory that grows without a new mmap (tests/fixtures/bench_grow): the
# brk heap moved up 64 MiB in 1 MiB and in 64 KiB steps, and a 64 MiB
# PROT_NONE reservation committed by mprotect in 64 KiB and in 1 MiB
# steps; and, for the launch rows only, (a) and (b) of the tools table,
# to check that a change to what launch mode stops on leaves them alone.
#
# What the stops cost (launch mode): every brk and every mprotect stops
# at its entry (the seccomp filter cannot know where the heap ends nor
# which regions are reported: docs/performance.md); a brk stops again at
# its exit only when it shrinks the heap or may take it past its next
# --min-size step, an mprotect only when it touches a reported region or
# a reservation watched for growth. The 64 MiB reservation is itself an
# mmap of at least --min-size, a reported region, so every commit into it
# is reported and stops twice, with or without --min-size. Attached,
# every syscall stops at entry and exit whatever mmapwatch decides.
#
# BENCH_BEFORE=path adds rows for that build, run in the same rounds, so
# a change is measured before and after on the same minutes of a machine.
# Cells and timing as in the tools table (launch rows: wall time; attach
# rows: the program's own time).

GROW_TOOLS=(untraced strace_grow mmapwatch mmapwatch_16m untraced_work strace_grow_attach mmapwatch_attach)
[ -n "${BENCH_BEFORE:-}" ] && GROW_TOOLS=(untraced strace_grow mmapwatch before mmapwatch_16m before_16m
                                          untraced_work strace_grow_attach mmapwatch_attach)
GROW_MODES=(brk brk64k commit64k commit1m getppid mmap)

grow_case() { # grow_case MODE: sets WL_PROG, WL_ARGS and WL_TITLE
    WL_PROG=$FIXTURES/bench_grow
    case $1 in
    brk)       WL_ARGS=(brk 200); WL_TITLE="brk: 64 MiB in 1 MiB steps, ×200" ;;
    brk64k)    WL_ARGS=(brk64k 20); WL_TITLE="brk: 64 MiB in 64 KiB steps, ×20" ;;
    commit64k) WL_ARGS=(commit64k 20); WL_TITLE="mprotect: 64 MiB reservation committed in 64 KiB steps, ×20" ;;
    commit1m)  WL_ARGS=(commit1m 200); WL_TITLE="mprotect: 64 MiB committed in 1 MiB steps, ×200" ;;
    getppid)   workload_getppid ;;
    mmap)      workload_mmap ;;
    esac
}

measure_grow() {
    local mode tool
    for mode in "${GROW_MODES[@]}"; do
        grow_case "$mode"
        local TOOLS=("${GROW_TOOLS[@]}") # what measure_workload goes over
        if [ "$mode" = getppid ] || [ "$mode" = mmap ]; then
            # (a) and (b): the launch filter's rows only (strace following
            # every syscall would take minutes; the tools table has them).
            TOOLS=()
            for tool in "${GROW_TOOLS[@]}"; do
                case $tool in
                untraced | mmapwatch | mmapwatch_16m | before*) TOOLS+=("$tool") ;;
                *) STATUS[grow-$mode:$tool]="—" ;;
                esac
            done
        fi
        measure_workload "grow-$mode"
    done
}

report_grow() {
    local tool mode row
    row="| tool |"
    for mode in "${GROW_MODES[@]}"; do grow_case "$mode"; row="$row $WL_TITLE |"; done
    echo "$row"
    row="|---|"
    for mode in "${GROW_MODES[@]}"; do row="$row---|"; done
    echo "$row"
    for tool in "${GROW_TOOLS[@]}"; do
        row="| $(tool_label "$tool") |"
        for mode in "${GROW_MODES[@]}"; do row="$row $(cell_text "grow-$mode" "$tool") |"; done
        echo "$row"
    done
    echo
    echo "Launch rows: wall time of the whole command, against \"untraced\"; attach rows: the"
    echo "program's own time of its work, against \"untraced, work only\"."
    [ "${#NO_DUMP[@]}" != 0 ] && echo "mmapwatch rows run with --no-dump."
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
    local cpu kernel strace_v perf_v bpftrace_v mw_v rev
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
    kernel=$(uname -r)
    strace_v=$(timeout 5 strace -V 2>/dev/null | head -n 1)
    perf_v=$(timeout 5 perf --version 2>/dev/null | head -n 1)
    bpftrace_v=$(timeout 5 bpftrace --version 2>/dev/null | head -n 1)
    mw_v=$(timeout 5 "$MMAPWATCH" --version 2>/dev/null | head -n 1)
    [ -z "$mw_v" ] && [ -x "$MMAPWATCH" ] && mw_v="$MMAPWATCH (no version)"
    if [ "$MMAPWATCH" = ./mmapwatch ]; then
        rev=$(git rev-parse --short HEAD 2>/dev/null)
        if [ -n "$rev" ] && [ -n "$(git status --porcelain -- src include Makefile 2>/dev/null)" ]; then
            rev="$rev plus uncommitted changes"
        fi
        rev=${rev:+commit $rev}
    else
        # The work tree says nothing about a binary built elsewhere.
        rev=${BENCH_BUILT_FROM:-$MMAPWATCH}
    fi
    echo "Measured $(date -u +%Y-%m-%d) by \`scripts/bench.sh\` on $(nproc) CPUs (${cpu:-unknown CPU}),"
    echo "Linux $kernel; ${mw_v:-mmapwatch not built}${rev:+ ($rev)}; ${strace_v:-strace not installed}; ${perf_v:-perf not installed}; ${bpftrace_v:-bpftrace not installed}."
    if [ "$RUNS" = 1 ]; then echo "One run per cell."; else echo "Median of $RUNS runs per cell unless marked."; fi
    # Other work on the machine moves every figure: say how busy it was.
    echo "Load average when the bench started: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) (1, 5, 15 min)."
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

# ----------------------------------------------------------------- stacks
#
# What -k costs: the map-heavy program (workload_stacks: 10,000 mmaps,
# each followed by its munmap, in 2 threads) launched untraced, under
# strace -f -e trace=mmap with and without -k, and under mmapwatch with
# and without -k, once per event source (every mmap is reported, so every
# one is unwound).
#
# What a user pays is measured from outside, as whole commands: the cost
# of one unwound mmap is a small difference between two run times that
# each move by 10% or more on a shared VM, so each source gets K_PAIRS
# paired runs, one without -k and one with, back to back (which goes
# first alternates), and each pair gives a difference over the stacks
# the -k run unwound (-v counts them; with the perf source a ring that
# overflows loses samples, and the report says how many):
#   wall   what the command takes longer. With ptrace, a thread that maps
#          waits in its stop while mmapwatch reads its stack and unwinds
#          it; with perf, the thread pays the kernel's copy of its stack
#          into the ring and goes on, and mmapwatch unwinds meanwhile.
#   CPU    the same pairs' user+sys time of the whole command (mmapwatch
#          is the parent of the program, so both are counted): every
#          cycle -k adds, in the program (the kernel's stack copy) and in
#          mmapwatch (reading, unwinding, naming and writing the frames).
#          It moves least with other work on the machine; the goal is
#          judged on it.
#   inside -v's own total of time in unwind_capture and unwind_walk per
#          stack: only the unwinding, not the register and stack reads
#          around it nor the naming and writing of the frames; a lower
#          bound, for finding where the time goes.
# strace -k costs about a millisecond per stack, far above the noise: its
# rows are medians of BENCH_RUNS runs.

STACK_ROWS=(untraced strace strace_k)
STACK_SOURCES=(ptrace perf)
STACK_MMAPS=10000
K_PAIRS=${BENCH_K_PAIRS:-8}
is_count "$K_PAIRS" || die "BENCH_K_PAIRS must be a positive integer, not '$K_PAIRS'"
declare -A KVALS KSTATUS

stack_label() {
    case $1 in
    strace_k) echo "strace -f -k -e trace=mmap" ;;
    mmapwatch_ptrace) echo "mmapwatch --source ptrace -- CMD (launch)" ;;
    mmapwatch_ptrace_k) echo "mmapwatch --source ptrace -k -- CMD (launch)" ;;
    mmapwatch_perf) echo "mmapwatch --source perf -- CMD (launch)" ;;
    mmapwatch_perf_k) echo "mmapwatch --source perf -k -- CMD (launch)" ;;
    *) tool_label "$1" ;;
    esac
}

# run_timed SOURCE [-k]: one launch-mode run of mmapwatch under bash's
# time; sets RUN_SECS, RUN_CPU (user+sys of the whole command), and from
# -v's last lines RUN_INSIDE (us per stack), RUN_STACKS (stacks unwound)
# and RUN_LOST (records the perf source lost).
run_timed() {
    local rc u s TIMEFORMAT='%R %U %S' re='\(([0-9.]+) us per stack\)' source_opt=()
    has_source_option && source_opt=(--source "$1")
    CMD=("$MMAPWATCH" "${source_opt[@]}" -v -o /dev/null "${NO_DUMP[@]}" "${@:2}")
    : >"$WORK/err"
    { time timeout -k 5 "$TIMEOUT" "${CMD[@]}" -- "$WL_PROG" "${WL_ARGS[@]}" \
        </dev/null >/dev/null 2>"$WORK/err"; } 2>"$WORK/time"
    rc=$?
    rm -rf "$WORK/dumps"
    [ "$rc" = 0 ] || { fail_run "exit status $rc"; return 1; }
    read -r RUN_SECS u s <"$WORK/time" || { fail_run "no time"; return 1; }
    RUN_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
    RUN_INSIDE='' RUN_STACKS='' RUN_LOST=0
    [[ $(grep 'unwinding' "$WORK/err") =~ $re ]] && RUN_INSIDE=${BASH_REMATCH[1]}
    RUN_STACKS=$(sed -n 's/.*stacks: \([0-9]*\) unwound.*/\1/p' "$WORK/err" | tail -n 1)
    RUN_LOST=$(sed -n 's/.* \([0-9]*\) records lost.*/\1/p' "$WORK/err" | tail -n 1)
    RUN_LOST=${RUN_LOST:-0}
    note "  $RUN_SECS s, CPU $RUN_CPU s${RUN_STACKS:+, $RUN_STACKS stacks}${RUN_INSIDE:+, $RUN_INSIDE us per stack inside}, $RUN_LOST records lost"
}

# stack_pairs SOURCE: K_PAIRS pairs without and with -k; fills
# KVALS[mmapwatch_SOURCE...] and KVALS[SOURCE:dwall|dcpu|inside|lost].
stack_pairs() {
    local src=$1 pair first second tool k=() wall=() cpu=() stacks sign
    for ((pair = 1; pair <= K_PAIRS; pair++)); do
        first=mmapwatch_$src second=mmapwatch_${src}_k
        ((pair % 2 == 0)) && first=mmapwatch_${src}_k second=mmapwatch_$src
        stacks=''
        for tool in $first $second; do
            note "stacks / $src / pair $pair of $K_PAIRS: $(stack_label "$tool")"
            k=()
            [[ $tool == *_k ]] && k=(-k)
            run_timed "$src" "${k[@]}" || { KSTATUS[mmapwatch_$src]=failed; return; }
            wall[${#wall[@]}]=$RUN_SECS cpu[${#cpu[@]}]=$RUN_CPU
            KVALS[$tool]="${KVALS[$tool]:-} $RUN_SECS"
            KVALS[$tool:cpu]="${KVALS[$tool:cpu]:-} $RUN_CPU"
            KVALS[$src:lost]="${KVALS[$src:lost]:-} $RUN_LOST"
            if ((${#k[@]})); then
                stacks=$RUN_STACKS
                [ -n "$RUN_INSIDE" ] && KVALS[$src:inside]="${KVALS[$src:inside]:-} $RUN_INSIDE"
                KVALS[$src:stacks]="${KVALS[$src:stacks]:-} ${RUN_STACKS:-0}"
            fi
        done
        if [ -z "$stacks" ] || [ "$stacks" -eq 0 ]; then
            fail_run "no stack unwound with -k"
            KSTATUS[mmapwatch_$src]=failed
            return
        fi
        # with -k minus without, per stack unwound, in microseconds
        sign=1
        [ "$first" = "mmapwatch_${src}_k" ] && sign=-1
        KVALS[$src:dwall]="${KVALS[$src:dwall]:-} $(awk -v a="${wall[-2]}" -v b="${wall[-1]}" -v g="$sign" -v n="$stacks" 'BEGIN { printf "%.2f", g * (b - a) / n * 1e6 }')"
        KVALS[$src:dcpu]="${KVALS[$src:dcpu]:-} $(awk -v a="${cpu[-2]}" -v b="${cpu[-1]}" -v g="$sign" -v n="$stacks" 'BEGIN { printf "%.2f", g * (b - a) / n * 1e6 }')"
    done
}

measure_stacks() {
    local round tool src
    workload_stacks
    for tool in "${STACK_ROWS[@]}"; do
        case $tool in
        strace*) command -v strace >/dev/null || KSTATUS[$tool]="n/a (not installed)" ;;
        esac
    done
    for src in "${STACK_SOURCES[@]}"; do
        if [ ! -x "$MMAPWATCH" ]; then KSTATUS[mmapwatch_$src]="n/a (not built: run make)"
        elif [ "$src" = perf ] && ! has_source_option; then KSTATUS[mmapwatch_$src]="n/a (no --source option in this build)"
        fi
    done
    for ((round = 1; round <= RUNS; round++)); do
        for tool in "${STACK_ROWS[@]}"; do
            [ -n "${KSTATUS[$tool]:-}" ] && continue
            note "stacks / $(stack_label "$tool"): run $round of $RUNS"
            if run_launch "$tool"; then
                note "  $RUN_SECS s"
                KVALS[$tool]="${KVALS[$tool]:-} $RUN_SECS"
            else
                KSTATUS[$tool]=failed
            fi
        done
    done
    for src in "${STACK_SOURCES[@]}"; do
        [ -z "${KSTATUS[mmapwatch_$src]:-}" ] && stack_pairs "$src"
    done
}

kmedian() { # kmedian KEY: the median, or nothing
    [ -n "${KVALS[$1]:-}" ] || return 0
    # shellcheck disable=SC2086 # the list is split on purpose
    median ${KVALS[$1]}
}

krange() { # krange KEY: "lowest to highest", or nothing
    [ -n "${KVALS[$1]:-}" ] || return 0
    # shellcheck disable=SC2086 # the list is split on purpose
    printf '%s\n' ${KVALS[$1]} | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s to %s", lo, hi }'
}

ksum() { # ksum KEY: the sum, 0 when empty
    # shellcheck disable=SC2086 # the list is split on purpose
    printf '%s\n' 0 ${KVALS[$1]:-} | awk '{ s += $1 } END { print s }'
}

report_stacks() {
    local tool t c base per_s src row status lost
    workload_stacks
    base=$(kmedian untraced)
    echo "Workload $WL_TITLE; launch mode. strace rows: median of $RUNS runs;"
    echo "mmapwatch rows (\`-v --no-dump\`): median of the $K_PAIRS runs of $K_PAIRS pairs per source (one run without -k, one with, back to back, the order alternating)."
    echo
    echo "| tool | wall time | vs untraced | CPU (user+sys of the whole command) |"
    echo "|---|---|---|---|"
    for row in "${STACK_ROWS[@]}" mmapwatch_ptrace mmapwatch_ptrace_k mmapwatch_perf mmapwatch_perf_k; do
        status=${KSTATUS[$row]:-}
        [[ $row == mmapwatch_* ]] && status=${KSTATUS[${row%_k}]:-}
        t=$(kmedian "$row")
        c=''
        [[ $row == mmapwatch* ]] && c=$(kmedian "$row:cpu")
        if [ -n "$status" ] || [ -z "$t" ]; then
            echo "| $(stack_label "$row") | ${status:-failed} | | |"
        else
            echo "| $(stack_label "$row") | $(fmt_dur "$t") | $(awk -v t="$t" -v b="${base:-0}" 'BEGIN { if (b > 0) printf "%.2fx", t / b }') | ${c:+$(fmt_dur "$c")} |"
        fi
    done
    echo
    per_s=$(awk -v k="$(kmedian strace_k)" -v n="$(kmedian strace)" -v c="$STACK_MMAPS" \
        'BEGIN { if (k != "" && n != "") printf "%.0f", (k - n) / c * 1e6 }')
    echo "What one unwound mmap costs (with -k minus without, per stack unwound):"
    echo
    echo "| measure | mmapwatch --source ptrace | mmapwatch --source perf |"
    echo "|---|---|---|"
    row_of() { # row_of LABEL KEY: one line, a cell per source
        local line="| $1 |" s v
        for s in "${STACK_SOURCES[@]}"; do
            v=$(kmedian "$s:$2")
            if [ -n "${KSTATUS[mmapwatch_$s]:-}" ]; then line="$line ${KSTATUS[mmapwatch_$s]} |"
            elif [ -n "$v" ]; then line="$line $(awk -v v="$v" 'BEGIN { printf "%.1f", v }') us ($(krange "$s:$2")) |"
            else line="$line n/a |"
            fi
        done
        echo "$line"
    }
    row_of "CPU of program + mmapwatch, paired: median (range)" dcpu
    row_of "wall time of the command, paired: median (range)" dwall
    row_of "inside: -v's time in unwind_capture and unwind_walk per stack" inside
    local line="| stacks unwound per -k run, median (of $STACK_MMAPS mmaps, plus the loader's) |"
    for src in "${STACK_SOURCES[@]}"; do line="$line $(kmedian "$src:stacks") |"; done
    echo "$line"
    line="| records lost, all runs together |"
    for src in "${STACK_SOURCES[@]}"; do line="$line $(ksum "$src:lost") |"; done
    echo "$line"
    echo
    echo "strace -k, difference of medians: ${per_s:-n/a} us per unwound mmap."
    echo
    # The goal is judged on the paired CPU: every cycle -k adds, in the
    # program and in mmapwatch, and the figure other work moves least.
    local cpu_k
    for src in "${STACK_SOURCES[@]}"; do
        cpu_k=$(kmedian "$src:dcpu" | awk '{ printf "%.1f", $1 }')
        if [ -z "$cpu_k" ] || [ -n "${KSTATUS[mmapwatch_$src]:-}" ]; then continue; fi
        echo "Goal \"-k costs at most 10 us per reported mmap\" (issue 12), --source $src, on the paired CPU of program and mmapwatch:" \
             "**$(awk -v a="$cpu_k" 'BEGIN { print (a <= 10) ? "met" : "not met" }')** ($cpu_k us; wall, paired: $(kmedian "$src:dwall") us)."
        if [ -n "$per_s" ]; then
            echo "Cheaper than strace -k ($per_s us): **$(awk -v a="$cpu_k" -v b="$per_s" 'BEGIN { print (a < b) ? "met" : "not met" }')**."
        fi
        lost=$(ksum "$src:lost")
        [ "$lost" != 0 ] && echo "The perf ring lost $lost records over these runs: the figures are per stack actually unwound."
        local lo
        # shellcheck disable=SC2086 # the list is split on purpose
        lo=$(printf '%s\n' ${KVALS[$src:dwall]:-} | sort -g | head -n 1)
        if [ -n "$lo" ] && awk -v a="$lo" 'BEGIN { exit !(a <= 0) }'; then
            echo "The paired wall-time differences of --source $src span zero: other work on the machine moved the runs more than -k did."
        fi
        echo
    done
}

# ---- report: how long `mmapwatch report` takes on a big events file, and
# how long the page takes to be drawn in chromium (the page's own clock:
# performance.now() when its script has drawn everything).
REPORT_EVENTS=${BENCH_REPORT_EVENTS:-100000}
REPORT_WALL=()
REPORT_CPU=()
REPORT_PAGE=()
REPORT_STATUS=

measure_report() {
    local events=$WORK/report-events.jsonl html=$WORK/report.html round t ms
    note "report: writing $REPORT_EVENTS synthetic events"
    python3 scripts/report_events.py "$REPORT_EVENTS" >"$events" || { REPORT_STATUS=failed; return; }
    REPORT_SIZE=$(stat -c %s "$events")
    for ((round = 1; round <= RUNS; round++)); do
        note "report: run $round of $RUNS"
        # bash's time keyword: wall, then user + system CPU seconds
        t=$( { TIMEFORMAT='%R %U %S'; time "$MMAPWATCH" report "$events" -o "$html" >/dev/null 2>&1; } 2>&1) ||
            { REPORT_STATUS=failed; return; }
        REPORT_WALL+=("${t%% *}")
        REPORT_CPU+=("$(awk -v u="$(echo "$t" | cut -d' ' -f2)" -v s="$(echo "$t" | cut -d' ' -f3)" 'BEGIN { print u + s }')")
        if command -v chromium >/dev/null; then
            ms=$(timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/chromium" \
                --dump-dom "file://$html" 2>/dev/null |
                sed -n 's/.*id="render-time">in [0-9]* ms (script), \([0-9]*\) ms since.*/\1/p')
            [ -n "$ms" ] && REPORT_PAGE+=("$ms")
        fi
    done
    REPORT_HTML_SIZE=$(stat -c %s "$html")
}

report_report() {
    echo "Workload $(workload_report; echo "$WL_TITLE"): $(fmt_mib "${REPORT_SIZE:-0}") of"
    echo "JSON Lines, 300 threads, 40 stacks of 12 to 40 frames; median of $RUNS runs."
    echo
    if [ -n "$REPORT_STATUS" ]; then
        echo "report: $REPORT_STATUS"
        return
    fi
    echo "| what | median | goal |"
    echo "|---|---|---|"
    echo "| \`mmapwatch report\` wall time | $(fmt_dur "$(median "${REPORT_WALL[@]}")") | under 2 s |"
    echo "| \`mmapwatch report\` CPU time (user + system) | $(fmt_dur "$(median "${REPORT_CPU[@]}")") | |"
    if ((${#REPORT_PAGE[@]})); then
        echo "| page drawn in headless chromium (from opening the file) | $(median "${REPORT_PAGE[@]}") ms | under 1 s |"
    else
        echo "| page drawn in headless chromium | n/a (no chromium) | under 1 s |"
    fi
    echo
    echo "The page is $(fmt_mib "${REPORT_HTML_SIZE:-0}") for this file."
}

# ------------------------------------------------------------- javastacks
#
# What naming Java frames costs (src/hotspot.c): the JVM of the JVM tests
# (tests/java/NettyArenas.java) with 128 KiB Netty chunks
# (-Dio.netty.allocator.maxOrder=4), each event loop making and freeing
# JSTACK_CHURN chunks (--churn), so that the allocation path runs
# interpreted, then compiled. Launched under mmapwatch -m 128K without and
# with -k (--stack-depth 256, JSON to a file): the difference over the
# number of stacks written is the cost of one stack of about 30 frames,
# native and Java, every Java frame named from the JVM's structures. Next
# to it, the same difference for the native-only stacks of workload (e)
# (bench_mmap, 10,000 mmaps of a C program), and jhsdb jstack --mixed
# (the JDK's serviceability agent, which stops the JVM while it reads)
# against the same JVM held before its traffic: its time over the number
# of thread stacks it printed.

JSTACK_CHURN=5000
JSTACK_ROWS=(java java_k native native_k jhsdb)
declare -A JVALS JSTATUS
JSTACK_STACKS=0
JSTACK_THREADS=0

jstack_label() {
    case $1 in
    java) echo "mmapwatch -m 128K -- java (churn)" ;;
    java_k) echo "mmapwatch -m 128K -k -- java (churn)" ;;
    native) echo "mmapwatch -- bench_mmap 10000 2 65536" ;;
    native_k) echo "mmapwatch -k -- bench_mmap 10000 2 65536" ;;
    jhsdb) echo "jhsdb jstack --mixed --pid (held JVM)" ;;
    esac
}

jstack_java_cmd() {
    JAVA_CMD=(java -Xshare:auto -XX:TieredStopAtLevel=1 -Xmx128m -XX:+UseSerialGC
              -Dio.netty.allocator.maxOrder=4 -cp "build/java:$JVM_CP" NettyArenas)
}

# run_jstack ROW: one run; sets RUN_SECS.
run_jstack() {
    local row=$1 start end out=$WORK/jstack.jsonl pid
    jstack_java_cmd
    case $row in
    java | java_k)
        local k=()
        [ "$row" = java_k ] && k=(-k --stack-depth 256)
        start=$EPOCHREALTIME
        MALLOC_MMAP_THRESHOLD_=131072 timeout "$TIMEOUT" "$MMAPWATCH" --json -o "$out" -m 128K \
            "${k[@]}" --no-dump -- "${JAVA_CMD[@]}" --churn "$JSTACK_CHURN" >/dev/null 2>&1 || return 1
        end=$EPOCHREALTIME
        if [ "$row" = java_k ]; then
            JSTACK_STACKS=$(grep -c '"stack":\[' "$out")
            # The stacks must be Java-named for the figure to mean anything.
            grep -qF 'DirectArena.newChunk(int, int, int, int)","module":null,"source":"jvm-compiled"' \
                "$out" || { note "  no compiled newChunk frame named"; return 1; }
        fi
        ;;
    native | native_k)
        local k=()
        [ "$row" = native_k ] && k=(-k)
        start=$EPOCHREALTIME
        timeout "$TIMEOUT" "$MMAPWATCH" --json -o "$out" "${k[@]}" --no-dump -- \
            "$FIXTURES/bench_mmap" 10000 2 65536 >/dev/null 2>&1 || return 1
        end=$EPOCHREALTIME
        ;;
    jhsdb)
        local fifo=$WORK/jstack.in jdk
        jdk=$(dirname "$(readlink -f "$(command -v java)")")
        rm -f "$fifo"
        mkfifo "$fifo" || return 1
        MALLOC_MMAP_THRESHOLD_=131072 "${JAVA_CMD[@]}" --wait-stdin <"$fifo" >"$WORK/jstack.out" 2>&1 &
        pid=$!
        exec 9>"$fifo"
        wait_until 60 grep -q '^ready' "$WORK/jstack.out" || { exec 9>&-; wait "$pid"; return 1; }
        start=$EPOCHREALTIME
        timeout "$TIMEOUT" "$jdk/jhsdb" jstack --mixed --pid "$pid" >"$WORK/jhsdb.out" 2>&1
        end=$EPOCHREALTIME
        echo go >&9
        exec 9>&-
        wait "$pid"
        JSTACK_THREADS=$(grep -c '^----------------- ' "$WORK/jhsdb.out")
        [ "$JSTACK_THREADS" -gt 0 ] || { note "  jhsdb printed no stack"; return 1; }
        ;;
    esac
    RUN_SECS=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", b - a }')
}

measure_javastacks() {
    local round row
    workload_javastacks
    if [ ! -r build/java/classpath ] || [ ! -r build/java/NettyArenas.class ]; then
        die "build/java/NettyArenas.class is not built: run scripts/deps.sh (a JDK and libnetty-java), then make bench"
    fi
    JVM_CP=$(cat build/java/classpath)
    local jdk
    jdk=$(dirname "$(readlink -f "$(command -v java)")")
    [ -x "$jdk/jhsdb" ] || JSTATUS[jhsdb]="n/a (no jhsdb in $jdk)"
    for ((round = 1; round <= RUNS; round++)); do
        for row in "${JSTACK_ROWS[@]}"; do
            [ -n "${JSTATUS[$row]:-}" ] && continue
            note "javastacks / $(jstack_label "$row"): run $round of $RUNS"
            if run_jstack "$row"; then
                note "  $RUN_SECS s"
                JVALS[$row]="${JVALS[$row]:-} $RUN_SECS"
            else
                JSTATUS[$row]=failed
            fi
        done
    done
}

jmedian() { # jmedian ROW: median seconds, or nothing
    [ -z "${JSTATUS[$1]:-}" ] && [ -n "${JVALS[$1]:-}" ] || return 0
    # shellcheck disable=SC2086 # the list is split on purpose
    median ${JVALS[$1]}
}

report_javastacks() {
    local row t per_java per_native per_jhsdb
    workload_javastacks
    echo "Workload $WL_TITLE; launch mode, wall time, median of $RUNS runs."
    echo
    echo "| run | time |"
    echo "|---|---|"
    for row in "${JSTACK_ROWS[@]}"; do
        t=$(jmedian "$row")
        if [ -n "$t" ]; then t=$(fmt_dur "$t"); else t=${JSTATUS[$row]:-failed}; fi
        echo "| $(jstack_label "$row") | $t |"
    done
    echo
    per_java=$(awk -v k="$(jmedian java_k)" -v n="$(jmedian java)" -v c="$JSTACK_STACKS" \
        'BEGIN { if (k != "" && n != "" && c > 0) printf "%.1f", (k - n) / c * 1e6 }')
    per_native=$(awk -v k="$(jmedian native_k)" -v n="$(jmedian native)" \
        'BEGIN { if (k != "" && n != "") printf "%.1f", (k - n) / 10000 * 1e6 }')
    per_jhsdb=$(awk -v t="$(jmedian jhsdb)" -v c="$JSTACK_THREADS" \
        'BEGIN { if (t != "" && c > 0) printf "%.0f", t / c * 1e6 }')
    echo "Cost of one stack (time with -k minus time without, over the stacks written):"
    echo "- Java-named (30 to 40 frames, the Java ones named from the JVM's structures; $JSTACK_STACKS stacks): ${per_java:-n/a} us;"
    echo "- native only (bench_mmap, about 6 frames; 10000 stacks): ${per_native:-n/a} us;"
    echo "- jhsdb jstack --mixed: ${per_jhsdb:-n/a} us per thread stack ($JSTACK_THREADS threads; the JVM stopped the whole time)."
}

print_other_report() { # print_other_report WORKLOAD
    if [ "$1" = echo ]; then
        # Its repetitions are its own (BENCH_ECHO_RUNS), not BENCH_RUNS.
        sed "s/^Median of .* runs per cell unless marked\.\$/Medians of $ECHO_RUNS repetitions./;s/^One run per cell\.\$/Medians of $ECHO_RUNS repetitions./" "$WORK/machine.md"
    else
        cat "$WORK/machine.md"
    fi
    echo
    "report_$1"
}

# write_doc FILE NAME: replaces the text between the lines
# <!-- NAME:begin --> and <!-- NAME:end --> of $DOC with the file FILE.
write_doc() {
    local report=$1 begin="<!-- $2:begin -->" end="<!-- $2:end -->" tmp
    [ -f "$DOC" ] || die "$DOC does not exist"
    if ! grep -qxF "$begin" "$DOC" || ! grep -qxF "$end" "$DOC"; then
        die "$DOC lacks the lines $begin and $end"
    fi
    tmp="$DOC.tmp.$$"
    awk -v report="$report" -v begin="$begin" -v end="$end" '
        $0 == begin { print; while ((getline line < report) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }
    ' "$DOC" >"$tmp" || { rm -f "$tmp"; die "could not rewrite $DOC"; }
    mv "$tmp" "$DOC" || { rm -f "$tmp"; die "could not rewrite $DOC"; }
    note "wrote the $2 figures into $DOC"
}

usage() {
    cat <<EOF
usage: scripts/bench.sh [--write] [WORKLOAD...]
Workloads: ${WORKLOADS[*]} (default: all). --write updates $DOC: the
tracing table (needs both ${TABLE_WORKLOADS[*]}) and/or the figures of the others.
Environment: BENCH_RUNS (default 5), BENCH_SLOW (5 s), BENCH_TIMEOUT (300 s),
BENCH_MMAPWATCH (./mmapwatch), BENCH_BUILT_FROM (what to call its build),
BENCH_DUMP_WARM (1; 0: no warm-up in dumps), BENCH_DUMP_SETTLE (3 s),
BENCH_JVM_REQUESTS (10000),
BENCH_ECHO_RUNS (3), BENCH_ECHO_WARMUP (10 s), BENCH_ECHO_WINDOW (4 s),
BENCH_K_PAIRS (8).
EOF
}

is_table_workload() {
    local t
    for t in "${TABLE_WORKLOADS[@]}"; do [ "$t" = "$1" ] && return 0; done
    return 1
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
    WORKLOADS=("${selected[@]}")
fi
# The tracing table's columns that were asked for, and the other workloads.
table=()
others=()
for wl in "${WORKLOADS[@]}"; do
    if is_table_workload "$wl"; then table+=("$wl"); else others+=("$wl"); fi
done
if ((write)) && ((${#table[@]})) && ((${#table[@]} != ${#TABLE_WORKLOADS[@]})); then
    echo "bench: --write of the tracing table needs all of ${TABLE_WORKLOADS[*]}, so that it stays whole" >&2
    exit 2
fi

for wl in "${WORKLOADS[@]}"; do
    WL_HELPER=
    "workload_$wl"
    for prog in "$WL_PROG" ${WL_HELPER:+"$WL_HELPER"}; do
        [ -x "$prog" ] || die "$prog is missing: run 'make bench' (or 'make fixtures')"
    done
done
command -v timeout >/dev/null || die "timeout (coreutils) is needed"

# Before measuring: the commit is the one the binary was built from, not
# whatever was committed while the bench ran.
print_machine >"$WORK/machine.md"

for wl in "${table[@]}"; do
    "workload_$wl"
    measure_workload "$wl"
done
for wl in "${others[@]}"; do "measure_$wl"; done

# print_table and print_goals go over WORKLOADS: the table's columns only.
WORKLOADS=("${table[@]}")
if ((${#table[@]})); then
    print_report >"$WORK/report.md"
    cat "$WORK/report.md"
    ((write)) && write_doc "$WORK/report.md" bench
fi
sep=${#table[@]}
for wl in "${others[@]}"; do
    print_other_report "$wl" >"$WORK/$wl.md"
    ((sep)) && echo
    sep=1
    cat "$WORK/$wl.md"
    ((write)) && write_doc "$WORK/$wl.md" "bench-$wl"
done
exit 0
