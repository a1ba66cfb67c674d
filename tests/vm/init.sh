#!/bin/busybox sh
# The init of the cgroup v2 test VM (tests/integration/test_vm.py): a
# Debian kernel booted under qemu from an initramfs holding busybox, the
# static mmapwatch (/mmapwatch) and static fixtures (/fx). It runs each
# scenario below on a cgroup2 hierarchy with the memory controller, and
# writes what happened to the second serial port (/dev/ttyS1), which the
# test reads back and checks with the same rules as the host's tests:
#   @@RC NAME STATUS          a command's exit status
#   @@STEP NAME N USAGE       cg_grow's step N ended at USAGE bytes
#   @@FILE NAME / @@END       a file, base64
#   @@DONE                    every scenario ran
# Nothing here decides pass or fail: the test does.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t cgroup2 none /sys/fs/cgroup
echo +memory >/sys/fs/cgroup/cgroup.subtree_control

out=/dev/ttyS1
say() { echo "$*" >$out; }
emit() { # NAME FILE
    say "@@FILE $1"
    [ -e "$2" ] && base64 "$2" >$out
    say "@@END"
}
# Whether process $1 runs (a zombie does not).
alive() {
    s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$s" ] && [ "$s" != Z ]
}
# Waits until FILE holds PATTERN at least COUNT times: at most 20 s, and
# not after mmapwatch (pid $mw, when set) has exited.
mw=
waitfor() { # FILE PATTERN [COUNT]
    i=0
    while [ "$(grep -c "$2" "$1" 2>/dev/null || true)" -lt "${3:-1}" ]; do
        i=$((i + 1))
        if [ $i -gt 200 ] || { [ -n "$mw" ] && ! alive "$mw"; }; then
            say "@@TIMEOUT $1 $2"
            return 1
        fi
        sleep 0.1
    done
}
# cg_grow in cgroup $1 (created with memory.max $2), commands through fd 3
# (a FIFO), output in /tmp/$3.out; sets pid.
start_grower() { # CGROUP LIMIT NAME [WRAPPER...]
    cg=/sys/fs/cgroup/$1 name=$3
    mkdir "$cg" && echo "$2" >"$cg/memory.max"
    shift 3
    mkfifo /tmp/$name.in
    sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@" /fx/cg_grow /tmp/$name.truth 4 \
        </tmp/$name.in >/tmp/$name.out 2>&1 &
    exec 3>/tmp/$name.in
    waitfor /tmp/$name.out ready
    pid=$(sed -n 's/^ready //p' /tmp/$name.out)
    steps=0
}
# One "g" to cg_grow; the usage of its cgroup after it.
step() { # NAME CGROUP
    steps=$((steps + 1))
    echo g >&3
    waitfor /tmp/$1.out grown $steps || return 1
    say "@@STEP $1 $steps $(cat /sys/fs/cgroup/$2/memory.current 2>/dev/null)"
}
grow_until() { # NAME CGROUP BYTES
    while [ "$(cat /sys/fs/cgroup/$2/memory.current)" -lt "$3" ]; do step "$1" "$2" || return 1; done
}
# "g" until the cgroup's OOM killer ends cg_grow.
grow_to_oom() { # NAME
    i=0
    while alive "$pid" && [ $i -lt 64 ]; do
        echo g >&3 2>/dev/null
        i=$((i + 1))
        steps=$((steps + 1))
        while alive "$pid" && [ "$(grep -c grown /tmp/$1.out)" -lt $steps ]; do sleep 0.1; done
    done
}
finish_mmapwatch() { # NAME (mmapwatch's pid in $mw)
    kill -INT "$mw" 2>/dev/null
    wait "$mw"
    say "@@RC $1 $?"
    mw=
}

# ---- core tracing on this kernel: launch mode, seccomp filter and all.
/mmapwatch --json -o /tmp/smoke.ev --no-dump -- /fx/trace_map /tmp/smoke.truth 3145745 8192 \
    2>/tmp/smoke.err
say "@@RC smoke $?"
emit smoke.ev /tmp/smoke.ev
emit smoke.truth /tmp/smoke.truth
emit smoke.err /tmp/smoke.err

# ---- the perf source's BPF reader on this kernel (no group_dead in
# sched_process_exit, an older verifier).
/mmapwatch --source perf --perf-calls bpf -v --json -o /tmp/bpf.ev --no-dump -- \
    /fx/trace_map /tmp/bpf.truth 3145745 8192 2>/tmp/bpf.err
say "@@RC bpf $?"
emit bpf.ev /tmp/bpf.ev
emit bpf.truth /tmp/bpf.truth
emit bpf.err /tmp/bpf.err

# ---- threshold at 50% of 36M, dumps at the crossing, then the OOM kill.
# (--source ptrace here and below: the ptrace source's guarantees are what
# these runs check; on this 6.1 kernel the perf source cannot read the exit
# status of a process reaped before its exit record is read.)
start_grower oom 37748736 oom
/mmapwatch --source ptrace --json -o /tmp/oom.ev -m 1M --delay 1h --dump-dir /tmp/oom.d \
    --cgroup-threshold 50% --dump-on-threshold -p "$pid" 2>/tmp/oom.err &
