#!/bin/sh
# The mmapwatch image built as someone with only Docker builds it.
#
#   scripts/image.sh test   imports a clean Debian 12 root (debootstrap
#                           minbase, made once by scripts/deb.sh and kept in
#                           build/deb/bookworm) as the base of
#                           scripts/Dockerfile's builder stage, which installs
#                           the build set from Debian's mirror and runs
#                           `make static`; checks that the image holds one
#                           layer with /mmapwatch alone, and runs it:
#                           --version, and a launch-mode trace of a static
#                           fixture whose 3 MiB mmap must be reported with its
#                           pid. Removes its images at the end. Needs root, a
#                           Docker daemon (scripts/dockerd.sh starts one) and
#                           Debian's mirror. CI runs it (make test-image).
#
# Nothing is pulled: no registry is needed. The image a user builds names
# debian:bookworm-slim instead (the Dockerfile's default).
set -eu

cd "$(dirname "$0")/.."
top=$(pwd)
out=$top/build/image
log=$out/build.log

fail() { echo "mmapwatch: image: $*" >&2; exit 1; }

[ "${1:-}" = test ] || fail "usage: scripts/image.sh test"
[ "$(id -u)" = 0 ] || fail "make test-image needs root (debootstrap, docker)"
why=$(scripts/dockerd.sh) || fail "no Docker daemon: $why"
[ -x build/fixtures-static/trace_map ] || fail "build/fixtures-static/trace_map is not built (make fixtures)"
root=$(scripts/deb.sh root)
mkdir -p "$out"

tag=mmapwatch-image-test-$$
base=$tag-debian:bookworm
img=$tag:latest
export DOCKER_BUILDKIT=0 # the legacy builder: every Docker client has it
cleanup() {
    docker rmi -f "$img" "$base" >/dev/null 2>&1 || true
    # The builder stage's image, left untagged by the legacy builder.
    docker image prune -f --filter "label=org.mmapwatch.stage=build" >/dev/null 2>&1 || true
    rm -rf "$out/run"
}
trap cleanup EXIT INT TERM

start=$(date +%s)
tar -C "$root" -c . | docker import - "$base" >"$log" 2>&1 ||
    { tail -5 "$log" >&2; fail "docker import of the Debian root failed (log: $log)"; }
docker build -f scripts/Dockerfile --build-arg DEBIAN="$base" -t "$img" . >>"$log" 2>&1 ||
    { tail -20 "$log" >&2; fail "docker build -f scripts/Dockerfile failed (log: $log)"; }
took=$(( $(date +%s) - start ))

# One layer, holding the binary and nothing else.
layers=$(docker image inspect -f '{{len .RootFS.Layers}}' "$img")
[ "$layers" = 1 ] || fail "the image has $layers layers, not 1"
files=$(docker save "$img" | tar -xOf - --wildcards '*/layer.tar' | tar -tf -)
[ "$files" = mmapwatch ] || fail "the image holds '$files', not mmapwatch alone"

version=$(docker run --rm "$img" --version) || fail "mmapwatch --version failed in the image"
[ "$version" = "mmapwatch $(sed -n '1s/^mmapwatch (\([^)]*\)).*/\1/p' debian/changelog)" ] ||
    fail "the image's mmapwatch --version says '$version'"

# A launch-mode trace in the image, as Docker runs it by default.
mkdir -p "$out/run"
docker run --rm -v "$top/build/fixtures-static:/f:ro" -v "$out/run:/out" "$img" \
    --json --no-dump -m 1M -o /out/events.jsonl -- /f/trace_map /out/truth 3145728 \
    >>"$log" 2>&1 || { tail -5 "$log" >&2; fail "a launch-mode trace in the image failed"; }
python3 - "$out/run" <<'PY' || fail "the trace in the image has no 3 MiB mmap by trace_map (log: $log)"
import json, os, sys
d = sys.argv[1]
truth = [dict(w.split("=", 1) for w in l.split()[1:]) for l in open(os.path.join(d, "truth"))
         if l.startswith("mmap ")]
events = [json.loads(l) for l in open(os.path.join(d, "events.jsonl")) if l.startswith("{")]
maps = [e for e in events if e.get("event") == "mmap" and e.get("len") == 3145728]
ok = len(truth) == 1 and len(maps) == 1 and maps[0]["pid"] == int(truth[0]["pid"]) and \
    maps[0]["addr"] == truth[0]["addr"]
sys.exit(0 if ok else 1)
PY
echo "  OK     scripts/Dockerfile built on a clean Debian 12 in ${took} s: one layer, /mmapwatch alone, --version, a launch-mode trace"
