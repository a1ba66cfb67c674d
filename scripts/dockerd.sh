#!/bin/sh
# Makes sure a Docker daemon answers, for the container tests
# (tests/integration/test_containers.py) and CI: when `docker info` fails,
# starts dockerd in the background (its log in $DOCKERD_LOG, default
# /tmp/mmapwatch-dockerd.log) and waits until it answers, 60 s at most.
# Exit 0 when a daemon answers; 1 with one line saying why when none can
# run here (no dockerd, not root, or it died: the log's last line).
set -u
log=${DOCKERD_LOG:-/tmp/mmapwatch-dockerd.log}

docker info >/dev/null 2>&1 && exit 0
if ! command -v dockerd >/dev/null 2>&1; then
    echo "no dockerd: install docker.io (scripts/deps.sh)"
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "no Docker daemon answers and only root can start one"
    exit 1
fi
# A daemon that died (a reboot, a kill) leaves its pid file behind, and
# dockerd refuses to start while the pid in it runs: after a while that
# pid belongs to some other process. Such a file is removed; one naming a
# running dockerd is left alone (that daemon is starting or stuck).
pidfile=/var/run/docker.pid
if [ -f "$pidfile" ]; then
    old=$(cat "$pidfile" 2>/dev/null)
    if [ -z "$old" ] || [ "$(cat "/proc/$old/comm" 2>/dev/null)" != dockerd ]; then
        rm -f "$pidfile"
    fi
fi
# Its own session: it outlives the test run that started it, and a
# Ctrl-C of that run does not reach it.
setsid dockerd >"$log" 2>&1 </dev/null &
pid=$!
i=0
while [ $i -lt 120 ]; do
    docker info >/dev/null 2>&1 && exit 0
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "dockerd exited: $(tail -n 1 "$log")"
        exit 1
    fi
    sleep 0.5
    i=$((i + 1))
done
echo "dockerd did not answer within 60 s (see $log)"
exit 1