mw=$!
say "@@PID oom $pid"
waitfor /tmp/oom.ev '"attach"'
grow_until oom oom $((18874368 + 1048576))
waitfor /tmp/oom.ev '"state":"above"'
waitfor /tmp/oom.ev '"reason":"threshold"' "$(sed -n 's/.*"state":"above".*"dumps":\([0-9]*\).*/\1/p' /tmp/oom.ev)"
(cd /tmp/oom.d && md5sum ./*.bin) >/tmp/oom.md5 2>&1
grow_to_oom oom
waitfor /tmp/oom.ev '"event":"oom"'
waitfor /tmp/oom.ev '"event":"exit"'
finish_mmapwatch oom
exec 3>&-
emit oom.ev /tmp/oom.ev
emit oom.truth /tmp/oom.truth
emit oom.md5 /tmp/oom.md5
emit oom.err /tmp/oom.err

# ---- the cgroup removed under the watch: tracing goes on.
start_grower gone 67108864 gone
/mmapwatch --source ptrace --json -o /tmp/gone.ev -v -m 1M --no-dump --cgroup-threshold 10M -p "$pid" \
    2>/tmp/gone.err &
mw=$!
say "@@PID gone $pid"
waitfor /tmp/gone.err "watching memory cgroup"
echo "$pid" >/sys/fs/cgroup/cgroup.procs
rmdir /sys/fs/cgroup/gone
waitfor /tmp/gone.err "is no longer watched"
step gone .
waitfor /tmp/gone.ev '"event":"mmap"'
finish_mmapwatch gone
echo q >&3
exec 3>&-
emit gone.ev /tmp/gone.ev
emit gone.err /tmp/gone.err

# ---- the sidecar: target and mmapwatch each in a cgroup and mount
# namespace of its own with cgroup2 mounted there (the target's read-only),
# as two containers of a pod; the target's cgroup is found through
# /proc/PID/root.
mkdir /sys/fs/cgroup/side
# (The inherited mount is taken off first: cgroup2 mounted over itself is
# EBUSY.)
start_grower app 33554432 app /fx/cgns sh -c 'umount /sys/fs/cgroup &&
    mount -t cgroup2 none /sys/fs/cgroup && mount -o remount,bind,ro /sys/fs/cgroup && exec "$@"' sh
sh -c 'echo $$ >/sys/fs/cgroup/side/cgroup.procs && exec "$@"' sh /fx/cgns sh -c \
    'umount /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' sh \
    /mmapwatch --source ptrace --json -o /tmp/app.ev -m 1M --delay 1h --dump-dir /tmp/app.d \
    --cgroup-threshold 14M --dump-on-threshold -p "$pid" 2>/tmp/app.err &
mw=$!
say "@@PID app $pid"
waitfor /tmp/app.ev '"attach"'
grow_until app app $((14680064 + 1048576))
waitfor /tmp/app.ev '"state":"above"'
grow_to_oom app
waitfor /tmp/app.ev '"event":"oom"'
finish_mmapwatch app
exec 3>&-
emit app.out /tmp/app.out
emit app.ev /tmp/app.ev
emit app.truth /tmp/app.truth
emit app.err /tmp/app.err

# ---- launch mode, the command moving itself into its cgroup before it
# execs (a wrapper, systemd-run --scope): watched where it ends up.
mkdir /sys/fs/cgroup/moved && echo 67108864 >/sys/fs/cgroup/moved/memory.max
mkfifo /tmp/moved.in
/mmapwatch --json -o /tmp/moved.ev -m 1M --no-dump --cgroup-threshold 12M -- \
    sh -c 'echo $$ >/sys/fs/cgroup/moved/cgroup.procs && exec /fx/cg_grow /tmp/moved.truth 4' \
    </tmp/moved.in >/tmp/moved.out 2>/tmp/moved.err &
mw=$!
exec 3>/tmp/moved.in
steps=0
if waitfor /tmp/moved.out ready; then
    pid=$(sed -n 's/^ready //p' /tmp/moved.out)
    say "@@PID moved $pid"
    grow_until moved moved $((12582912 + 1048576))
    waitfor /tmp/moved.ev '"state":"above"'
    echo q >&3
fi
exec 3>&-
wait "$mw"
say "@@RC moved $?"
mw=
emit moved.ev /tmp/moved.ev
emit moved.err /tmp/moved.err

# ---- --attach-above on cgroup v2: untraced until 16M, the chunks there
# adopted, detached below 8M (memory.current read every 100 ms), watching on.
start_grower above 67108864 above
step above above
/mmapwatch --source ptrace --json -o /tmp/above.ev -m 1M --no-dump --attach-above 16M \
    --detach-below 8M -p "$pid" 2>/tmp/above.err &
mw=$!
say "@@PID above $pid"
waitfor /tmp/above.err "tracing nothing until"
say "@@RC above_tracer_before $(awk '/^TracerPid/ {print $2}' /proc/$pid/status)"
grow_until above above $((16777216 + 1048576))
waitfor /tmp/above.ev '"event":"existing"'
unmaps=0
while [ "$(cat /sys/fs/cgroup/above/memory.current)" -ge $((8388608 - 1048576)) ]; do
    unmaps=$((unmaps + 1))
    echo u >&3
    waitfor /tmp/above.out unmapped $unmaps || break
done
waitfor /tmp/above.ev '"event":"detach"'
say "@@RC above_tracer_after $(awk '/^TracerPid/ {print $2}' /proc/$pid/status)"
finish_mmapwatch above
echo q >&3
exec 3>&-
emit above.ev /tmp/above.ev
emit above.truth /tmp/above.truth
emit above.err /tmp/above.err

say "@@DONE"
poweroff -f
